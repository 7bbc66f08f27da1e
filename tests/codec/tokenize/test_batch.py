"""Batched encode/decode give bit for bit what `model.encode` / `model.decode` give on each clip alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from codec.batch import decode_batch, encode_batch
from tests.oracles import torch_threads

HOP = 320


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


def _clips(channels: int, lengths: list[int], seed: int = 1) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [0.3 * torch.randn(channels, n, generator=generator) for n in lengths]


def _same(a, b) -> bool:
    return (
        a.model == b.model
        and a.length == b.length
        and a.scales == b.scales
        and len(a.codes) == len(b.codes)
        and all(torch.equal(x, y) for x, y in zip(a.codes, b.codes))
    )


@contextmanager
def _batch_sizes(module: torch.nn.Module) -> Iterator[list[int]]:
    """The batch size of every call of `module` inside the block (the models are shared: unhook after)."""
    calls: list[int] = []
    handle = module.register_forward_hook(lambda _m, inputs, _o: calls.append(inputs[0].shape[0]))
    try:
        yield calls
    finally:
        handle.remove()


# Lengths that exercise every branch: multiples of the hop, one sample over, shorter than a hop, shorter
# than the tail context, and (48 kHz) several 1 s segments with a short last one.
LENGTHS_24K = [HOP * 40, HOP * 40 + 1, HOP * 37 - 1, 312, HOP * 3 + 5, 24_000, 55_199, 9_600]
LENGTHS_48K = [48_000, 96_480, 20_000, 48_481, 700, 130_000]


@pytest.mark.parametrize("batch_size", [3, 16])
def test_24khz_batch_equals_each_clip_alone(random_model, batch_size):
    model = random_model("encodec_24khz")
    clips = _clips(1, LENGTHS_24K)
    with _batch_sizes(model.encoder.layers[0]) as calls:
        batched = encode_batch(model, clips, 6.0, batch_size=batch_size)
    assert max(calls) > 1  # the convolutions really ran batched
    for clip, item in zip(clips, batched):
        assert _same(model.encode(clip, 6.0), item)


def test_48khz_batch_equals_each_clip_alone(random_model):
    model = random_model("encodec_48khz")
    clips = _clips(2, LENGTHS_48K)
    with _batch_sizes(model.encoder.layers[0]) as calls:
        batched = encode_batch(model, clips, 12.0, batch_size=8)
    assert max(calls) > 1
    for clip, item in zip(clips, batched):
        assert _same(model.encode(clip, 12.0), item)


def test_every_bandwidth_and_the_default_batch(random_model):
    model = random_model("encodec_24khz")
    clips = _clips(1, [HOP * 20 + 7, 5_000], seed=2)
    for bandwidth in model.spec.bandwidths:
        for clip, item in zip(clips, encode_batch(model, clips, bandwidth)):
            assert _same(model.encode(clip, bandwidth), item)


def test_inexact_mode_batches_the_lstm_and_stays_close(random_model):
    model = random_model("encodec_24khz")
    clips = _clips(1, LENGTHS_24K)
    with _batch_sizes(model.encoder.layers[-3]) as lstm_calls:
        fast = encode_batch(model, clips, 6.0, batch_size=8, exact=False)
    assert max(lstm_calls) > 1
    total = same = 0
    for clip, item in zip(clips, fast):
        alone = model.encode(clip, 6.0)
        assert item.codes[0].shape == alone.codes[0].shape and item.length == alone.length
        total += alone.codes[0].numel()
        same += int((alone.codes[0] == item.codes[0]).sum())
    assert same / total > 0.98  # rounding flips a few near-ties, nothing more


def test_a_padded_batch_with_lengths(random_model):
    model = random_model("encodec_24khz")
    lengths = [HOP * 12 + 3, 2_000, HOP * 20]
    clips = _clips(1, lengths, seed=4)
    padded = torch.zeros(3, 1, max(lengths))
    for row, clip in enumerate(clips):
        padded[row, :, : clip.shape[-1]] = clip
    padded[0, :, lengths[0] :] = 1.0  # what lies past a clip's length must not matter
    for clip, item in zip(clips, encode_batch(model, padded, 6.0, lengths=lengths, batch_size=3)):
        assert _same(model.encode(clip, 6.0), item)
    with pytest.raises(ValueError, match="one length per clip"):
        encode_batch(model, padded, 6.0)
    with pytest.raises(ValueError, match="Lengths must lie"):
        encode_batch(model, padded, 6.0, lengths=[1, 2, max(lengths) + 1])


def test_empty_and_wrong_inputs(random_model):
    model = random_model("encodec_24khz")
    assert encode_batch(model, [], 6.0) == []
    with pytest.raises(ValueError, match="expects audio shaped"):
        encode_batch(model, [torch.zeros(2, 100)], 6.0)
    with pytest.raises(ValueError, match="empty"):
        encode_batch(model, [torch.zeros(1, 0)], 6.0)


@pytest.mark.parametrize(
    ("name", "channels", "lengths"),
    [("encodec_24khz", 1, LENGTHS_24K), ("encodec_48khz", 2, LENGTHS_48K[:4])],
)
def test_decode_batch_equals_each_decode_alone(random_model, name, channels, lengths):
    model = random_model(name)
    encoded = [model.encode(clip, 6.0) for clip in _clips(channels, lengths)]
    with _batch_sizes(model.decoder.layers[-1]) as calls:
        decoded = decode_batch(model, encoded, batch_size=4)
    if name == "encodec_24khz":
        assert max(calls) > 1
    for item, audio in zip(encoded, decoded):
        assert torch.equal(model.decode(item), audio)


def test_decode_batch_refuses_another_models_codes(random_model):
    model = random_model("encodec_24khz")
    other = random_model("encodec_48khz").encode(torch.zeros(2, 4800), 6.0)
    with pytest.raises(ValueError, match="made by encodec_48khz"):
        decode_batch(model, [other])
