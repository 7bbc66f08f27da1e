"""Progress reporting and cancellation shared by every long job.

A job receives an optional `ProgressCallback` and an optional `CancelToken`. It calls the callback with
(done, total) in its own units and calls `token.raise_if_cancelled()` between chunks of work, so a cancel
takes effect within one chunk. Both are plain Python: they work from any thread and know nothing of Qt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from codec.errors import Cancelled

ProgressCallback = Callable[[int, int], None]


class CancelToken:
    """A thread-safe flag a job polls between chunks."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("Cancelled.")


def check_cancel(cancel: CancelToken | None) -> None:
    """Raise `Cancelled` if `cancel` is set; a None token never cancels."""
    if cancel is not None:
        cancel.raise_if_cancelled()


def report(progress: ProgressCallback | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def scaled(progress: ProgressCallback | None, start: float, span: float) -> ProgressCallback | None:
    """Map a sub-job's (done, total) into [start, start + span] of a parent job measured in 1/1000."""
    if progress is None:
        return None

    def sub(done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        progress(int(1000 * (start + span * fraction)), 1000)

    return sub
