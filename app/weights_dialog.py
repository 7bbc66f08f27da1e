"""Missing weights: download them (with progress and cancel) or import a local checkpoint file; and the
queue of those prompts, one dialog at a time (`WeightsPrompts`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.tasks import TaskHandle, TaskRunner
from codec.errors import Cancelled, CodecError
from codec.units import format_bytes
from codec.weights import REGISTRY, ensure_weights, get_entry, import_weights

IMPORT_FILTER = "Checkpoints (*.th *.safetensors config.json);;All files (*)"


def satisfies(installed: str, needed: str) -> bool:
    """Whether the registry entry `installed` can stand in for `needed` (same model, both LM or not)."""
    a, b = REGISTRY.get(installed), get_entry(needed)
    return a is not None and (
        a.name == b.name or (b.name == b.model and a.model == b.model and a.is_lm == b.is_lm)
    )


class WeightsDialog(QDialog):
    """Accepted once `name`'s weights are installed; rejected if the person gives up."""

    def __init__(
        self,
        name: str,
        runner: TaskRunner,
        reason: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.entry = get_entry(name)
        self.runner = runner
        self._handle: TaskHandle | None = None
        self._close_when_stopped = False
        self.setWindowTitle("Model weights needed")
        self.setMinimumWidth(460)

        size = (
            f"about {format_bytes(self.entry.approx_size)}"
            if self.entry.approx_size
            else "its size is unknown"
        )
        intro = QLabel(
            f"<b>{self.entry.description}</b> ({self.entry.name}) is not installed on this computer."
            f"<br><br>Download it ({size}) from<br><small>{self.entry.source}</small>"
            "<br><br>or import a checkpoint file you already have."
        )
        intro.setWordWrap(True)
        intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason_label = QLabel(reason)
        self.reason_label.setWordWrap(True)
        self.reason_label.setEnabled(False)
        self.reason_label.setVisible(bool(reason))
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)

        self.buttons = QDialogButtonBox()
        self.download_button = QPushButton("Download")
        self.download_button.setDefault(True)
        self.import_button = QPushButton("Import file…")
        self.cancel_button = QPushButton("Cancel")
        self.buttons.addButton(self.download_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.import_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.download_button.clicked.connect(self.start_download)
        self.import_button.clicked.connect(self._choose_import)
        self.cancel_button.clicked.connect(self._cancel_clicked)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.reason_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)

    @property
    def busy(self) -> bool:
        return self._handle is not None

    # --- download -----------------------------------------------------------------------------------------
    def start_download(self) -> None:
        if self.busy:
            return
        name = self.entry.name
        self._set_busy("Downloading…")
        self.progress_bar.setRange(0, 0)
        self._handle = self.runner.run(
            lambda progress, cancel: ensure_weights(name, progress=progress, cancel=cancel),
            on_progress=self._download_progress,
            on_done=lambda _path: self._finished_ok("Downloaded."),
            on_error=self._failed,
            lane="io",
        )

    def _download_progress(self, done: int, total: int) -> None:
        self._show_progress(done, total)
        if total > 0:
            self.status_label.setText(f"Downloading… {format_bytes(done)} of {format_bytes(total)}")
        else:
            self.status_label.setText(f"Downloading… {format_bytes(done)}")

    # --- import -------------------------------------------------------------------------------------------
    def _choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import model weights", "", IMPORT_FILTER)
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> None:
        """Check and copy `path` into the models folder (on a worker), then close if it is what we need."""
        if self.busy:
            return
        self._set_busy(f"Importing {path.name}…")
        self.progress_bar.setRange(0, 0)
        self._handle = self.runner.run(
            lambda progress, cancel: import_weights(path, progress=progress, cancel=cancel),
            on_progress=self._show_progress,
            on_done=self._imported,
            on_error=self._failed,
            lane="io",
        )

    def _show_progress(self, done: int, total: int) -> None:
        """The bar's fraction done; it stays busy (indeterminate) while the total is unknown."""
        if total > 0:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * done / total))

    def _imported(self, installed: str) -> None:
        if satisfies(installed, self.entry.name):
            self._finished_ok(f"Imported {installed}.")
        else:
            self._idle(f"That file holds {installed}, not {self.entry.name}; it was installed anyway.")

    # --- shared -------------------------------------------------------------------------------------------
    def _set_busy(self, text: str) -> None:
        self.status_label.setText(text)
        self.progress_bar.setVisible(True)
        self.download_button.setEnabled(False)
        self.import_button.setEnabled(False)
        self.cancel_button.setText("Stop")

    def _idle(self, text: str) -> None:
        self._handle = None
        self.status_label.setText(text)
        self.progress_bar.setVisible(False)
        self.download_button.setEnabled(True)
        self.import_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        if self._close_when_stopped:
            super().reject()

    def _finished_ok(self, text: str) -> None:
        self._handle = None
        self.status_label.setText(text)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            self._idle("Stopped. A download continues where it stopped next time.")
        elif isinstance(exc, CodecError):
            self._idle(str(exc))
        else:
            self._idle(f"{type(exc).__name__}: {exc}")
        self.status_label.setStyleSheet("" if isinstance(exc, Cancelled) else "color: #b00;")

    def _cancel_clicked(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        else:
            self.reject()

    def reject(self) -> None:
        """Escape or the window's close button: stop a running transfer first, then close."""
        if self._handle is not None:
            self._close_when_stopped = True
            self._handle.cancel()
            return
        super().reject()


class WeightsPrompts(QObject):
    """One `WeightsDialog` at a time for the weights jobs found missing; requests that arrive while a dialog
    is open wait their turn, and a name already asked about is not asked again.

    `installed(name)` once a dialog installed them; `declined(name, reason)` when the person gave up.
    """

    installed = Signal(str)
    declined = Signal(str, str)

    def __init__(self, runner: TaskRunner, parent: QWidget) -> None:
        super().__init__(parent)
        self.runner = runner
        self._window = parent
        self.dialog: WeightsDialog | None = None
        self._pending: list[tuple[str, str]] = []

    def request(self, name: str, reason: str) -> None:
        """Ask to download or import `name` (`reason`: the job's sentence), now or after the open dialog."""
        if (self.dialog is not None and self.dialog.entry.name == name) or any(
            n == name for n, _ in self._pending
        ):
            return
        self._pending.append((name, reason))
        if self.dialog is None:
            self._next()

    def _next(self) -> None:
        if not self._pending:
            return
        name, reason = self._pending[0]
        dialog = WeightsDialog(name, self.runner, reason=reason, parent=self._window)
        self.dialog = dialog
        dialog.finished.connect(lambda result: self._closed(name, reason, result))
        dialog.open()

    def _closed(self, name: str, reason: str, result: int) -> None:
        self._pending = [(n, r) for n, r in self._pending if n != name]
        self.dialog = None
        if result == WeightsDialog.DialogCode.Accepted:
            self.installed.emit(name)
        else:
            self.declined.emit(name, reason)
        self._next()
