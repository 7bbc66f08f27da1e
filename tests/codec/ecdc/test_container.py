import io
import struct

import pytest
import torch

from codec.ecdc import EcdcHeader, decode_bytes, encode_bytes, read_ecdc, read_header, write_ecdc
from codec.ecdc.header import header_bytes
from codec.errors import Cancelled, EcdcFormatError
from codec.models.encodec import EncodecModel, EncodedAudio
from codec.progress import CancelToken
from codec.specs import MODELS, get_spec
from tests.codec.ecdc.conftest import random_encoded
from tests.codec.ecdc.reference import (
    reference_compress,
    reference_decompress,
    reference_frame_count_is_wrong,
)

LENGTHS = {"encodec_24khz": 6720, "encodec_48khz": 60000, "encodec_32khz": 32000, "ecdc_small_24khz": 6721}


def assert_same(decoded: EncodedAudio, encoded: EncodedAudio) -> None:
    assert (decoded.model, decoded.length, decoded.bandwidth) == (
        encoded.model,
        encoded.length,
        encoded.bandwidth,
    )
    assert len(decoded.codes) == len(encoded.codes)
    for got, want in zip(decoded.codes, encoded.codes):
        assert got.dtype == torch.int64
        assert torch.equal(got, want)
    if encoded.scales is None:
        assert decoded.scales is None
    else:
        # Scales are stored as float32.
        assert decoded.scales == [struct.unpack("!f", struct.pack("!f", s))[0] for s in encoded.scales]


@pytest.mark.parametrize(
    "name, bandwidth", [(spec.name, bandwidth) for spec in MODELS.values() for bandwidth in spec.bandwidths]
)
def test_roundtrip_without_lm_at_every_bandwidth(name, bandwidth):
    spec = get_spec(name)
    encoded = random_encoded(
        name, LENGTHS[name], spec.codebooks_for_bandwidth(bandwidth), seed=int(bandwidth)
    )
    data = encode_bytes(encoded)
    decoded = decode_bytes(data)
    assert_same(decoded, encoded)
    header = read_header(data)
    assert header == EcdcHeader(name, LENGTHS[name], encoded.num_codebooks, False, header.header_size)
    assert header.bandwidth == bandwidth


@pytest.mark.parametrize("name", ["encodec_24khz", "encodec_48khz"])
@pytest.mark.parametrize("length", [1, 319, 6720, 53760, 47521, 96001])
def test_bytes_equal_reference_without_lm(name, length):
    encoded = random_encoded(name, length, 4, seed=length)
    assert encode_bytes(encoded) == reference_compress(encoded)


@pytest.mark.parametrize(
    "name, length", [("encodec_24khz", 24000), ("encodec_24khz", 7), ("encodec_48khz", 96001)]
)
def test_reference_reads_ours_without_lm(name, length, monkeypatch):
    encoded = random_encoded(name, length, 8, seed=1)
    codes, scales = reference_decompress(encode_bytes(encoded), None, monkeypatch)
    assert all(torch.equal(a, b) for a, b in zip(codes, encoded.codes))
    assert scales == (decode_bytes(encode_bytes(encoded)).scales or [None] * len(codes))


@pytest.mark.parametrize("length", [6720, 53760])
def test_issue_35_lengths_decode(length, monkeypatch):
    # encodec 0.1.1 computes one frame too many for these lengths and fails on its own files.
    assert reference_frame_count_is_wrong("encodec_24khz", length)
    encoded = random_encoded("encodec_24khz", length, 8, seed=2)
    data = reference_compress(encoded)
    assert_same(decode_bytes(data), encoded)
    with pytest.raises(EOFError):
        reference_decompress(data, None, monkeypatch)


