"""Portable LM coding (`.ecdc` version 1): round trips, reference refusal, damage, and the same bytes under
every thread count, kernel, CPU capability and denormal setting we can reach."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from codec.ecdc import decode_bytes, encode_bytes, read_ecdc, read_header
from codec.ecdc.container import encode_portable_bytes
from codec.ecdc.header import PORTABLE_VERSION, PREFIX
from codec.ecdc.portable import CHUNK_HEAD, SYNC, units_for
from codec.errors import Cancelled, CheckpointError, EcdcFormatError
from codec.models.lm import LanguageModel
from codec.models.lm_int import Kernels
from codec.progress import CancelToken
from codec.specs import get_spec
from tests.codec.ecdc.conftest import random_encoded, tiny_lm
from tests.codec.ecdc.reference import reference_decompress

REPO = Path(__file__).resolve().parents[3]


def same_codes(decoded, encoded) -> bool:
    return len(decoded.codes) == len(encoded.codes) and all(
        torch.equal(a, b) for a, b in zip(decoded.codes, encoded.codes)
    )


def chunk_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, stop) of each chunk (framing included) of an undamaged portable file."""
    position = read_header(data).header_size
    spans = []
    while position < len(data):
        sync, _, raw_length, _ = CHUNK_HEAD.unpack_from(data, position)
        assert sync == SYNC
        stop = position + CHUNK_HEAD.size + int.from_bytes(raw_length, "big")
        spans.append((position, stop))
        position = stop
    return spans


@pytest.mark.parametrize(
    "name, length, num_codebooks, unit_frames, chunk_units",
    [
        ("encodec_24khz", 24000, 4, None, None),  # one unit, one chunk
        ("encodec_24khz", 320 * 41 + 7, 8, 10, 1),  # 5 units, the last one 2 frames
        ("encodec_24khz", 320 * 40, 32, 16, 2),
        ("encodec_24khz", 1, 1, None, None),
        ("encodec_48khz", 2 * 47520 + 900, 3, None, 2),  # segments 150, 150, 3 frames; 2 chunks
        ("encodec_48khz", 47521, 16, None, None),
    ],
)
def test_portable_round_trip(name, length, num_codebooks, unit_frames, chunk_units):
    lm = tiny_lm(name, seed=length)
    encoded = random_encoded(name, length, num_codebooks, seed=length)
    data = encode_portable_bytes(encoded, lm, unit_frames=unit_frames, chunk_units=chunk_units)
    header = read_header(data)
    assert (header.version, header.lm_format, header.use_lm) == (PORTABLE_VERSION, "portable", True)
    decoded = decode_bytes(data, lm_loader=lambda _: lm)
    assert same_codes(decoded, encoded) and decoded.length == length and decoded.lost == []
    if encoded.scales is not None:
        assert decoded.scales == [float(np.float32(s)) for s in encoded.scales]


def test_writer_default_stays_reference_and_portable_is_chosen_explicitly():
    lm = tiny_lm("encodec_24khz")
    encoded = random_encoded("encodec_24khz", 3200, 2)
    assert read_header(encode_bytes(encoded, lm=lm)).version == 0
    portable = encode_bytes(encoded, lm=lm, lm_format="portable")
    assert read_header(portable).version == PORTABLE_VERSION
    assert portable == encode_portable_bytes(encoded, lm)
    with pytest.raises(ValueError):
        encode_bytes(encoded, lm=lm, lm_format="float")


def test_reference_encodec_refuses_portable_files(monkeypatch):
    lm = tiny_lm("encodec_24khz")
    data = encode_bytes(random_encoded("encodec_24khz", 6400, 2), lm=lm, lm_format="portable")
    with pytest.raises(ValueError, match="Version not supported"):
        reference_decompress(data, lm, monkeypatch)


def test_other_lm_weights_are_refused_not_misdecoded():
    encoded = random_encoded("encodec_24khz", 6400, 2)
    data = encode_bytes(encoded, lm=tiny_lm("encodec_24khz", seed=1), lm_format="portable")
    with pytest.raises(CheckpointError, match="other language-model weights"):
        decode_bytes(data, lm_loader=lambda _: tiny_lm("encodec_24khz", seed=2))


def test_damaged_header_is_refused():
    data = bytearray(
        encode_bytes(
            random_encoded("encodec_24khz", 6400, 2), lm=tiny_lm("encodec_24khz"), lm_format="portable"
        )
    )
    data[PREFIX.size + 3] ^= 0x04  # inside the JSON, still plausible text
    with pytest.raises(EcdcFormatError, match="header is damaged"):
        read_header(bytes(data))


# -- damage is localised ----------------------------------------------------------------------------------

