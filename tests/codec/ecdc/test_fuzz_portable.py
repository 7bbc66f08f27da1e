"""Fuzzing damaged portable (version 1) files: bit flips, truncation, dropped, repeated or swapped chunks
and junk. Each decode either raises one clear `EcdcFormatError` or returns codes in which every unit
outside the reported lost ranges is the original; it never hangs, and what it allocates stays within a
bound set by the input's size."""

from __future__ import annotations

import time
import tracemalloc

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codec.ecdc import decode_bytes
from codec.ecdc.container import encode_portable_bytes
from codec.ecdc.header import segment_lengths
from codec.ecdc.portable import units_for
from codec.errors import EcdcFormatError
from codec.specs import get_spec
from tests.codec.ecdc.conftest import random_encoded, tiny_lm
from tests.codec.ecdc.test_portable import chunk_spans

LMS = {name: tiny_lm(name, seed=2) for name in ("encodec_24khz", "encodec_48khz")}
CASES = []
for name, length, num_codebooks, unit_frames, chunk_units in [
    ("encodec_24khz", 320 * 48 + 100, 3, 8, 1),  # 7 chunks of one 8-frame unit
    ("encodec_24khz", 320 * 30, 2, 6, 2),  # 3 chunks of two units
    ("encodec_48khz", 2 * 47520 + 640, 2, None, 1),  # segments of 150, 150 and 2 frames
]:
    encoded = random_encoded(name, length, num_codebooks, seed=length)
    data = encode_portable_bytes(encoded, LMS[name], unit_frames=unit_frames, chunk_units=chunk_units)
    CASES.append((encoded, data, units_for(get_spec(name), length, unit_frames), chunk_spans(data)))

FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Allocation allowed beyond the input's size: the LM state and tables of one unit, the codes of the file.
_ALLOCATION_FLOOR = 64 * 2**20


def check_damaged(case, data: bytes, measure: bool = False) -> None:
    encoded, _, units, _ = case
    spec = get_spec(encoded.model)
    if measure:  # tracemalloc slows decoding several times over: only some examples are measured
        tracemalloc.start()
    started = time.process_time()
    try:
        decoded = decode_bytes(data, lm_loader=lambda name: LMS[name])
    except EcdcFormatError as error:
        text = str(error)
        assert text and "\n" not in text
        return
    finally:
        if measure:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert peak < 64 * len(data) + _ALLOCATION_FLOOR
        assert time.process_time() - started < 30
    assert decoded.length <= encoded.length
    lengths = segment_lengths(spec, decoded.length)
    assert len(decoded.codes) == len(lengths)
    for codes, n in zip(decoded.codes, lengths):
        assert codes.shape == (encoded.num_codebooks, spec.frames_for_length(n))
    for start, stop in decoded.lost:
        assert 0 <= start < stop <= encoded.length
    for unit in units:
        if unit.stop > decoded.length or any(a < unit.stop and unit.start < b for a, b in decoded.lost):
            continue
        got = decoded.codes[unit.segment][:, unit.frame : unit.frame + unit.frames]
        want = encoded.codes[unit.segment][:, unit.frame : unit.frame + unit.frames]
        assert torch.equal(got, want), "a unit outside the lost ranges decoded differently"


CASE = st.sampled_from(range(len(CASES)))


@settings(FUZZ, max_examples=300)
@given(case=CASE, flips=st.lists(st.integers(min_value=0), min_size=1, max_size=6))
def test_bit_flips_in_the_body(case, flips):
    _, data, _, spans = CASES[case]
    damaged = bytearray(data)
    start = spans[0][0]
    for flip in flips:
        position = 8 * start + flip % (8 * (len(data) - start))
        damaged[position // 8] ^= 1 << (position % 8)
    check_damaged(CASES[case], bytes(damaged))


@settings(FUZZ, max_examples=300)
@given(
    case=CASE,
    kind=st.sampled_from(["truncate", "drop", "repeat", "swap", "insert", "delete"]),
    which=st.integers(min_value=0),
    other=st.integers(min_value=0),
    junk=st.binary(min_size=1, max_size=40),
)
def test_chunk_level_damage(case, kind, which, other, junk):
    _, data, _, spans = CASES[case]
    a0, a1 = spans[which % len(spans)]
    b0, b1 = spans[other % len(spans)]
    if kind == "truncate":
        damaged = data[: spans[0][0] + which % (len(data) - spans[0][0] + 1)]
    elif kind == "drop":
        damaged = data[:a0] + data[a1:]
    elif kind == "repeat":
        damaged = data[:a1] + data[a0:a1] + data[a1:]
    elif kind == "swap":
        if a0 > b0:
            (a0, a1), (b0, b1) = (b0, b1), (a0, a1)
        damaged = data[:a0] + data[b0:b1] + data[a1:b0] + data[a0:a1] + data[b1:] if a0 != b0 else data
    elif kind == "insert":
        position = a0 + other % (a1 - a0 + 1)
        damaged = data[:position] + junk + data[position:]
    else:
        position = a0 + other % (a1 - a0)
        damaged = data[:position] + data[position + len(junk) :]
    check_damaged(CASES[case], damaged)


@settings(FUZZ, max_examples=50)
@given(case=CASE, cut=st.integers(min_value=0), flip=st.integers(min_value=0))
def test_memory_stays_bounded(case, cut, flip):
    _, data, _, spans = CASES[case]
    damaged = bytearray(data[: spans[0][0] + cut % (len(data) - spans[0][0] + 1)])
    if len(damaged) > spans[0][0]:
        position = 8 * spans[0][0] + flip % (8 * (len(damaged) - spans[0][0]))
        damaged[position // 8] ^= 1 << (position % 8)
    check_damaged(CASES[case], bytes(damaged), measure=True)


def test_undamaged_cases_decode_whole():
    for encoded, data, _, _ in CASES:
        decoded = decode_bytes(data, lm_loader=lambda name: LMS[name])
        assert decoded.lost == [] and all(torch.equal(a, b) for a, b in zip(decoded.codes, encoded.codes))
