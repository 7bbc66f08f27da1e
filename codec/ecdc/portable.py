"""Portable LM coding (`.ecdc` version 1): codes entropy-coded with the integer LM, in checksummed chunks.

The codes are cut into LM units, each coded from a fresh LM state in its own arithmetic-coded stream:
a 48 kHz segment, or `unit_frames` frames of the single 24 kHz segment. Chunks of `chunk_units` units
follow the header, each framed as

    sync 0xEC 0xDC | chunk index (u32, big-endian) | payload length (u24) | CRC-32 (u32) | payload

where the CRC covers the index, the length and the payload, so a damaged, missing or misplaced chunk is
detected. A payload is its units one after another: the scale (float32, 48 kHz), the byte length of the
unit's arithmetic code (unsigned LEB128) and the code, flushed to a byte. A damaged chunk costs its own
time range only: the reader skips to the next sync that starts a chunk with a valid CRC, and reports
what it lost.

Units are independent, and their starts are known before anything is decoded, so both directions step
several units through the LM in lockstep: each frame's multiplies then serve many rows at once.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from codec.ecdc.arithmetic import REVERSE_BITS, ArithmeticDecoder, ArithmeticEncoder
from codec.ecdc.header import SCALE, EcdcHeader, segment_lengths
from codec.errors import CheckpointError, EcdcFormatError
from codec.models.lm_int import RECIPE, Kernels, PortableLM, PortableStream
from codec.specs import ModelSpec

Tick = Callable[[int], None]

SYNC = b"\xec\xdc"
CHUNK_HEAD = struct.Struct("!2sI3sI")
MAX_PAYLOAD = (1 << 24) - 1

# Writer defaults: 10 s LM units at 24 kHz (the LM's context is 3.5 s, so a restart costs little), and
# about 10 s of 48 kHz segments per chunk: damage costs about 10 s; framing costs 13 bytes per chunk.
UNIT_SECONDS = 10
CHUNK_SECONDS = 10
# Symbols per LM block while coding (bounds the CDF block to about 16 MB).
_BLOCK_SYMBOLS = 2048
# Units stepped together, and the key/value cache they may take.
_MAX_GROUP = 16
_GROUP_CACHE_BYTES = 96 * 2**20
# Frames between progress ticks while decoding.
_DECODE_TICK = 16
# Resynchronisation may CRC at most this many times the file's size before it gives up on the rest.
_RESYNC_WORK = 64
# Codes allocated for lost units at most this many times the file's size (plus a floor): a damaged file
# cannot make the reader allocate without bound.
_LOST_CODES_FACTOR = 256
_LOST_CODES_FLOOR = 1 << 24


@dataclass(frozen=True)
class Unit:
    """One LM unit: its segment, first frame in it, frame count, and the samples it covers."""

    segment: int
    frame: int
    frames: int
    start: int
    stop: int


def default_layout(spec: ModelSpec) -> tuple[int | None, int]:
    """(frames per unit or None for segmented models, units per chunk) the writer uses."""
    if spec.segment_stride is None:
        return UNIT_SECONDS * spec.frame_rate, 1
    return None, max(1, round(CHUNK_SECONDS * spec.sample_rate / spec.segment_stride))


def units_for(spec: ModelSpec, length: int, unit_frames: int | None) -> list[Unit]:
    """The LM units of `length` samples (a short list: at most one per unit of audio)."""
    hop = spec.hop_length
    if spec.segment_stride is None:
        if unit_frames is None:
            raise EcdcFormatError(f"{spec.name} needs a unit length for portable coding.")
        total = spec.frames_for_length(length)
        return [
            Unit(0, f, min(unit_frames, total - f), f * hop, min(length, (f + unit_frames) * hop))
            for f in range(0, total, unit_frames)
        ]
    stride = spec.segment_stride
    return [
        Unit(i, 0, spec.frames_for_length(n), i * stride, i * stride + n)
        for i, n in enumerate(segment_lengths(spec, length))
    ]


def _crc(head: bytes | memoryview, payload: bytes | memoryview) -> int:
    """CRC-32 of the chunk index and length fields (`head`), then the payload."""
    return zlib.crc32(payload, zlib.crc32(head))


def _max_payload(spec: ModelSpec, num_codebooks: int, chunk_units: int, unit_frames: int) -> int:
    # A symbol's range is at least 2 of 2**24, so it costs at most 23 bits; the coder adds a few bytes.
    per_unit = (SCALE.size if spec.normalize else 0) + (23 * num_codebooks * unit_frames + 7) // 8 + 12
    return min(MAX_PAYLOAD, chunk_units * per_unit)


# -- writing ----------------------------------------------------------------------------------------------


def encode_body(
    plm: PortableLM,
    spec: ModelSpec,
    length: int,
    segments: list[np.ndarray],
    scales: list[float] | None,
    unit_frames: int | None,
    chunk_units: int,
    tick: Tick,
    kernels: Kernels | None = None,
) -> bytes:
    """The chunks of a version-1 file holding `segments` (codes [K, T_i])."""
    units = units_for(spec, length, unit_frames)
    pieces = [segments[u.segment][:, u.frame : u.frame + u.frames] for u in units]
    codes = encode_units(plm, pieces, tick, kernels)
    out = bytearray()
    for index, first in enumerate(range(0, len(units), chunk_units)):
        payload = bytearray()
        for unit, code in zip(units[first : first + chunk_units], codes[first : first + chunk_units]):
            if scales is not None:
                payload += SCALE.pack(scales[unit.segment])
            payload += _varint(len(code)) + code
        if len(payload) > MAX_PAYLOAD:
            raise EcdcFormatError(
                "A chunk of the portable file would exceed 16 MB; use fewer units per chunk."
            )
        fields = CHUNK_HEAD.pack(SYNC, index, len(payload).to_bytes(3, "big"), 0)[2:9]
        out += SYNC + fields + _crc(fields, payload).to_bytes(4, "big") + payload
    return bytes(out)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(4):  # a code is below 16 MB: at most 4 bytes
        if position >= len(data):
            break
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position
    raise EcdcFormatError("The .ecdc file is corrupt: a unit length is malformed.")


def _groups(plm: PortableLM, frames: list[int]) -> list[list[int]]:
    """Unit indices stepped together: consecutive units, as many as the cache budget allows."""
    out: list[list[int]] = []
    for index, count in enumerate(frames):
        group = out[-1] if out else None
        if group is not None and len(group) < _MAX_GROUP:
            longest = max(count, *(frames[i] for i in group))
            if (len(group) + 1) * PortableStream.memory_per_sequence(plm, longest) <= _GROUP_CACHE_BYTES:
                group.append(index)
                continue
        out.append([index])
    return out


def encode_units(
    plm: PortableLM, pieces: list[np.ndarray], tick: Tick, kernels: Kernels | None = None
) -> list[bytes]:
    """The arithmetic code of each unit's codes [K, frames], each from a fresh LM state."""
    out: list[bytes] = []
    for group in _groups(plm, [piece.shape[1] for piece in pieces]):
        out += _encode_group(plm, [pieces[i] for i in group], kernels)
        tick(sum(pieces[i].shape[1] for i in group))
    return out


