"""The `.ecdc` header (magic, version, JSON metadata) and the segment layout it implies.

Version 0 (the reference's): b"ECDC", version byte 0, big-endian uint32 length of a UTF-8 JSON object,
then the object `{"m": model, "al": samples per channel, "nc": codebooks, "lm": bool}` written with
`json.dumps` defaults in that key order (as `encodec` 0.1.1 writes it). Version 1 (portable LM coding, ours):
the same prefix with version byte 1, more keys, and a CRC-32 of everything before it. See docs/FORMAT.md.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from codec.errors import EcdcFormatError
from codec.models.lm_int import MAX_FRAMES
from codec.specs import MODELS, ModelSpec

MAGIC = b"ECDC"
VERSION = 0
# Portable LM coding: chunked, checksummed; `encodec` 0.1.1 refuses it ("Version not supported.").
PORTABLE_VERSION = 1
VERSIONS = (VERSION, PORTABLE_VERSION)
PREFIX = struct.Struct("!4sBI")
CRC = struct.Struct("!I")
# Longest LM unit (frames coded from a fresh LM state) a portable file may declare.
MAX_UNIT_FRAMES = MAX_FRAMES
MAX_CHUNK_UNITS = 4096
_HASH = re.compile(r"[0-9a-f]{16}")
# Reference headers are about 60 bytes; a larger one is damage, and must not make the reader allocate it.
MAX_JSON_BYTES = 64 * 1024
# Longest audio a file may declare; beyond this `al` is treated as damage, not as a request to allocate.
MAX_AUDIO_SECONDS = 24 * 3600
SCALE = struct.Struct("!f")


@dataclass(frozen=True)
class EcdcHeader:
    """What a `.ecdc` header says; `header_size` is the offset of the first body byte."""

    model: str
    length: int
    num_codebooks: int
    use_lm: bool
    header_size: int
    version: int = VERSION
    # Version 1 only: integer-LM recipe, fingerprint of the LM weights, frames per LM unit (models
    # without segments; for 48 kHz a unit is a segment), units per checksummed chunk.
    lm_recipe: str | None = None
    lm_hash: str | None = None
    unit_frames: int | None = None
    chunk_units: int | None = None

    @property
    def lm_format(self) -> str | None:
        """ "portable" (version 1), "reference" (version 0 with the LM) or None (no LM)."""
        if not self.use_lm:
            return None
        return "portable" if self.version == PORTABLE_VERSION else "reference"

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.model]

    @property
    def duration_s(self) -> float:
        return self.length / self.spec.sample_rate

    @property
    def bandwidth(self) -> float:
        return self.spec.bandwidth_for_codebooks(self.num_codebooks)


def header_bytes(model: str, length: int, num_codebooks: int, use_lm: bool) -> bytes:
    """The header exactly as the reference writes it."""
    meta = json.dumps({"m": model, "al": length, "nc": num_codebooks, "lm": use_lm}).encode("utf-8")
    return PREFIX.pack(MAGIC, VERSION, len(meta)) + meta


def portable_header_bytes(
    model: str,
    length: int,
    num_codebooks: int,
    lm_recipe: str,
    lm_hash: str,
    unit_frames: int | None,
    chunk_units: int,
) -> bytes:
    """A version-1 header: prefix, JSON, then the CRC-32 of both."""
    meta: dict = {"m": model, "al": length, "nc": num_codebooks, "lm": True, "lmf": lm_recipe, "lmh": lm_hash}
    if unit_frames is not None:
        meta["uf"] = unit_frames
    meta["cu"] = chunk_units
    raw = json.dumps(meta).encode("utf-8")
    head = PREFIX.pack(MAGIC, PORTABLE_VERSION, len(raw)) + raw
    return head + CRC.pack(zlib.crc32(head))


def max_length(spec: ModelSpec) -> int:
    return spec.sample_rate * MAX_AUDIO_SECONDS


def parse_header(data: bytes) -> EcdcHeader:
    """Parse and validate the header at the start of `data` (which may hold the whole file)."""
    if len(data) < PREFIX.size:
        raise EcdcFormatError("The .ecdc file is truncated: its header is incomplete.")
    magic, version, size = PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise EcdcFormatError("This is not an .ecdc file: it does not start with ECDC.")
    if version not in VERSIONS:
        raise EcdcFormatError(
            f"Unsupported .ecdc version {version}; this program reads versions 0 and 1 (a newer one may)."
        )
    if size > MAX_JSON_BYTES:
        raise EcdcFormatError(f"The .ecdc header claims {size} bytes of metadata, far more than a real one.")
    end = PREFIX.size + size + (CRC.size if version == PORTABLE_VERSION else 0)
    if len(data) < end:
        raise EcdcFormatError("The .ecdc file is truncated: its header is incomplete.")
    if version == PORTABLE_VERSION:
        (crc,) = CRC.unpack_from(data, end - CRC.size)
        if crc != zlib.crc32(data[: end - CRC.size]):
            raise EcdcFormatError("The .ecdc header is damaged (checksum mismatch); nothing can be decoded.")
    meta = _load_json(data[PREFIX.size : PREFIX.size + size])
    header = _validate(meta, end)
    return _validate_portable(meta, header) if version == PORTABLE_VERSION else header


def read_header(source: bytes | bytearray | memoryview | BinaryIO | str | os.PathLike[str]) -> EcdcHeader:
    """The header of a `.ecdc` file given as bytes, an open binary file (read from its position) or a path."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return parse_header(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(Path(source), "rb") as fo:
                return _read_header_from(fo)
        except OSError as exc:
            raise EcdcFormatError(f"Cannot read {Path(source).name}: {exc.strerror or exc}.") from None
    return _read_header_from(source)


