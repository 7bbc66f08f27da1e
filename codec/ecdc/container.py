"""Reading and writing whole `.ecdc` files: header, per-segment scales, packed or LM-coded codes.

The reader trusts nothing: every byte string either decodes or raises one `EcdcFormatError`, and what it
allocates is bounded by the file's size, whatever the header claims.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import torch

from codec.ecdc import bitpack, lm_coding, portable
from codec.ecdc.arithmetic import REVERSE_BITS
from codec.ecdc.header import (
    PORTABLE_VERSION,
    SCALE,
    EcdcHeader,
    header_bytes,
    max_length,
    parse_header,
    portable_header_bytes,
    segment_count,
    segment_lengths,
)
from codec.errors import EcdcFormatError
from codec.progress import CancelToken, ProgressCallback, check_cancel, report
from codec.specs import MODELS, ModelSpec

if TYPE_CHECKING:
    from codec.models.encodec import EncodedAudio
    from codec.models.lm import LanguageModel
    from codec.models.lm_int import Kernels

Source = bytes | bytearray | memoryview | BinaryIO | str | os.PathLike[str]
LMLoader = Callable[[str], "LanguageModel"]

# An LM-coded segment holds at least 24 bits: the coder shifts in 24 bits before the first symbol.
_MIN_LM_SEGMENT_BYTES = 3
# How LM-coded files are written: "portable" (version 1, integer LM, checksummed chunks, decodes the same
# everywhere) or "reference" (version 0, byte-identical to `encodec` 0.1.1, float LM).
LM_FORMATS = ("portable", "reference")


class _Ticker:
    """Reports frames done so far as progress and checks for cancellation at each report."""

    def __init__(self, progress: ProgressCallback | None, cancel: CancelToken | None, total: int) -> None:
        self.progress, self.cancel, self.total, self.done = progress, cancel, total, 0

    def __call__(self, count: int) -> None:
        self.done += count
        report(self.progress, self.done, self.total)
        check_cancel(self.cancel)

    def restart(self) -> None:
        self.done = 0


def write_ecdc(
    fo: BinaryIO,
    encoded: EncodedAudio,
    *,
    lm: LanguageModel | None = None,
    lm_format: str = "reference",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    lm_kernels: Kernels | None = None,
) -> None:
    """Write `encoded` as a `.ecdc` file to `fo`; with `lm`, entropy-code the codes with it.

    `lm_format` (see `LM_FORMATS`) says how: "reference" writes what `encodec` 0.1.1 writes (version 0),
    "portable" a version-1 file coded with the integer LM derived from `lm` (`lm_kernels`: where its
    multiplies run; the bytes are the same anywhere).
    """
    if lm_format not in LM_FORMATS:
        raise ValueError(f"lm_format must be one of {LM_FORMATS}, not {lm_format!r}.")
    spec, segments, scales = _checked_segments(encoded)
    num_codebooks = segments[0].shape[0]
    if lm is not None:
        if not spec.has_lm:
            raise EcdcFormatError(f"{spec.name} has no language model to entropy-code with.")
        lm_coding.check_lm(lm, spec, num_codebooks)
    tick = _Ticker(progress, cancel, sum(codes.shape[1] for codes in segments))
    check_cancel(cancel)
    if lm is not None and lm_format == "portable":
        _write_portable(fo, encoded, spec, segments, scales, lm, tick, lm_kernels)
        return
    fo.write(header_bytes(spec.name, encoded.length, num_codebooks, lm is not None))
    if lm is not None:
        bodies = lm_coding.encode_segments(lm, segments, tick)
    else:
        bodies = []
        for codes in segments:
            bodies.append(bitpack.pack(codes, spec.bits_per_codebook))
            tick(codes.shape[1])
    for index, body in enumerate(bodies):
        if scales is not None:
            fo.write(SCALE.pack(scales[index]))
        fo.write(body)
    fo.flush()


def _write_portable(
    fo: BinaryIO,
    encoded: EncodedAudio,
    spec: ModelSpec,
    segments: list[np.ndarray],
    scales: list[float] | None,
    lm: LanguageModel,
    tick: _Ticker,
    kernels: Kernels | None,
    layout: tuple[int | None, int] | None = None,
) -> None:
    from codec.models.lm_int import RECIPE, PortableLM  # noqa: PLC0415 - loaded on use

    plm = PortableLM.from_float(lm)
    unit_frames, chunk_units = layout or portable.default_layout(spec)
    body = portable.encode_body(
        plm, spec, encoded.length, segments, scales, unit_frames, chunk_units, tick, kernels
    )
    num_codebooks = segments[0].shape[0]
    fo.write(
        portable_header_bytes(
            spec.name, encoded.length, num_codebooks, RECIPE, plm.fingerprint, unit_frames, chunk_units
        )
    )
    fo.write(body)
    fo.flush()


def encode_portable_bytes(
    encoded: EncodedAudio,
    lm: LanguageModel,
    *,
    unit_frames: int | None = None,
    chunk_units: int | None = None,
    kernels: Kernels | None = None,
) -> bytes:
    """A portable (version 1) file of `encoded` with a chosen layout: `unit_frames` frames per LM unit
    (models without segments) and `chunk_units` units per chunk; defaults as `write_ecdc` writes them."""
    spec, segments, scales = _checked_segments(encoded)
    lm_coding.check_lm(lm, spec, segments[0].shape[0])
    default_frames, default_units = portable.default_layout(spec)
    if spec.segment_stride is None:
        default_frames = unit_frames or default_frames
    layout = (default_frames, chunk_units or default_units)
    buffer = io.BytesIO()
    tick = _Ticker(None, None, 0)
    _write_portable(buffer, encoded, spec, segments, scales, lm, tick, kernels, layout)
    return buffer.getvalue()


def encode_bytes(
    encoded: EncodedAudio, *, lm: LanguageModel | None = None, lm_format: str = "reference"
) -> bytes:
    """The `.ecdc` bytes of `encoded` (see `write_ecdc`)."""
    buffer = io.BytesIO()
    write_ecdc(buffer, encoded, lm=lm, lm_format=lm_format)
    return buffer.getvalue()


def read_ecdc(
    source: Source,
    *,
    lm_loader: LMLoader | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    lm_kernels: Kernels | None = None,
    header: EcdcHeader | None = None,
) -> EncodedAudio:
    """Decode a `.ecdc` file (bytes, open binary file read to its end, or path) into `EncodedAudio`.

    `header` is the file's, when the caller has parsed it already (e.g. to load the right model first).

    `lm_loader(model_name)` supplies the language model, and is called only for files coded with it.
    A portable (version 1) file with damaged chunks decodes the rest: `EncodedAudio.lost` lists the
    sample ranges lost, and a lost tail shortens `length`.
    """
    from codec.models.encodec import EncodedAudio  # noqa: PLC0415 - torch model code, loaded on use

    data = _read_all(source)
    header = parse_header(data) if header is None else header
    spec = header.spec
    body = data[header.header_size :]
    lengths = _segment_plan(header, len(body))
    frames = [spec.frames_for_length(n) for n in lengths]
    tick = _Ticker(progress, cancel, sum(frames))
    check_cancel(cancel)
    if header.version == PORTABLE_VERSION:
        return _read_portable(header, body, lm_loader, tick, lm_kernels)
    if header.use_lm:
        segments, scales = _read_lm_body(header, body, frames, lm_loader, tick)
    else:
        segments, scales = _read_packed_body(header, body, frames, tick)
    return EncodedAudio(
        model=spec.name,
        bandwidth=spec.bandwidth_for_codebooks(header.num_codebooks),
        length=header.length,
        codes=[torch.from_numpy(codes) for codes in segments],
        scales=scales if spec.normalize else None,
    )


def _read_portable(
    header: EcdcHeader,
    body: bytes,
    lm_loader: LMLoader | None,
    tick: _Ticker,
    kernels: Kernels | None,
) -> EncodedAudio:
    from codec.models.encodec import EncodedAudio  # noqa: PLC0415 - torch model code, loaded on use
    from codec.models.lm_int import PortableLM  # noqa: PLC0415

    spec = header.spec
    if lm_loader is None:
        raise EcdcFormatError(
            f"This file was compressed with the {spec.name} language model, which is needed to decode it."
        )
    lm = lm_loader(spec.name)
    lm_coding.check_lm(lm, spec, header.num_codebooks)
    plm = PortableLM.from_float(lm)
    portable.check_portable_lm(plm, header)
    result = portable.decode_body(plm, header, body, tick, kernels)
    return EncodedAudio(
        model=spec.name,
        bandwidth=spec.bandwidth_for_codebooks(header.num_codebooks),
        length=result.length,
        codes=[torch.from_numpy(codes) for codes in result.segments],
        scales=result.scales,
        lost=result.lost,
    )


def decode_bytes(data: bytes, *, lm_loader: LMLoader | None = None) -> EncodedAudio:
    """`read_ecdc` of in-memory bytes."""
    return read_ecdc(data, lm_loader=lm_loader)


# -- writing ----------------------------------------------------------------------------------------------


def _checked_segments(encoded: EncodedAudio) -> tuple[ModelSpec, list[np.ndarray], list[float] | None]:
    spec = MODELS.get(encoded.model)
    if spec is None:
        raise EcdcFormatError(f"Cannot write codes of unknown model {encoded.model!r}.")
    if not 1 <= encoded.length <= max_length(spec):
        raise EcdcFormatError(f"Cannot write an audio length of {encoded.length} samples.")
    lengths = segment_lengths(spec, encoded.length)
    if len(encoded.codes) != len(lengths):
        raise EcdcFormatError(
            f"{spec.name} codes {encoded.length} samples in {len(lengths)} segments, not {len(encoded.codes)}."
        )
    segments: list[np.ndarray] = []
    for codes, length in zip(encoded.codes, lengths):
        array = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)
        shape = (array.shape[0] if array.ndim == 2 else -1, spec.frames_for_length(length))
        if array.ndim != 2 or array.shape != shape or not 1 <= shape[0] <= spec.max_codebooks:
            raise EcdcFormatError(f"Segment codes of shape {tuple(array.shape)} do not fit {spec.name}.")
        if segments and array.shape[0] != segments[0].shape[0]:
            raise EcdcFormatError("Every segment must use the same number of codebooks.")
        if array.size and (array.min() < 0 or array.max() >= spec.codebook_size):
            raise EcdcFormatError(f"Codes must lie in 0..{spec.codebook_size - 1}.")
        segments.append(array.astype(np.int64))
    scales = None
    if spec.normalize:
        scales = [float(s) for s in (encoded.scales or [])]
        if len(scales) != len(lengths) or not all(math.isfinite(s) and s > 0 for s in scales):
            raise EcdcFormatError(f"{spec.name} needs one positive finite scale per segment.")
    return spec, segments, scales


# -- reading ----------------------------------------------------------------------------------------------


def _read_all(source: Source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise EcdcFormatError(f"Cannot read {Path(source).name}: {exc.strerror or exc}.") from None
    return source.read()


def _segment_plan(header: EcdcHeader, body_size: int) -> list[int]:
    """Segment lengths, after checking the body can hold that many segments (so the list stays small)."""
    spec = header.spec
    scale_bytes = SCALE.size if spec.normalize else 0
    if header.version == PORTABLE_VERSION:
        # Chunks are found by their framing and may be missing (see `portable`); the header is
        # checksummed, so its length is what the writer meant.
        return segment_lengths(spec, header.length)
    minimum = scale_bytes + (_MIN_LM_SEGMENT_BYTES if header.use_lm else 1)
    if segment_count(spec, header.length) * minimum > body_size:
        raise EcdcFormatError("The .ecdc file is truncated: its audio data ends early.")
    return segment_lengths(spec, header.length)


def _check_end(position: int, body_size: int) -> None:
    if position < body_size:
        raise EcdcFormatError(
            f"The .ecdc file has {body_size - position} unexpected bytes after its audio data."
        )


def _read_scale(body: bytes, position: int) -> float:
    if position + SCALE.size > len(body):
        raise EcdcFormatError("The .ecdc file is truncated: its audio data ends early.")
    (scale,) = SCALE.unpack_from(body, position)
    if not (math.isfinite(scale) and scale > 0):
        raise EcdcFormatError(f"The .ecdc file holds an invalid volume scale ({scale}).")
    return scale


def _read_packed_body(
    header: EcdcHeader, body: bytes, frames: list[int], tick: _Ticker
) -> tuple[list[np.ndarray], list[float]]:
    spec = header.spec
    bits, num_codebooks = spec.bits_per_codebook, header.num_codebooks
    scale_bytes = SCALE.size if spec.normalize else 0
    sizes = [bitpack.packed_size(num_codebooks * n, bits) for n in frames]
    # The exact size is known before anything is allocated.
    expected = sum(sizes) + scale_bytes * len(sizes)
    if expected > len(body):
        raise EcdcFormatError(
            "The .ecdc file is truncated: its audio data ends early"
            f"{_kept_packed(header, len(body), frames, sizes, scale_bytes)}."
        )
    _check_end(expected, len(body))
    segments, scales = [], []
    position = 0
    for count, size in zip(frames, sizes):
        if scale_bytes:
            scales.append(_read_scale(body, position))
            position += scale_bytes
        segments.append(bitpack.unpack(body[position : position + size], bits, num_codebooks, count))
        position += size
        tick(count)
    return segments, scales


def _kept_packed(header: EcdcHeader, size: int, frames: list[int], sizes: list[int], scale_bytes: int) -> str:
    """Where a truncated version-0 packed body stops being decodable, as a phrase (the bytes cannot say
    more: version 0 has no checksums, so damage elsewhere is not detected)."""
    spec = header.spec
    rate, hop = spec.sample_rate, spec.hop_length
    if spec.segment_stride is None:
        whole = max(0, size * 8 // (header.num_codebooks * spec.bits_per_codebook))
        kept = min(header.length, whole * hop)
    else:
        kept, position = 0, 0
        for index, segment in enumerate(sizes):
            position += scale_bytes + segment
            if position > size:
                break
            kept = min(header.length, index * spec.segment_stride + frames[index] * hop)
    return f": {kept / rate:.2f} s of its {header.length / rate:.2f} s are complete, the rest is lost"


def _read_lm_body(
    header: EcdcHeader,
    body: bytes,
    frames: list[int],
    lm_loader: LMLoader | None,
    tick: _Ticker,
) -> tuple[list[np.ndarray], list[float]]:
    spec = header.spec
    if lm_loader is None:
        raise EcdcFormatError(
            f"This file was compressed with the {spec.name} language model, which is needed to decode it."
        )
    lm = lm_loader(spec.name).on_cpu()
    lm_coding.check_lm(lm, spec, header.num_codebooks)
    # Our files, and the reference's run at one thread, decode at one thread. The reference run with
    # several threads rounds its first frames differently; those files decode at the thread count the
    # process uses, which is tried second.
    attempts = [lm_coding.CODING_THREADS]
    if torch.get_num_threads() != lm_coding.CODING_THREADS:
        attempts.append(torch.get_num_threads())
    first_error = None
    for threads in attempts:
        tick.restart()
        try:
            with lm_coding.torch_threads(threads):
                return _decode_lm_segments(header, body, frames, lm, tick)
        except EcdcFormatError as error:
            first_error = first_error or error
    raise first_error


def _decode_lm_segments(
    header: EcdcHeader, body: bytes, frames: list[int], lm: LanguageModel, tick: _Ticker
) -> tuple[list[np.ndarray], list[float]]:
    spec = header.spec
    reversed_body = body.translate(REVERSE_BITS)
    segments, scales = [], []
    position = 0
    for count in frames:
        if spec.normalize:
            scales.append(_read_scale(body, position))
            position += SCALE.size
        try:
            codes, position = lm_coding.decode_segment(
                lm, reversed_body, position, header.num_codebooks, count, tick
            )
        except EcdcFormatError as error:
            # Version 0 has no checksums: damage shows only when the code stops making sense, and a
            # segment's end is only known by decoding it, so nothing after this point can be found.
            if len(frames) > 1:
                offset = len(segments) * (spec.segment_stride or 0) / spec.sample_rate
                raise EcdcFormatError(f"{str(error).rstrip('.')} in the segment at {offset:.2f} s.") from None
            raise
        segments.append(codes)
    _check_end(position, len(body))
    return segments, scales
