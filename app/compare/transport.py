"""Transport bar of the compare view: play/pause, position, loop, output device, blind test."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from app.audio_devices import AudioDevice
from codec.units import format_clock


class CompareTransport(QWidget):
    """Buttons and labels only; the window connects them to the player."""

    play_clicked = Signal()
    loop_toggled = Signal(bool)
    device_chosen = Signal(object)  # device index, or None for the system default
    refresh_requested = Signal()
    abx_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.play_button = QPushButton("Play")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.play_clicked)
        self.time_label = QLabel(format_clock(0) + " / " + format_clock(0))
        self.time_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.loop_button = QPushButton("Loop")
        self.loop_button.setCheckable(True)
        self.loop_button.setToolTip("Loop the selected region (L); drag on a spectrogram to select one")
        self.loop_button.toggled.connect(self.loop_toggled)
        self.device_combo = QComboBox()
        self.device_combo.setToolTip("Output device")
        self.device_combo.setMinimumContentsLength(18)
        self.device_combo.activated.connect(
            lambda _: self.device_chosen.emit(self.device_combo.currentData())
        )
        self.refresh_button = QToolButton()
        self.refresh_button.setText("↻")
        self.refresh_button.setToolTip("Look for output devices again")
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.reason_label = QLabel()
        self.reason_label.setWordWrap(True)
        self.reason_label.setStyleSheet("color: #c0392b;")
        self.reason_label.hide()
        self.abx_button = QPushButton("Blind ABX…")
        self.abx_button.setToolTip("Blind test: can you tell two versions apart?")
        self.abx_button.clicked.connect(self.abx_clicked)
        for button in (self.play_button, self.loop_button, self.abx_button, self.refresh_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space belongs to play/pause
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.play_button)
        row.addWidget(self.time_label)
        row.addWidget(self.loop_button)
        row.addSpacing(12)
        row.addWidget(QLabel("Output"))
        row.addWidget(self.device_combo)
        row.addWidget(self.refresh_button)
        row.addWidget(self.reason_label, 1)
        row.addStretch(0)
        row.addWidget(self.abx_button)

    def set_playing(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")

    def set_time(self, seconds: float, duration: float) -> None:
        self.time_label.setText(f"{format_clock(seconds)} / {format_clock(duration)}")

    def set_loop_checked(self, checked: bool) -> None:
        self.loop_button.blockSignals(True)
        self.loop_button.setChecked(checked)
        self.loop_button.blockSignals(False)

    def set_devices(self, devices: Sequence[AudioDevice], current: int | str | None) -> None:
        self.device_combo.clear()
        self.device_combo.addItem("System default", None)
        for device in devices:
            self.device_combo.addItem(device.label, device.index)
        found = self.device_combo.findData(current) if current is not None else 0
        self.device_combo.setCurrentIndex(max(0, found))

    def set_available(self, available: bool, reason: str = "") -> None:
        """Enable playback controls, or disable them and show why."""
        for widget in (self.play_button, self.loop_button, self.device_combo, self.abx_button):
            widget.setEnabled(available)
        self.reason_label.setText(reason)
        self.reason_label.setVisible(not available and bool(reason))
        tip = reason if not available else "Play / pause (Space)"
        self.play_button.setToolTip(tip)
