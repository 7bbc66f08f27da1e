"""Objective quality of a decoded signal against its original: SI-SDR and a log-mel spectral distance. Numpy only.

Both take `[C, T]` (or `[T]`) arrays of the same shape at the same rate, score each channel and average.

    si_sdr(original, decoded)                      # dB, higher is better; inf when identical
    log_mel_distance(original, decoded, 24_000)    # dB, lower is better; 0 when identical
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from codec.spectrogram import mel_filterbank, stft_power_blocks

#: Bands quieter than the reference's loudest band minus this many dB are clamped, so that near-silence
#: (where any codec's output differs by huge ratios nobody hears) does not dominate the distance.
DYNAMIC_RANGE_DB = 80.0


#: Samples per channel handled at once: long (memory-mapped) signals are scored in bounded memory.
CHUNK = 1 << 20


def _channels(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[C, T] views of both signals (nothing is copied: they may be memory-mapped)."""
    if reference.shape != estimate.shape:
        raise ValueError(f"Shapes differ: {reference.shape} vs {estimate.shape}; align the signals first.")
    if reference.ndim == 1:
        return reference[None], estimate[None]
    if reference.ndim != 2:
        raise ValueError("Signals must be [C, T] or [T].")
    return reference, estimate


def _chunks(*signals: np.ndarray) -> Iterator[tuple[np.ndarray, ...]]:
    length = signals[0].shape[-1]
    for start in range(0, max(length, 1), CHUNK):
        yield tuple(np.asarray(x[start : start + CHUNK], dtype=np.float64) for x in signals)


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019), averaged over channels.

    Both signals are made zero-mean; the reference is scaled by the least-squares gain onto the estimate and
    the ratio of that target's energy to the residual's is returned. `inf` for an exact (scaled) copy, `nan`
    when a reference channel is silent (the ratio is undefined). Computed in passes over chunks of CHUNK
    samples, so memory does not grow with the length.
    """
    reference, estimate = _channels(reference, estimate)
    scores = []
    for ref_all, est_all in zip(reference, estimate):
        n = max(ref_all.shape[0], 1)
        ref_mean = sum(float(r.sum()) for r, _ in _chunks(ref_all, est_all)) / n
        est_mean = sum(float(e.sum()) for _, e in _chunks(ref_all, est_all)) / n
        ref_energy = cross = 0.0
        for ref, est in _chunks(ref_all, est_all):
            ref, est = ref - ref_mean, est - est_mean
            ref_energy += float(np.dot(ref, ref))
            cross += float(np.dot(est, ref))
        if ref_energy <= 1e-20:
            return math.nan
        gain = cross / ref_energy
        noise_energy = target_energy = 0.0
        for ref, est in _chunks(ref_all, est_all):
            target = gain * (ref - ref_mean)
            noise = (est - est_mean) - target
            noise_energy += float(np.dot(noise, noise))
            target_energy += float(np.dot(target, target))
        if noise_energy <= 1e-20 * max(target_energy, 1e-20):
            scores.append(math.inf)
        elif target_energy <= 0.0:
            scores.append(-math.inf)
        else:
            scores.append(10.0 * math.log10(target_energy / noise_energy))
    return float(np.mean(scores))


def default_n_fft(sample_rate: int) -> int:
    """A power of two near 40 ms: 1024 at 24 kHz, 2048 at 48 kHz."""
    return 1 << max(6, round(math.log2(sample_rate * 0.04)))


def log_mel_distance(
    reference: np.ndarray,
    estimate: np.ndarray,
    sample_rate: int,
    *,
    n_mels: int = 64,
    n_fft: int | None = None,
) -> float:
    """Log-mel spectral distance in dB: the RMS over mel bands of the dB difference, averaged over frames.

    Mel power spectra (`n_mels` triangular bands up to Nyquist, Hann STFT with hop n_fft / 4) of both signals
    are converted to dB and clamped at the reference's peak minus DYNAMIC_RANGE_DB; then
    mean over frames of sqrt(mean over bands of (dB_ref - dB_est)^2), averaged over channels. 0 for identical
    signals; it grows with audible spectral damage and does not depend on phase. `nan` for a silent reference.
    """
    reference, estimate = _channels(reference, estimate)
    n_fft = n_fft or default_n_fft(sample_rate)
    hop = n_fft // 4
    bank = mel_filterbank(sample_rate, n_fft, n_mels).T.astype(np.float64)
    scores = []
    for ref, est in zip(reference, estimate):
        # Two passes over blocks of frames (the floor needs the peak first): memory stays one block's.
        peak = max(float((b @ bank).max()) for b in stft_power_blocks(ref, n_fft, hop))
        if peak <= 0.0:
            return math.nan
        floor = peak * 10.0 ** (-DYNAMIC_RANGE_DB / 10.0)
        total, frames = 0.0, 0
        for ref_block, est_block in zip(
            stft_power_blocks(ref, n_fft, hop), stft_power_blocks(est, n_fft, hop)
        ):
            ref_db = np.log10(np.maximum(ref_block @ bank, floor))
            est_db = np.log10(np.maximum(est_block @ bank, floor))
            diff = 10.0 * (ref_db - est_db)
            total += float(np.sqrt(np.mean(diff**2, axis=1)).sum())
            frames += diff.shape[0]
        scores.append(total / frames)
    return float(np.mean(scores))
