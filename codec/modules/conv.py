"""Convolutions with EnCodec's padding rules, so every layer keeps `ceil(length / stride)` frames.

Weight norm is folded into a plain weight at load time (see codec.checkpoints), so a layer here is a bare
Conv1d, optionally followed by a one-group GroupNorm (the 48 kHz model's "time group norm").
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def extra_padding_for_conv1d(length: int, kernel_size: int, stride: int, padding_total: int) -> int:
    """Right padding that makes the last window full (integer form of the reference's float formula)."""
    windows_after_first = -(-(length - kernel_size + padding_total) // stride)
    ideal_length = windows_after_first * stride + (kernel_size - padding_total)
    return ideal_length - length


def pad1d(x: torch.Tensor, left: int, right: int, mode: str = "reflect") -> torch.Tensor:
    """F.pad that also reflect-pads inputs shorter than the padding (zero-extending them first)."""
    if mode != "reflect":
        return F.pad(x, (left, right), mode)
    length = x.shape[-1]
    max_pad = max(left, right)
    if length > max_pad:
        # The same samples as F.pad(..., "reflect"), whose CPU kernel is several times slower than one
        # concatenation of two mirrored slices (2.9 ms against 0.25 ms for a [1, 32, 48000] tensor).
        if max_pad == 0:
            return x
        pieces = [x[..., 1 : left + 1].flip(-1)] if left else []
        pieces.append(x)
        if right:
            pieces.append(x[..., length - right - 1 : length - 1].flip(-1))
        return torch.cat(pieces, dim=-1)
    extra = 0
    if length <= max_pad:
        extra = max_pad - length + 1
        x = F.pad(x, (0, extra))
    padded = F.pad(x, (left, right), mode)
    return padded[..., : padded.shape[-1] - extra]


class SConv1d(nn.Module):
    """Conv1d with causal (all left) or centred reflect padding and an optional time group norm."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        causal: bool = False,
        norm: str = "weight_norm",
        pad_mode: str = "reflect",
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, dilation=dilation)
        self.norm = nn.GroupNorm(1, out_channels) if norm == "time_group_norm" else None
        self.causal = causal
        self.pad_mode = pad_mode
        self.padding_total = (kernel_size - 1) * dilation - (stride - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel_size, stride = self.conv.kernel_size[0], self.conv.stride[0]
        extra = extra_padding_for_conv1d(x.shape[-1], kernel_size, stride, self.padding_total)
        if self.causal:
            x = pad1d(x, self.padding_total, extra, self.pad_mode)
        else:
            right = self.padding_total // 2
            x = pad1d(x, self.padding_total - right, right + extra, self.pad_mode)
        y = self.conv(x)
        return y if self.norm is None else self.norm(y)


def conv_transpose1d_overlap(x: torch.Tensor, weight: torch.Tensor, stride: int) -> torch.Tensor:
    """ConvTranspose1d without bias for kernel = k * stride, as one GEMM plus an overlap-add of k shifted copies.

    torch's CPU transposed convolution takes a slow col2im path for these shapes; one matrix product over
    all frames is about twice as fast. Results equal torch's up to float rounding (~1e-6 relative).
    """
    batch, in_channels, frames = x.shape
    out_channels, kernel = weight.shape[1], weight.shape[2]
    taps = kernel // stride
    if taps * stride != kernel:
        return F.conv_transpose1d(x, weight, None, stride)
    matrix = _overlap_matrix(weight)
    products = torch.matmul(x.transpose(1, 2), matrix).view(batch, frames, taps, stride, out_channels)
    out = x.new_zeros(batch, frames + taps - 1, stride, out_channels)
    for tap in range(taps):
        out[:, tap : tap + frames] += products[:, :, tap]
    return out.view(batch, (frames + taps - 1) * stride, out_channels).transpose(1, 2)


# Layers of at most this many input channels take the polyphase path, wider ones torch's own op. Live
# streams' short blocks (OVERLAP_MAX_FRAMES frames or fewer) take the GEMM with overlap-add in
# codec.streaming, whose matrix is cached. Only that GEMM gives each sample the same bits whatever the
# input's length and batch (measured), so whole-array decoding of unsegmented models keeps it.
POLYPHASE_MAX_IN_CHANNELS = 128
OVERLAP_MAX_FRAMES = 16


def conv_transpose1d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int
) -> torch.Tensor:
    """ConvTranspose1d (untrimmed, with bias) by whichever way was measured fastest for the shape.

    One core of an AMD EPYC (Zen 4), [1, C, T] per 48 kHz segment: torch's own op beats the GEMM with
    overlap-add for the short, wide layers (512 -> 256 channels over 150 frames: 8.7 against 12.4 ms); for the
    long, narrow ones a polyphase convolution wins (64 -> 32 over 24000 frames: 8.8 against 14.8 ms; torch's
    15.1). The three agree to float rounding (~1e-6 relative).
    """
    in_channels, _, kernel = weight.shape
    if kernel % stride == 0 and in_channels <= POLYPHASE_MAX_IN_CHANNELS:
        return _polyphase_conv_transpose1d(x, weight, bias, stride)
    return F.conv_transpose1d(x, weight, bias, stride)


def _polyphase_conv_transpose1d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int
) -> torch.Tensor:
    """Output phase p of frame t is sum_j W[:, :, p + j * stride]^T x[t - j]: one ordinary convolution with
    `stride` times the output channels over `kernel / stride` taps, then the phases interleaved."""
    in_channels, out_channels, kernel = weight.shape
    taps = kernel // stride
    matrix = _polyphase_weight(weight, stride)
    y = F.conv1d(
        F.pad(x, (taps - 1, taps - 1)), matrix, None if bias is None else bias.repeat(stride)
    )  # [B, stride * out, F + taps - 1]
    batch, _, frames = y.shape
    return y.view(batch, stride, out_channels, frames).permute(0, 2, 3, 1).reshape(batch, out_channels, -1)


# id(weight) -> (weight's weakref, its version, matrix); an entry leaves with its weight.
_MATRICES: dict[int, tuple[weakref.ref, int, torch.Tensor]] = {}


def _overlap_matrix(weight: torch.Tensor) -> torch.Tensor:
    """[in, out, taps*stride] -> [in, taps*stride*out] (output column: tap, phase, out), made once per weight.

    The permuted copy costs as much as a live stream's whole frame of arithmetic, so it is kept while the
    weight lives and is unchanged (its version counter moves on any in-place update).
    """
    in_channels, out_channels, kernel = weight.shape
    return _cached(
        _MATRICES, weight, lambda: weight.permute(0, 2, 1).reshape(in_channels, kernel * out_channels)
    )


_POLYPHASE: dict[int, tuple[weakref.ref, int, torch.Tensor]] = {}


def _polyphase_weight(weight: torch.Tensor, stride: int) -> torch.Tensor:
    """[in, out, taps*stride] -> [stride*out, in, taps] (row: phase, out; taps reversed), made once per weight."""
    in_channels, out_channels, kernel = weight.shape
    taps = kernel // stride

    def make() -> torch.Tensor:
        phases = weight.reshape(in_channels, out_channels, taps, stride).permute(3, 1, 0, 2).flip(-1)
        return phases.reshape(stride * out_channels, in_channels, taps)

    return _cached(_POLYPHASE, weight, make)


def _cached(
    cache: dict[int, tuple[weakref.ref, int, torch.Tensor]],
    weight: torch.Tensor,
    make: Callable[[], torch.Tensor],
) -> torch.Tensor:
    """`make()` of `weight`, kept while the weight lives and is unchanged (its version counts in-place updates)."""
    if weight.requires_grad and torch.is_grad_enabled():  # training: the product must reach the weight
        return make()
    version = weight._version
    cached = cache.get(id(weight))
    if cached is not None and cached[0]() is weight and cached[1] == version:
        return cached[2]
    matrix = make().contiguous()
    if cached is None or cached[0]() is not weight:
        weakref.finalize(weight, cache.pop, id(weight), None)
    cache[id(weight)] = (weakref.ref(weight), version, matrix)
    return matrix


class SConvTranspose1d(nn.Module):
    """ConvTranspose1d that trims its fixed padding: all on the right when causal, centred otherwise."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        causal: bool = False,
        norm: str = "weight_norm",
        trim_right_ratio: float = 1.0,
        shape_dependent: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride)
        # True: the fastest path per layer (`conv_transpose1d`), whose rounding depends on the input's length
        # and batch; False: the GEMM with overlap-add, whose samples do not (a clip decodes to the same bits
        # alone or padded in a batch, which codec.batch promises for the unsegmented models).
        self.shape_dependent = shape_dependent
        self.norm = nn.GroupNorm(1, out_channels) if norm == "time_group_norm" else None
        padding_total = kernel_size - stride
        if causal:
            self.trim_right = math.ceil(padding_total * trim_right_ratio)
        else:
            self.trim_right = padding_total // 2
        self.trim_left = padding_total - self.trim_right

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shape_dependent:
            y = conv_transpose1d(x, self.conv.weight, self.conv.bias, self.conv.stride[0])
        else:
            y = conv_transpose1d_overlap(x, self.conv.weight, self.conv.stride[0]) + self.conv.bias[:, None]
        if self.norm is not None:
            y = self.norm(y)  # on the untrimmed output, as the reference does
        return y[..., self.trim_left : y.shape[-1] - self.trim_right]