def _encode_group(plm: PortableLM, pieces: list[np.ndarray], kernels: Kernels | None) -> list[bytes]:
    num_codebooks = pieces[0].shape[0]
    frames = [piece.shape[1] for piece in pieces]
    longest = max(frames)
    # [B, T, K], units shorter than the longest padded with code 0 (their extra CDFs are not used).
    by_frame = np.zeros((len(pieces), longest, num_codebooks), dtype=np.int64)
    for b, piece in enumerate(pieces):
        by_frame[b, : piece.shape[1]] = piece.T
    previous = np.concatenate(
        [np.full((len(pieces), 1, num_codebooks), -1, dtype=np.int64), by_frame[:, :-1]], axis=1
    )
    stream = plm.stream(num_codebooks, longest, kernels, batch=len(pieces))
    encoders = [ArithmeticEncoder() for _ in pieces]
    block = max(1, _BLOCK_SYMBOLS // (num_codebooks * len(pieces)))
    for start in range(0, longest, block):
        stop = min(longest, start + block)
        cdf = stream.cdfs(previous[:, start:stop])  # [B, n, K, card]
        symbols = by_frame[:, start:stop, :, None]
        highs = np.take_along_axis(cdf, symbols, -1)[..., 0] - 1
        lows = np.take_along_axis(cdf, np.maximum(symbols - 1, 0), -1)[..., 0]
        lows[symbols[..., 0] == 0] = 0
        for b, encoder in enumerate(encoders):
            n = max(0, min(stop, frames[b]) - start)
            encoder.push_many(lows[b, :n].reshape(-1).tolist(), highs[b, :n].reshape(-1).tolist())
    return [encoder.finish() for encoder in encoders]


def decode_units(
    plm: PortableLM,
    codes: list[bytes],
    frames: list[int],
    num_codebooks: int,
    tick: Tick,
    kernels: Kernels | None = None,
) -> list[np.ndarray | None]:
    """Codes [K, frames] of each unit from its arithmetic code, or None where it does not decode."""
    out: list[np.ndarray | None] = []
    for group in _groups(plm, frames):
        out += _decode_group(
            plm, [codes[i] for i in group], [frames[i] for i in group], num_codebooks, tick, kernels
        )
    return out


def _decode_group(
    plm: PortableLM,
    codes: list[bytes],
    frames: list[int],
    num_codebooks: int,
    tick: Tick,
    kernels: Kernels | None,
) -> list[np.ndarray | None]:
    """Frame by frame (frame t's CDFs need frame t-1's codes), all units of the group in lockstep."""
    batch, longest, card = len(codes), max(frames), plm.card
    stream = plm.stream(num_codebooks, longest, kernels, batch=batch)
    decoders = [ArithmeticDecoder(code.translate(REVERSE_BITS)) for code in codes]
    pulls = [decoder.pull for decoder in decoders]
    alive = [count > 0 for count in frames]
    out = np.zeros((batch, longest, num_codebooks), dtype=np.int64)
    previous = np.full((batch, 1, num_codebooks), -1, dtype=np.int64)
    stride = num_codebooks * card
    offsets = [k * card for k in range(num_codebooks)]
    reported = 0
    for t in range(longest):
        cdf = memoryview(stream.cdfs(previous).reshape(-1))
        for b in range(batch):
            if not alive[b] or t >= frames[b]:
                continue
            pull, base = pulls[b], b * stride
            try:
                out[b, t] = [pull(cdf, base + offset, card) for offset in offsets]
            except EcdcFormatError:
                alive[b] = False  # this unit is lost; the others go on
        previous = out[:, t : t + 1]
        if (t + 1) % _DECODE_TICK == 0 or t + 1 == longest:
            done = sum(min(count, t + 1) for count in frames)
            tick(done - reported)
            reported = done
    result: list[np.ndarray | None] = []
    for b in range(batch):
        # The code must end exactly where its bits were used up (plus padding to a byte).
        whole = alive[b] and decoders[b].end_byte == len(codes[b])
        result.append(out[b, : frames[b]].T.copy() if whole else None)
    return result


# -- reading ----------------------------------------------------------------------------------------------


@dataclass
class PortableBody:
    """What a version-1 body decodes to: codes per segment, scales, the samples kept and the lost ranges."""

    segments: list[np.ndarray]
    scales: list[float] | None
    length: int
    lost: list[tuple[int, int]]


def check_portable_lm(plm: PortableLM, header: EcdcHeader) -> None:
    if header.lm_recipe != RECIPE:
        raise EcdcFormatError(
            f"This file uses portable LM recipe {header.lm_recipe!r}; this program knows {RECIPE!r} only."
        )
    if plm.fingerprint != header.lm_hash:
        raise CheckpointError(
            f"This file was coded with other language-model weights (fingerprint {header.lm_hash}; "
            f"the loaded LM is {plm.fingerprint})."
        )


def decode_body(
    plm: PortableLM, header: EcdcHeader, body: bytes, tick: Tick, kernels: Kernels | None = None
) -> PortableBody:
    """Decode the chunks of a version-1 file; damaged or missing chunks become lost ranges."""
    spec = header.spec
    num_codebooks, chunk_units = header.num_codebooks, header.chunk_units or 1
    if num_codebooks > plm.n_q:
        raise CheckpointError(f"The language model codes {plm.n_q} codebooks, the file {num_codebooks}.")
    units = units_for(spec, header.length, header.unit_frames)
    count = -(-len(units) // chunk_units)
    longest = max(unit.frames for unit in units)
    limit = _max_payload(spec, num_codebooks, chunk_units, longest)
    found = _find_chunks(body, count, limit)

    parsed: list[tuple[int, float, bytes]] = []  # (unit index, scale, arithmetic code)
    for index, (start, stop) in sorted(found.items()):
        first = index * chunk_units
        try:
            parsed += _parse_chunk(spec, body[start:stop], first, len(units[first : first + chunk_units]))
        except EcdcFormatError:
            pass  # a chunk whose CRC matched but does not parse is lost like a damaged one
    results = decode_units(
        plm,
        [code for _, _, code in parsed],
        [units[i].frames for i, _, _ in parsed],
        num_codebooks,
        tick,
        kernels,
    )
    decoded = {i: (codes, scale) for (i, scale, _), codes in zip(parsed, results) if codes is not None}

    # Units past the last decoded one are a lost tail: the audio ends there instead.
    kept = max(decoded) + 1 if decoded else 0
    if kept == 0:
        raise EcdcFormatError("The .ecdc file is damaged: none of its audio data could be decoded.")
    length = header.length if kept == len(units) else _kept_length(spec, header.length, units, kept)
    lost = _lost_ranges(units, decoded, header.length)
    missing_frames = sum(unit.frames for i, unit in enumerate(units[:kept]) if i not in decoded)
    if missing_frames * num_codebooks * 8 > _LOST_CODES_FACTOR * len(body) + _LOST_CODES_FLOOR:
        raise EcdcFormatError("The .ecdc file is too damaged to decode: most of its audio data is missing.")
    segments, scales = _assemble(spec, units, kept, length, decoded, num_codebooks)
    return PortableBody(segments, scales, length, lost)


def _find_chunks(body: bytes, count: int, limit: int) -> dict[int, tuple[int, int]]:
    """Chunk index -> (payload start, stop) of every chunk whose CRC is right, in order of position.

    After a damaged stretch the reader looks for the next sync whose chunk checks out; CRC work on
    candidates is bounded by a multiple of the file's size, so no input makes this slow.
    """
    found: dict[int, tuple[int, int]] = {}
    position, expected = 0, 0
    work = _RESYNC_WORK * len(body) + (1 << 20)
    size = len(body)
    view = memoryview(body)
    while expected < count and position + CHUNK_HEAD.size <= size and work > 0:
        sync, index, raw_length, crc = CHUNK_HEAD.unpack_from(body, position)
        length = int.from_bytes(raw_length, "big")
        start = position + CHUNK_HEAD.size
        if sync == SYNC and expected <= index < count and length <= limit and start + length <= size:
            work -= length + CHUNK_HEAD.size
            if _crc(view[position + 2 : position + 9], view[start : start + length]) == crc:
                found[index] = (start, start + length)
                expected, position = index + 1, start + length
                continue
        following = body.find(SYNC, position + 1)
        if following < 0:
            break
        position = following
    return found


def _parse_chunk(spec: ModelSpec, payload: bytes, first: int, count: int) -> list[tuple[int, float, bytes]]:
    """(unit index, scale, arithmetic code) of each of the `count` units of one chunk's payload."""
    out = []
    position = 0
    for offset in range(count):
        scale = 1.0
        if spec.normalize:
            if position + SCALE.size > len(payload):
                raise EcdcFormatError("The .ecdc file is corrupt: a chunk ends early.")
            (scale,) = SCALE.unpack_from(payload, position)
            if not (math.isfinite(scale) and scale > 0):
                raise EcdcFormatError(f"The .ecdc file holds an invalid volume scale ({scale}).")
            position += SCALE.size
        size, position = _read_varint(payload, position)
        if position + size > len(payload):
            raise EcdcFormatError("The .ecdc file is corrupt: a chunk ends early.")
        out.append((first + offset, scale, payload[position : position + size]))
        position += size
    if position != len(payload):
        raise EcdcFormatError("The .ecdc file is corrupt: a chunk holds more data than its units.")
    return out


def _kept_length(spec: ModelSpec, length: int, units: list[Unit], kept: int) -> int:
    """Samples of the audio up to the end of unit `kept - 1`, laid out as the model lays out that length."""
    if spec.segment_stride is None:
        return units[kept - 1].stop
    # `kept` segments: their offsets must stay segment starts, so the audio ends at the next offset.
    return min(length, kept * spec.segment_stride)


def _lost_ranges(units: list[Unit], decoded: dict, length: int) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for i, unit in enumerate(units):
        if i in decoded:
            continue
        start, stop = unit.start, min(length, unit.stop)
        if ranges and start <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], stop))
        else:
            ranges.append((start, stop))
    return ranges


def _assemble(
    spec: ModelSpec,
    units: list[Unit],
    kept: int,
    length: int,
    decoded: dict[int, tuple[np.ndarray, float]],
    num_codebooks: int,
) -> tuple[list[np.ndarray], list[float] | None]:
    frames = [spec.frames_for_length(n) for n in segment_lengths(spec, length)]
    segments = [np.zeros((num_codebooks, n), dtype=np.int64) for n in frames]
    scales = [1.0] * len(frames) if spec.normalize else None
    for i, unit in enumerate(units[:kept]):
        if i not in decoded:
            continue
        codes, scale = decoded[i]
        target = segments[unit.segment]
        width = min(unit.frames, target.shape[1] - unit.frame)
        target[:, unit.frame : unit.frame + width] = codes[:, :width]
        if scales is not None:
            scales[unit.segment] = scale
    return segments, scales
