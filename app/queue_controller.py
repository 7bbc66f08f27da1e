"""`CompressionQueue`: adds files to the `QueueModel`, compresses queued items one at a time and runs the
per-item jobs (export, decode for playback, save a copy), all through a `TaskRunner`.

It never touches widgets. Outcomes land in the model (the table repaints itself) and in signals the main
window connects to. A failing item is marked with its error and the queue moves on to the next one.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.codec_bridge import CodecBridge
from app.queue_model import ItemKind, ItemState, QueueItem, QueueModel, kind_for_path
from app.settings import OverwritePolicy
from app.tasks import TaskHandle, TaskRunner
from codec.errors import Cancelled, CodecError, WeightsMissing
from codec.fileio import atomic_copy
from codec.filetypes import output_path_for
from codec.specs import MODELS
from codec.weights.registry import required_weights

log = logging.getLogger(__name__)


class OverwriteChoice(enum.Enum):
    OVERWRITE = "overwrite"
    KEEP_BOTH = "keep_both"  # write under a unique name
    SKIP = "skip"


AskOverwrite = Callable[[Path], OverwriteChoice]


class ItemAction(enum.Enum):
    """A per-item job besides compressing, as `action_finished` / `action_failed` name it (value: the word
    the status line uses)."""

    EXPORT = "export"  # decode into a WAV or FLAC file; result: its path
    DECODE = "decode"  # decode to memory for playback; result: (audio [C, T], sample_rate)
    SAVE = "save"  # copy the `.ecdc` elsewhere; result: its path


#: Files probed by one worker task.
PROBE_BATCH = 32


@dataclass
class CompressSettings:
    model_name: str
    bandwidth: float
    use_lm: bool


def error_message(exc: BaseException) -> str:
    """One line for a row: the engine's own sentence, or the exception type for an unexpected failure."""
    if isinstance(exc, CodecError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return f"{type(exc).__name__}: {exc}"


class CompressionQueue(QObject):
    """Runs the queue: probing on the I/O lane, compression and decoding on the model lane."""

    item_started = Signal(int)
    item_finished = Signal(int)  # compressed successfully
    item_failed = Signal(int, str)
    item_cancelled = Signal(int)
    running_changed = Signal(bool)
    queue_finished = Signal()  # the last queued item is over, whichever way
    #: A job needs weights that are not installed: (registry name, the engine's sentence). A compression
    #: pauses the queue until `resume()` (after installing them) or `skip_missing_weights()`.
    weights_missing = Signal(str, str)
    action_finished = Signal(int, object, object)  # item id, ItemAction, result
    action_failed = Signal(int, object, str)  # item id, ItemAction, message

    def __init__(
        self, model: QueueModel, runner: TaskRunner, bridge: CodecBridge, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.runner = runner
        self.bridge = bridge
        self.output_dir: Path | None = None
        self.overwrite = OverwritePolicy.UNIQUE
        self.ask_overwrite: AskOverwrite = lambda path: OverwriteChoice.KEEP_BOTH
        self._current: tuple[int, TaskHandle] | None = None
        self._actions: dict[int, tuple[int, TaskHandle]] = {}  # action serial -> (item id, handle)
        self._action_serial = 0
        self._probes: dict[int, TaskHandle] = {}
        self._queue_when_ready: set[int] = set()
        self._running = False
        self._paused = False

    # --- adding files -------------------------------------------------------------------------------------
    def add_files(
        self, paths: Iterable[Path], settings: CompressSettings, keys: list[str] | None = None
    ) -> list[int]:
        """Add audio and `.ecdc` files not already in the queue; they are probed in the background.
        `keys`: the paths' `queue_model.path_key`s, when already computed off the UI thread."""
        paths = list(paths)
        kinds = [kind_for_path(path) for path in paths]
        entries = [(path, kind) for path, kind in zip(paths, kinds) if kind is not None]
        if keys is not None:
            keys = [key for key, kind in zip(keys, kinds) if kind is not None]
        items = self.model.add_many(entries, settings.model_name, settings.bandwidth, settings.use_lm, keys)
        for item in items:
            if item.kind is ItemKind.ECDC:
                self.model.update(item.id, model_name="", bandwidth=0.0, use_lm=False)
        for start in range(0, len(items), PROBE_BATCH):
            self._probe(items[start : start + PROBE_BATCH])
        return [item.id for item in items]

    def _probe(self, items: list[QueueItem]) -> None:
        """Probe several files in one worker task: a task per file would cost the UI thread more than
        the probing itself when thousands are dropped at once."""
        jobs = [(item.id, item.path) for item in items]
        bridge = self.bridge

        def probe_all(progress: Callable[[int, int], None], cancel: Any) -> list[tuple[int, Any, Any]]:
            results: list[tuple[int, Any, Any]] = []
            for item_id, path in jobs:
                cancel.raise_if_cancelled()
                try:
                    results.append((item_id, bridge.probe(path), None))
                except Exception as exc:  # noqa: BLE001 - reported on the item's row
                    results.append((item_id, None, exc))
            return results

        def done(results: list[tuple[int, Any, Any]]) -> None:
            for item_id, info, exc in results:
                if exc is None:
                    self._probe_done(item_id, info)
                else:
                    self._probe_failed(item_id, exc)

        def failed(exc: BaseException) -> None:
            for item_id, _ in jobs:
                self._probe_failed(item_id, exc)

        handle = self.runner.run(probe_all, on_done=done, on_error=failed, lane="probe")
        if not handle.finished:  # a synchronous runner has already settled them
            for item_id, _ in jobs:
                self._probes[item_id] = handle

    def _probe_done(self, item_id: int, info: Any) -> None:
        self._probes.pop(item_id, None)
        item = self.model.item(item_id)
        if item is None:
            return
        changes: dict[str, Any] = {
            "duration_s": getattr(info, "duration_s", None),
            "sample_rate": getattr(info, "sample_rate", None),
            "channels": getattr(info, "channels", None),
            "size_bytes": getattr(info, "size_bytes", None),
        }
        kind = getattr(info, "kind", None)
        if item.kind is ItemKind.ECDC or kind == "ecdc":
            header = getattr(info, "header", None)
            changes.update(
                kind=ItemKind.ECDC,
                model_name=str(getattr(header, "model", "")),
                bandwidth=float(getattr(header, "bandwidth", 0.0) or 0.0),
                use_lm=bool(getattr(header, "use_lm", False)),
                lm_format=getattr(header, "lm_format", None),
            )
            if changes["duration_s"] is None:
                changes["duration_s"] = getattr(header, "duration_s", None)
        queued = item_id in self._queue_when_ready and changes.get("kind", item.kind) is ItemKind.AUDIO
        self._queue_when_ready.discard(item_id)
        changes["state"] = ItemState.QUEUED if queued else ItemState.READY
        self.model.update(item_id, **changes)
        if queued:
            self._kick()

    def _probe_failed(self, item_id: int, exc: BaseException) -> None:
        self._probes.pop(item_id, None)
        self._queue_when_ready.discard(item_id)
        message = self._row_message(item_id, exc)
        if self.model.update(item_id, state=ItemState.FAILED, message=message) is not None:
            self.item_failed.emit(item_id, message)
        self._kick()

    # --- settings of waiting items ------------------------------------------------------------------------
    def apply_settings(self, item_ids: Iterable[int], settings: CompressSettings) -> list[int]:
        """Give not-yet-started audio items new settings; returns the ids that changed."""
        changed = []
        spec = MODELS[settings.model_name]
        use_lm = settings.use_lm and spec.has_lm
        for item_id in item_ids:
            item = self.model.item(item_id)
            if item is None or not (item.is_waiting or item.is_compressible):
                continue
            self.model.update(
                item_id, model_name=settings.model_name, bandwidth=settings.bandwidth, use_lm=use_lm
            )
            changed.append(item_id)
        return changed

    # --- compressing --------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    @property
    def current_item(self) -> int | None:
        return None if self._current is None else self._current[0]

    def compressible_ids(self) -> list[int]:
        return [item.id for item in self.model.items() if item.is_compressible or _retryable(item)]

    def start(self, item_ids: Iterable[int] | None = None) -> int:
        """Queue the given audio items (default: all not yet compressed) and start; returns how many queued."""
        ids = set(self.compressible_ids() if item_ids is None else item_ids)
        count = 0
        for item in self.model.items():
            if item.id not in ids or item.kind is not ItemKind.AUDIO:
                continue
            if item.state is ItemState.PROBING:
                self._queue_when_ready.add(item.id)
                count += 1
            elif item.is_compressible or _retryable(item):
                self.model.update(item.id, state=ItemState.QUEUED, progress=0.0, message="")
                count += 1
        self._kick()
        return count

    def _kick(self) -> None:
        if self._current is not None or self._paused:
            return
        for item in self.model.items():
            if item.state is ItemState.QUEUED:
                if self._start_item(item):
                    return
        if self._running and not self._queue_when_ready:
            self._set_running(False)
            self.queue_finished.emit()

    def _start_item(self, item: QueueItem) -> bool:
        """Start compressing `item`; False when it was settled without a job (skipped, or refused)."""
        spec = MODELS.get(item.model_name)
        if spec is None:
            self._fail(item.id, f"Unknown model {item.model_name!r}.")
            return False
        destination = self._destination(item)
        if destination is None:
            return False
        dst, overwrite = destination
        item_id, src, bridge = item.id, item.path, self.bridge
        settings = CompressSettings(item.model_name, item.bandwidth, item.use_lm and spec.has_lm)

        def job(progress: Callable[[int, int], None], cancel: Any) -> Any:
            dst.parent.mkdir(parents=True, exist_ok=True)
            return bridge.compress(
                src,
                dst,
                model_name=settings.model_name,
                bandwidth=settings.bandwidth,
                use_lm=settings.use_lm,
                overwrite=overwrite,
                progress=progress,
                cancel=cancel,
            )

        self.model.update(item_id, state=ItemState.RUNNING, progress=0.0, message="", output_path=dst)
        self._set_running(True)
        self.item_started.emit(item_id)
        handle = self.runner.run(
            job,
            on_progress=lambda done, total: self._progress(item_id, done, total),
            on_done=lambda result: self._item_done(item_id, result),
            on_error=lambda exc: self._item_error(item_id, exc),
        )
        if not handle.finished:  # a synchronous runner has already settled it
            self._current = (item_id, handle)
        return True

    def _destination(self, item: QueueItem) -> tuple[Path, bool] | None:
        dst = output_path_for(item.path, self.output_dir)
        if not dst.exists():
            return dst, False
        policy = self.overwrite
        if policy is OverwritePolicy.NEVER:
            self._fail(item.id, f"{dst.name} already exists and the overwrite policy is 'never'.")
            return None
        choice = OverwriteChoice.KEEP_BOTH if policy is OverwritePolicy.UNIQUE else self.ask_overwrite(dst)
        if choice is OverwriteChoice.OVERWRITE:
            return dst, True
        if choice is OverwriteChoice.SKIP:
            self.model.update(item.id, state=ItemState.CANCELLED, message=f"Skipped: {dst.name} exists")
            self.item_cancelled.emit(item.id)
            return None
        from codec.fileio import unique_path  # noqa: PLC0415 - no torch, but keep start-up lean

        return unique_path(dst), False

    def _progress(self, item_id: int, done: int, total: int) -> None:
        fraction = min(1.0, max(0.0, done / total)) if total else 0.0
        self.model.update(item_id, progress=fraction)

    def _item_done(self, item_id: int, result: Any) -> None:
        self._current = None
        output = getattr(result, "dst", None)
        changes: dict[str, Any] = {
            "state": ItemState.DONE,
            "progress": 1.0,
            "message": "",
            "output_bytes": getattr(result, "output_bytes", None),
        }
        if output is not None:
            changes["output_path"] = Path(output)
        if getattr(result, "input_bytes", None):
            changes["size_bytes"] = result.input_bytes
        if getattr(result, "duration_s", None):
            changes["duration_s"] = result.duration_s
        if getattr(result, "seconds_taken", None) is not None:
            changes["seconds_taken"] = float(result.seconds_taken)
        if getattr(result, "lm_format", None):
            changes["lm_format"] = result.lm_format
        self.model.update(item_id, **changes)
        self.item_finished.emit(item_id)
        self._kick()

    def _item_error(self, item_id: int, exc: BaseException) -> None:
        self._current = None
        item = self.model.item(item_id)
        if isinstance(exc, Cancelled):
            self.model.update(item_id, state=ItemState.CANCELLED, progress=0.0, message="", output_path=None)
            self.item_cancelled.emit(item_id)
        elif isinstance(exc, WeightsMissing) and item is not None:
            # Pause with the item back in the queue; the window asks to download or import the weights.
            self.model.update(item_id, state=ItemState.QUEUED, progress=0.0, output_path=None)
            self._paused = True
            self.weights_missing.emit(exc.name, error_message(exc))
            return
        else:
            if not isinstance(exc, CodecError):
                log.error("compressing item %s failed", item_id, exc_info=exc)
            self.model.update(item_id, output_path=None)
            self._fail(item_id, self._row_message(item_id, exc))
        self._kick()

    def _row_message(self, item_id: int, exc: BaseException) -> str:
        """The error for a row: the engine's sentence, with the row's own file named rather than spelled out."""
        message = error_message(exc)
        item = self.model.item(item_id)
        if item is not None:
            message = message.replace(str(item.path), item.path.name)
        return message

    def _fail(self, item_id: int, message: str) -> None:
        self.model.update(item_id, state=ItemState.FAILED, progress=0.0, message=message)
        self.item_failed.emit(item_id, message)

    def _set_running(self, running: bool) -> None:
        if running != self._running:
            self._running = running
            self.running_changed.emit(running)

    @property
    def paused(self) -> bool:
        return self._paused

    def resume(self) -> None:
        """Carry on after a `weights_missing` pause (the weights are now installed)."""
        self._paused = False
        self._kick()

    def skip_missing_weights(self, weights_name: str, message: str) -> None:
        """Fail the queued items that need the missing weights, then carry on with the others."""
        for item in self.model.items():
            if item.state is ItemState.QUEUED and weights_name in required_weights(
                item.model_name, item.use_lm
            ):
                self._fail(item.id, message)
        self.resume()

    # --- cancelling ---------------------------------------------------------------------------------------
    def cancel(self, item_ids: Iterable[int]) -> None:
        """Cancel queued or running compressions and running actions of these items."""
        ids = set(item_ids)
        for item_id in ids:
            self._queue_when_ready.discard(item_id)
            item = self.model.item(item_id)
            if item is not None and item.state is ItemState.QUEUED:
                self.model.update(item_id, state=ItemState.CANCELLED, progress=0.0)
                self.item_cancelled.emit(item_id)
        if self._current is not None and self._current[0] in ids:
            self._current[1].cancel()
        for item_id, handle in list(self._actions.values()):
            if item_id in ids:
                handle.cancel()
        if self._current is None:
            self._kick()

    def cancel_all(self) -> None:
        ids = {item.id for item in self.model.items()}
        self._queue_when_ready.clear()
        self.cancel(ids)
        for handle in self._probes.values():
            handle.cancel()

    def busy(self) -> bool:
        """Whether a compression or an action is in progress (closing the window should ask first)."""
        return self._current is not None or bool(self._actions) or bool(self._queue_when_ready)

    def clear_finished(self) -> int:
        return self.model.remove(
            [item.id for item in self.model.items() if item.is_finished and not item.is_busy]
        )

    def remove(self, item_ids: Iterable[int]) -> int:
        """Remove rows that are not running (queued ones are dropped from the queue)."""
        ids = [i for i in item_ids if not (self._current is not None and self._current[0] == i)]
        for item_id in ids:
            self._queue_when_ready.discard(item_id)
        return self.model.remove(ids)

    # --- per-item actions ---------------------------------------------------------------------------------
    def export_audio(self, item_id: int, dst: Path, subtype: str = "PCM_16") -> TaskHandle | None:
        """Decode this row's `.ecdc` into `dst` (wav or flac by its suffix); the person already chose `dst`."""
        item = self.model.item(item_id)
        if item is None or item.ecdc_path is None:
            return None
        src, bridge = item.ecdc_path, self.bridge

        def job(progress: Callable[[int, int], None], cancel: Any) -> Path:
            bridge.decompress(src, dst, subtype=subtype, overwrite=True, progress=progress, cancel=cancel)
            return dst

        return self._action(
            item_id, ItemAction.EXPORT, "Exporting", job, note=lambda path: f"Exported {Path(path).name}"
        )

    def decode(self, item_id: int) -> TaskHandle | None:
        """Decode this row's `.ecdc` to memory; `action_finished(id, DECODE, (audio [C, T], sample_rate))`."""
        item = self.model.item(item_id)
        if item is None or item.ecdc_path is None:
            return None
        src, bridge = item.ecdc_path, self.bridge
        return self._action(
            item_id,
            ItemAction.DECODE,
            "Decoding",
            lambda progress, cancel: bridge.decode(src, progress=progress, cancel=cancel),
        )

    def save_ecdc_as(self, item_id: int, dst: Path) -> TaskHandle | None:
        """Copy this row's `.ecdc` to `dst`."""
        item = self.model.item(item_id)
        if item is None or item.ecdc_path is None:
            return None
        src = item.ecdc_path

        def save(progress: Any, cancel: Any) -> Path:
            dst.parent.mkdir(parents=True, exist_ok=True)
            return atomic_copy(src, dst, overwrite=True)

        return self._action(
            item_id,
            ItemAction.SAVE,
            "Saving",
            save,
            note=lambda path: f"Saved {Path(path).name}",
            lane="io",
        )

    def _action(
        self,
        item_id: int,
        action: ItemAction,
        activity: str,
        job: Callable[[Callable[[int, int], None], Any], Any],
        note: Callable[[Any], str] | None = None,
        lane: str = "model",
    ) -> TaskHandle:
        self._action_serial += 1
        serial = self._action_serial
        self.model.update(item_id, activity=activity, progress=0.0)

        def done(result: Any) -> None:
            self._actions.pop(serial, None)
            changes: dict[str, Any] = {"activity": None, "progress": 0.0}
            if note is not None:
                changes["message"] = note(result)
            self.model.update(item_id, **changes)
            self.action_finished.emit(item_id, action, result)

        def failed(exc: BaseException) -> None:
            self._actions.pop(serial, None)
            message = "Cancelled." if isinstance(exc, Cancelled) else error_message(exc)
            self.model.update(item_id, activity=None, progress=0.0)
            self.action_failed.emit(item_id, action, message)
            if isinstance(exc, WeightsMissing):
                self.weights_missing.emit(exc.name, message)

        handle = self.runner.run(
            job,
            on_progress=lambda d, t: self._progress(item_id, d, t),
            on_done=done,
            on_error=failed,
            lane=lane,
        )
        if not handle.finished:
            self._actions[serial] = (item_id, handle)
        return handle

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel everything and wait for the workers (used when the window closes)."""
        self._paused = True
        self.cancel_all()
        return self.runner.wait(timeout_ms)


def _retryable(item: QueueItem) -> bool:
    """A failed audio item whose file was read fine (the compression itself failed): worth another try."""
    return item.kind is ItemKind.AUDIO and item.state is ItemState.FAILED and item.duration_s is not None
