"""EncodecModel behaviour beyond parity: progress, cancel, input checks, overlap-add."""

import pytest
import torch

from codec.errors import Cancelled
from codec.models.encodec import EncodecModel, segment_bounds
from codec.progress import CancelToken
from codec.specs import get_spec


@pytest.fixture(scope="module")
def model_48k():
    return EncodecModel.random("encodec_48khz", seed=0)


def test_progress_is_reported_per_segment(model_48k):
    calls = []
    audio = 0.1 * torch.randn(2, 100_000)
    encoded = model_48k.encode(audio, 6.0, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    model_48k.decode(encoded, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (3, 3)


def test_cancel_stops_between_segments(model_48k):
    token = CancelToken()
    calls = []

    def progress(done, total):
        calls.append(done)
        token.cancel()

    with pytest.raises(Cancelled):
        model_48k.encode(0.1 * torch.randn(2, 100_000), 6.0, progress=progress, cancel=token)
    assert calls == [1]


def test_wrong_channel_count_is_refused(model_48k):
    with pytest.raises(ValueError, match=r"expects audio shaped \[2, samples\]"):
        model_48k.encode(torch.zeros(1, 1000), 6.0)


def test_codes_from_another_model_are_refused(model_48k):
    other = EncodecModel.random("encodec_24khz").encode(torch.zeros(1, 640), 1.5)
    with pytest.raises(ValueError, match="encodec_24khz"):
        model_48k.decode(other)


def test_segment_bounds_cover_the_audio():
    spec = get_spec("encodec_48khz")
    assert segment_bounds(spec, 100_000) == [(0, 48000), (47520, 48000), (95040, 4960)]
    assert segment_bounds(get_spec("encodec_24khz"), 5) == [(0, 5)]
