import io
import json
import struct
import zlib

import pytest

from codec.ecdc import EcdcHeader, read_header
from codec.ecdc.header import MAX_AUDIO_SECONDS, header_bytes, parse_header, segment_count, segment_lengths
from codec.errors import EcdcFormatError
from codec.specs import MODELS, get_spec
from tests.oracles import import_reference_encodec


def framed(body: bytes, version: int = 0, magic: bytes = b"ECDC") -> bytes:
    return struct.pack("!4sBI", magic, version, len(body)) + body


def raw_header(meta: object, version: int = 0, magic: bytes = b"ECDC") -> bytes:
    return framed(json.dumps(meta).encode("utf-8"), version, magic)


def test_header_bytes_equal_the_reference_writer():
    binary = import_reference_encodec().binary
    for meta in (
        {"m": "encodec_24khz", "al": 24000, "nc": 8, "lm": False},
        {"m": "encodec_48khz", "al": 123457, "nc": 16, "lm": True},
    ):
        fo = io.BytesIO()
        binary.write_ecdc_header(fo, meta)
        assert header_bytes(meta["m"], meta["al"], meta["nc"], meta["lm"]) == fo.getvalue()


def test_reference_reader_parses_our_header():
    binary = import_reference_encodec().binary
    data = header_bytes("encodec_32khz", 32000, 4, False)
    assert binary.read_ecdc_header(io.BytesIO(data)) == {
        "m": "encodec_32khz",
        "al": 32000,
        "nc": 4,
        "lm": False,
    }


def test_parse_header_fields_and_properties():
    data = header_bytes("encodec_48khz", 96000, 4, True)
    header = parse_header(data + b"body")
    assert header == EcdcHeader("encodec_48khz", 96000, 4, True, len(data))
    assert header.spec is get_spec("encodec_48khz")
    assert header.duration_s == 2.0
    assert header.bandwidth == 6.0


@pytest.mark.parametrize("kind", ["bytes", "file", "path", "str"])
def test_read_header_sources(kind, tmp_path):
    data = header_bytes("encodec_24khz", 4800, 2, False) + b"\x00" * 60
    path = tmp_path / "a.ecdc"
    path.write_bytes(data)
    if kind == "bytes":
        header = read_header(data)
    elif kind == "file":
        with open(path, "rb") as fo:
            header = read_header(fo)
            assert fo.tell() == header.header_size  # positioned at the body
    else:
        header = read_header(path if kind == "path" else str(path))
    assert (header.model, header.length, header.num_codebooks, header.use_lm) == (
        "encodec_24khz",
        4800,
        2,
        False,
    )
    assert header.bandwidth == 1.5


def test_read_header_of_a_missing_file(tmp_path):
    with pytest.raises(EcdcFormatError, match="Cannot read"):
        read_header(tmp_path / "nope.ecdc")


