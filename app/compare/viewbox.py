"""A ViewBox for time plots where a click seeks and a left-drag selects a time range.

Panning stays available with Shift+left-drag or the middle button; the wheel zooms; right-drag zooms as in
every pyqtgraph plot.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal


class SelectViewBox(pg.ViewBox):
    """Emits `clicked(x)` for a left click and `range_dragged(x0, x1, finished)` while left-dragging."""

    clicked = Signal(float)
    range_dragged = Signal(float, float, bool)

    def mouseClickEvent(self, ev: object) -> None:  # noqa: N802 - pyqtgraph API
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.clicked.emit(float(self.mapSceneToView(ev.scenePos()).x()))
        else:
            super().mouseClickEvent(ev)

    _selecting = False

    def mouseDragEvent(self, ev: object, axis: int | None = None) -> None:  # noqa: N802
        if ev.isStart():  # the modifiers at the start decide what the whole drag does
            self._selecting = ev.button() == Qt.MouseButton.LeftButton and not (
                ev.modifiers() & Qt.KeyboardModifier.ShiftModifier
            )
        if not self._selecting or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        start = float(self.mapSceneToView(ev.buttonDownScenePos()).x())
        now = float(self.mapSceneToView(ev.scenePos()).x())
        self.range_dragged.emit(min(start, now), max(start, now), bool(ev.isFinish()))
