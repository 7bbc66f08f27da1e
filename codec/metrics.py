"""Objective quality of a decoded signal against its original: SI-SDR and a log-mel spectral distance. Numpy only.

Both take `[C, T]` (or `[T]`) arrays of the same shape at the same rate, score each channel and average.

    si_sdr(original, decoded)                      # dB, higher is better; inf when identical
    log_mel_distance(original, decoded, 24_000)    # dB, lower is better; 0 when identical
"""

from __future__ import annotations

import math

import numpy as np

from codec.spectrogram import mel_filterbank, stft_power_blocks

#: Bands quieter than the reference's loudest band minus this many dB are clamped, so that near-silence
#: (where any codec's output differs by huge ratios nobody hears) does not dominate the distance.
DYNAMIC_RANGE_DB = 80.0


def _channels(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    if reference.shape != estimate.shape:
        raise ValueError(f"Shapes differ: {reference.shape} vs {estimate.shape}; align the signals first.")
    if reference.ndim == 1:
        return reference[None], estimate[None]
    if reference.ndim != 2:
        raise ValueError("Signals must be [C, T] or [T].")
    return reference, estimate


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019), averaged over channels.

    Both signals are made zero-mean; the reference is scaled by the least-squares gain onto the estimate and
    the ratio of that target's energy to the residual's is returned. `inf` for an exact (scaled) copy, `nan`
    when a reference channel is silent (the ratio is undefined).
    """
    reference, estimate = _channels(reference, estimate)
    scores = []
    for ref, est in zip(reference, estimate):
        ref = ref - ref.mean()
        est = est - est.mean()
        ref_energy = float(np.dot(ref, ref))
        if ref_energy <= 1e-20:
            return math.nan
        target = (np.dot(est, ref) / ref_energy) * ref
        noise = est - target
        noise_energy = float(np.dot(noise, noise))
        target_energy = float(np.dot(target, target))
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
        ref_mel = np.concatenate([b @ bank for b in stft_power_blocks(ref, n_fft, hop)])
        est_mel = np.concatenate([b @ bank for b in stft_power_blocks(est, n_fft, hop)])
        peak = float(ref_mel.max())
        if peak <= 0.0:
            return math.nan
        floor = peak * 10.0 ** (-DYNAMIC_RANGE_DB / 10.0)
        diff = 10.0 * (np.log10(np.maximum(ref_mel, floor)) - np.log10(np.maximum(est_mel, floor)))
        scores.append(float(np.mean(np.sqrt(np.mean(diff**2, axis=1)))))
    return float(np.mean(scores))
