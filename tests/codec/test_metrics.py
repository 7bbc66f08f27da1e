"""SI-SDR and the log-mel spectral distance on signals whose answers are known."""

import math

import numpy as np
import pytest

from codec.metrics import default_n_fft, log_mel_distance, si_sdr

SR = 16_000


def tone(freq=440.0, seconds=1.0):
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def orthogonal_noise(reference, energy_ratio_db, seed=0):
    """Zero-mean noise orthogonal to `reference` at `energy_ratio_db` below it."""
    rng = np.random.default_rng(seed)
    ref = reference - reference.mean()
    noise = rng.standard_normal(reference.shape)
    noise -= noise.mean()
    noise -= np.dot(noise, ref) / np.dot(ref, ref) * ref
    noise *= math.sqrt(np.dot(ref, ref) / np.dot(noise, noise) * 10 ** (-energy_ratio_db / 10))
    return noise


def test_si_sdr_of_a_copy_or_a_scaled_copy_is_infinite():
    ref = tone()
    assert si_sdr(ref, ref) == math.inf
    assert si_sdr(ref, 0.25 * ref) == math.inf


@pytest.mark.parametrize("snr", [0.0, 10.0, 25.0])
def test_si_sdr_matches_a_known_noise_level(snr):
    ref = tone().astype(np.float64)
    estimate = 0.7 * ref + 0.7 * orthogonal_noise(ref, snr)
    assert si_sdr(ref, estimate) == pytest.approx(snr, abs=1e-6)


def test_si_sdr_averages_channels():
    ref = tone().astype(np.float64)
    est = np.stack([ref + orthogonal_noise(ref, 10.0), ref + orthogonal_noise(ref, 20.0, seed=1)])
    assert si_sdr(np.stack([ref, ref]), est) == pytest.approx(15.0, abs=1e-6)


def test_si_sdr_edge_cases():
    assert math.isnan(si_sdr(np.zeros(100), np.ones(100)))
    with pytest.raises(ValueError):
        si_sdr(np.zeros(100), np.zeros(99))


def test_log_mel_distance_is_zero_for_identical_and_reads_a_gain_in_db():
    ref = tone() + 0.05 * np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    assert log_mel_distance(ref, ref, SR) == pytest.approx(0.0, abs=1e-9)
    assert log_mel_distance(ref, 0.5 * ref, SR) == pytest.approx(20 * math.log10(2), abs=0.01)


def test_log_mel_distance_grows_with_damage():
    rng = np.random.default_rng(1)
    ref = rng.standard_normal(SR).astype(np.float32) * 0.1
    slight = ref + 0.01 * rng.standard_normal(SR).astype(np.float32) * 0.1
    lowpassed = np.convolve(ref, np.ones(8) / 8, mode="same").astype(np.float32)
    assert 0 < log_mel_distance(ref, slight, SR) < log_mel_distance(ref, lowpassed, SR)


def test_log_mel_distance_edge_cases():
    assert math.isnan(log_mel_distance(np.zeros((1, 4000)), np.ones((1, 4000)), SR))
    assert default_n_fft(24_000) == 1024 and default_n_fft(48_000) == 2048


def test_metrics_are_the_same_computed_in_chunks(monkeypatch):
    # Long signals are scored CHUNK samples at a time (bounded memory); the chunking must not show.
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((2, 30_001)).astype(np.float32)
    est = (ref + 0.1 * rng.standard_normal(ref.shape)).astype(np.float32)
    whole = si_sdr(ref, est), log_mel_distance(ref, est, 24_000)
    monkeypatch.setattr("codec.metrics.CHUNK", 4_096)
    assert si_sdr(ref, est) == pytest.approx(whole[0], abs=1e-9)
    assert log_mel_distance(ref, est, 24_000) == pytest.approx(whole[1], abs=1e-9)
