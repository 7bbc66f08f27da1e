"""SEANet encoder and decoder: strided convolutions with residual units and an LSTM bottleneck."""

from __future__ import annotations

import torch
from torch import nn

from codec.modules.conv import SConv1d, SConvTranspose1d
from codec.modules.lstm import SLSTM
from codec.specs import ModelSpec

KERNEL_SIZE = 7
RESIDUAL_KERNEL_SIZE = 3
LSTM_LAYERS = 2
COMPRESS = 2


class ResidualUnit(nn.Module):
    """ELU -> conv k3 (halve channels) -> ELU -> conv k1 (restore), plus a 1x1-conv or identity shortcut."""

    def __init__(self, dim: int, spec: ModelSpec, dilation: int = 1) -> None:
        super().__init__()
        hidden = dim // COMPRESS
        conv_args = {"causal": spec.causal, "norm": spec.norm}
        self.block = nn.Sequential(
            nn.ELU(),
            SConv1d(dim, hidden, RESIDUAL_KERNEL_SIZE, dilation=dilation, **conv_args),
            nn.ELU(),
            SConv1d(hidden, dim, 1, **conv_args),
        )
        self.shortcut: nn.Module = nn.Identity() if spec.true_skip else SConv1d(dim, dim, 1, **conv_args)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


def _encoder_layers(spec: ModelSpec) -> list[nn.Module]:
    conv_args = {"causal": spec.causal, "norm": spec.norm}
    width = spec.n_filters
    layers: list[nn.Module] = [SConv1d(spec.channels, width, KERNEL_SIZE, **conv_args)]
    for ratio in reversed(spec.ratios):
        layers += [
            ResidualUnit(width, spec),
            nn.ELU(),
            SConv1d(width, width * 2, ratio * 2, stride=ratio, **conv_args),
        ]
        width *= 2
    layers += [SLSTM(width, LSTM_LAYERS), nn.ELU(), SConv1d(width, spec.dimension, KERNEL_SIZE, **conv_args)]
    return layers


def _decoder_layers(spec: ModelSpec) -> list[nn.Module]:
    conv_args = {"causal": spec.causal, "norm": spec.norm}
    width = spec.n_filters * 2 ** len(spec.ratios)
    layers: list[nn.Module] = [
        SConv1d(spec.dimension, width, KERNEL_SIZE, **conv_args),
        SLSTM(width, LSTM_LAYERS),
    ]
    # 48 kHz segments all decode at one length, one at a time, so the fastest transposed conv is safe there.
    fast = spec.segment is not None
    for ratio in spec.ratios:
        layers += [
            nn.ELU(),
            SConvTranspose1d(width, width // 2, ratio * 2, stride=ratio, shape_dependent=fast, **conv_args),
            ResidualUnit(width // 2, spec),
        ]
        width //= 2
    layers += [nn.ELU(), SConv1d(width, spec.channels, KERNEL_SIZE, **conv_args)]
    return layers


class SEANetEncoder(nn.Module):
    """Waveform [B, C, T] -> latent [B, dimension, ceil(T / hop)]."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.layers = nn.Sequential(*_encoder_layers(spec))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class SEANetDecoder(nn.Module):
    """Latent [B, dimension, F] -> waveform [B, C, F * hop]."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.layers = nn.Sequential(*_decoder_layers(spec))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)
