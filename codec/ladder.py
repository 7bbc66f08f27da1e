"""A bitrate ladder: one audio encoded at several bandwidths, each rung decoded back and scored.

Each `LadderRung` holds the exact `.ecdc` size and the effective bitrate it gives, the decoded audio brought
back to the original's rate, channel count and length (sample-aligned with the original, ready for A/B
playback), and the objective metrics against the original (`codec.metrics`).

    rungs = encode_ladder(model, audio, 44_100, [1.5, 6.0, 24.0], progress=cb, cancel=token)
    for rung in rungs:
        print(rung.label, f"{rung.bitrate_kbps:.2f} kbps", rung.ecdc_bytes, rung.si_sdr)

`LadderCache` keeps rungs for a session, keyed by source file, model and bandwidth, so asking again for a
rung already made costs nothing.

With a `spool` folder, a rung is made in bounded memory: the source (an array, possibly memory-mapped) is
converted, encoded and decoded block by block through the models' streaming paths, and the decoded audio
goes to a memory-mapped file in that folder (`codec.audio.spooled_array`) instead of memory. The compare
view does this for long files, where five rungs in memory would take gigabytes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codec.audio import convert_audio, convert_stream, mapped_copy, spooled_array
from codec.metrics import log_mel_distance, si_sdr
from codec.progress import CancelToken, ProgressCallback, check_cancel, report, scaled
from codec.specs import format_bandwidth

if TYPE_CHECKING:
    from codec.models.encodec import EncodecModel, EncodedAudio

#: Share of one rung's progress spent encoding, decoding, then scoring.
_ENCODE, _DECODE = 0.45, 0.45
#: Seconds of audio per block on the spooled (long-file) path.
SPOOL_BLOCK_SECONDS = 4


@dataclass(frozen=True, eq=False)
class LadderRung:
    """One bandwidth of the ladder."""

    model: str
    bandwidth: float
    num_codebooks: int
    ecdc_bytes: int
    sample_rate: int  # the original's
    audio: np.ndarray  # float32 [C, T]: decoded, at the original's rate, channels and length
    si_sdr: float  # dB against the original, higher is better
    log_mel_distance: float  # dB against the original, lower is better

    @property
    def duration_s(self) -> float:
        return self.audio.shape[-1] / self.sample_rate

    @property
    def bitrate_kbps(self) -> float:
        """Effective bitrate: the `.ecdc` file's bits (header included) per second of audio."""
        return self.ecdc_bytes * 8 / self.duration_s / 1000 if self.duration_s else 0.0

    @property
    def label(self) -> str:
        prefix = "Opus " if self.model == OPUS else ""
        return f"{prefix}{format_bandwidth(self.bandwidth)} kbps"


#: `LadderRung.model` of a version made by the classical codec, for A/B and ABX against the neural one.
OPUS = "opus"
#: Opus cannot code below 6 kbps: the rungs it can stand beside.
OPUS_MIN_KBPS = 6.0


def opus_rung(audio: np.ndarray, sample_rate: int, kbps: float) -> LadderRung:
    """`audio` [C, T] through Opus at `kbps` (opus-tools), scored like the EnCodec rungs."""
    from codec.baselines import opus_roundtrip  # noqa: PLC0415

    audio = np.asarray(audio, dtype=np.float32)
    decoded, size = opus_roundtrip(audio, sample_rate, kbps)
    return scored_rung(OPUS, kbps, 0, size, sample_rate, audio, decoded)


def scored_rung(
    model: str,
    bandwidth: float,
    num_codebooks: int,
    size: int,
    sample_rate: int,
    original: np.ndarray,
    decoded: np.ndarray,
) -> LadderRung:
    """A rung whose metrics are those of `decoded` (aligned with `original`) against `original`."""
    return LadderRung(
        model=model,
        bandwidth=bandwidth,
        num_codebooks=num_codebooks,
        ecdc_bytes=size,
        sample_rate=sample_rate,
        audio=decoded,
        si_sdr=si_sdr(original, decoded),
        log_mel_distance=log_mel_distance(original, decoded, sample_rate),
    )


