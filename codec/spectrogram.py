"""Short-time Fourier magnitudes for display and metrics, with linear, log or mel frequency rows. Numpy only.

`compute_spectrogram` turns `[C, T]` (or `[T]`) audio into a `Spectrogram`: power per frame and FFT bin, the
channels mixed to mono. `Spectrogram.image(scale, rows)` warps the bins onto rows evenly spaced in the chosen
scale and converts to dB, ready for an image whose first axis is time.

    spec = compute_spectrogram(audio, 48_000)
    db, edges = spec.image("mel", rows=256)   # db: [frames, 256]; edges: row boundaries in mel
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from codec.progress import CancelToken, ProgressCallback, check_cancel, report

FrequencyScale = Literal["linear", "log", "mel"]
SCALES: tuple[FrequencyScale, ...] = ("linear", "log", "mel")

#: Lowest frequency shown on the log scale (Hz); 0 Hz has no logarithm.
LOG_FMIN = 20.0
#: dB value of a power of 0 (keeps silence finite).
FLOOR_DB = -160.0


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray | float:
    """HTK mel scale: 2595 * log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray | float:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def to_scale(hz: np.ndarray | float, scale: FrequencyScale) -> np.ndarray:
    """Frequencies in Hz -> the coordinate of `scale` (Hz, log10 Hz or mel)."""
    hz = np.asarray(hz, dtype=np.float64)
    if scale == "linear":
        return hz
    if scale == "log":
        return np.log10(np.maximum(hz, 1e-3))
    if scale == "mel":
        return np.asarray(hz_to_mel(hz))
    raise ValueError(f"Unknown frequency scale {scale!r}; choose one of {', '.join(SCALES)}.")


def from_scale(value: np.ndarray | float, scale: FrequencyScale) -> np.ndarray:
    """The inverse of `to_scale`: a coordinate of `scale` -> Hz."""
    value = np.asarray(value, dtype=np.float64)
    if scale == "linear":
        return value
    if scale == "log":
        return 10.0 ** np.clip(value, -12.0, 12.0)
    if scale == "mel":
        return np.asarray(mel_to_hz(value))
    raise ValueError(f"Unknown frequency scale {scale!r}; choose one of {', '.join(SCALES)}.")


def power_to_db(power: np.ndarray, ref: float = 1.0) -> np.ndarray:
    """10 * log10(power / ref), float32, with 0 mapped to FLOOR_DB."""
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(np.asarray(power, dtype=np.float64) / ref)
    return np.maximum(db, FLOOR_DB).astype(np.float32)


