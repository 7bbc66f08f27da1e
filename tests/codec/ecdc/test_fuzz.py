"""Fuzzing the reader: any byte string decodes or raises one EcdcFormatError, and nothing hangs.

Seeds are small valid files of every kind (each model, with and without the LM, one and two segments);
hypothesis flips bits, truncates, inserts, deletes, rewrites the header JSON, or makes up bytes. The LM
is a tiny random one so each decode takes about a millisecond; together the properties run over 10,000
examples.
"""

from __future__ import annotations

import json
import struct

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codec.ecdc import decode_bytes, encode_bytes, read_header
from codec.ecdc.header import segment_lengths
from codec.errors import EcdcFormatError
from codec.models.encodec import EncodedAudio
from codec.specs import get_spec
from tests.codec.ecdc.conftest import random_encoded, tiny_lm

pytestmark = pytest.mark.usefixtures("single_thread")

LMS = {name: tiny_lm(name, seed=1) for name in ("encodec_24khz", "encodec_48khz")}


def loader(name: str):
    return LMS[name]


def build_seeds() -> list[bytes]:
    torch.set_num_threads(1)
    seeds = []
    for name, length, num_codebooks, use_lm in [
        ("encodec_24khz", 960, 2, False),
        ("encodec_24khz", 700, 4, True),
        ("encodec_48khz", 47520 + 960, 2, False),  # two segments: 150 and 3 frames
        ("encodec_48khz", 900, 2, True),
        ("encodec_32khz", 1280, 4, False),
        ("encodec_24khz", 1, 1, True),
    ]:
        encoded = random_encoded(name, length, num_codebooks, seed=length)
        seeds.append(encode_bytes(encoded, lm=LMS[name] if use_lm else None))
    return seeds


SEEDS = build_seeds()
# Two LM-coded segments: the second starts where the first one's arithmetic code ends.
LM_TWO_SEGMENTS = encode_bytes(
    random_encoded("encodec_48khz", 47520 + 640, 2, seed=3), lm=LMS["encodec_48khz"]
)

FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check_decodes_or_refuses(data: bytes) -> None:
    try:
        decoded = decode_bytes(data, lm_loader=loader)
    except EcdcFormatError as error:
        text = str(error)
        assert text and "\n" not in text
        return
    # Whatever decodes is self-consistent.
    spec = get_spec(decoded.model)
    lengths = segment_lengths(spec, decoded.length)
    assert isinstance(decoded, EncodedAudio) and len(decoded.codes) == len(lengths)
    for codes, length in zip(decoded.codes, lengths):
        assert codes.shape == (decoded.num_codebooks, spec.frames_for_length(length))
        assert codes.dtype == torch.int64
        assert int(codes.min()) >= 0 and int(codes.max()) < spec.codebook_size
    assert (decoded.scales is None) == (not spec.normalize)
    header = read_header(data)
    assert header.num_codebooks == decoded.num_codebooks and header.length == decoded.length


def test_seeds_are_valid():
    for data in [*SEEDS, LM_TWO_SEGMENTS]:
        assert decode_bytes(data, lm_loader=loader).codes


@settings(FUZZ, max_examples=3000)
@given(seed=st.sampled_from(SEEDS), flips=st.lists(st.integers(min_value=0), min_size=1, max_size=8))
def test_bit_flips(seed, flips):
    data = bytearray(seed)
    for flip in flips:
        position = flip % (8 * len(data))
        data[position // 8] ^= 1 << (position % 8)
    check_decodes_or_refuses(bytes(data))


@settings(FUZZ, max_examples=3000)
@given(
    seed=st.sampled_from(SEEDS),
    kind=st.sampled_from(["truncate", "insert", "delete", "append"]),
    position=st.integers(min_value=0),
    size=st.integers(min_value=1, max_value=64),
    junk=st.binary(min_size=1, max_size=64),
)
def test_truncations_insertions_deletions(seed, kind, position, size, junk):
    position %= len(seed) + 1
    if kind == "truncate":
        data = seed[:position]
    elif kind == "insert":
        data = seed[:position] + junk + seed[position:]
    elif kind == "delete":
        data = seed[:position] + seed[position + size :]
    else:
        data = seed + junk
    check_decodes_or_refuses(data)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.sampled_from([0, 1, 2, 3, 4, 8, 16, 17, 32, 33, 320, 47520, 48000, 2**31, 2**40, -1])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["encodec_24khz", "encodec_48khz", "encodec_32khz", "24khz", ""]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=5,
)


@settings(FUZZ, max_examples=3000)
@given(
    seed=st.sampled_from(SEEDS),
    changes=st.dictionaries(st.sampled_from(["m", "al", "nc", "lm", "x"]), JSON_VALUES, max_size=3),
    drop=st.sets(st.sampled_from(["m", "al", "nc", "lm"]), max_size=2),
    compact=st.booleans(),
    size_delta=st.sampled_from([0, 0, 0, -1, 1, 2**31]),
    flips=st.lists(st.integers(min_value=0), max_size=3),
)
def test_header_json_mutations(seed, changes, drop, compact, size_delta, flips):
    (size,) = struct.unpack("!I", seed[5:9])
    meta = json.loads(seed[9 : 9 + size])
    meta.update(changes)
    for key in drop:
        meta.pop(key, None)
    text = json.dumps(meta, separators=(",", ":") if compact else None).encode("utf-8")
    body = bytearray(seed[9 + size :])
    for flip in flips:
        if body:
            position = flip % (8 * len(body))
            body[position // 8] ^= 1 << (position % 8)
    declared = max(0, min(2**32 - 1, len(text) + size_delta))
    check_decodes_or_refuses(seed[:5] + struct.pack("!I", declared) + text + bytes(body))


@settings(FUZZ, max_examples=1000)
@given(
    prefix=st.sampled_from([b"", b"ECDC", b"ECDC\x00", b"ECDC\x00\x00\x00\x00"]), junk=st.binary(max_size=200)
)
def test_made_up_bytes(prefix, junk):
    check_decodes_or_refuses(prefix + junk)


@settings(FUZZ, max_examples=200)
@given(
    flips=st.lists(st.integers(min_value=0), min_size=1, max_size=4),
    cut=st.integers(min_value=0, max_value=40),
)
def test_lm_coded_segments(flips, cut):
    data = bytearray(LM_TWO_SEGMENTS)
    start = read_header(LM_TWO_SEGMENTS).header_size
    for flip in flips:
        position = 8 * start + flip % (8 * (len(data) - start))
        data[position // 8] ^= 1 << (position % 8)
    check_decodes_or_refuses(bytes(data[: len(data) - cut]))
