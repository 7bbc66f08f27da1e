"""A framed target for dragged files and folders; it lights up while a usable drag hovers over it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.file_collect import local_paths

_IDLE_STYLE = "DropArea { border: 2px dashed palette(mid); border-radius: 8px; }"
_HOVER_STYLE = "DropArea { border: 2px dashed palette(highlight); border-radius: 8px; background: palette(alternate-base); }"


class DropArea(QFrame):
    """Emits `paths_dropped` with the local files and folders of a drop, and `browse_requested` on click."""

    paths_dropped = Signal(list)
    browse_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DropArea")
        self.setAcceptDrops(True)
        self.setStyleSheet(_IDLE_STYLE)
        self.setMinimumHeight(64)

        title = QLabel("<b>Drop audio files or folders here</b>")
        hint = QLabel("WAV, FLAC, OGG, MP3 to compress · .ecdc to decode, play or export")
        hint.setEnabled(False)
        browse = QPushButton("Open files…")
        browse.clicked.connect(self.browse_requested)

        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(title)
        text.addWidget(hint)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 10)
        layout.addStretch(1)
        layout.addLayout(text)
        layout.addSpacing(24)
        layout.addWidget(browse, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addStretch(1)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if accept_path_drag(event):
            self.setStyleSheet(_HOVER_STYLE)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        accept_path_drag(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self.setStyleSheet(_IDLE_STYLE)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self.setStyleSheet(_IDLE_STYLE)
        paths = take_dropped_paths(event)
        if paths:
            self.paths_dropped.emit(paths)


def accept_path_drag(event: QDragEnterEvent | QDragMoveEvent) -> bool:
    """Accept a drag that carries local files or folders (True); ignore any other."""
    if local_paths(event.mimeData()):
        event.acceptProposedAction()
        return True
    event.ignore()
    return False


def take_dropped_paths(event: QDropEvent) -> list[Path]:
    """The local files and folders of a drop, which is accepted; [] (and the drop ignored) if it has none."""
    paths: list[Path] = local_paths(event.mimeData())
    if paths:
        event.acceptProposedAction()
    else:
        event.ignore()
    return paths