def ecdc_size(encoded: EncodedAudio, lm: Any = None) -> int:
    """Bytes of the `.ecdc` file `codec.ecdc` writes for `encoded` (entropy coded with `lm` when given)."""
    from codec.ecdc import encode_bytes  # noqa: PLC0415 - the container is only needed here

    return len(encode_bytes(encoded, lm=lm))


def model_input(model: EncodecModel, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """`audio` [C, T] converted to the model's rate and channel count (float32)."""
    spec = model.spec
    return convert_audio(np.asarray(audio, dtype=np.float32), sample_rate, spec.sample_rate, spec.channels)


def back_to_original(
    decoded: np.ndarray, model_rate: int, sample_rate: int, channels: int, length: int
) -> np.ndarray:
    """Decoded model output [c, n] -> the original's rate, channel count and exactly `length` samples."""
    out = convert_audio(np.asarray(decoded, dtype=np.float32), model_rate, sample_rate, channels)
    if out.shape[-1] >= length:
        return np.ascontiguousarray(out[:, :length])
    return np.pad(out, ((0, 0), (0, length - out.shape[-1])))


def encode_rung(
    model: EncodecModel,
    audio: np.ndarray,
    sample_rate: int,
    bandwidth: float,
    *,
    lm: Any = None,
    prepared: np.ndarray | None = None,
    size_of: Callable[[EncodedAudio], int] | None = None,
    spool: Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> LadderRung:
    """Encode `audio` [C, T] at `sample_rate` with `model` at `bandwidth`, decode, align and score it.

    `prepared` is `model_input(model, audio, sample_rate)` when the caller already has it. `size_of` gives
    the `.ecdc` size of the codes (default: `ecdc_size` with `lm`). With `spool` (a folder), the rung is
    made block by block and its audio is memory-mapped from a file there (see the module docstring).
    Progress is in thousandths.
    """
    import torch  # noqa: PLC0415 - keep `import codec.ladder` free of torch

    if audio.ndim != 2 or audio.shape[-1] == 0:
        raise ValueError("audio must be a non-empty [C, T] array.")
    model.spec.check_bandwidth(bandwidth)
    if spool is not None:
        return _encode_rung_spooled(
            model, audio, sample_rate, bandwidth, lm, size_of, spool, progress, cancel
        )
    audio = np.asarray(audio, dtype=np.float32)
    if prepared is None:
        prepared = model_input(model, audio, sample_rate)
    check_cancel(cancel)
    encoded = model.encode(
        torch.from_numpy(prepared), bandwidth, progress=scaled(progress, 0.0, _ENCODE), cancel=cancel
    )
    size = size_of(encoded) if size_of is not None else ecdc_size(encoded, lm)
    check_cancel(cancel)
    decoded = model.decode(encoded, progress=scaled(progress, _ENCODE, _DECODE), cancel=cancel)
    check_cancel(cancel)
    aligned = back_to_original(
        decoded.numpy(), model.spec.sample_rate, sample_rate, audio.shape[0], audio.shape[-1]
    )
    rung = scored_rung(model.spec.name, bandwidth, encoded.num_codebooks, size, sample_rate, audio, aligned)
    report(progress, 1000, 1000)
    return rung


def _encode_rung_spooled(
    model: EncodecModel,
    audio: np.ndarray,
    sample_rate: int,
    bandwidth: float,
    lm: Any,
    size_of: Callable[[EncodedAudio], int] | None,
    spool: Path,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> LadderRung:
    import torch  # noqa: PLC0415

    spec = model.spec
    channels, length = audio.shape
    block = SPOOL_BLOCK_SECONDS * sample_rate
    pieces = (audio[:, start : start + block] for start in range(0, length, block))
    model_blocks = convert_stream(
        pieces, sample_rate, spec.sample_rate, spec.channels, SPOOL_BLOCK_SECONDS * spec.sample_rate
    )
    encoded = model.encode_stream(
        (torch.from_numpy(b) for b in model_blocks),
        bandwidth,
        total_length=-(-length * spec.sample_rate // sample_rate),
        progress=scaled(progress, 0.0, _ENCODE),
        cancel=cancel,
    )
    size = size_of(encoded) if size_of is not None else ecdc_size(encoded, lm)
    check_cancel(cancel)
    out, path = spooled_array(spool, channels, length)
    try:
        decoded = (
            b.detach().cpu().numpy()
            for b in model.decode_stream(encoded, progress=scaled(progress, _ENCODE, _DECODE), cancel=cancel)
        )
        written = 0
        for piece in convert_stream(decoded, spec.sample_rate, sample_rate, channels, block):
            count = min(piece.shape[1], length - written)
            out[:, written : written + count] = piece[:, :count]
            written += count  # a shorter decode leaves the zeros the file starts with: padded like in memory
        out.flush()
        del out
        aligned = mapped_copy(path)
    except BaseException:
        path.unlink(missing_ok=True)  # a cancelled or failed rung leaves no file
        raise
    rung = scored_rung(spec.name, bandwidth, encoded.num_codebooks, size, sample_rate, audio, aligned)
    report(progress, 1000, 1000)
    return rung


def source_key(path: str | os.PathLike[str]) -> str:
    """Identity of a source file for caching: resolved path, size and modification time."""
    p = Path(path).resolve()
    st = p.stat()
    return f"{p}|{st.st_size}|{st.st_mtime_ns}"


class LadderCache:
    """Rungs kept for a session, keyed by (source key, model, bandwidth, with LM). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rungs: dict[tuple[str, str, float, bool], LadderRung] = {}

    @staticmethod
    def key(source: str, model: str, bandwidth: float, lm: bool = False) -> tuple[str, str, float, bool]:
        return (source, model, round(float(bandwidth), 6), bool(lm))

    def get(self, source: str, model: str, bandwidth: float, lm: bool = False) -> LadderRung | None:
        with self._lock:
            return self._rungs.get(self.key(source, model, bandwidth, lm))

    def put(self, source: str, rung: LadderRung, lm: bool = False) -> None:
        with self._lock:
            self._rungs[self.key(source, rung.model, rung.bandwidth, lm)] = rung

    def __len__(self) -> int:
        with self._lock:
            return len(self._rungs)

    def clear(self) -> None:
        with self._lock:
            self._rungs.clear()


def encode_ladder(
    model: EncodecModel,
    audio: np.ndarray,
    sample_rate: int,
    bandwidths: Sequence[float] | None = None,
    *,
    lm: Any = None,
    cache: LadderCache | None = None,
    source: str | None = None,
    size_of: Callable[[EncodedAudio], int] | None = None,
    spool: Path | None = None,
    opus: Sequence[float] = (),
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[LadderRung]:
    """One `LadderRung` per bandwidth (default: all the model offers), in the order given; with `spool`,
    made in bounded memory with their audio on disk (see `encode_rung`). Then one Opus rung per kbps of
    `opus` (`opus_rung`; in memory), for comparing with the classical codec at the same bitrates.

    With a `cache` and a `source` key (`source_key(path)`), rungs already in the cache are reused and new
    ones are added. Progress is in thousandths of the whole ladder; `cancel` is checked between and inside
    rungs (raises `Cancelled`; rungs finished before that stay cached).
    """
    bandwidths = list(model.spec.bandwidths if bandwidths is None else bandwidths)
    for bandwidth in bandwidths:
        model.spec.check_bandwidth(bandwidth)
    use_cache = cache is not None and source is not None
    prepared: np.ndarray | None = None
    rungs: list[LadderRung] = []
    for index, bandwidth in enumerate(bandwidths):
        check_cancel(cancel)
        rung = cache.get(source, model.spec.name, bandwidth, lm is not None) if use_cache else None
        if rung is None:
            if prepared is None and spool is None:
                prepared = model_input(model, audio, sample_rate)
            rung = encode_rung(
                model,
                audio,
                sample_rate,
                bandwidth,
                lm=lm,
                prepared=prepared,
                size_of=size_of,
                spool=spool,
                progress=scaled(progress, index / len(bandwidths), 1 / len(bandwidths)),
                cancel=cancel,
            )
            if use_cache:
                cache.put(source, rung, lm is not None)
        rungs.append(rung)
        report(progress, int(1000 * (index + 1) / len(bandwidths)), 1000)
    for kbps in opus:
        check_cancel(cancel)
        rungs.append(opus_rung(audio, sample_rate, kbps))
    return rungs