def frequency_matrix(
    bin_freqs: np.ndarray, scale: FrequencyScale, rows: int, fmin: float, fmax: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weights `[rows, bins]` that map FFT-bin power onto `rows` bands evenly spaced in `scale`.

    Each row is a triangle spanning its neighbours' centres (a mel filterbank when `scale` is "mel"); where a
    band is narrower than the bin spacing the row interpolates linearly between the two nearest bins instead, so
    no row is empty. Rows sum to 1, so a flat spectrum stays flat. Returns the weights and the `rows + 1` row
    edges in `scale` coordinates (what an image's vertical extent should be).
    """
    if rows < 1:
        raise ValueError("rows must be at least 1.")
    bin_freqs = np.asarray(bin_freqs, dtype=np.float64)
    lo, hi = to_scale(fmin, scale), to_scale(fmax, scale)
    edges = np.linspace(lo, hi, rows + 1)
    centres_scaled = 0.5 * (edges[:-1] + edges[1:])
    points = from_scale(np.concatenate([[edges[0]], centres_scaled, [edges[-1]]]), scale)
    weights = np.zeros((rows, bin_freqs.size), dtype=np.float64)
    for row in range(rows):
        left, centre, right = points[row], points[row + 1], points[row + 2]
        rise = (bin_freqs - left) / max(centre - left, 1e-12)
        fall = (right - bin_freqs) / max(right - centre, 1e-12)
        tri = np.clip(np.minimum(rise, fall), 0.0, None)
        if np.count_nonzero(tri) >= 2:
            weights[row] = tri / tri.sum()
        else:
            # Narrow band: interpolate between the bins on either side of its centre.
            position = np.interp(centre, bin_freqs, np.arange(bin_freqs.size))
            below = int(math.floor(position))
            above = min(below + 1, bin_freqs.size - 1)
            frac = position - below
            weights[row, below] += 1.0 - frac
            weights[row, above] += frac
    return weights.astype(np.float32), edges


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular mel filters `[n_mels, n_fft // 2 + 1]`, each normalised to unit sum."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    weights, _ = frequency_matrix(freqs, "mel", n_mels, fmin, fmax if fmax is not None else sample_rate / 2)
    return weights


@dataclass(frozen=True)
class Spectrogram:
    """Power spectrogram `[frames, bins]` of one signal; frame i is centred on sample `i * hop`."""

    power: np.ndarray
    sample_rate: int
    n_fft: int
    hop: int
    length: int  # samples of the signal it was computed from

    @property
    def frames(self) -> int:
        return self.power.shape[0]

    @property
    def duration(self) -> float:
        return self.length / self.sample_rate

    @property
    def freqs(self) -> np.ndarray:
        return np.fft.rfftfreq(self.n_fft, 1.0 / self.sample_rate)

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.frames) * self.hop / self.sample_rate

    def fmin(self, scale: FrequencyScale) -> float:
        """Lowest frequency the `scale` shows: 0 Hz, or LOG_FMIN (at most a tenth of Nyquist) for log."""
        return min(LOG_FMIN, self.sample_rate / 20) if scale == "log" else 0.0

    def image(
        self, scale: FrequencyScale = "linear", rows: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """dB image `[frames, rows]` with rows evenly spaced in `scale`, and the row edges in `scale` units.

        `rows=None` keeps one row per FFT bin (linear scale only; other scales default to 256 rows).
        """
        bins = self.power.shape[1]
        fmax = self.sample_rate / 2
        if scale == "linear" and rows in (None, bins):
            half_bin = fmax / (bins - 1) / 2
            return power_to_db(self.power), np.linspace(-half_bin, fmax + half_bin, bins + 1)
        weights, edges = frequency_matrix(self.freqs, scale, rows or 256, self.fmin(scale), fmax)
        return power_to_db(self.power @ weights.T), edges


def frame_hop(length: int, n_fft: int, max_frames: int) -> int:
    """A hop of at least n_fft / 4 that keeps the frame count at or under `max_frames`."""
    return max(n_fft // 4, -(-length // max(1, max_frames - 1)), 1)


def stft_power_blocks(
    signal: np.ndarray,
    n_fft: int,
    hop: int,
    block: int | None = None,
    minus: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """Hann-window STFT power of a signal, `block` frames at a time (`[frames_in_block, n_fft // 2 + 1]`).

    `signal` is `[T]`, or `[C, T]` whose channels are mixed to mono; with `minus` (same shape), of
    `signal - minus`. Frames are centred (frame i on sample i * hop, zero padded at both ends),
    `T // hop + 1` in all, scaled so a full-scale sine reads about 0 dB. Only the samples under each block
    of frames are read, so a memory-mapped signal of any length costs one block's memory.
    """
    length = signal.shape[-1]
    frames = length // hop + 1
    half = n_fft // 2
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann
    scale = 2.0 / window.sum()
    block = block or max(1, (1 << 21) // n_fft)  # ~2M samples of frames per block
    offsets = np.arange(n_fft)[None, :] - half
    for first in range(0, frames, block):
        starts = np.arange(first, min(first + block, frames))[:, None] * hop
        index = starts + offsets
        lo, hi = max(0, int(index[0, 0])), min(length, int(index[-1, -1]) + 1)
        span = _mono(signal, minus, lo, hi)  # the samples these frames cover
        inside = (index >= lo) & (index < hi)
        windows = np.where(inside, span[np.clip(index - lo, 0, max(0, hi - lo - 1))], 0.0).astype(np.float32)
        spectrum = np.fft.rfft(windows * window, axis=1) * scale
        yield (spectrum.real**2 + spectrum.imag**2).astype(np.float32)


def _mono(signal: np.ndarray, minus: np.ndarray | None, lo: int, hi: int) -> np.ndarray:
    piece = np.asarray(signal[..., lo:hi], dtype=np.float32)
    if minus is not None:
        piece = piece - np.asarray(minus[..., lo:hi], dtype=np.float32)
    if piece.ndim == 2:
        piece = piece.mean(axis=0)
    if piece.ndim != 1:
        raise ValueError("audio must be [C, T] or [T].")
    return piece if piece.size else np.zeros(1, np.float32)


def compute_spectrogram(
    audio: np.ndarray,
    sample_rate: int,
    *,
    n_fft: int = 1024,
    hop: int | None = None,
    max_frames: int = 6000,
    minus: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Spectrogram:
    """STFT power of `audio` (`[C, T]` or `[T]`, channels mixed to mono; with `minus`, of the difference
    `audio - minus`); see `stft_power_blocks`. `audio` may be memory-mapped: it is read a block at a time.

    `hop=None` picks n_fft / 4, raised so long files give at most `max_frames` frames (a display never needs
    more). `progress` gets (frames done, frames) and `cancel` is checked between blocks of frames.
    """
    if audio.ndim not in (1, 2):
        raise ValueError("audio must be [C, T] or [T].")
    if minus is not None and minus.shape != audio.shape:
        raise ValueError(f"Shapes differ: {audio.shape} vs {minus.shape}.")
    length = audio.shape[-1]
    hop = hop or frame_hop(length, n_fft, max_frames)
    frames = length // hop + 1
    power = np.empty((frames, n_fft // 2 + 1), dtype=np.float32)
    done = 0
    for block in stft_power_blocks(audio, n_fft, hop, minus=minus):
        check_cancel(cancel)
        power[done : done + block.shape[0]] = block
        done += block.shape[0]
        report(progress, done, frames)
    return Spectrogram(power=power, sample_rate=sample_rate, n_fft=n_fft, hop=hop, length=length)