def test_32khz_extension_roundtrip_and_layout():
    encoded = random_encoded("encodec_32khz", 32000 + 1, 4, seed=3)
    data = encode_bytes(encoded)
    header = read_header(data)
    assert data[9 : header.header_size] == b'{"m": "encodec_32khz", "al": 32001, "nc": 4, "lm": false}'
    frames = get_spec("encodec_32khz").frames_for_length(32001)
    assert frames == 51
    assert len(data) == header.header_size + -(-frames * 4 * 11 // 8)  # 11-bit codes, one segment
    assert_same(decode_bytes(data), encoded)


def test_model_output_roundtrip():
    # Plain random init (EncodecModel.random fits codebooks to latents, which takes long on 2 cores).
    model = EncodecModel(get_spec("encodec_48khz")).eval()
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("embed"):
                buffer.normal_()
    audio = torch.randn(2, 960) * 0.1
    encoded = model.encode(audio, 6.0)
    decoded = decode_bytes(encode_bytes(encoded))
    assert_same(decoded, encoded)


@pytest.mark.parametrize("kind", ["bytes", "file", "path"])
def test_read_ecdc_sources_and_write_to_file(kind, tmp_path):
    encoded = random_encoded("encodec_24khz", 4000, 2)
    path = tmp_path / "x.ecdc"
    with open(path, "wb") as fo:
        write_ecdc(fo, encoded)
    if kind == "bytes":
        decoded = read_ecdc(path.read_bytes())
    elif kind == "file":
        with open(path, "rb") as fo:
            decoded = read_ecdc(fo)
    else:
        decoded = read_ecdc(path)
    assert_same(decoded, encoded)


def test_progress_counts_frames_and_cancel_stops():
    encoded = random_encoded("encodec_48khz", 150000, 4)
    seen = []
    buffer = io.BytesIO()
    write_ecdc(buffer, encoded, progress=lambda done, total: seen.append((done, total)))
    total = encoded.num_frames
    assert seen[-1] == (total, total) and len(seen) == len(encoded.codes)
    seen.clear()
    read_ecdc(buffer.getvalue(), progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (total, total)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        read_ecdc(buffer.getvalue(), cancel=token)
    with pytest.raises(Cancelled):
        write_ecdc(io.BytesIO(), encoded, cancel=token)


def test_damaged_bodies_raise():
    encoded = random_encoded("encodec_48khz", 50000, 2)
    data = encode_bytes(encoded)
    header = read_header(data)
    with pytest.raises(EcdcFormatError, match="truncated"):
        decode_bytes(data[:-1])
    with pytest.raises(EcdcFormatError, match="truncated"):
        decode_bytes(data[: header.header_size])
    with pytest.raises(EcdcFormatError, match="3 unexpected bytes"):
        decode_bytes(data + b"abc")
    bad_scale = bytearray(data)
    bad_scale[header.header_size : header.header_size + 4] = struct.pack("!f", float("nan"))
    with pytest.raises(EcdcFormatError, match="volume scale"):
        decode_bytes(bytes(bad_scale))


def test_huge_declared_length_is_refused_before_allocating():
    # 2**40 samples would need terabytes; a day of audio at most is accepted, and then only if the bytes
    # are there: the exact body size is checked before anything is allocated.
    for length in (2**40, 24000 * 86400):
        data = header_bytes("encodec_24khz", length, 32, False) + b"\x00" * 100
        with pytest.raises(EcdcFormatError):
            decode_bytes(data)
    data = header_bytes("encodec_48khz", 48000 * 86400, 16, False) + b"\x00" * 100
    with pytest.raises(EcdcFormatError, match="truncated"):
        decode_bytes(data)


def test_lm_file_needs_a_loader():
    data = header_bytes("encodec_24khz", 320, 2, True) + b"\x00" * 8
    with pytest.raises(EcdcFormatError, match="language model"):
        decode_bytes(data)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda e: EncodedAudio("encodec_96khz", 6.0, e.length, e.codes, None), "unknown model"),
        (lambda e: EncodedAudio(e.model, 6.0, e.length, e.codes + e.codes, None), "segments"),
        (lambda e: EncodedAudio(e.model, 6.0, e.length + 320, e.codes, None), "do not fit"),
        (lambda e: EncodedAudio(e.model, 6.0, e.length, [e.codes[0] + 1024], None), "0..1023"),
        (lambda e: EncodedAudio(e.model, 6.0, e.length, [-e.codes[0] - 1], None), "0..1023"),
        (lambda e: EncodedAudio(e.model, 6.0, 0, e.codes, None), "audio length"),
        (
            lambda e: EncodedAudio(e.model, 6.0, e.length, [torch.zeros(33, 21, dtype=torch.long)], None),
            "fit",
        ),
    ],
)
def test_writer_refuses_inconsistent_codes(change, message):
    encoded = random_encoded("encodec_24khz", 6720, 4)
    with pytest.raises(EcdcFormatError, match=message):
        encode_bytes(change(encoded))


def test_writer_needs_scales_for_48khz():
    encoded = random_encoded("encodec_48khz", 1000, 4)
    for scales in (None, [], [float("inf")], [0.0]):
        with pytest.raises(EcdcFormatError, match="scale"):
            encode_bytes(EncodedAudio(encoded.model, 6.0, 1000, encoded.codes, scales))
