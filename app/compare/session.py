"""The compare view's state and work, without widgets: the source audio, the ladder, spectrogram images.

Every slow step runs on the `TaskRunner` (never on the UI thread) and reports back with a signal:

    session = CompareSession(path, runner, pool, "encode_24khz")
    session.source_loaded.connect(...)     # the original is in `session.audio`
    session.run_ladder([1.5, 6.0, 24.0])  # -> ladder_progress, then ladder_finished(rungs) or ladder_failed(msg)
    session.request_image(1, "signal", "mel")   # -> image_ready(SpectrogramImage)

Versions are numbered as the player numbers them: 0 is the original, 1..n the ladder's rungs in order.
Ladder rungs are kept for the whole application session in `SESSION_CACHE` (keyed by file, model and
bandwidth), so reopening a file's compare view does not encode again; spectrograms are kept per session.

A file longer than `ON_DISK_SECONDS` is compared in bounded memory: the original is read into a
memory-mapped spool file, each rung is encoded and decoded block by block into another one
(`codec.ladder`), and spectrograms read them a block of frames at a time. The files live in a private
temporary folder; on POSIX they are unlinked as soon as they are mapped, so nothing outlives the app.
Their disk space (4 bytes per sample and channel: 635 MB per version of an hour of 44.1 kHz stereo) is
held while `SESSION_CACHE` keeps the rungs, that is until the app quits.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.tasks import TaskHandle, TaskRunner
from codec.errors import Cancelled
from codec.ladder import LadderCache, LadderRung, encode_ladder, source_key
from codec.metrics import default_n_fft
from codec.spectrogram import FrequencyScale, Spectrogram, compute_spectrogram

ImageKind = Literal["signal", "difference"]

#: Ladder rungs kept for the application's lifetime, shared by every compare window.
SESSION_CACHE = LadderCache()

#: Rows of a log or mel image (a linear image keeps one row per FFT bin).
MAPPED_ROWS = 320

#: Versions of files longer than this are kept on disk, memory-mapped (5 rungs of an hour of 44.1 kHz
#: stereo would take 3 GB of memory; on disk, memory use no longer grows with the length).
ON_DISK_SECONDS = 300.0

_spool_dir: Path | None = None


def spool_dir() -> Path:
    """The app's private temporary folder for on-disk versions, created on first use, removed at exit."""
    global _spool_dir
    if _spool_dir is None:
        _spool_dir = Path(tempfile.mkdtemp(prefix="encodec-studio-compare-"))
        atexit.register(shutil.rmtree, _spool_dir, True)
    return _spool_dir


@dataclass(frozen=True)
class SpectrogramImage:
    """A dB image ready for `SpectrogramView.set_image`, and what it shows."""

    version: int
    kind: ImageKind
    scale: FrequencyScale
    db: np.ndarray  # [frames, rows]
    edges: np.ndarray  # row edges in the scale's units
    x0: float  # seconds
    x1: float


def make_image(
    spectrogram: Spectrogram, version: int, kind: ImageKind, scale: FrequencyScale
) -> SpectrogramImage:
    db, edges = spectrogram.image(scale, None if scale == "linear" else MAPPED_ROWS)
    half_frame = spectrogram.hop / spectrogram.sample_rate / 2
    return SpectrogramImage(
        version,
        kind,
        scale,
        db,
        edges,
        -half_frame,
        spectrogram.frames * spectrogram.hop / spectrogram.sample_rate - half_frame,
    )


