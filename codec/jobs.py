"""File-level jobs shared by the CLI and the GUI: compress, decompress, decode, round trip, probe.

Each job takes an optional `ProgressCallback` and `CancelToken`. Progress is one overall bar in
thousandths, `(done, 1000)`, spanning its phases (load, read, encode, LM/write, decode, write); the
cancel token is checked between phases and, inside the model and the `.ecdc` coder, between chunks.
Outputs go through `codec.fileio.atomic_write`: a job that fails or is cancelled leaves no file, an
input is never overwritten, and an existing output is refused unless `overwrite=True`.

Importing this module is cheap (torch and the model code load on first use), so the GUI can `probe`
files before any model exists.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

import numpy as np

from codec.audio import check_audio_output, info_audio, iter_audio_blocks, write_audio_stream
from codec.errors import UnsupportedOptionError
from codec.fileio import StrPath, atomic_write, check_input, check_output
from codec.filetypes import ECDC_MAGIC, is_ecdc  # noqa: F401 - both were defined here; still importable
from codec.model_pool import ModelPool
from codec.progress import CancelToken, ProgressCallback, check_cancel, report, scaled
from codec.specs import get_spec

if TYPE_CHECKING:
    from codec.ecdc import EcdcHeader
    from codec.models.encodec import EncodecModel, EncodedAudio
    from codec.models.lm import LanguageModel

# New LM-coded files are portable (decode the same on every machine); "reference" writes what Meta's
# `encodec` 0.1.1 reads. See `codec.ecdc.container.LM_FORMATS`.
DEFAULT_LM_FORMAT = "portable"


# Audio is read and encoded this many seconds at a time: small enough for flat memory, big enough to stay
# efficient (the 48 kHz model re-blocks into its own 1 s segments anyway).
ENCODE_BLOCK_SECONDS = 4


@dataclass(frozen=True)
class JobResult:
    """What a finished job did. `ratio` is always audio bytes per `.ecdc` byte (e.g. 20.0 means 20:1)."""

    src: Path
    dst: Path | None
    input_bytes: int
    output_bytes: int
    duration_s: float  # audio duration
    seconds_taken: float
    ratio: float
    ecdc_bytes: int = 0
    model: str = ""
    bandwidth: float = 0.0
    use_lm: bool = False
    clipped: bool = False  # decoded samples went past +-0.99 and were clamped
    lm_format: str | None = None  # "portable" or "reference" for LM-coded files
    # Seconds [start, stop) of audio lost to damage (portable files), muted in the output.
    lost_s: tuple[tuple[float, float], ...] = ()

    @property
    def bitrate_kbps(self) -> float:
        """Bitrate of the `.ecdc` stream, header included."""
        return 8 * self.ecdc_bytes / self.duration_s / 1000 if self.duration_s else 0.0

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio processed per second of work."""
        return self.duration_s / self.seconds_taken if self.seconds_taken else 0.0


@dataclass(frozen=True)
class MediaInfo:
    """A file as the GUI and `ecdc info` describe it, from headers only (nothing is decoded)."""

    path: Path
    kind: Literal["audio", "ecdc"]
    duration_s: float
    sample_rate: int
    channels: int
    size_bytes: int
    frames: int
    format: str  # "ECDC", or soundfile's format and subtype, e.g. "WAV PCM_16"
    header: EcdcHeader | None = None

    @property
    def bitrate_kbps(self) -> float:
        return 8 * self.size_bytes / self.duration_s / 1000 if self.duration_s else 0.0


class _Phases:
    """Splits one overall progress bar (thousandths) into consecutive phases with given weights."""

    def __init__(self, progress: ProgressCallback | None, cancel: CancelToken | None, **weights: float):
        self._progress, self._cancel = progress, cancel
        total = sum(weights.values())
        self._spans: dict[str, tuple[float, float]] = {}
        start = 0.0
        for name, weight in weights.items():
            self._spans[name] = (start, weight / total)
            start += weight / total

    def __call__(self, name: str) -> ProgressCallback | None:
        """Enter phase `name`: check the cancel token, report its start, return its scaled callback."""
        check_cancel(self._cancel)
        start, span = self._spans[name]
        report(self._progress, int(1000 * start), 1000)
        return scaled(self._progress, start, span)

    def finish(self) -> None:
        report(self._progress, 1000, 1000)


