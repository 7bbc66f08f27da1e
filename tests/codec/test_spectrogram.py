"""STFT power, dB conversion and the linear / log / mel row mapping."""

import numpy as np
import pytest

from codec.errors import Cancelled
from codec.progress import CancelToken
from codec.spectrogram import (
    FLOOR_DB,
    Spectrogram,
    compute_spectrogram,
    frequency_matrix,
    from_scale,
    mel_filterbank,
    to_scale,
)

SR = 16_000


def sine(freq, seconds=1.0, amplitude=1.0, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_sine_peaks_at_its_frequency_at_about_zero_db():
    spec = compute_spectrogram(sine(1000.0)[None], SR, n_fft=512)
    db, edges = spec.image("linear")
    middle = db[spec.frames // 2]
    assert spec.freqs[np.argmax(middle)] == pytest.approx(1000.0, abs=SR / 512)
    assert middle.max() == pytest.approx(0.0, abs=1.5)  # Hann scallop loss is at most ~1.4 dB
    assert edges.shape == (db.shape[1] + 1,)


def test_frames_are_centred_and_cover_the_signal():
    audio = np.zeros(1000, dtype=np.float32)
    audio[500] = 1.0  # a click at sample 500
    spec = compute_spectrogram(audio, SR, n_fft=64, hop=100)
    assert spec.frames == 1000 // 100 + 1
    assert spec.hop == 100 and spec.length == 1000
    energy = spec.power.sum(axis=1)
    assert np.argmax(energy) == 5  # frame 5 is centred on sample 500
    assert spec.times[5] == pytest.approx(500 / SR)


def test_stereo_is_mixed_to_mono():
    left = sine(500.0)
    spec_stereo = compute_spectrogram(np.stack([left, -left]), SR, n_fft=256)
    assert spec_stereo.power.max() < 1e-10  # opposite channels cancel


def test_long_signals_are_capped_in_frames():
    spec = compute_spectrogram(np.zeros(SR * 60, dtype=np.float32), SR, n_fft=256, max_frames=500)
    assert spec.frames <= 500
    assert spec.hop >= 64


def test_silence_is_finite():
    spec = compute_spectrogram(np.zeros(2000, dtype=np.float32), SR, n_fft=256)
    db, _ = spec.image("linear")
    assert np.all(db == FLOOR_DB)


@pytest.mark.parametrize("scale", ["linear", "log", "mel"])
def test_mapped_rows_keep_a_flat_spectrum_flat(scale):
    spec = Spectrogram(power=np.ones((3, 257), np.float32), sample_rate=SR, n_fft=512, hop=128, length=256)
    db, edges = spec.image(scale, rows=100)
    assert db.shape == (3, 100)
    np.testing.assert_allclose(db, 0.0, atol=1e-4)
    assert edges.shape == (101,)
    assert from_scale(edges[-1], scale) == pytest.approx(SR / 2)


@pytest.mark.parametrize("scale", ["log", "mel"])
def test_mapped_rows_put_a_tone_in_the_row_that_contains_it(scale):
    spec = compute_spectrogram(sine(2000.0), SR, n_fft=1024)
    db, edges = spec.image(scale, rows=128)
    row = int(np.argmax(db[spec.frames // 2]))
    assert from_scale(edges[row], scale) <= 2000.0 * 1.03
    assert from_scale(edges[row + 1], scale) >= 2000.0 / 1.03


def test_log_rows_are_evenly_spaced_in_octaves():
    freqs = np.fft.rfftfreq(1024, 1 / SR)
    weights, edges = frequency_matrix(freqs, "log", 64, 20.0, 8000.0)
    assert weights.shape == (64, freqs.size)
    np.testing.assert_allclose(np.diff(edges), np.diff(edges)[0])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(weights >= 0)


def test_scale_round_trip_and_known_mel_value():
    hz = np.array([0.0, 100.0, 1000.0, 8000.0])
    for scale in ("linear", "mel"):
        np.testing.assert_allclose(from_scale(to_scale(hz, scale), scale), hz, atol=1e-6)
    np.testing.assert_allclose(from_scale(to_scale(hz[1:], "log"), "log"), hz[1:])
    assert to_scale(1000.0, "mel") == pytest.approx(1000.0, abs=0.5)  # HTK: 1 kHz ~ 1000 mel
    with pytest.raises(ValueError):
        to_scale(1.0, "bark")


def test_mel_filterbank_shape():
    bank = mel_filterbank(SR, 512, 40)
    assert bank.shape == (40, 257)
    assert np.all(bank.sum(axis=1) > 0.99)


def test_progress_and_cancel():
    seen = []
    compute_spectrogram(
        np.zeros(SR * 4, np.float32), SR, n_fft=2048, hop=16, progress=lambda d, t: seen.append((d, t))
    )
    assert len(seen) > 1
    assert seen[-1][0] == seen[-1][1]
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        compute_spectrogram(np.zeros(SR, np.float32), SR, cancel=token)


def test_difference_and_memory_mapped_input_read_only_what_they_need(tmp_path):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 40_000)).astype(np.float32)
    b = rng.standard_normal((2, 40_000)).astype(np.float32)
    mapped = np.lib.format.open_memmap(tmp_path / "a.npy", "w+", np.float32, a.shape)
    mapped[:] = a
    direct = compute_spectrogram(a - b, 24_000, n_fft=512)
    lazy = compute_spectrogram(mapped, 24_000, n_fft=512, minus=b)
    np.testing.assert_allclose(lazy.power, direct.power, rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError, match="Shapes differ"):
        compute_spectrogram(a, 24_000, minus=b[:, :10])
