"""Streaming encode/decode equals the whole-file path: any length, any block size, bounded state."""

import math

import pytest
import torch

from codec.models.encodec import EncodecModel
from codec.streaming import overlap_add_stream
from tests.oracles import import_reference_encodec


def blocks_of(audio, size):
    for start in range(0, audio.shape[-1], size):
        yield audio[:, start : start + size]


def snr_db(reference, other):
    noise = ((reference - other) ** 2).sum().item()
    return math.inf if noise == 0 else 10 * math.log10((reference**2).sum().item() / noise)


@pytest.fixture(scope="module")
def model_24k():
    return EncodecModel.random("encodec_24khz", seed=4)


@pytest.fixture(scope="module")
def model_48k():
    return EncodecModel.random("encodec_48khz", seed=4)


@pytest.mark.parametrize(
    "length, block", [(1, 10), (321, 100), (24000 * 2 + 7, 5000), (24000 * 5 + 123, 7777), (72000, 1)]
)
def test_24khz_stream_matches_whole_file(model_24k, length, block):
    audio = 0.2 * torch.randn(1, length, generator=torch.Generator().manual_seed(length))
    whole = model_24k.encode(audio, 24.0)
    streamed = model_24k.encode_stream(blocks_of(audio, block), 24.0, total_length=length)
    assert streamed.length == length
    same = (whole.codes[0] == streamed.codes[0]).float().mean().item()
    assert same >= 0.999

    decoded_whole = model_24k.decode(whole)
    pieces = list(model_24k.decode_stream(whole))
    decoded_stream = torch.cat(pieces, dim=-1)
    assert decoded_stream.shape == decoded_whole.shape == (1, length)
    assert snr_db(decoded_whole, decoded_stream) >= 40


def test_24khz_decode_stream_yields_bounded_blocks(model_24k):
    audio = 0.2 * torch.randn(1, 24000 * 4)
    encoded = model_24k.encode(audio, 6.0)
    sizes = [block.shape[-1] for block in model_24k.decode_stream(encoded)]
    assert sum(sizes) == audio.shape[-1]
    assert max(sizes) <= 2 * 24000


@pytest.mark.parametrize("length, block", [(1, 10), (48000, 48000), (47520 * 3 + 481, 30000), (100_000, 333)])
def test_48khz_stream_is_identical_to_whole_file(model_48k, length, block):
    audio = 0.2 * torch.randn(2, length, generator=torch.Generator().manual_seed(length))
    whole = model_48k.encode(audio, 12.0)
    streamed = model_48k.encode_stream(blocks_of(audio, block), 12.0, total_length=length)
    assert streamed.length == whole.length == length
    assert streamed.scales == whole.scales
    assert all(torch.equal(a, b) for a, b in zip(whole.codes, streamed.codes))
    decoded = torch.cat(list(model_48k.decode_stream(whole)), dim=-1)
    assert torch.equal(decoded, model_48k.decode(whole))


def test_48khz_threads_do_not_change_codes(model_48k):
    audio = 0.2 * torch.randn(2, 150_000, generator=torch.Generator().manual_seed(9))
    one = model_48k.encode_stream(blocks_of(audio, 48000), 6.0, workers=1)
    two = model_48k.encode_stream(blocks_of(audio, 48000), 6.0, workers=2)
    assert one.scales == two.scales
    assert all(torch.equal(a, b) for a, b in zip(one.codes, two.codes))


@pytest.mark.parametrize("lengths", [[48000, 48000, 1000], [48000, 480], [300], [48000, 48000, 48000, 47999]])
def test_overlap_add_matches_reference(lengths):
    """Our streaming overlap-add against the reference's own `_linear_overlap_add`, sample for sample."""
    import_reference_encodec()
    from encodec.utils import _linear_overlap_add

    generator = torch.Generator().manual_seed(len(lengths))
    frames = [torch.randn(2, n, generator=generator) for n in lengths]
    stride = 47520
    expected = _linear_overlap_add([f[None] for f in frames], stride)[0]
    blocks = list(overlap_add_stream(iter(frames), stride, len(frames), expected.shape[-1]))
    assert torch.equal(torch.cat(blocks, dim=-1), expected)
    assert all(b.shape[-1] <= stride for b in blocks[:-1])


def test_32khz_falls_back_to_whole_file():
    model = EncodecModel.random("encodec_32khz", seed=1)
    audio = 0.2 * torch.randn(1, 70_000)
    streamed = model.encode_stream(blocks_of(audio, 9000), 2.2)
    assert torch.equal(streamed.codes[0], model.encode(audio, 2.2).codes[0])
    assert sum(b.shape[-1] for b in model.decode_stream(streamed)) == 70_000


def test_empty_stream_is_refused(model_24k):
    with pytest.raises(ValueError, match="empty"):
        model_24k.encode_stream(iter([]), 6.0)


def test_24khz_codes_buffer_grows_when_length_is_unknown(model_24k):
    """Without `total_length` the code buffer starts at one block and grows; the codes must not change."""
    audio = 0.2 * torch.randn(1, 24000 * 7 + 5, generator=torch.Generator().manual_seed(3))
    with_length = model_24k.encode_stream(blocks_of(audio, 24000), 6.0, total_length=audio.shape[-1])
    without = model_24k.encode_stream(blocks_of(audio, 24000), 6.0)
    assert torch.equal(with_length.codes[0], without.codes[0])
    assert without.codes[0].shape[-1] == model_24k.spec.frames_for_length(audio.shape[-1])