GOOD = {"m": "encodec_24khz", "al": 24000, "nc": 8, "lm": False}


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "truncated"),
        (b"ECDC\x00\x00", "truncated"),
        (raw_header(GOOD, magic=b"RIFF"), "not an .ecdc file"),
        (raw_header(GOOD, version=2), "version 2"),
        (raw_header(GOOD, version=1), "truncated"),  # version 1 ends with a CRC-32
        (raw_header(GOOD, version=1) + b"\0\0\0\0", "checksum mismatch"),
        (raw_header(GOOD)[:-3], "truncated"),
        (struct.pack("!4sBI", b"ECDC", 0, 2**32 - 1) + b"{}", "far more"),
        (framed(b"\xff\xfe"), "UTF-8 JSON"),
        (framed(b"{m:"), "UTF-8 JSON"),
        (framed(b"[" * 4000), "UTF-8 JSON"),  # nesting deep enough to exhaust the recursion limit
        (framed(b'{"m": NaN}'), "must be a string"),
        (raw_header([1, 2]), "not a JSON object"),
        (raw_header({**GOOD, "al": None}), "'al'"),
        (raw_header({k: v for k, v in GOOD.items() if k != "nc"}), "lacks the 'nc'"),
        (raw_header({**GOOD, "al": 24000.0}), "must be an integer"),
        (raw_header({**GOOD, "al": True}), "must be an integer"),
        (raw_header({**GOOD, "nc": "8"}), "must be an integer"),
        (raw_header({**GOOD, "lm": 0}), "true or false"),
        (raw_header({**GOOD, "m": 24}), "must be a string"),
        (raw_header({**GOOD, "m": "encodec_96khz"}), "unknown model"),
        (raw_header({**GOOD, "m": "24khz"}), "unknown model"),
        (raw_header({**GOOD, "nc": 0}), "1 to 32"),
        (raw_header({**GOOD, "nc": 33}), "1 to 32"),
        (raw_header({**GOOD, "m": "encodec_48khz", "nc": 17}), "1 to 16"),
        (raw_header({**GOOD, "al": 0}), "audio length of 0"),
        (raw_header({**GOOD, "al": -5}), "audio length of -5"),
        (raw_header({**GOOD, "al": 2**40}), "audio length"),
        (framed(b'{"m": "encodec_24khz", "al": ' + b"9" * 5000 + b', "nc": 8, "lm": false}'), "UTF-8 JSON"),
        (raw_header({"m": "encodec_32khz", "al": 32000, "nc": 4, "lm": True}), "has none"),
    ],
)
def test_bad_headers_raise_one_clear_error(data, message):
    with pytest.raises(EcdcFormatError, match=message) as info:
        parse_header(data)
    text = str(info.value)
    assert text.endswith(".") and "\n" not in text and len(text) < 200


def test_unknown_extra_keys_are_tolerated():
    # The reference ignores keys it does not know; so do we.
    header = parse_header(raw_header({**GOOD, "extra": [1, {"x": None}]}))
    assert header.num_codebooks == 8


def test_longest_declared_length_is_a_day():
    for spec in MODELS.values():
        limit = spec.sample_rate * MAX_AUDIO_SECONDS
        assert parse_header(raw_header({"m": spec.name, "al": limit, "nc": 1, "lm": False})).length == limit
        with pytest.raises(EcdcFormatError):
            parse_header(raw_header({"m": spec.name, "al": limit + 1, "nc": 1, "lm": False}))


@pytest.mark.parametrize("length", [1, 320, 47520, 47521, 48000, 95040, 95041, 480000, 1234567])
def test_segments_follow_the_reference_chunking(length):
    spec = get_spec("encodec_48khz")
    offsets = range(0, length, spec.segment_stride)
    assert segment_lengths(spec, length) == [min(48000, length - offset) for offset in offsets]
    assert segment_count(spec, length) == len(offsets)
    assert segment_lengths(get_spec("encodec_24khz"), length) == [length]
    assert segment_count(get_spec("encodec_32khz"), length) == 1


def test_segments_agree_with_the_model():
    from codec.models.encodec import segment_bounds

    for spec in MODELS.values():
        for length in (1, 6720, 48000, 100000):
            assert segment_lengths(spec, length) == [n for _, n in segment_bounds(spec, length)]


def test_portable_header_fields_are_checked():
    def portable(meta: dict) -> bytes:
        head = raw_header(meta, version=1)
        return head + struct.pack("!I", zlib.crc32(head))

    good = {**GOOD, "lm": True, "lmf": "i1", "lmh": "0123456789abcdef", "uf": 750, "cu": 1}
    header = read_header(portable(good))
    assert (header.version, header.lm_format, header.unit_frames, header.chunk_units) == (
        1,
        "portable",
        750,
        1,
    )
    for bad, message in [
        ({**good, "lm": False}, "must be coded with the language model"),
        ({**good, "lmh": "xyz"}, "16 hex digits"),
        ({**good, "uf": 0}, "frames per LM unit"),
        ({k: v for k, v in good.items() if k != "uf"}, "lacks the 'uf'"),
        ({**good, "cu": 10**6}, "units per chunk"),
    ]:
        with pytest.raises(EcdcFormatError, match=message):
            read_header(portable(bad))
