"""Run slow work off the UI thread and hear back on it: `TaskRunner.run(fn, on_done=..., ...)`.

Modelled on Picard's `run_task`: the caller hands over a plain function and callbacks; the function runs
on a worker thread and every callback runs later on the UI thread, so callbacks may touch widgets.

    runner = TaskRunner()
    handle = runner.run(
        lambda progress, cancel: compress_file(src, dst, pool=pool, model_name=name, bandwidth=6.0,
                                               progress=progress, cancel=cancel),
        on_progress=lambda done, total: bar.setValue(int(100 * done / total)),
        on_done=lambda result: label.setText(f"{result.ratio:.0f}:1"),
        on_error=lambda exc: label.setText(str(exc)),   # `codec.errors.Cancelled` after handle.cancel()
    )
    handle.cancel()   # the job sees it at its next `cancel.raise_if_cancelled()`

Contract, kept stable for every user of this module:

- `fn(progress, cancel)` gets a `ProgressCallback` (done, total) and a `CancelToken`; its return value goes to
  `on_done(result)`; any exception it raises (including `Cancelled`) goes to `on_error(exc)`. Exactly one of
  the two is called, once, on the UI thread. Progress reaching the UI is throttled (about 25 updates a
  second, the last one before completion always delivered).
- Lanes: `lane="model"` (the default) runs on one dedicated worker thread, so model jobs run one after
  another and a model loaded into a `ModelPool` is reused by the next job instead of competing for the
  same cores; `lane="io"` runs on a small pool for work that does not hold a model (probing files,
  downloads, copies).
- `TaskRunner(synchronous=True)` runs `fn` inside `run()` on the calling thread and calls the callbacks
  before `run()` returns: tests drive controllers step by step without an event loop.
- `cancel_all()` cancels every unfinished task; `wait(timeout_ms)` blocks until the worker threads are
  idle (callbacks still pending in the event queue are delivered by the next event-loop turn).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from codec.progress import CancelToken, ProgressCallback

TaskFn = Callable[[ProgressCallback, CancelToken], Any]
ProgressHandler = Callable[[int, int], None]
DoneHandler = Callable[[Any], None]
ErrorHandler = Callable[[BaseException], None]

LANES = ("model", "io", "probe")
_PROGRESS_INTERVAL_S = 0.04


class TaskHandle:
    """What `TaskRunner.run` returns: cancel the task, or ask whether it has finished."""

    def __init__(self, token: CancelToken) -> None:
        self._token = token
        self._finished = False

    def cancel(self) -> None:
        """Ask the task to stop; it raises `Cancelled` at its next check and `on_error` receives that."""
        self._token.cancel()

    @property
    def cancelled(self) -> bool:
        return self._token.cancelled

    @property
    def finished(self) -> bool:
        """True once `on_done` or `on_error` has been called."""
        return self._finished


class _Emitter(QObject):
    """Lives on the UI thread; the worker emits its signals, so Qt queues them over to the UI thread."""

    progress = Signal(int, int)
    done = Signal(object)
    error = Signal(object)


class _Relay(QObject):
    """Receives one task's signals on the UI thread and calls the user's callbacks."""

    def __init__(
        self,
        runner: TaskRunner,
        handle: TaskHandle,
        on_progress: ProgressHandler | None,
        on_done: DoneHandler | None,
        on_error: ErrorHandler | None,
    ) -> None:
        super().__init__()
        self._runner = runner
        self._handle = handle
        self._on_progress = on_progress
        self._on_done = on_done
        self._on_error = on_error

    @Slot(int, int)
    def progress(self, done: int, total: int) -> None:
        if self._on_progress is not None and not self._handle.finished:
            self._on_progress(done, total)

    @Slot(object)
    def done(self, result: object) -> None:
        self._finish()
        if self._on_done is not None:
            self._on_done(result)

    @Slot(object)
    def error(self, exc: object) -> None:
        self._finish()
        if self._on_error is not None:
            assert isinstance(exc, BaseException)
            self._on_error(exc)

    def _finish(self) -> None:
        self._handle._finished = True
        self._runner._forget(self)


class _Runnable(QRunnable):
    def __init__(self, fn: TaskFn, token: CancelToken, emitter: _Emitter) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._fn = fn
        self._token = token
        self._emitter = emitter
        self._last_emit = 0.0

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last_emit >= _PROGRESS_INTERVAL_S or (total and done >= total):
            self._last_emit = now
            self._emitter.progress.emit(int(done), int(total))

    def run(self) -> None:
        try:
            result = self._fn(self._progress, self._token)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported to the UI thread
            self._emitter.error.emit(exc)
        else:
            self._emitter.done.emit(result)


class TaskRunner(QObject):
    """Runs functions on worker threads and delivers progress, results and errors on the UI thread."""

    #: Emitted (on the UI thread) whenever the number of unfinished tasks changes.
    active_changed = Signal(int)

    def __init__(
        self, parent: QObject | None = None, *, synchronous: bool = False, io_threads: int = 4
    ) -> None:
        super().__init__(parent)
        self._synchronous = synchronous
        self._lock = threading.Lock()
        self._active: dict[_Relay, tuple[TaskHandle, _Emitter]] = {}
        self._pools: dict[str, QThreadPool] = {}
        if not synchronous:
            # "probe": header reads of queued files, one thread: they are quick, and several threads
            # would only contend with the UI thread for the GIL when thousands of files are dropped.
            for lane, threads in (("model", 1), ("io", io_threads), ("probe", 1)):
                pool = QThreadPool(self)
                pool.setMaxThreadCount(threads)
                # Keep the model thread alive between jobs: torch's per-thread state is set up once.
                pool.setExpiryTimeout(-1 if lane == "model" else 30_000)
                self._pools[lane] = pool

    @property
    def synchronous(self) -> bool:
        return self._synchronous

    def run(
        self,
        fn: TaskFn,
        *,
        on_progress: ProgressHandler | None = None,
        on_done: DoneHandler | None = None,
        on_error: ErrorHandler | None = None,
        lane: str = "model",
    ) -> TaskHandle:
        """Run `fn(progress, cancel)` on `lane`'s worker; callbacks arrive later on the UI thread."""
        if lane not in LANES:
            raise ValueError(f"unknown lane {lane!r}; use one of {', '.join(LANES)}")
        token = CancelToken()
        handle = TaskHandle(token)
        if self._synchronous:
            self._run_inline(fn, handle, token, on_progress, on_done, on_error)
            return handle
        relay = _Relay(self, handle, on_progress, on_done, on_error)
        emitter = _Emitter()
        emitter.progress.connect(relay.progress)
        emitter.done.connect(relay.done)
        emitter.error.connect(relay.error)
        with self._lock:
            self._active[relay] = (handle, emitter)
            count = len(self._active)
        self.active_changed.emit(count)
        self._pools[lane].start(_Runnable(fn, token, emitter))
        return handle

    def _run_inline(
        self,
        fn: TaskFn,
        handle: TaskHandle,
        token: CancelToken,
        on_progress: ProgressHandler | None,
        on_done: DoneHandler | None,
        on_error: ErrorHandler | None,
    ) -> None:
        def progress(done: int, total: int) -> None:
            if on_progress is not None:
                on_progress(done, total)

        try:
            result = fn(progress, token)
        except BaseException as exc:  # noqa: BLE001
            handle._finished = True
            if on_error is not None:
                on_error(exc)
        else:
            handle._finished = True
            if on_done is not None:
                on_done(result)

    def _forget(self, relay: _Relay) -> None:
        with self._lock:
            entry = self._active.pop(relay, None)
            count = len(self._active)
        relay.deleteLater()
        if entry is not None:
            entry[1].deleteLater()  # deleted on the UI thread, whichever thread drops the last reference
        self.active_changed.emit(count)

    def active_count(self) -> int:
        """Tasks started and not yet reported back (their callbacks have not run yet)."""
        with self._lock:
            return len(self._active)

    def cancel_all(self) -> None:
        """Cancel every unfinished task; each reports `Cancelled` (or its result, if it was already done)."""
        with self._lock:
            handles = [handle for handle, _ in self._active.values()]
        for handle in handles:
            handle.cancel()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every worker thread is idle; False if `timeout_ms` passed first."""
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        for pool in self._pools.values():
            remaining = -1 if deadline is None else max(0, int(1000 * (deadline - time.monotonic())))
            if not pool.waitForDone(remaining):
                return False
        return True
