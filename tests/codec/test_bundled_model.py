"""The bundled model on real audio it never trained on (tests/data/real, held out of the corpus).

These are the product's floor, not its measured figures (those are in docs/MODEL-CARD.md, from
bench/bench_quality.py on the full held-out set): quality must rise at every rung, and at 6 kbps the
decoded audio must beat 0 dB SI-SDR and a 4 kHz low-pass copy on spectral distance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.baselines import lowpass
from codec.ladder import encode_ladder
from codec.metrics import log_mel_distance, si_sdr

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
CLIPS = sorted(REAL.glob("*.flac"))


@pytest.fixture(scope="module")
def model():
    import codec

    torch.set_num_threads(1)
    return codec.load_model("small")


@pytest.fixture(scope="module")
def scores(model) -> dict[str, dict[float, list[tuple[float, float]]]]:
    """kind -> bandwidth -> [(SI-SDR, log-mel distance)] per clip, through the ladder the compare view uses."""
    result: dict[str, dict[float, list[tuple[float, float]]]] = {}
    for path in CLIPS:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        rungs = encode_ladder(model, audio.T, rate, list(model.spec.bandwidths))
        kind = path.name.split("-")[0]
        for rung in rungs:
            # The ladder's figures are the metrics of its decoded audio against the original.
            assert rung.si_sdr == pytest.approx(si_sdr(audio.T, rung.audio))
            result.setdefault(kind, {}).setdefault(rung.bandwidth, []).append(
                (rung.si_sdr, rung.log_mel_distance)
            )
    return result


def test_clips_are_present_and_real():
    assert {p.name.split("-")[0] for p in CLIPS} == {"speech", "music"}


def test_loads_offline_from_the_package(model, tmp_path, monkeypatch):
    from codec.weights import find_installed

    monkeypatch.setenv("ECDC_STUDIO_MODELS", str(tmp_path))  # an empty models folder: nothing downloaded
    path = find_installed("ecdc_small_24khz")
    assert path is not None and path.stat().st_size < 20_000_000
    assert model.spec.name == "ecdc_small_24khz" and not model.spec.official


@pytest.mark.parametrize("kind", ["speech", "music"])
def test_quality_rises_at_every_rung(scores, kind):
    by_rate = sorted(scores[kind].items())
    sdr = [np.mean([s for s, _ in clips]) for _, clips in by_rate]
    mel = [np.mean([m for _, m in clips]) for _, clips in by_rate]
    assert all(b > a for a, b in zip(sdr, sdr[1:])), sdr
    assert all(b < a for a, b in zip(mel, mel[1:])), mel


@pytest.mark.parametrize("kind", ["speech", "music"])
def test_six_kbps_reaches_the_floor(scores, kind):
    sdr = np.mean([s for s, _ in scores[kind][6.0]])
    mel = np.mean([m for _, m in scores[kind][6.0]])
    floor_mel = []
    for path in (p for p in CLIPS if p.name.startswith(kind)):
        audio, rate = sf.read(str(path), dtype="float32")
        floor_mel.append(log_mel_distance(audio, lowpass(audio, rate), rate))
    assert sdr > 0.0
    assert mel < np.mean(floor_mel)


def test_decoded_audio_follows_the_input(model):
    audio, rate = sf.read(str(REAL / "speech-hedgewars-british.flac"), dtype="float32")
    decoded = model.decode(model.encode(torch.from_numpy(audio)[None], 6.0))[0].numpy()
    assert decoded.shape == audio.shape
    assert np.corrcoef(audio, decoded)[0, 1] > 0.6
    # Silence stays silent-ish and speech stays loud: the envelope follows the input's.
    frames = len(audio) // 2400
    energy = lambda x: (x[: frames * 2400].reshape(frames, 2400) ** 2).mean(axis=1)  # noqa: E731
    assert np.corrcoef(np.log10(energy(audio) + 1e-9), np.log10(energy(decoded) + 1e-9))[0, 1] > 0.8


def test_speech_intelligibility_rises_with_bitrate(model):
    """STOI (the card has the figures; 6 kbps is below the 0.85 goal): it must rise at every rung and, at
    6 kbps, stand well clear of what unrelated noise scores against the same speech."""
    pystoi = pytest.importorskip("pystoi")
    for path in (p for p in CLIPS if p.name.startswith("speech")):
        audio, rate = sf.read(str(path), dtype="float32")
        scores = {}
        for bandwidth in model.spec.bandwidths:
            decoded = model.decode(model.encode(torch.from_numpy(audio)[None], bandwidth))[0].numpy()
            scores[bandwidth] = pystoi.stoi(audio, decoded, rate)
        ordered = [scores[b] for b in sorted(scores)]
        assert all(b > a for a, b in zip(ordered, ordered[1:])), (path.name, ordered)
        noise = 0.05 * np.random.default_rng(0).standard_normal(len(audio)).astype(np.float32)
        assert scores[6.0] > pystoi.stoi(audio, noise, rate) + 0.15, path.name
