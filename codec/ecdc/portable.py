"""Portable LM coding (`.ecdc` version 1): codes entropy-coded with the integer LM, in checksummed chunks.

The codes are cut into LM units, each coded from a fresh LM state in its own arithmetic-coded stream:
a 48 kHz segment, or `unit_frames` frames of the single 24 kHz segment. Chunks of `chunk_units` units
follow the header, each framed as

    sync 0xEC 0xDC | chunk index (u32, big-endian) | payload length (u24) | CRC-32 (u32) | payload

where the CRC covers the index, the length and the payload, so a damaged, missing or misplaced chunk is
detected. A payload is its units one after another: the scale (float32, 48 kHz)
and the unit's arithmetic code, flushed to a byte. A damaged chunk costs its own time range only: the
reader skips to the next sync that starts a chunk with a valid CRC, and reports what it lost.
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
from codec.models.lm_int import RECIPE, Kernels, PortableLM
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
    per_unit = (SCALE.size if spec.normalize else 0) + (23 * num_codebooks * unit_frames + 7) // 8 + 8
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
    out = bytearray()
    for index, first in enumerate(range(0, len(units), chunk_units)):
        payload = bytearray()
        for unit in units[first : first + chunk_units]:
            if scales is not None:
                payload += SCALE.pack(scales[unit.segment])
            codes = segments[unit.segment][:, unit.frame : unit.frame + unit.frames]
            payload += _encode_unit(plm, codes, kernels)
            tick(unit.frames)
        if len(payload) > MAX_PAYLOAD:
            raise EcdcFormatError(
                "A chunk of the portable file would exceed 16 MB; use fewer units per chunk."
            )
        fields = CHUNK_HEAD.pack(SYNC, index, len(payload).to_bytes(3, "big"), 0)[2:9]
        out += SYNC + fields + _crc(fields, payload).to_bytes(4, "big") + payload
    return bytes(out)


def _encode_unit(plm: PortableLM, codes: np.ndarray, kernels: Kernels | None) -> bytes:
    num_codebooks, frames = codes.shape
    stream = plm.stream(num_codebooks, frames, kernels)
    by_frame = codes.T.astype(np.int64)
    previous = np.concatenate([np.full((1, num_codebooks), -1, dtype=np.int64), by_frame[:-1]])
    encoder = ArithmeticEncoder()
    block = max(1, _BLOCK_SYMBOLS // num_codebooks)
    for start in range(0, frames, block):
        stop = min(frames, start + block)
        cdf = stream.cdfs(previous[start:stop])  # [n, K, card]
        symbols = by_frame[start:stop, :, None]
        highs = np.take_along_axis(cdf, symbols, -1)[..., 0] - 1
        lows = np.take_along_axis(cdf, np.maximum(symbols - 1, 0), -1)[..., 0]
        lows[symbols[..., 0] == 0] = 0
        encoder.push_many(lows.reshape(-1).tolist(), highs.reshape(-1).tolist())
    return encoder.finish()


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

    decoded: dict[int, tuple[np.ndarray, float]] = {}
    for index, (start, stop) in sorted(found.items()):
        chunk = units[index * chunk_units : (index + 1) * chunk_units]
        try:
            payload = body[start:stop]
            decoded.update(
                _decode_chunk(plm, spec, payload, index * chunk_units, chunk, num_codebooks, kernels)
            )
        except EcdcFormatError:
            pass  # a chunk whose CRC matched but does not decode is lost like a damaged one
        tick(sum(unit.frames for unit in chunk))

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


def _decode_chunk(
    plm: PortableLM,
    spec: ModelSpec,
    payload: bytes,
    first: int,
    units: list[Unit],
    num_codebooks: int,
    kernels: Kernels | None,
) -> dict[int, tuple[np.ndarray, float]]:
    """Unit index -> (codes [K, frames], scale) of the units of one chunk's payload."""
    out: dict[int, tuple[np.ndarray, float]] = {}
    decoder_data = payload.translate(REVERSE_BITS)
    position = 0
    for offset, unit in enumerate(units):
        scale = 1.0
        if spec.normalize:
            if position + SCALE.size > len(payload):
                raise EcdcFormatError("The .ecdc file is truncated: a chunk ends early.")
            (scale,) = SCALE.unpack_from(payload, position)
            if not (math.isfinite(scale) and scale > 0):
                raise EcdcFormatError(f"The .ecdc file holds an invalid volume scale ({scale}).")
            position += SCALE.size
        decoder = ArithmeticDecoder(decoder_data, 8 * position)
        codes = decode_unit(plm, decoder, unit.frames, num_codebooks, kernels)
        position = decoder.end_byte
        out[first + offset] = (codes, scale)
    if position != len(payload):
        raise EcdcFormatError("The .ecdc file is corrupt: a chunk holds more data than its units.")
    return out


def decode_unit(
    plm: PortableLM,
    decoder: ArithmeticDecoder,
    frames: int,
    num_codebooks: int,
    kernels: Kernels | None = None,
) -> np.ndarray:
    """Codes [K, frames] of one LM unit, one frame at a time (frame t's CDFs need frame t-1's codes)."""
    stream = plm.stream(num_codebooks, frames, kernels)
    card = plm.card
    offsets = [k * card for k in range(num_codebooks)]
    out = np.empty((frames, num_codebooks), dtype=np.int64)
    previous = np.full((1, num_codebooks), -1, dtype=np.int64)
    pull = decoder.pull
    for t in range(frames):
        cdf = memoryview(stream.cdfs(previous).reshape(-1))
        out[t] = [pull(cdf, offset, card) for offset in offsets]
        previous = out[t : t + 1]
    return out.T


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
