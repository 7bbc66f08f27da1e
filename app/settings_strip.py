"""The settings strip: model, bandwidth, LM, output folder and overwrite policy, plus a live estimate line."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.bandwidth_slider import BandwidthSlider
from app.estimates import bitrate_kbps, format_kbps
from app.queue_controller import CompressSettings
from app.settings import OVERWRITE_LABELS, OverwritePolicy
from codec.specs import MODELS, ModelSpec

BUNDLED_NOTE = (
    "ECDC Studio's own small model: works offline, nothing to download. Meta's models sound better."
)
LM_HINT = "Entropy-code with the language model: slower, about 25 % smaller files."
NO_LM_HINT = "This model has no language model."


class SettingsStrip(QWidget):
    """Emits `compress_settings_changed()` for model / bandwidth / LM, `output_changed()` for the rest."""

    compress_settings_changed = Signal()
    output_changed = Signal()
    official_models_requested = Signal()

    def __init__(
        self,
        model_name: str,
        bandwidth: float,
        use_lm: bool,
        output_dir: Path | None,
        overwrite: OverwritePolicy,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model_combo = QComboBox()
        for spec in MODELS.values():
            self.model_combo.addItem(_model_title(spec), spec.name)
        self.model_combo.setCurrentIndex(list(MODELS).index(model_name))
        self.bandwidth_slider = BandwidthSlider(MODELS[model_name], bandwidth)
        self.lm_check = QCheckBox("Use LM")
        self._lm_wanted = use_lm
        self.estimate_label = QLabel()
        self.estimate_label.setEnabled(False)
        self.model_note = QLabel(BUNDLED_NOTE)
        self.model_note.setWordWrap(True)  # never widens the window
        self.get_models_button = QPushButton("Get Meta's models…")
        self.get_models_button.setToolTip(
            "Open the Models window to download or import Meta's EnCodec weights"
        )

        self._output_dir = output_dir
        self.output_edit = QLineEdit()
        self.output_edit.setReadOnly(True)
        self.output_edit.setPlaceholderText("Next to each input file")
        self.output_edit.setMinimumWidth(180)
        self.output_button = QPushButton("Choose…")
        self.output_reset = QPushButton("Next to input")
        self.overwrite_combo = QComboBox()
        for policy, label in OVERWRITE_LABELS.items():
            self.overwrite_combo.addItem(label, policy.value)
        self.overwrite_combo.setCurrentIndex(list(OVERWRITE_LABELS).index(overwrite))
        self.overwrite_combo.setToolTip("What to do when the output file already exists")

        model_label, output_label = QLabel("Model"), QLabel("Output")
        label_width = max(model_label.sizeHint().width(), output_label.sizeHint().width())
        model_label.setFixedWidth(label_width)
        output_label.setFixedWidth(label_width)
        self.bandwidth_slider.setMaximumWidth(380)

        first = QHBoxLayout()
        first.addWidget(model_label)
        first.addWidget(self.model_combo)
        first.addSpacing(18)
        first.addWidget(QLabel("Bandwidth"))
        first.addWidget(self.bandwidth_slider, 1)
        first.addSpacing(18)
        first.addWidget(self.lm_check)
        first.addStretch(0)
        second = QHBoxLayout()
        second.addWidget(output_label)
        second.addWidget(self.output_edit, 1)
        second.addWidget(self.output_button)
        second.addWidget(self.output_reset)
        second.addSpacing(18)
        second.addWidget(QLabel("If the file exists"))
        second.addWidget(self.overwrite_combo)
        third = QHBoxLayout()
        third.addSpacing(label_width + 6)
        third.addWidget(self.estimate_label, 1)
        note = QHBoxLayout()
        note.addSpacing(label_width + 6)
        note.addWidget(self.model_note, 1)
        note.addWidget(self.get_models_button)
        rows = QVBoxLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(6)
        rows.addLayout(first)
        rows.addLayout(second)
        rows.addLayout(third)
        rows.addLayout(note)

        self.model_combo.currentIndexChanged.connect(self._on_model)
        self.bandwidth_slider.bandwidth_changed.connect(lambda _b: self._changed())
        self.lm_check.toggled.connect(self._on_lm)
        self.get_models_button.clicked.connect(self.official_models_requested.emit)
        self.output_button.clicked.connect(self._choose_output)
        self.output_reset.clicked.connect(lambda: self.set_output_dir(None))
        self.overwrite_combo.currentIndexChanged.connect(lambda _i: self.output_changed.emit())
        self._sync_lm()
        self._sync_note()
        self.set_output_dir(output_dir, emit=False)

    # --- reading ------------------------------------------------------------------------------------------
    def spec(self) -> ModelSpec:
        return MODELS[self.model_combo.currentData()]

    def model_name(self) -> str:
        return str(self.model_combo.currentData())

    def bandwidth(self) -> float:
        return self.bandwidth_slider.bandwidth()

    def use_lm(self) -> bool:
        return self.lm_check.isChecked() and self.spec().has_lm

    def compress_settings(self) -> CompressSettings:
        return CompressSettings(self.model_name(), self.bandwidth(), self.use_lm())

    def output_dir(self) -> Path | None:
        return self._output_dir

    def overwrite(self) -> OverwritePolicy:
        return OverwritePolicy(self.overwrite_combo.currentData())

    # --- writing ------------------------------------------------------------------------------------------
    def show_settings(self, settings: CompressSettings) -> None:
        """Display `settings` (e.g. of the selected item) without emitting `compress_settings_changed`."""
        self.blockSignals(True)
        try:
            self.model_combo.setCurrentIndex(list(MODELS).index(settings.model_name))
            self.bandwidth_slider.set_model(MODELS[settings.model_name], settings.bandwidth)
            if self.spec().has_lm:
                self._lm_wanted = settings.use_lm
            self._sync_lm()
            self._sync_note()
        finally:
            self.blockSignals(False)
        self._update_bitrate_tooltip()

    def set_estimate(self, text: str) -> None:
        self.estimate_label.setText(text)

    def set_output_dir(self, path: Path | None, *, emit: bool = True) -> None:
        self._output_dir = path
        self.output_edit.setText("" if path is None else str(path))
        self.output_edit.setToolTip("" if path is None else str(path))
        self.output_reset.setEnabled(path is not None)
        if emit:
            self.output_changed.emit()

    def set_overwrite(self, policy: OverwritePolicy) -> None:
        self.overwrite_combo.setCurrentIndex(list(OVERWRITE_LABELS).index(policy))

    # --- internals ----------------------------------------------------------------------------------------
    def _on_model(self, _index: int) -> None:
        self.bandwidth_slider.blockSignals(True)
        self.bandwidth_slider.set_model(self.spec())
        self.bandwidth_slider.blockSignals(False)
        self._sync_lm()
        self._sync_note()
        self._changed()

    def _on_lm(self, checked: bool) -> None:
        if self.spec().has_lm:
            self._lm_wanted = checked
        self._changed()

    def _sync_note(self) -> None:
        # One calm line, never a dialog: the bundled model is a fine default, Meta's are one click away.
        bundled = not self.spec().official
        self.model_note.setVisible(bundled)
        self.get_models_button.setVisible(bundled)

    def _sync_lm(self) -> None:
        has_lm = self.spec().has_lm
        self.lm_check.blockSignals(True)
        self.lm_check.setEnabled(has_lm)
        self.lm_check.setChecked(has_lm and self._lm_wanted)
        self.lm_check.blockSignals(False)
        self.lm_check.setToolTip(LM_HINT if has_lm else NO_LM_HINT)

    def _changed(self) -> None:
        self._update_bitrate_tooltip()
        self.compress_settings_changed.emit()

    def _update_bitrate_tooltip(self) -> None:
        spec = self.spec()
        kbps = bitrate_kbps(spec, self.bandwidth())
        self.bandwidth_slider.setToolTip(
            f"{format_kbps(kbps)}: {spec.codebooks_for_bandwidth(self.bandwidth())} codebooks × "
            f"{spec.bits_per_codebook} bits × {spec.frame_rate} frames/s"
        )

    def _choose_output(self) -> None:
        start = str(self._output_dir) if self._output_dir is not None else ""
        folder = QFileDialog.getExistingDirectory(self, "Output folder", start)
        if folder:
            self.set_output_dir(Path(folder))


def _model_title(spec: ModelSpec) -> str:
    return spec.title
