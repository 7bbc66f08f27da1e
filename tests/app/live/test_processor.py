"""The Live signal path without devices: codec output aligned with the input, A/B, bitrate, recording."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from app.live.processor import LiveProcessor
from app.live.ring import RingBuffer
from tests.app.live.conftest import chirp_signal

HOP = 320


def run(processor: LiveProcessor, signal: np.ndarray, block: int) -> tuple[np.ndarray, int]:
    """All output, and the input index of its first sample."""
    outputs, first = [], None
    for start in range(0, signal.size, block):
        out = processor.process(signal[start : start + block, None])
        if out.shape[0] and first is None:
            first = processor.output_index - out.shape[0]
        outputs.append(out[:, 0])
    return np.concatenate(outputs), first


def snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    noise = float(((reference - other) ** 2).sum())
    return math.inf if noise == 0 else 10 * math.log10(float((reference**2).sum()) / noise)


def test_output_is_the_file_paths_rendering_of_the_same_samples(live_model):
    signal = chirp_signal(1.5)
    processor = LiveProcessor(live_model, 6.0)
    out, first = run(processor, signal, 320)
    assert first == 6 * HOP  # the warm-up burst (7 frames) plays only its last frame
    reference = live_model.decode(live_model.encode(torch.from_numpy(signal)[None], 6.0))[0].numpy()
    assert snr_db(reference[first : first + out.size], out) > 60
    assert processor.output_index == first + out.size == signal.size // HOP * HOP


def test_a_b_switch_lines_up_and_crossfades(live_model):
    signal = chirp_signal(1.0)
    processor = LiveProcessor(live_model, 6.0)
    processor.monitor_codec = False  # A: the original, delayed to the codec's output position
    out, first = run(processor, signal, 640)
    np.testing.assert_array_equal(out, signal[first : first + out.size])
    processor = LiveProcessor(live_model, 6.0)
    half = signal.size // 2
    a, first = run(processor, signal[:half], 320)
    processor.monitor_codec = False
    out = processor.process(signal[half : half + 3200, None])[:, 0]  # 10 frames: the fade, then A
    start = processor.output_index - out.size
    np.testing.assert_array_equal(out[200:], signal[start + 200 : start + out.size])  # 5 ms = 120 samples
    assert not np.array_equal(out[:100], signal[start : start + 100])  # still mostly B at the start


def test_bitrate_switch_and_recording_keep_the_take_exact(live_model):
    signal = chirp_signal(2.0)
    full = live_model.encode(torch.from_numpy(signal)[None], 12.0).codes[0]
    processor = LiveProcessor(live_model, 3.0, record_bandwidth=12.0)
    third = signal.size // 3
    run(processor, signal[:third], 320)
    processor.bandwidth = 24.0  # above the recording: the encoder follows, the take keeps 12 kbps
    run(processor, signal[third : 2 * third], 4096)
    processor.bandwidth = 1.5
    run(processor, signal[2 * third :], 77)
    take = processor.finish()
    assert take is not None and take.encoded.bandwidth == 12.0 and take.encoded.length == signal.size
    assert torch.equal(take.encoded.codes[0], full)


def test_no_take_without_recording(live_model):
    processor = LiveProcessor(live_model, 6.0)
    processor.process(chirp_signal(0.2)[:, None])
    assert processor.finish() is None


def test_ring_buffer_wraps_and_drops_what_does_not_fit():
    ring = RingBuffer(10, 1)
    data = np.arange(25, dtype=np.float32)[:, None]
    assert ring.write(data[:7]) == 7
    assert ring.read(5)[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert ring.write(data[7:15]) == 8  # wraps around the end
    assert ring.write(data[15:20]) == 0  # full: nothing more goes in
    out = np.full((12, 1), -1, np.float32)
    assert ring.read_into(out) == 10
    assert out[:10, 0].tolist() == list(range(5, 15)) and out[10:, 0].tolist() == [-1, -1]
    assert (ring.written, ring.read_total, ring.available) == (15, 15, 0)
    with pytest.raises(ValueError):
        RingBuffer(0, 1)
