"""The bitrate ladder with random-weights models: exact sizes, alignment to the original, metrics, cache."""

import os

import numpy as np
import pytest
import torch

from codec.audio import convert_audio
from codec.ecdc import encode_bytes
from codec.errors import Cancelled, UnsupportedBandwidthError
from codec.ladder import LadderCache, back_to_original, encode_ladder, encode_rung, model_input, source_key
from codec.metrics import log_mel_distance, si_sdr
from codec.progress import CancelToken
from tests.oracles import torch_threads

SR = 22_050


@pytest.fixture(scope="module", autouse=True)
def one_core_free():
    """Models run on every core but one, as the app runs them (and fast on a busy machine)."""
    with torch_threads(max(1, (os.cpu_count() or 1) - 1)):
        yield


@pytest.fixture(scope="module")
def model(random_model):
    return random_model("encodec_24khz")


@pytest.fixture(scope="module")
def audio():
    t = np.arange(int(0.5 * SR)) / SR
    left = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * np.sin(2 * np.pi * 2500 * t)
    return np.stack([left, 0.8 * left]).astype(np.float32)


def test_rungs_have_exact_sizes_aligned_audio_and_metrics(model, audio):
    rungs = encode_ladder(model, audio, SR, [6.0, 1.5])
    assert [r.bandwidth for r in rungs] == [6.0, 1.5]
    prepared = model_input(model, audio, SR)
    for rung in rungs:
        encoded = model.encode(torch.from_numpy(prepared), rung.bandwidth)
        assert rung.ecdc_bytes == len(encode_bytes(encoded))
        assert rung.num_codebooks == model.spec.codebooks_for_bandwidth(rung.bandwidth)
        assert rung.bitrate_kbps == pytest.approx(rung.ecdc_bytes * 8 / 0.5 / 1000)
        assert rung.audio.shape == audio.shape and rung.audio.dtype == np.float32
        assert rung.sample_rate == SR and rung.duration_s == pytest.approx(0.5)
        expected = back_to_original(model.decode(encoded).numpy(), 24_000, SR, 2, audio.shape[1])
        np.testing.assert_allclose(rung.audio, expected, atol=1e-5)
        assert rung.si_sdr == pytest.approx(si_sdr(audio, rung.audio))
        assert rung.log_mel_distance == pytest.approx(log_mel_distance(audio, rung.audio, SR))
    assert rungs[0].ecdc_bytes > rungs[1].ecdc_bytes  # more codebooks, more bytes
    assert rungs[0].label == "6 kbps"


def test_back_to_original_is_sample_aligned(audio):
    """Through the model's rate and channels and back: no delay, same length (a mono original here)."""
    mono = audio[:1]
    there = convert_audio(mono, SR, 24_000, 1)
    back = back_to_original(there, 24_000, SR, 1, mono.shape[1])
    assert back.shape == mono.shape
    assert si_sdr(mono[:, 200:-200], back[:, 200:-200]) > 40
    padded = back_to_original(there[:, :-500], 24_000, SR, 2, mono.shape[1])
    assert padded.shape == (2, mono.shape[1]) and np.all(padded[:, -400:] == 0)


def test_default_bandwidths_and_unsupported_ones(model, audio):
    with pytest.raises(UnsupportedBandwidthError):
        encode_ladder(model, audio, SR, [1.5, 7.0])
    with pytest.raises(ValueError):
        encode_rung(model, audio[:, :0], SR, 1.5)


def test_cache_reuses_rungs_and_keeps_finished_ones_on_cancel(model, audio, tmp_path):
    source = tmp_path / "a.wav"
    source.write_bytes(b"x")
    key = source_key(source)
    cache = LadderCache()
    first = encode_ladder(model, audio, SR, [1.5], cache=cache, source=key)
    assert len(cache) == 1
    token = CancelToken()
    calls = []

    def progress(done, total):
        calls.append(done)
        if done >= 500:  # half-way: the 1.5 kbps rung (cached) is done, the 3 kbps one is running
            token.cancel()

    with pytest.raises(Cancelled):
        encode_ladder(model, audio, SR, [1.5, 3.0], cache=cache, source=key, progress=progress, cancel=token)
    assert len(cache) == 1
    again = encode_ladder(model, audio, SR, [1.5], cache=cache, source=key)
    assert again[0] is first[0]
    source.write_bytes(b"changed")  # a modified file is a new key
    assert source_key(source) != key


