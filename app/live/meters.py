"""A horizontal peak meter in dBFS with a falling peak-hold mark."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

FLOOR_DB = -60.0
#: Peak hold falls this many dB per update (20 updates a second: about 1 s from 0 dB to the floor).
HOLD_FALL_DB = 3.0


def to_db(peak: float) -> float:
    return FLOOR_DB if peak <= 10 ** (FLOOR_DB / 20) else max(FLOOR_DB, 20 * math.log10(peak))


class LevelMeter(QWidget):
    """`set_level(peak)` with a linear peak (1.0 = full scale); green, amber above -12 dB, red above -3 dB."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level_db = FLOOR_DB
        self.hold_db = FLOOR_DB
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(160)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(240, 14)

    def set_level(self, peak: float) -> None:
        self.level_db = to_db(peak)
        self.hold_db = max(self.level_db, self.hold_db - HOLD_FALL_DB)
        self.setToolTip(f"peak {self.level_db:.1f} dBFS")
        self.update()

    def reset(self) -> None:
        self.level_db = self.hold_db = FLOOR_DB
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802, ANN001
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.fillRect(rect, QColor(30, 30, 30))
        fraction = (self.level_db - FLOOR_DB) / -FLOOR_DB
        color = QColor(70, 190, 90)
        if self.level_db > -12:
            color = QColor(230, 180, 40)
        if self.level_db > -3:
            color = QColor(220, 60, 50)
        painter.fillRect(QRectF(rect.left(), rect.top(), rect.width() * fraction, rect.height()), color)
        hold = rect.left() + rect.width() * (self.hold_db - FLOOR_DB) / -FLOOR_DB
        painter.setPen(QColor(240, 240, 240))
        painter.drawLine(int(hold), int(rect.top()), int(hold), int(rect.bottom()))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.end()