def _job_result(
    kind: Literal["compress", "decompress", "roundtrip"],
    src: Path,
    dst: Path,
    started: float,
    encoded: EncodedAudio,
    use_lm: bool,
    lm_format: str | None,
    *,
    clipped: bool = False,
    ecdc_bytes: int = 0,
) -> JobResult:
    """What every job returns, built in one place. The `.ecdc` stream is `dst` when compressing, `src` when
    decompressing and in memory (`ecdc_bytes`) for a round trip; the audio is the other file."""
    input_bytes, output_bytes = _file_size(src), _file_size(dst)
    if kind == "compress":
        ecdc_bytes = output_bytes
    elif kind == "decompress":
        ecdc_bytes = input_bytes
    audio_bytes = output_bytes if kind == "decompress" else input_bytes
    return JobResult(
        src=src,
        dst=dst,
        input_bytes=input_bytes,
        output_bytes=output_bytes,
        duration_s=encoded.length / get_spec(encoded.model).sample_rate,
        seconds_taken=time.perf_counter() - started,
        ratio=audio_bytes / ecdc_bytes if ecdc_bytes else 0.0,
        ecdc_bytes=ecdc_bytes,
        model=encoded.model,
        bandwidth=encoded.bandwidth,
        use_lm=use_lm,
        clipped=clipped,
        lm_format=lm_format,
        lost_s=_lost_seconds(encoded),
    )


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _check_compress_options(model_name: str, bandwidth: float, use_lm: bool) -> str:
    spec = get_spec(model_name)
    spec.check_bandwidth(bandwidth)
    if use_lm and not spec.has_lm:
        raise UnsupportedOptionError(f"{spec.name} has no language model; compress it without LM coding.")
    return spec.name


