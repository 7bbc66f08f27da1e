"""Augmentation of training crops, on the batch in torch: gain, EQ tilt, background noise, room reverb.

The codec learns to reproduce what it is given, so the augmented crop is both input and target: the point
is a wider variety of levels, spectra and rooms than the corpus has, not robustness to noise.
"""

from __future__ import annotations

import torch


def augment(batch: torch.Tensor, generator: torch.Generator, sample_rate: int) -> torch.Tensor:
    """batch [B, T] (about -20 dBFS) -> augmented [B, T], peaks kept below 1."""
    size, length = batch.shape

    def uniform(low: float, high: float, n: int = size) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    def chance(p: float) -> torch.Tensor:
        return torch.rand(size, generator=generator) < p

    out = batch
    # EQ: a one-pole low or high shelf of random strength (bright / dull microphones and rooms).
    tilt = chance(0.3)
    if bool(tilt.any()):
        alpha = uniform(0.3, 0.9)[:, None]
        low = _one_pole_lowpass(out, alpha)
        high = out - low
        mix = uniform(-0.6, 0.6)[:, None]
        out = torch.where(tilt[:, None], out + mix * torch.where(mix > 0, high, low), out)
    # Reverb: exponentially decaying noise, 0.1-0.6 s RT60, mixed in at a random wet level.
    room = chance(0.2)
    if bool(room.any()):
        taps = sample_rate // 2
        t = torch.arange(taps) / sample_rate
        rt60 = uniform(0.1, 0.6)[:, None]
        ir = torch.randn(size, taps, generator=generator) * torch.exp(-6.9 * t[None] / rt60)
        ir = ir / ir.norm(dim=1, keepdim=True)
        wet = _fft_convolve(out, ir)[:, :length]
        level = uniform(0.1, 0.5)[:, None]
        reverberant = out + level * wet * (
            out.norm(dim=1, keepdim=True) / (wet.norm(dim=1, keepdim=True) + 1e-8)
        )
        out = torch.where(room[:, None], reverberant, out)
    # Background noise: white or pink at 15-45 dB below the signal.
    noisy = chance(0.2)
    if bool(noisy.any()):
        noise = torch.randn(size, length, generator=generator)
        pink = chance(0.5)
        noise = torch.where(pink[:, None], _one_pole_lowpass(noise, torch.full((size, 1), 0.97)), noise)
        snr_db = uniform(15, 45)[:, None]
        scale = (
            out.norm(dim=1, keepdim=True) / (noise.norm(dim=1, keepdim=True) + 1e-8) * 10 ** (-snr_db / 20)
        )
        out = torch.where(noisy[:, None], out + noise * scale, out)
    # Silence: a span of digital silence (files have gaps; a codec must reproduce them as silence).
    gaps = chance(0.15)
    if bool(gaps.any()):
        start = (uniform(0.0, 0.7) * length).long()
        span = (uniform(0.1, 0.6) * length).long()
        position = torch.arange(length)[None]
        inside = (position >= start[:, None]) & (position < (start + span)[:, None])
        ramp = sample_rate // 500  # 2 ms, so the cut itself is not a click the codec must learn
        edge = torch.minimum((position - start[:, None]).abs(), (position - (start + span)[:, None]).abs())
        fade = torch.where(inside, torch.zeros(()), torch.clamp(edge.float() / ramp, max=1.0))
        out = torch.where(gaps[:, None], out * fade, out)
    # Level: -16 dB to +8 dB around the corpus loudness, never clipping.
    out = out * 10 ** (uniform(-16, 8)[:, None] / 20)
    peak = out.abs().amax(dim=1, keepdim=True)
    return torch.where(peak > 0.99, out / peak * 0.99, out)


def _one_pole_lowpass(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """y[n] = (1 - a) x[n] + a y[n-1], as an FIR truncated where a^n is negligible (batched, per-row a)."""
    taps = 256
    n = torch.arange(taps, dtype=x.dtype)
    kernel = (1 - alpha) * alpha ** n[None]  # [B, taps]
    return _fft_convolve(x, kernel)[:, : x.shape[-1]]


def _fft_convolve(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    n = x.shape[-1] + kernel.shape[-1] - 1
    size = 1 << (n - 1).bit_length()
    return torch.fft.irfft(torch.fft.rfft(x, size) * torch.fft.rfft(kernel, size), size)[:, :n]