LM24 = tiny_lm("encodec_24khz", seed=7)
ENCODED24 = random_encoded("encodec_24khz", 320 * 60, 4, seed=7)  # 60 frames: 6 units of 10
FILE24 = encode_portable_bytes(ENCODED24, LM24, unit_frames=10, chunk_units=1)
UNITS24 = units_for(get_spec("encodec_24khz"), ENCODED24.length, 10)


def decode24(data: bytes):
    return decode_bytes(data, lm_loader=lambda _: LM24)


def check_kept_units(decoded, encoded, units) -> None:
    """Every unit outside the lost ranges (and inside the kept length) holds its original codes."""
    for unit in units:
        if unit.stop > decoded.length or any(a < unit.stop and unit.start < b for a, b in decoded.lost):
            continue
        got = decoded.codes[unit.segment][:, unit.frame : unit.frame + unit.frames]
        want = encoded.codes[unit.segment][:, unit.frame : unit.frame + unit.frames]
        assert torch.equal(got, want)


@pytest.mark.parametrize("chunk", [0, 2, 5])
def test_flipped_bit_loses_only_its_chunk(chunk):
    start, stop = chunk_spans(FILE24)[chunk]
    data = bytearray(FILE24)
    data[(start + stop) // 2] ^= 0x10
    decoded = decode24(bytes(data))
    unit = UNITS24[chunk]
    if chunk == len(UNITS24) - 1:  # a lost tail shortens the audio
        assert decoded.length == UNITS24[chunk - 1].stop
    else:
        assert decoded.length == ENCODED24.length
    assert decoded.lost == [(unit.start, unit.stop)]
    check_kept_units(decoded, ENCODED24, UNITS24)


def test_dropped_chunks_and_damaged_framing_are_skipped():
    spans = chunk_spans(FILE24)
    dropped = FILE24[: spans[1][0]] + FILE24[spans[3][0] :]  # chunks 1 and 2 gone
    decoded = decode24(dropped)
    assert decoded.lost == [(UNITS24[1].start, UNITS24[2].stop)]
    check_kept_units(decoded, ENCODED24, UNITS24)

    broken = bytearray(FILE24)
    broken[spans[3][0] + 7] ^= 0xFF  # chunk 3's length field: the reader resynchronises at chunk 4
    decoded = decode24(bytes(broken))
    assert decoded.lost == [(UNITS24[3].start, UNITS24[3].stop)]
    check_kept_units(decoded, ENCODED24, UNITS24)


def test_truncated_file_keeps_what_it_holds():
    spans = chunk_spans(FILE24)
    decoded = decode24(FILE24[: spans[2][1] + 5])
    assert decoded.length == UNITS24[2].stop
    assert decoded.lost == [(UNITS24[3].start, ENCODED24.length)]
    check_kept_units(decoded, ENCODED24, UNITS24)
    with pytest.raises(EcdcFormatError, match="none of its audio"):
        decode24(FILE24[: spans[0][1] - 1])


def test_48khz_damage_loses_whole_segments():
    lm = tiny_lm("encodec_48khz", seed=3)
    encoded = random_encoded("encodec_48khz", 2 * 47520 + 900, 2, seed=3)
    data = bytearray(encode_portable_bytes(encoded, lm, chunk_units=1))
    start, stop = chunk_spans(bytes(data))[1]
    data[stop - 2] ^= 0x01
    decoded = decode_bytes(bytes(data), lm_loader=lambda _: lm)
    assert decoded.lost == [(47520, 47520 + 48000)]
    assert torch.equal(decoded.codes[0], encoded.codes[0]) and torch.equal(decoded.codes[2], encoded.codes[2])
    assert decoded.scales[0] == float(np.float32(encoded.scales[0]))


def test_claimed_length_cannot_make_the_reader_allocate():
    # A valid header (CRC recomputed) claiming 24 h of audio in front of one real chunk.
    header = read_header(FILE24)
    meta = json.loads(FILE24[PREFIX.size : header.header_size - 4])
    meta["al"] = 24 * 3600 * 24000
    raw = json.dumps(meta).encode()
    head = PREFIX.pack(b"ECDC", PORTABLE_VERSION, len(raw)) + raw
    data = head + struct.pack("!I", zlib.crc32(head)) + FILE24[header.header_size :]
    decoded = decode24(data)
    assert decoded.length == UNITS24[-1].stop  # the tail that is not there is lost, not allocated
    assert decoded.lost == [(UNITS24[-1].stop, meta["al"])]


# -- the same bytes everywhere ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def full_lm() -> LanguageModel:
    return LanguageModel.random(get_spec("encodec_24khz"), seed=5)


@pytest.fixture(scope="module")
def full_case(full_lm):
    encoded = random_encoded("encodec_24khz", 320 * 90, 6, seed=5)
    return encoded, encode_portable_bytes(encoded, full_lm, unit_frames=40)


def test_numpy_and_torch_kernels_and_thread_counts_agree(full_lm, full_case):
    encoded, data = full_case
    threads = torch.get_num_threads()
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            assert encode_portable_bytes(encoded, full_lm, unit_frames=40, kernels=Kernels("torch")) == data
        decoded = decode_bytes(data, lm_loader=lambda _: full_lm)
        assert same_codes(decoded, encoded)
    finally:
        torch.set_num_threads(threads)


def test_flush_denormal_does_not_change_the_bytes(full_lm, full_case):
    encoded, data = full_case
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    try:
        assert encode_portable_bytes(encoded, full_lm, unit_frames=40) == data
        assert encode_portable_bytes(encoded, full_lm, unit_frames=40, kernels=Kernels("torch")) == data
    finally:
        torch.set_flush_denormal(False)


CHILD = """
import hashlib, sys, numpy as np, torch
from codec.ecdc import decode_bytes
from codec.ecdc.container import encode_portable_bytes
from codec.models.encodec import EncodedAudio
from codec.models.lm import LanguageModel
from codec.models.lm_int import Kernels
from codec.progress import CancelToken
from codec.specs import get_spec
folder, kernels, threads, denormal = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
torch.set_num_threads(threads)
torch.set_flush_denormal(denormal)
lm = LanguageModel.from_spec(get_spec("encodec_24khz"))
lm.load_state_dict(torch.load(folder + "/lm.th"))
codes = torch.from_numpy(np.load(folder + "/codes.npy"))
data = open(folder + "/file.ecdc", "rb").read()
decoded = decode_bytes(data, lm_loader=lambda _: lm)
assert torch.equal(decoded.codes[0], codes) and decoded.lost == []
encoded = EncodedAudio("encodec_24khz", 4.5, int(sys.argv[5]), [codes])
again = encode_portable_bytes(encoded, lm, unit_frames=40, kernels=Kernels(kernels))
print(hashlib.sha256(again).hexdigest())
"""


@pytest.mark.parametrize(
    "env, kernels, threads, denormal",
    [
        ({"ATEN_CPU_CAPABILITY": "default"}, "torch", 1, False),  # torch's generic kernels, not AVX2/512
        ({"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}, "torch", 2, True),
        ({"OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_NUM_THREADS": "2"}, "numpy", 2, True),  # SSE3 kernels
        ({"MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "2"}, "numpy", 1, False),
    ],
)
def test_another_process_with_other_kernels_reads_and_writes_the_same(
    full_lm, full_case, tmp_path, env, kernels, threads, denormal
):
    encoded, data = full_case
    torch.save(full_lm.state_dict(), tmp_path / "lm.th")
    np.save(tmp_path / "codes.npy", encoded.codes[0].numpy())
    (tmp_path / "file.ecdc").write_bytes(data)
    child_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    args = [str(tmp_path), kernels, str(threads), "1" if denormal else "0", str(encoded.length)]
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *args], env=child_env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == hashlib.sha256(data).hexdigest()


def test_damaged_version_0_files_say_where_they_break():
    # Version 0 has no checksums; what length checks and the LM decoder detect is located in the message.
    data = encode_bytes(random_encoded("encodec_48khz", 3 * 47520, 2, seed=1))
    with pytest.raises(EcdcFormatError, match=r"1\.99 s of its 2\.97 s are complete"):
        decode_bytes(data[: len(data) * 3 // 4])
    lm = tiny_lm("encodec_48khz", seed=1)
    encoded = random_encoded("encodec_48khz", 3 * 47520, 2, seed=1)
    clean = encode_bytes(encoded, lm=lm)
    located = []
    for position in range(len(clean) - 40, len(clean)):  # the last segment's code
        data = bytearray(clean)
        data[position] ^= 0xFF
        try:
            decode_bytes(bytes(data), lm_loader=lambda _: lm)
        except EcdcFormatError as error:
            if "inconsistent" in str(error) or "ends early" in str(error):
                located.append(str(error))
    assert located and all("in the segment at 1.98 s" in message for message in located)


def test_progress_and_cancel_while_decoding():
    reports = []
    read_ecdc(FILE24, lm_loader=lambda _: LM24, progress=lambda done, total: reports.append((done, total)))
    assert reports[-1] == (60, 60) and all(total == 60 for _, total in reports)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        read_ecdc(FILE24, lm_loader=lambda _: LM24, cancel=token)