def encode_audio_file(
    src: Path,
    fo: BinaryIO,
    model: EncodecModel,
    bandwidth: float,
    lm: LanguageModel | None,
    phases: _Phases,
    cancel: CancelToken | None,
    lm_format: str = DEFAULT_LM_FORMAT,
) -> EncodedAudio:
    """Stream audio from disk -> convert -> encode -> write `.ecdc` to `fo`, in memory that does not grow with
    the file's length (the codes, a few kB per second, are all that accumulates)."""
    import torch  # noqa: PLC0415

    from codec.ecdc import write_ecdc  # noqa: PLC0415

    spec = model.spec
    phases("read")
    info = info_audio(src)
    expected = -(-info.frames * spec.sample_rate // info.sample_rate)
    blocks = iter_audio_blocks(src, ENCODE_BLOCK_SECONDS * spec.sample_rate, spec.sample_rate, spec.channels)
    encoded = model.encode_stream(
        (torch.from_numpy(block) for block in blocks),
        bandwidth,
        total_length=expected,
        progress=phases("encode"),
        cancel=cancel,
    )
    write_ecdc(fo, encoded, lm=lm, lm_format=lm_format, progress=phases("write"), cancel=cancel)
    return encoded


def _compress_phases(progress: ProgressCallback | None, cancel: CancelToken | None, use_lm: bool) -> _Phases:
    if use_lm:  # our LM coder runs at ~20x real time, a few times slower than the encoder
        return _Phases(progress, cancel, load=2, read=3, encode=60, write=35)
    return _Phases(progress, cancel, load=2, read=8, encode=85, write=5)


def compress_file(
    src: StrPath,
    dst: StrPath,
    *,
    pool: ModelPool,
    model_name: str,
    bandwidth: float,
    use_lm: bool = False,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    lm_format: str = DEFAULT_LM_FORMAT,
) -> JobResult:
    """Compress an audio file to `.ecdc` (`lm_format`: how LM-coded files are written, see LM_FORMATS)."""
    started = time.perf_counter()
    src, dst = Path(src), Path(dst)
    name = _check_compress_options(model_name, bandwidth, use_lm)
    info_audio(src)  # fail on an unreadable input before loading anything
    check_output(dst, inputs=[src], overwrite=overwrite)
    phases = _compress_phases(progress, cancel, use_lm)
    model = pool.model(name, progress=phases("load"), cancel=cancel)
    lm = pool.lm(name) if use_lm else None
    with atomic_write(dst, overwrite, inputs=[src]) as fo:
        encoded = encode_audio_file(src, fo, model, bandwidth, lm, phases, cancel, lm_format)
        check_cancel(cancel)
    phases.finish()
    return _job_result("compress", src, dst, started, encoded, use_lm, lm_format if use_lm else None)


def _read_header(src: Path) -> EcdcHeader:
    from codec.ecdc import read_header  # noqa: PLC0415

    check_input(src)
    with open(src, "rb") as fo:
        return read_header(fo)


def _read_ecdc_file(src: Path, header: EcdcHeader | None) -> tuple[EcdcHeader, bytes]:
    """`src`'s header and all its bytes, from one open: the header is parsed once per job (and not at all
    when the caller already has it), before the rest is read."""
    from codec.ecdc import read_header  # noqa: PLC0415

    check_input(src)
    with open(src, "rb") as fo:
        if header is None:
            header = read_header(fo)
        fo.seek(0)
        return header, fo.read()


def _read_codes(
    source: BinaryIO | bytes,
    pool: ModelPool,
    phases: _Phases,
    cancel: CancelToken | None,
    read: str = "read",
    header: EcdcHeader | None = None,
) -> EncodedAudio:
    """Read `.ecdc` codes (with LM decoding if it was LM-coded); `header`: `source`'s, when already parsed."""
    from codec.ecdc import read_ecdc  # noqa: PLC0415

    return read_ecdc(source, lm_loader=pool.lm, progress=phases(read), cancel=cancel, header=header)


def _decoded_blocks(
    encoded: EncodedAudio, pool: ModelPool, phases: _Phases, cancel: CancelToken | None
) -> Iterator[np.ndarray]:
    """Decoded float32 `[C, n]` blocks, one model block at a time (flat memory for any length)."""
    model = pool.model(encoded.model, cancel=cancel)
    position = 0
    for block in model.decode_stream(encoded, progress=phases("decode"), cancel=cancel):
        samples = block.detach().cpu().numpy().astype(np.float32, copy=False)
        _mute_lost(samples, position, encoded.lost)
        position += samples.shape[-1]
        yield samples


def _mute_lost(samples: np.ndarray, position: int, lost: list[tuple[int, int]]) -> None:
    """Zero the parts of `samples` [C, n] (starting at sample `position`) that lie in a lost range: their
    codes are placeholders."""
    end = position + samples.shape[-1]
    for start, stop in lost:
        lo, hi = max(start, position), min(stop, end)
        if lo < hi:
            if not samples.flags.writeable:
                samples = samples.copy()  # pragma: no cover - decoders return fresh arrays
            samples[:, lo - position : hi - position] = 0.0


def _lost_seconds(encoded: EncodedAudio) -> tuple[tuple[float, float], ...]:
    rate = get_spec(encoded.model).sample_rate
    return tuple((start / rate, stop / rate) for start, stop in encoded.lost)


def _decode(
    source: bytes, header: EcdcHeader, pool: ModelPool, phases: _Phases, cancel: CancelToken | None
) -> tuple[np.ndarray, int, EncodedAudio]:
    """Decode `.ecdc` bytes to float32 `[C, T]` in memory (for playback and comparison)."""
    encoded = _read_codes(source, pool, phases, cancel, header=header)
    model = pool.model(encoded.model, cancel=cancel)
    audio = model.decode(encoded, progress=phases("decode"), cancel=cancel)
    samples = audio.detach().cpu().numpy().astype(np.float32)
    _mute_lost(samples, 0, encoded.lost)
    return samples, model.spec.sample_rate, encoded


def _decode_phases(progress: ProgressCallback | None, cancel: CancelToken | None, use_lm: bool) -> _Phases:
    # Writing a decoded file happens block by block inside the decode phase.
    if use_lm:  # LM decoding is sequential (each frame needs the previous one's codes): it dominates
        return _Phases(progress, cancel, load=2, read=60, decode=38)
    return _Phases(progress, cancel, load=2, read=3, decode=95)


def decode_file(
    src_ecdc: StrPath,
    *,
    pool: ModelPool,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    header: EcdcHeader | None = None,
) -> tuple[np.ndarray, int]:
    """Decode a `.ecdc` file in memory: float32 `[channels, frames]` at the model's rate, and the rate.
    `header`: the file's, if the caller has read it already (it is then not parsed again)."""
    src = Path(src_ecdc)
    header, data = _read_ecdc_file(src, header)
    phases = _decode_phases(progress, cancel, header.use_lm)
    pool.model(header.model, progress=phases("load"), cancel=cancel)
    audio, rate, _ = _decode(data, header, pool, phases, cancel)
    phases.finish()
    return audio, rate


def decompress_file(
    src_ecdc: StrPath,
    dst_audio: StrPath,
    *,
    pool: ModelPool,
    subtype: str = "PCM_16",
    rescale: bool = False,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    header: EcdcHeader | None = None,
) -> JobResult:
    """Decode a `.ecdc` file to .wav or .flac (`subtype` "PCM_16", "PCM_24" or "FLOAT"). `header`: the
    file's, if the caller has read it already (it is then not parsed again)."""
    started = time.perf_counter()
    src, dst = Path(src_ecdc), Path(dst_audio)
    header, data = _read_ecdc_file(src, header)
    check_audio_output(dst, subtype, overwrite=overwrite, inputs=[src])
    phases = _decode_phases(progress, cancel, header.use_lm)
    pool.model(header.model, progress=phases("load"), cancel=cancel)
    encoded = _read_codes(data, pool, phases, cancel, header=header)
    rate = get_spec(encoded.model).sample_rate
    clipped = write_audio_stream(
        dst,
        _decoded_blocks(encoded, pool, phases, cancel),
        rate,
        subtype,
        rescale,
        overwrite=overwrite,
        inputs=[src],
    )
    phases.finish()
    return _job_result(
        "decompress", src, dst, started, encoded, header.use_lm, header.lm_format, clipped=clipped
    )


def roundtrip_file(
    src_audio: StrPath,
    dst_audio: StrPath,
    *,
    pool: ModelPool,
    model_name: str,
    bandwidth: float,
    use_lm: bool = False,
    subtype: str = "PCM_16",
    rescale: bool = False,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    lm_format: str = DEFAULT_LM_FORMAT,
) -> JobResult:
    """Compress to `.ecdc` bytes in memory and decode those bytes to .wav/.flac: hear what a file sounds like.

    Like the reference CLI, it decodes the actual bitstream (LM decoding included), not the codes.
    """
    started = time.perf_counter()
    src, dst = Path(src_audio), Path(dst_audio)
    name = _check_compress_options(model_name, bandwidth, use_lm)
    info_audio(src)
    check_audio_output(dst, subtype, overwrite=overwrite, inputs=[src])
    if use_lm:  # LM coding and LM decoding dominate
        phases = _Phases(progress, cancel, load=2, read=2, encode=10, write=40, unpack=40, decode=6)
    else:
        phases = _Phases(progress, cancel, load=2, read=4, encode=45, write=2, unpack=1, decode=46)
    model = pool.model(name, progress=phases("load"), cancel=cancel)
    lm = pool.lm(name) if use_lm else None
    buffer = io.BytesIO()
    encode_audio_file(src, buffer, model, bandwidth, lm, phases, cancel, lm_format)
    ecdc_bytes = len(buffer.getvalue())
    buffer.seek(0)
    encoded = _read_codes(buffer, pool, phases, cancel, read="unpack")
    rate = model.spec.sample_rate
    blocks = _decoded_blocks(encoded, pool, phases, cancel)
    clipped = write_audio_stream(dst, blocks, rate, subtype, rescale, overwrite=overwrite, inputs=[src])
    phases.finish()
    lm_used = lm_format if use_lm else None
    return _job_result(
        "roundtrip", src, dst, started, encoded, use_lm, lm_used, clipped=clipped, ecdc_bytes=ecdc_bytes
    )


def probe(path: StrPath) -> MediaInfo:
    """Describe an audio or `.ecdc` file from its header; raises a `CodecError` for anything else.

    A file is taken as `.ecdc` when it starts with the ECDC magic or is named `*.ecdc` (`filetypes.is_ecdc`).
    """
    p = check_input(path)
    size = _file_size(p)
    if is_ecdc(p):
        header = _read_header(p)
        spec = header.spec
        return MediaInfo(
            path=p,
            kind="ecdc",
            duration_s=header.duration_s,
            sample_rate=spec.sample_rate,
            channels=spec.channels,
            size_bytes=size,
            frames=header.length,
            format="ECDC",
            header=header,
        )
    info = info_audio(p)
    return MediaInfo(
        path=p,
        kind="audio",
        duration_s=info.duration_s,
        sample_rate=info.sample_rate,
        channels=info.channels,
        size_bytes=size,
        frames=info.frames,
        format=f"{info.format} {info.subtype}",
    )
