"""A slider over one model's valid bandwidths: every stop is a bandwidth the model supports."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

from app.settings import snap_bandwidth
from codec.specs import ModelSpec, format_bandwidth


class BandwidthSlider(QWidget):
    """Emits `bandwidth_changed(kbps)`. Switching model keeps the nearest valid bandwidth."""

    bandwidth_changed = Signal(float)

    def __init__(
        self, spec: ModelSpec, bandwidth: float | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._spec = spec
        self._bandwidths: tuple[float, ...] = spec.bandwidths
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(1)
        self.slider.setPageStep(1)
        self.slider.setMinimumWidth(140)
        self.value_label = QLabel()
        self.value_label.setMinimumWidth(self.value_label.fontMetrics().horizontalAdvance("24 kbps") + 6)
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.value_label)
        self.slider.valueChanged.connect(self._on_value)
        self.set_model(spec, bandwidth if bandwidth is not None else spec.bandwidths[0])

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    def bandwidths(self) -> tuple[float, ...]:
        return self._bandwidths

    def bandwidth(self) -> float:
        return self._bandwidths[self.slider.value()]

    def set_model(self, spec: ModelSpec, bandwidth: float | None = None) -> None:
        """Show `spec`'s bandwidths; select `bandwidth` (default: the current one), snapped to a valid one."""
        old = self.bandwidth() if self.slider.maximum() >= self.slider.value() >= 0 else None
        target = bandwidth if bandwidth is not None else (old if old is not None else spec.bandwidths[0])
        self._spec = spec
        self._bandwidths = spec.bandwidths
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self._bandwidths) - 1)
        self.slider.setValue(self._bandwidths.index(snap_bandwidth(spec, target)))
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(self._bandwidths) > 1)
        self.slider.setToolTip(
            "Valid bandwidths for this model: "
            + ", ".join(f"{format_bandwidth(b)} kbps" for b in self._bandwidths)
        )
        self._update_label()
        if old != self.bandwidth():
            self.bandwidth_changed.emit(self.bandwidth())

    def set_bandwidth(self, bandwidth: float) -> None:
        """Select the valid bandwidth nearest to `bandwidth`."""
        self.slider.setValue(self._bandwidths.index(snap_bandwidth(self._spec, bandwidth)))

    def _on_value(self, _value: int) -> None:
        self._update_label()
        self.bandwidth_changed.emit(self.bandwidth())

    def _update_label(self) -> None:
        self.value_label.setText(f"{format_bandwidth(self.bandwidth())} kbps")