def test_progress_is_monotonic_and_ends_complete(model, audio):
    seen = []
    encode_ladder(model, audio, SR, [1.5, 3.0], progress=lambda d, t: seen.append(d / t))
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_stereo_model_and_mono_input(random_model):
    model = random_model("encodec_48khz")
    audio = (0.2 * np.sin(2 * np.pi * 440 * np.arange(4000) / 16_000)).astype(np.float32)[None]
    (rung,) = encode_ladder(model, audio, 16_000, [3.0])
    assert rung.audio.shape == (1, 4000)
    assert rung.num_codebooks == 2


@pytest.fixture(scope="module")
def long_audio():
    """Long enough for several spool blocks (SPOOL_BLOCK_SECONDS) and the 48 kHz model's chunks."""
    t = np.arange(int(9.3 * SR)) / SR
    left = 0.3 * np.sin(2 * np.pi * 330 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    return np.stack([left, 0.8 * left]).astype(np.float32)


@pytest.mark.parametrize("name", ["encodec_24khz", "encodec_48khz"])
def test_spooled_rungs_match_the_in_memory_ones_and_live_on_disk(random_model, long_audio, tmp_path, name):
    model = random_model(name)
    in_memory = encode_rung(model, long_audio, SR, 6.0)
    source = np.lib.format.open_memmap(tmp_path / "source.npy", "w+", np.float32, long_audio.shape)
    source[:] = long_audio  # the compare view hands over a memory-mapped original
    spool = tmp_path / "spool"
    spool.mkdir()
    spooled = encode_rung(model, source, SR, 6.0, spool=spool)
    assert isinstance(spooled.audio, np.memmap) and not spooled.audio.flags.writeable
    assert spooled.audio.shape == long_audio.shape
    assert spooled.ecdc_bytes == in_memory.ecdc_bytes
    # Streaming and whole-array paths differ only by float rounding (and 24 kHz block-wise state).
    np.testing.assert_allclose(spooled.audio, in_memory.audio, atol=2e-3)
    assert spooled.si_sdr == pytest.approx(in_memory.si_sdr, abs=0.05)
    assert spooled.log_mel_distance == pytest.approx(in_memory.log_mel_distance, abs=0.05)
    if os.name == "posix":
        assert list(spool.iterdir()) == []  # unlinked once mapped: nothing outlives the array


def test_a_cancelled_spooled_rung_leaves_no_file(model, long_audio, tmp_path):
    token = CancelToken()

    def cancel_half_way(done, total):
        if done > 600:  # during decoding, after the spool file was created
            token.cancel()

    with pytest.raises(Cancelled):
        encode_rung(model, long_audio, SR, 6.0, spool=tmp_path, progress=cancel_half_way, cancel=token)
    assert list(tmp_path.iterdir()) == []


def test_opus_rung_is_aligned_scored_and_sized():
    import pytest

    from codec.baselines import opus_available
    from codec.ladder import opus_rung
    from codec.metrics import si_sdr

    if not opus_available():
        pytest.skip("opus-tools is not installed")
    rate = 44_100
    t = np.arange(rate * 5) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 1320 * t)
    audio = np.stack([tone, tone]).astype(np.float32)  # at 12 kbps Opus codes stereo as one channel
    rung = opus_rung(audio, rate, 12.0)
    assert rung.audio.shape == audio.shape and rung.label == "Opus 12 kbps"
    assert rung.si_sdr == si_sdr(audio, rung.audio) and rung.si_sdr > 10  # aligned: no pre-skip offset
    assert 9.0 < rung.bitrate_kbps < 18.0  # the Ogg container's headers and pages are counted too