class CompareSession(QObject):
    """Loads one source file and produces its ladder and spectrograms on the task runner."""

    source_loaded = Signal()
    source_failed = Signal(str)
    ladder_started = Signal()
    ladder_progress = Signal(int, int)
    ladder_finished = Signal(list)  # list[LadderRung]
    ladder_failed = Signal(str)  # "" when cancelled
    image_ready = Signal(object)  # SpectrogramImage
    image_failed = Signal(str)

    def __init__(
        self,
        source_path: Path,
        runner: TaskRunner,
        pool: Any,
        model_name: str,
        parent: QObject | None = None,
        cache: LadderCache | None = None,
    ) -> None:
        super().__init__(parent)
        self.source_path = Path(source_path)
        self.runner = runner
        self.pool = pool
        self.model_name = model_name
        self.cache = SESSION_CACHE if cache is None else cache
        self.audio: np.ndarray | None = None  # [C, T] float32
        self.sample_rate = 0
        self.rungs: list[LadderRung] = []
        self._ladder_handle: TaskHandle | None = None
        self._spectrograms: dict[tuple[int, ImageKind], Spectrogram] = {}
        self._pending: set[tuple[int, ImageKind, FrequencyScale]] = set()
        self._closed = False

    # -- the source ---------------------------------------------------------------------------------

    def load(self) -> None:
        """Read the source file on a worker; `source_loaded` or `source_failed` follows."""
        from codec.audio import info_audio, read_audio, read_audio_spooled  # noqa: PLC0415 - only when a window opens

        path = self.source_path

        def read(progress: Any, cancel: Any) -> tuple[np.ndarray, int]:
            if info_audio(path).duration_s > ON_DISK_SECONDS:
                return read_audio_spooled(path, spool_dir())
            return read_audio(path)

        self.runner.run(
            read,
            on_done=self._loaded,
            on_error=lambda exc: self._emit(self.source_failed, str(exc)),
            lane="io",
        )

    def _loaded(self, result: tuple[np.ndarray, int]) -> None:
        if self._closed:
            return
        self.audio, self.sample_rate = result
        self.source_loaded.emit()

    @property
    def loaded(self) -> bool:
        return self.audio is not None

    @property
    def duration(self) -> float:
        return self.audio.shape[-1] / self.sample_rate if self.audio is not None else 0.0

    @property
    def on_disk(self) -> bool:
        """Whether this file's versions are kept on disk (long files), not in memory."""
        return self.duration > ON_DISK_SECONDS

    @property
    def source_bytes(self) -> int:
        try:
            return self.source_path.stat().st_size
        except OSError:
            return 0

    # -- versions -----------------------------------------------------------------------------------

    def version_count(self) -> int:
        return 1 + len(self.rungs)

    def version_audio(self, index: int) -> np.ndarray:
        if self.audio is None:
            raise RuntimeError("the source is not loaded yet.")
        return self.audio if index == 0 else self.rungs[index - 1].audio

    def version_label(self, index: int) -> str:
        return "Original" if index == 0 else self.rungs[index - 1].label

    def versions(self) -> list[np.ndarray]:
        return [self.version_audio(i) for i in range(self.version_count())]

    # -- the ladder ---------------------------------------------------------------------------------

    @property
    def ladder_running(self) -> bool:
        return self._ladder_handle is not None

    def cached_bandwidths(self, bandwidths: Sequence[float]) -> list[float]:
        """Which of `bandwidths` the session cache already holds for this file and model."""
        try:
            key = source_key(self.source_path)
        except OSError:
            return []
        from codec.specs import get_spec  # noqa: PLC0415

        name = get_spec(self.model_name).name
        return [b for b in bandwidths if self.cache.get(key, name, b) is not None]

    def run_ladder(self, bandwidths: Sequence[float], opus: Sequence[float] = ()) -> None:
        """Encode the source at `bandwidths` (cached rungs are reused) on the model lane, then through Opus
        at the `opus` bitrates."""
        if self.audio is None or self.ladder_running or not bandwidths:
            return
        audio, rate, pool, name, cache = self.audio, self.sample_rate, self.pool, self.model_name, self.cache
        key = source_key(self.source_path)
        wanted = sorted(bandwidths)
        spool = spool_dir() if self.on_disk else None

        def job(progress: Any, cancel: Any) -> list[LadderRung]:
            model = pool.model(name)
            return encode_ladder(
                model,
                audio,
                rate,
                wanted,
                cache=cache,
                source=key,
                spool=spool,
                opus=list(opus),
                progress=progress,
                cancel=cancel,
            )

        self.ladder_started.emit()
        self._ladder_handle = self.runner.run(
            job, on_progress=self._ladder_progress, on_done=self._ladder_done, on_error=self._ladder_error
        )
        if self._ladder_handle is not None and getattr(self._ladder_handle, "finished", False):
            self._ladder_handle = None  # a synchronous runner already reported back

    def cancel_ladder(self) -> None:
        if self._ladder_handle is not None:
            self._ladder_handle.cancel()

    def _ladder_progress(self, done: int, total: int) -> None:
        self._emit(self.ladder_progress, done, total)

    def _ladder_done(self, rungs: list[LadderRung]) -> None:
        self._ladder_handle = None
        if self._closed:
            return
        self.rungs = list(rungs)
        self._spectrograms = {k: v for k, v in self._spectrograms.items() if k[0] == 0 and k[1] == "signal"}
        self._pending.clear()
        self.ladder_finished.emit(self.rungs)

    def _ladder_error(self, exc: BaseException) -> None:
        self._ladder_handle = None
        self._emit(self.ladder_failed, "" if isinstance(exc, Cancelled) else str(exc))

    # -- spectrograms -------------------------------------------------------------------------------

    def request_image(self, version: int, kind: ImageKind, scale: FrequencyScale) -> None:
        """Compute (or reuse) the spectrogram of a version or of its difference from the original, mapped
        to `scale`, on a worker; `image_ready` follows."""
        if self.audio is None or not 0 <= version < self.version_count():
            return
        if kind == "difference" and version == 0:
            return
        request = (version, kind, scale)
        if request in self._pending:
            return
        self._pending.add(request)
        cached = self._spectrograms.get((version, kind))
        signal = self.version_audio(version)
        minus = self.audio if kind == "difference" else None  # subtracted block by block, not up front
        rate = self.sample_rate
        rungs = self.rungs

        def job(progress: Any, cancel: Any) -> tuple[Spectrogram, SpectrogramImage]:
            spectrogram = cached or compute_spectrogram(
                signal, rate, n_fft=default_n_fft(rate), minus=minus, progress=progress, cancel=cancel
            )
            return spectrogram, make_image(spectrogram, version, kind, scale)

        def done(result: tuple[Spectrogram, SpectrogramImage]) -> None:
            self._pending.discard(request)
            if self._closed or rungs is not self.rungs:
                return  # the ladder changed meanwhile: this image is of versions that are gone
            self._spectrograms[(version, kind)] = result[0]
            self.image_ready.emit(result[1])

        def failed(exc: BaseException) -> None:
            self._pending.discard(request)
            if not isinstance(exc, Cancelled):
                self._emit(self.image_failed, str(exc))

        self.runner.run(job, on_done=done, on_error=failed, lane="io")

    def close(self) -> None:
        """Stop reporting (the window is closing) and cancel the ladder."""
        self._closed = True
        self.cancel_ladder()

    def _emit(self, signal: Any, *args: Any) -> None:
        if not self._closed:
            signal.emit(*args)