def _read_header_from(fo: BinaryIO) -> EcdcHeader:
    prefix = _read_up_to(fo, PREFIX.size)
    if len(prefix) == PREFIX.size:
        _, version, size = PREFIX.unpack(prefix)
        if size <= MAX_JSON_BYTES:
            prefix += _read_up_to(fo, size + (CRC.size if version == PORTABLE_VERSION else 0))
    return parse_header(prefix)


def _read_up_to(fo: BinaryIO, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = fo.read(size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _load_json(raw: bytes) -> object:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError covers malformed JSON and integers too long to convert.
        raise EcdcFormatError("The .ecdc header is not valid UTF-8 JSON.") from None


def _field(meta: dict, key: str, kind: type, label: str) -> object:
    if key not in meta:
        raise EcdcFormatError(f"The .ecdc header lacks the {key!r} field ({label}).")
    value = meta[key]
    # bool is a subclass of int: a JSON true must not pass for a length or a count.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise EcdcFormatError(f"The .ecdc header field {key!r} ({label}) must be {_KIND_NAMES[kind]}.")
    return value


_KIND_NAMES = {str: "a string", int: "an integer", bool: "true or false"}


def _validate(meta: object, header_size: int) -> EcdcHeader:
    if not isinstance(meta, dict):
        raise EcdcFormatError("The .ecdc header is not a JSON object.")
    model = _field(meta, "m", str, "model name")
    length = _field(meta, "al", int, "audio length")
    num_codebooks = _field(meta, "nc", int, "number of codebooks")
    use_lm = _field(meta, "lm", bool, "language model flag")
    spec = MODELS.get(model)  # type: ignore[arg-type]
    if spec is None:
        raise EcdcFormatError(f"The .ecdc file was made with an unknown model {str(model)[:40]!r}.")
    if not 1 <= num_codebooks <= spec.max_codebooks:  # type: ignore[operator]
        raise EcdcFormatError(
            f"The .ecdc file declares {num_codebooks} codebooks; {spec.name} uses 1 to {spec.max_codebooks}."
        )
    if not 1 <= length <= max_length(spec):  # type: ignore[operator]
        raise EcdcFormatError(
            f"The .ecdc file declares an audio length of {length} samples, "
            f"outside 1 to {max_length(spec)} ({MAX_AUDIO_SECONDS // 3600} hours)."
        )
    if use_lm and not spec.has_lm:
        raise EcdcFormatError(f"The .ecdc file asks for language-model decoding, but {spec.name} has none.")
    return EcdcHeader(spec.name, length, num_codebooks, bool(use_lm), header_size)  # type: ignore[arg-type]


def _validate_portable(meta: dict, header: EcdcHeader) -> EcdcHeader:
    spec = header.spec
    if not header.use_lm:
        raise EcdcFormatError("A version 1 .ecdc file must be coded with the language model.")
    recipe = _field(meta, "lmf", str, "portable LM recipe")
    lm_hash = _field(meta, "lmh", str, "LM fingerprint")
    if not _HASH.fullmatch(lm_hash):  # type: ignore[arg-type]
        raise EcdcFormatError("The .ecdc header field 'lmh' (LM fingerprint) must be 16 hex digits.")
    chunk_units = _field(meta, "cu", int, "units per chunk")
    if not 1 <= chunk_units <= MAX_CHUNK_UNITS:  # type: ignore[operator]
        raise EcdcFormatError(
            f"The .ecdc file declares {chunk_units} units per chunk, outside 1 to {MAX_CHUNK_UNITS}."
        )
    unit_frames = None
    if spec.segment_stride is None:
        unit_frames = _field(meta, "uf", int, "frames per LM unit")
        if not 1 <= unit_frames <= MAX_UNIT_FRAMES:  # type: ignore[operator]
            raise EcdcFormatError(
                f"The .ecdc file declares {unit_frames} frames per LM unit, outside 1 to {MAX_UNIT_FRAMES}."
            )
    return replace(
        header,
        version=PORTABLE_VERSION,
        lm_recipe=str(recipe)[:40],
        lm_hash=lm_hash,  # type: ignore[arg-type]
        unit_frames=unit_frames,  # type: ignore[arg-type]
        chunk_units=chunk_units,  # type: ignore[arg-type]
    )


def segment_count(spec: ModelSpec, length: int) -> int:
    """How many independently coded segments `length` samples make (without listing them)."""
    stride = spec.segment_stride
    return 1 if stride is None else -(-length // stride)


def segment_lengths(spec: ModelSpec, length: int) -> list[int]:
    """Samples in each segment: the whole file, or 1 s chunks at offsets 0, 47520, ... for 48 kHz."""
    stride, size = spec.segment_stride, spec.segment_length
    if stride is None or size is None:
        return [length]
    return [min(size, length - offset) for offset in range(0, length, stride)]
