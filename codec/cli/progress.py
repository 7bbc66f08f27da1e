"""`ProgressBar`: the one-line bar `ecdc` draws on a terminal's stderr."""

from __future__ import annotations

import time
from typing import TextIO


class ProgressBar:
    """A one-line bar on a terminal's stderr; `ProgressCallback`-compatible."""

    WIDTH = 30

    def __init__(self, label: str, stream: TextIO) -> None:
        self.label = label
        self.stream = stream
        self._last = -1
        self._drawn = False
        self._started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        permille = min(1000, max(0, int(1000 * done / total))) if total else 1000
        if permille // 5 == self._last // 5 and permille != 1000:
            return
        self._last = permille
        filled = self.WIDTH * permille // 1000
        elapsed = time.monotonic() - self._started
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {permille / 10:5.1f}% {elapsed:5.1f}s")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._drawn = False
