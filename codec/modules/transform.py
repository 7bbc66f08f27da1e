"""The "transform" encoder and decoder of ECDC Studio's own small model.

SEANet spends most of its compute in convolutions at the sample rate and learns its filterbank from
scratch, which takes far more training than a 2-core machine offers. This head starts from a known-good
filterbank instead: one strided convolution (kernel 2 x hop) whose weights begin as an MDCT analysis basis,
and one transposed convolution that begins as the matching synthesis basis. Between them, causal residual
units and an LSTM at the frame rate (75 Hz), the same building blocks as SEANet, so the model streams with
`codec.streaming` and codes with the same RVQ and bitstream.

Alignment: the analysis window of frame j covers samples [hop*(j-1), hop*(j+1)); the synthesis trims its
padding on the left so frame j's output lands on the same samples, and time-domain aliasing cancels between
neighbouring frames as in an MDCT codec. Output samples are final one frame later than in SEANet's causal
decoder, so the algorithmic latency is 2 hops (26.7 ms at 24 kHz).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from codec.modules.conv import SConv1d, SConvTranspose1d
from codec.modules.lstm import SLSTM
from codec.modules.seanet import ResidualUnit
from codec.specs import ModelSpec

CONTEXT_KERNEL = 3
RESIDUAL_DILATIONS = (1, 2)


def mdct_basis(hop: int) -> torch.Tensor:
    """[hop, 2*hop] orthonormal MDCT basis with a sine window (Princen-Bradley, so analysis = synthesis)."""
    n = torch.arange(2 * hop, dtype=torch.float64)
    k = torch.arange(hop, dtype=torch.float64)[:, None]
    window = torch.sin(math.pi * (n + 0.5) / (2 * hop))
    basis = torch.cos(math.pi / hop * (n + 0.5 + hop / 2) * (k + 0.5))
    return (math.sqrt(2 / hop) * window * basis).float()


def _conv_args(spec: ModelSpec) -> dict:
    return {"causal": True, "norm": spec.norm}


class TransformEncoder(nn.Module):
    """Waveform [B, C, T] -> latent [B, dimension, ceil(T / hop)]."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        hop, width = spec.hop_length, spec.frame_width
        layers: list[nn.Module] = [SConv1d(spec.channels, width, 2 * hop, stride=hop, **_conv_args(spec))]
        layers += [ResidualUnit(width, spec, dilation) for dilation in RESIDUAL_DILATIONS]
        layers += [
            SLSTM(width, spec.lstm_layers),
            nn.ELU(),
            SConv1d(width, spec.dimension, CONTEXT_KERNEL, **_conv_args(spec)),
        ]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class TransformDecoder(nn.Module):
    """Latent [B, dimension, F] -> waveform [B, C, F * hop]."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        hop, width = spec.hop_length, spec.frame_width
        layers: list[nn.Module] = [
            SConv1d(spec.dimension, width, CONTEXT_KERNEL, **_conv_args(spec)),
            SLSTM(width, spec.lstm_layers),
        ]
        layers += [ResidualUnit(width, spec, dilation) for dilation in RESIDUAL_DILATIONS]
        layers.append(
            SConvTranspose1d(width, spec.channels, 2 * hop, stride=hop, causal=True, trim_right_ratio=0.0)
        )
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)


def initialise_filterbanks(encoder: TransformEncoder, decoder: TransformDecoder) -> None:
    """Start analysis and synthesis as an MDCT pair (mono); residual units start as identities."""
    analysis = encoder.layers[0].conv
    synthesis = decoder.layers[-1].conv
    hop = analysis.stride[0]
    basis = mdct_basis(hop)
    width = analysis.out_channels
    with torch.no_grad():
        analysis.weight.zero_()
        analysis.bias.zero_()
        synthesis.weight.zero_()
        synthesis.bias.zero_()
        rows = min(width, hop)
        for channel in range(analysis.in_channels):
            analysis.weight[:rows, channel] = basis[:rows]
        for channel in range(synthesis.out_channels):
            synthesis.weight[:rows, channel] = basis[:rows]
        for module in (*encoder.layers, *decoder.layers):
            if isinstance(module, ResidualUnit):
                last = module.block[-1].conv
                last.weight.zero_()
                last.bias.zero_()
