"""The ladder as a table: the original, then one row per bandwidth with its size, bitrate and metrics.

Row i is version i (0: the original), the number the keyboard uses to switch to it. Clicking a row emits
`version_chosen(i)`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from codec.ladder import LadderRung
from codec.units import format_bytes

COLUMNS = ("Key", "Version", "Codebooks", "Size", "Bitrate", "SI-SDR", "Log-mel distance")
TOOLTIPS = (
    "Press this key to listen to the version",
    "",
    "Residual quantizer stages used",
    "Size of the .ecdc file (header included)",
    "Effective bitrate: file bits per second of audio",
    "Scale-invariant signal-to-distortion ratio against the original (higher is better)",
    "RMS difference of log-mel spectra against the original (lower is better)",
)


def format_db(value: float) -> str:
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.1f} dB"


def version_key(index: int) -> str:
    return "O" if index == 0 else str(index) if index <= 9 else ""


class LadderTable(QTableWidget):
    """Read-only table of versions; the selected row is the version being listened to."""

    version_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in enumerate(TOOLTIPS):
            self.horizontalHeaderItem(column).setToolTip(tip)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the window's keys (1..9, O, arrows) stay in charge
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.itemSelectionChanged.connect(self._selection_changed)
        self._quiet = False
        self.set_original("Original", 0, 0.0)

    def set_original(self, label: str, size_bytes: int, duration_s: float) -> None:
        """Row 0: the source file (its own size and bitrate; no metrics)."""
        bitrate = f"{size_bytes * 8 / duration_s / 1000:.1f} kbps" if duration_s and size_bytes else ""
        self._set_row(
            0, [version_key(0), label, "", format_bytes(size_bytes) if size_bytes else "", bitrate, "", ""]
        )

    def set_rungs(self, rungs: Sequence[LadderRung]) -> None:
        """Rows 1..n: the encoded versions."""
        current = self.current_version()
        self.setRowCount(1 + len(rungs))
        for index, rung in enumerate(rungs, start=1):
            self._set_row(
                index,
                [
                    version_key(index),
                    rung.label,
                    str(rung.num_codebooks) if rung.num_codebooks else "",  # Opus has none
                    format_bytes(rung.ecdc_bytes),
                    f"{rung.bitrate_kbps:.2f} kbps",
                    format_db(rung.si_sdr),
                    format_db(rung.log_mel_distance),
                ],
            )
        self.set_current(min(current, len(rungs)))

    def _set_row(self, row: int, values: Sequence[str]) -> None:
        if self.rowCount() <= row:
            self.setRowCount(row + 1)
        for column, value in enumerate(values):
            item = QTableWidgetItem(value)
            if column != 1:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if column == 0:
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.setItem(row, column, item)

    def text(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return item.text() if item is not None else ""

    def current_version(self) -> int:
        rows = self.selectionModel().selectedRows()
        return rows[0].row() if rows else 0

    def set_current(self, index: int) -> None:
        """Select row `index` without emitting `version_chosen`."""
        if not 0 <= index < self.rowCount():
            return
        self._quiet = True
        try:
            self.selectRow(index)
        finally:
            self._quiet = False

    def set_highlight_enabled(self, enabled: bool) -> None:
        """Hide the selection (blind tests must not show what plays)."""
        if not enabled:
            self._quiet = True
            self.clearSelection()
            self._quiet = False
        self.setEnabled(enabled)

    def _selection_changed(self) -> None:
        if not self._quiet and self.selectionModel().selectedRows():
            self.version_chosen.emit(self.current_version())
