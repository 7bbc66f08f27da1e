"""The Live pipeline between a fake duplex device and the worker: what it plays, what it records, what it counts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf
import torch

from app.live.pipeline import LiveConfig, LiveError, LivePipeline
from app.live.processor import LiveProcessor
from codec.ecdc import read_ecdc
from tests.app.live.conftest import SR, chirp_signal
from tests.app.live.fake_backend import FakeBackend, worker_settled

HOP = 320


def run_lockstep(model, signal, config, rates=(24_000,)):
    """Run the pipeline over `signal` with a device that waits for the worker after every block."""
    backend = FakeBackend(signal, rates=rates, tail=8 * HOP)
    pipeline = LivePipeline(model, backend)
    backend.lockstep = worker_settled(pipeline)
    pipeline.start(dataclasses.replace(config, max_step_frames=1))  # the device waits for every single frame
    assert backend.finished.wait(60)
    stats = pipeline.stats()
    result = pipeline.stop()
    return backend, stats, result


def test_plays_the_processors_output_after_the_cushion(live_model):
    signal = chirp_signal(1.0)
    backend, stats, _ = run_lockstep(live_model, signal, LiveConfig(bandwidth=6.0, buffer_s=0.04))
    stream = backend.streams["output"]
    assert stream.samplerate == SR and stream.blocksize == HOP and stream.device is None
    played = backend.played
    offline = LiveProcessor(live_model, 6.0)
    expected = np.concatenate(
        [offline.process(signal[i : i + HOP, None])[:, 0] for i in range(0, signal.size, HOP)]
    )
    # Silence until the first burst (7 frames in, processed after the block), then the 40 ms cushion.
    start = 7 * HOP + round(0.04 * SR)
    assert np.abs(played[:start]).max() == 0.0
    np.testing.assert_allclose(played[start : start + expected.size], expected, atol=1e-5)
    assert stats.underruns == 0 and stats.overruns == 0  # (its load is meaningless here: the device waits)
    # Measured latency: the fake devices' 10 + 20 ms, the cushion, one frame and the block in flight.
    assert stats.latency_s == pytest.approx(0.03 + 0.04 + (HOP + HOP) / SR, abs=1.5 * HOP / SR)
    assert stats.output_peak > 0


def test_records_the_take_and_the_original_atomically(live_model, tmp_path):
    signal = chirp_signal(1.2)
    config = LiveConfig(bandwidth=3.0, record_ecdc=tmp_path / "take.ecdc", record_wav=tmp_path / "take.wav")
    _, _, result = run_lockstep(live_model, signal, config)
    assert result.ecdc == config.record_ecdc and result.wav == config.record_wav
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.ecdc", "take.wav"]  # no temporary left
    original, rate = sf.read(result.wav, dtype="float32")
    assert rate == SR and original.size >= signal.size
    np.testing.assert_array_equal(original[: signal.size], signal)  # float wav: exactly what came in
    encoded = read_ecdc(result.ecdc)
    assert encoded.length == original.size and encoded.bandwidth == 3.0
    whole = live_model.encode(torch.from_numpy(original)[None], 3.0).codes[0]
    assert torch.equal(encoded.codes[0], whole)  # codes equal the file path's for the same samples


def test_resamples_when_the_devices_do_not_run_at_the_model_rate(live_model):
    import soxr

    signal = soxr.resample(chirp_signal(0.8), SR, 48_000)
    config = LiveConfig(bandwidth=6.0, monitor_codec=False)  # A: down to 24 kHz and back up again
    backend, stats, _ = run_lockstep(live_model, signal, config, rates=(48_000,))
    stream = backend.streams["input"]
    assert stream.samplerate == 48_000 and stream.blocksize == 2 * HOP
    played = backend.played
    lags = range(0, 48_000 // 5)
    window = signal[9600:28800]
    scores = [float(np.dot(played[lag + 9600 : lag + 28800], window)) for lag in lags]
    lag = int(np.argmax(scores))
    aligned = played[lag + 9600 : lag + 28800]
    correlation = np.dot(aligned, window) / np.sqrt(np.dot(aligned, aligned) * np.dot(window, window))
    assert correlation > 0.99 and stats.underruns == 0


def test_refuses_an_existing_recording_and_bad_bitrate(live_model, tmp_path):
    pipeline = LivePipeline(live_model, FakeBackend())
    (tmp_path / "taken.wav").write_bytes(b"keep")
    with pytest.raises(Exception, match="exists"):
        pipeline.start(LiveConfig(record_wav=tmp_path / "taken.wav"))
    with pytest.raises(Exception, match="kbps"):
        pipeline.start(LiveConfig(bandwidth=5.0))
    assert (tmp_path / "taken.wav").read_bytes() == b"keep" and not pipeline.running


def test_device_failure_is_one_sentence_and_leaves_nothing(live_model, tmp_path):
    backend = FakeBackend()

    def broken(**kwargs):
        raise RuntimeError("Device unavailable [PaErrorCode -9985]")

    backend.OutputStream = broken
    pipeline = LivePipeline(live_model, backend)
    with pytest.raises(LiveError, match="Could not start the audio devices: Device unavailable"):
        pipeline.start(LiveConfig(record_wav=tmp_path / "x.wav"))
    assert list(tmp_path.iterdir()) == [] and not pipeline.running


def test_a_stalled_worker_is_counted_and_reported(live_model, monkeypatch):
    """Real-time pace with a worker made too slow: under-runs are counted and the pipeline says it is behind."""
    backend = FakeBackend(chirp_signal(1.0), tail=0)
    pipeline = LivePipeline(live_model, backend)
    real = LiveProcessor.encode

    def slow(self, block):
        import time

        time.sleep(2.5 * block.shape[0] / SR)  # 2.5x slower than real time
        return real(self, block)

    monkeypatch.setattr(LiveProcessor, "encode", slow)
    pipeline.start(LiveConfig(bandwidth=1.5, buffer_s=0.02))
    assert backend.finished.wait(30)
    stats = pipeline.stats()
    pipeline.stop()
    assert stats.behind and stats.load > 1.0
    assert stats.underruns > 0 or stats.dropped > 0
