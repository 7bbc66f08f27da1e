"""The Models window: which weights are installed, where and how big; download, import or remove them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.tasks import TaskRunner
from app.weights_dialog import IMPORT_FILTER, WeightsDialog
from codec.errors import CodecError
from codec.units import format_bytes
from codec.weights import ModelStatus, import_weights, list_models, models_dir, remove, set_models_dir

COLUMNS = ("Name", "Description", "Status", "Size", "Location")


def status_text(status: ModelStatus) -> str:
    if status.installed:
        return "Installed"
    if status.partial_bytes:
        return f"Partly downloaded ({format_bytes(status.partial_bytes)})"
    return "Not installed"


def check_text(status: ModelStatus) -> str:
    """How a download of this entry is verified, as `ecdc models list` says it."""
    return status.check if status.pinned else f"{status.check}, from the moving main branch"


class ModelsDialog(QDialog):
    """Lists `codec.weights.list_models()`; every change refreshes the list."""

    def __init__(
        self,
        runner: TaskRunner,
        parent: QWidget | None = None,
        on_models_dir_changed: Callable[[Path | None], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._on_models_dir_changed = on_models_dir_changed
        self.setWindowTitle("Models")
        self.resize(900, 360)
        self.weights_dialog: WeightsDialog | None = None

        self.folder_label = QLabel()
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        change_folder = QPushButton("Change folder…")
        open_folder = QPushButton("Open folder")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_label, 1)
        folder_row.addWidget(change_folder)
        folder_row.addWidget(open_folder)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)

        self.download_button = QPushButton("Download")
        self.remove_button = QPushButton("Remove")
        self.import_button = QPushButton("Import file…")
        close = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.import_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(folder_row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)

        self.download_button.clicked.connect(self.download_selected)
        self.remove_button.clicked.connect(self._confirm_remove)
        self.import_button.clicked.connect(self._choose_import)
        change_folder.clicked.connect(self._change_folder)
        open_folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(models_dir()))))
        close.clicked.connect(self.accept)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.refresh()

    def refresh(self) -> None:
        """Re-read what is installed (a few file-system checks, cheap enough for the UI thread)."""
        selected = self.selected_name()
        self.statuses = list_models()
        self.folder_label.setText(f"Models folder: {models_dir()}")
        self.table.setRowCount(len(self.statuses))
        for row, status in enumerate(self.statuses):
            size = status.size_on_disk if status.installed else status.approx_size
            size_text = format_bytes(size) if status.installed else f"≈{format_bytes(size)}" if size else "—"
            cells = (
                status.name,
                status.description,
                status_text(status),
                size_text,
                str(status.path) if status.path is not None else status.source,
            )
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip(text if column != 4 else f"{text}\nDownload check: {check_text(status)}")
                if column == 3:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == 4 and status.path is None:
                    cell.setForeground(self.palette().placeholderText())
                self.table.setItem(row, column, cell)
            if status.name == selected:
                self.table.selectRow(row)
        self._update_buttons()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.statuses[rows[0].row()].name if rows else None

    def select(self, name: str) -> None:
        for row, status in enumerate(self.statuses):
            if status.name == name:
                self.table.selectRow(row)

    def _selected_status(self) -> ModelStatus | None:
        name = self.selected_name()
        return next((s for s in self.statuses if s.name == name), None)

    def _update_buttons(self) -> None:
        status = self._selected_status()
        self.download_button.setEnabled(status is not None and not status.installed)
        self.remove_button.setEnabled(status is not None and (status.installed or status.partial_bytes > 0))

    def download_selected(self) -> None:
        status = self._selected_status()
        if status is None:
            return
        self.weights_dialog = WeightsDialog(status.name, self.runner, parent=self)
        self.weights_dialog.finished.connect(lambda _result: self.refresh())
        self.weights_dialog.open()
        self.weights_dialog.start_download()

    def _confirm_remove(self) -> None:
        status = self._selected_status()
        if status is None:
            return
        answer = QMessageBox.question(
            self, "Remove weights", f"Delete {status.name} from {status.path or models_dir()}?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.remove(status.name)

    def remove(self, name: str) -> None:
        try:
            remove(name)
            self.status_label.setText(f"Removed {name}.")
        except CodecError as exc:
            self.status_label.setText(str(exc))
        self.refresh()

    def _choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import model weights", "", IMPORT_FILTER)
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> None:
        self.status_label.setText(f"Importing {path.name}…")
        self.import_button.setEnabled(False)

        def done(name: str) -> None:
            self.import_button.setEnabled(True)
            self.status_label.setText(f"Imported {path.name} as {name}.")
            self.refresh()

        def failed(exc: BaseException) -> None:
            self.import_button.setEnabled(True)
            self.status_label.setText(
                str(exc) if isinstance(exc, CodecError) else f"{type(exc).__name__}: {exc}"
            )

        self.runner.run(
            lambda progress, cancel: import_weights(path, progress=progress, cancel=cancel),
            on_done=done,
            on_error=failed,
            lane="io",
        )

    def _change_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Models folder", str(models_dir()))
        if folder:
            set_models_dir(Path(folder))
            if self._on_models_dir_changed is not None:
                self._on_models_dir_changed(Path(folder))
            self.refresh()
