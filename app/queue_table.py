"""The queue as a table: one row per file, a progress bar in the status cell while a job runs."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from app.queue_model import ITEM_ID_ROLE, PROGRESS_ROLE, Column, QueueModel


class ProgressDelegate(QStyledItemDelegate):
    """Paints a progress bar, with the status text on it, when the model gives a PROGRESS_ROLE value."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        progress = index.data(PROGRESS_ROLE)
        if progress is None:
            super().paint(painter, option, index)
            return
        if option.state & QStyle.StateFlag.State_Selected:  # keep the row's selection colour behind the bar
            painter.fillRect(option.rect, option.palette.highlight())
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(3, 3, -3, -3)
        bar.minimum = 0
        bar.maximum = 1000
        bar.progress = round(1000 * float(progress))
        bar.text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)


class QueueTable(QTableView):
    """Shows a `QueueModel`. Emits `context_menu_requested(global_pos)` and `delete_pressed()`."""

    context_menu_requested = Signal(QPoint)
    delete_pressed = Signal()

    def __init__(self, model: QueueModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setItemDelegateForColumn(int(Column.STATUS), ProgressDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 12)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(
            lambda pos: self.context_menu_requested.emit(self.mapToGlobal(pos))
        )

        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(int(Column.FILE), QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(int(Column.STATUS), QHeaderView.ResizeMode.Stretch)
        widths = {
            Column.DURATION: 70,
            Column.MODEL: 100,
            Column.BANDWIDTH: 84,
            Column.LM: 40,
            Column.STATUS: 220,
            Column.SIZE: 150,
            Column.RATIO: 64,
        }
        for column, width in widths.items():
            header.resizeSection(int(column), width)
        header.setMinimumSectionSize(36)

    def selected_ids(self) -> list[int]:
        """Ids of the selected rows, top to bottom."""
        rows = sorted(index.row() for index in self.selectionModel().selectedRows())
        model = self.model()
        return [model.index(row, 0).data(ITEM_ID_ROLE) for row in rows]

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)
