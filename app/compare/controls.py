"""Display controls of the compare view's spectrograms: layout, difference, frequency scale, dB range."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

from app.compare.spectrogram_view import DEFAULT_LEVELS

SCALE_LABELS = {"linear": "Linear", "log": "Log", "mel": "Mel"}
LAYOUT_LABELS = {"stacked": "Stacked", "side": "Side by side"}


class CompareControls(QWidget):
    """A row of controls; each change is announced with a signal and applied by whoever listens."""

    layout_changed = Signal(str)  # "stacked" / "side"
    difference_toggled = Signal(bool)
    scale_changed = Signal(str)  # "linear" / "log" / "mel"
    levels_changed = Signal(float, float)  # dB floor, ceiling

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_combo = QComboBox()
        for key, label in LAYOUT_LABELS.items():
            self.layout_combo.addItem(label, key)
        self.layout_combo.currentIndexChanged.connect(
            lambda _: self.layout_changed.emit(self.layout_combo.currentData())
        )
        self.difference = QCheckBox("Difference")
        self.difference.setToolTip("Also show the spectrogram of (version − original)")
        self.difference.toggled.connect(self.difference_toggled)
        self.scale_combo = QComboBox()
        for key, label in SCALE_LABELS.items():
            self.scale_combo.addItem(label, key)
        self.scale_combo.setToolTip("Frequency axis scale")
        self.scale_combo.currentIndexChanged.connect(
            lambda _: self.scale_changed.emit(self.scale_combo.currentData())
        )
        self.floor = self._db_box(DEFAULT_LEVELS[0], "Colour-map floor (dB)")
        self.ceiling = self._db_box(DEFAULT_LEVELS[1], "Colour-map ceiling (dB)")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (
            QLabel("Layout"),
            self.layout_combo,
            self.difference,
            QLabel("Frequency"),
            self.scale_combo,
            QLabel("dB range"),
            self.floor,
            QLabel("to"),
            self.ceiling,
        ):
            row.addWidget(widget)
        row.addStretch(1)

    def _db_box(self, value: float, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(-160.0, 40.0)
        box.setDecimals(0)
        box.setSingleStep(5.0)
        box.setSuffix(" dB")
        box.setValue(value)
        box.setToolTip(tip)
        box.valueChanged.connect(self._levels_edited)
        return box

    def _levels_edited(self) -> None:
        floor, ceiling = self.floor.value(), self.ceiling.value()
        if ceiling > floor:
            self.levels_changed.emit(floor, ceiling)

    def set_levels(self, floor: float, ceiling: float) -> None:
        """Show levels set elsewhere (the colour bar) without announcing them again."""
        for box, value in ((self.floor, floor), (self.ceiling, ceiling)):
            box.blockSignals(True)
            box.setValue(round(value))
            box.blockSignals(False)

    def set_scale(self, scale: str) -> None:
        self.scale_combo.setCurrentIndex(self.scale_combo.findData(scale))

    def set_layout_mode(self, mode: str) -> None:
        self.layout_combo.setCurrentIndex(self.layout_combo.findData(mode))
