"""The Live window: pick devices, Start, and hear the input through the codec; switch bitrate and A/B live.

The window never processes audio: `LivePipeline` does, on its worker thread and the audio callbacks. A timer
polls the pipeline's statistics for the meters, the measured latency, the under-/over-run counters and the
"cannot keep up" warning. The model loads on the task runner the first time Start is pressed; stopping,
which writes the recordings, runs there too.

Without PortAudio, or without an input or output device, the window says why and disables what cannot work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.audio_devices import AudioDevice, given_or_loaded, list_devices
from app.bandwidth_slider import BandwidthSlider
from app.live.devices import load_backend, rescan
from app.live.meters import LevelMeter
from app.tasks import TaskRunner
from codec.fileio import unique_path
from codec.specs import ModelSpec, format_bandwidth

if TYPE_CHECKING:
    from app.codec_bridge import CodecBridge
    from app.live.pipeline import LivePipeline

#: Output cushions offered (seconds): more survives a busier machine, at that much more latency.
BUFFERS_S = (0.02, 0.04, 0.08, 0.16)
DEFAULT_BUFFER_S = 0.04
POLL_MS = 50

ModelLoader = Callable[[], Any]  # runs on a worker; returns the EncodecModel


class LiveWindow(QWidget):
    """`LiveWindow(spec, runner, load_model)`: `load_model()` returns the model (called on a worker thread)."""

    started = Signal()
    stopped = Signal(object)  # LiveResult
    failed = Signal(str)

    def __init__(
        self,
        spec: ModelSpec,
        runner: TaskRunner,
        load_model: ModelLoader,
        parent: QWidget | None = None,
        *,
        backend: ModuleType | None = None,
        record_folder: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Live - {spec.title}")
        self.spec = spec
        self.runner = runner
        self._load_model = load_model
        self._sd, self._backend_reason = given_or_loaded(backend, load_backend)
        self.pipeline: LivePipeline | None = None  # once the model is loaded
        self._busy = False
        self.result: Any = None
        self._build(record_folder or Path.home())
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self.refresh_devices()

    # -- construction -------------------------------------------------------------------------------

    def _build(self, folder: Path) -> None:
        self.input_combo = QComboBox()
        self.output_combo = QComboBox()
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_devices)
        self.bandwidth_slider = BandwidthSlider(self.spec, 6.0 if 6.0 in self.spec.bandwidths else None)
        self.bandwidth_slider.bandwidth_changed.connect(self._bandwidth_changed)
        self.buffer_combo = QComboBox()
        for seconds in BUFFERS_S:
            self.buffer_combo.addItem(f"{seconds * 1000:g} ms", seconds)
        self.buffer_combo.setCurrentIndex(BUFFERS_S.index(DEFAULT_BUFFER_S))
        self.buffer_combo.setToolTip("Output cushion: more survives a busy machine, and adds to the latency")

        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.a_button = QPushButton("A: original")
        self.b_button = QPushButton("B: codec")
        self.ab_group = QButtonGroup(self)
        for index, button in enumerate((self.a_button, self.b_button)):
            button.setCheckable(True)
            self.ab_group.addButton(button, index)
        self.b_button.setChecked(True)
        self.ab_group.idToggled.connect(self._ab_toggled)
        self.a_button.setToolTip("The input, delayed by the codec's latency so that switching does not jump")

        self.input_meter = LevelMeter()
        self.output_meter = LevelMeter()
        self.latency_label = QLabel("-")
        self.xrun_label = QLabel("-")
        self.load_label = QLabel("-")
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)

        self.record_ecdc = QCheckBox("Record the take to .ecdc (at the bitrate set at Start)")
        self.record_wav = QCheckBox("Record the original to .wav")
        self.folder_edit = QLineEdit(str(folder))
        self.folder_button = QPushButton("Browse…")
        self.folder_button.clicked.connect(self._browse)

        devices = QFormLayout()
        devices.addRow("Input", self.input_combo)
        out_row = QHBoxLayout()
        out_row.addWidget(self.output_combo, 1)
        out_row.addWidget(self.refresh_button)
        devices.addRow("Output", out_row)
        devices.addRow("Bitrate", self.bandwidth_slider)
        devices.addRow("Buffer", self.buffer_combo)

        transport = QHBoxLayout()
        transport.addWidget(self.start_button)
        transport.addWidget(self.stop_button)
        transport.addStretch(1)
        transport.addWidget(QLabel("Listen to"))
        transport.addWidget(self.a_button)
        transport.addWidget(self.b_button)

        meters = QGridLayout()
        meters.addWidget(QLabel("In"), 0, 0)
        meters.addWidget(self.input_meter, 0, 1)
        meters.addWidget(QLabel("Out"), 1, 0)
        meters.addWidget(self.output_meter, 1, 1)
        meters.addWidget(QLabel("Latency"), 2, 0)
        meters.addWidget(self.latency_label, 2, 1)
        meters.addWidget(QLabel("Under/over-runs"), 3, 0)
        meters.addWidget(self.xrun_label, 3, 1)
        meters.addWidget(QLabel("Processing load"), 4, 0)
        meters.addWidget(self.load_label, 4, 1)

        record = QGroupBox("Record")
        record_layout = QGridLayout(record)
        record_layout.addWidget(self.record_ecdc, 0, 0, 1, 3)
        record_layout.addWidget(self.record_wav, 1, 0, 1, 3)
        record_layout.addWidget(QLabel("Folder"), 2, 0)
        record_layout.addWidget(self.folder_edit, 2, 1)
        record_layout.addWidget(self.folder_button, 2, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(devices)
        layout.addLayout(transport)
        layout.addLayout(meters)
        layout.addWidget(record)
        layout.addWidget(self.status_label)
        layout.addStretch(1)
        self.resize(560, 420)

    # -- devices ------------------------------------------------------------------------------------

    @property
    def input_devices(self) -> list[AudioDevice]:
        return list(self._inputs)

    @property
    def output_devices(self) -> list[AudioDevice]:
        return list(self._outputs)

    def refresh_devices(self) -> None:
        """Re-scan devices (not while running: a rescan closes every open stream)."""
        if self.running:
            return
        self._inputs: list[AudioDevice] = []
        self._outputs: list[AudioDevice] = []
        reason = self._backend_reason
        if self._sd is not None:
            rescan(self._sd)
            self._inputs, in_reason = list_devices(self._sd, "input")
            self._outputs, out_reason = list_devices(self._sd, "output")
            reason = in_reason or out_reason
        for combo, devices in ((self.input_combo, self._inputs), (self.output_combo, self._outputs)):
            combo.clear()
            for device in devices:
                combo.addItem(device.label, device.index)
            default = next((i for i, d in enumerate(devices) if d.default), 0)
            if devices:
                combo.setCurrentIndex(default)
        self.unavailable_reason = reason
        self._update_enabled()
        self._set_status(reason, error=bool(reason))

    def select_devices(self, input_name: str | None = None, output_name: str | None = None) -> None:
        """Select devices by name (e.g. "pulse"); unknown names leave the selection as it is."""
        for combo, devices, name in (
            (self.input_combo, self._inputs, input_name),
            (self.output_combo, self._outputs, output_name),
        ):
            index = next((i for i, d in enumerate(devices) if d.name == name), None)
            if index is not None:
                combo.setCurrentIndex(index)

    # -- session ------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.pipeline is not None and self.pipeline.running

    def start(self) -> None:
        if self.running or self._busy or self.unavailable_reason:
            return
        if self.pipeline is None:
            self._busy = True
            self._update_enabled()
            self._set_status("Loading the model…")
            load = self._load_model
            self.runner.run(
                lambda progress, cancel: load(), on_done=self._model_loaded, on_error=self._load_failed
            )
            return
        self._start_pipeline()

    def _model_loaded(self, model: Any) -> None:
        from app.live.pipeline import LivePipeline  # noqa: PLC0415 - torch only once Live is used

        self._busy = False
        self.pipeline = LivePipeline(model, self._sd)
        self._start_pipeline()

    def _load_failed(self, exc: object) -> None:
        self._busy = False
        self._update_enabled()
        self._fail(f"The model could not be loaded: {exc}")

    def _recording_paths(self) -> tuple[Path | None, Path | None]:
        if not (self.record_ecdc.isChecked() or self.record_wav.isChecked()):
            return None, None
        folder = Path(self.folder_edit.text()).expanduser()
        stem = "live-" + time.strftime("%Y%m%d-%H%M%S")
        ecdc = unique_path(folder / f"{stem}.ecdc") if self.record_ecdc.isChecked() else None
        wav = unique_path(folder / f"{stem}.wav") if self.record_wav.isChecked() else None
        return ecdc, wav

    def _start_pipeline(self) -> None:
        from app.live.pipeline import LiveConfig, LiveError  # noqa: PLC0415

        ecdc, wav = self._recording_paths()
        config = LiveConfig(
            input_device=self.input_combo.currentData(),
            output_device=self.output_combo.currentData(),
            bandwidth=self.bandwidth_slider.bandwidth(),
            buffer_s=float(self.buffer_combo.currentData()),
            record_ecdc=ecdc,
            record_wav=wav,
            monitor_codec=self.b_button.isChecked(),
        )
        try:
            self.pipeline.start(config)
        except LiveError as exc:
            self._update_enabled()
            self._fail(str(exc))
            return
        self.input_meter.reset()
        self.output_meter.reset()
        self._timer.start()
        self._update_enabled()
        self._set_status(f"Live at {format_bandwidth(config.bandwidth)} kbps.")
        self.started.emit()

    def stop(self) -> None:
        """Stop; the recordings are written on the task runner, then `stopped(LiveResult)` is emitted."""
        if not self.running or self._busy:
            return
        self._timer.stop()
        self.poll()
        self._busy = True
        self._update_enabled()
        self._set_status("Stopping…")
        pipeline = self.pipeline
        self.runner.run(
            lambda progress, cancel: pipeline.stop(), on_done=self._stopped, on_error=self._stop_failed
        )

    def _stopped(self, result: Any) -> None:
        self._busy = False
        self.result = result
        self._update_enabled()
        written = [str(p) for p in (result.ecdc, result.wav) if p is not None]
        stats = result.stats
        summary = (
            f"Stopped after {result.seconds:.1f} s; {stats.underruns} under-runs, {stats.overruns} over-runs."
        )
        self._set_status(summary + (" Wrote " + ", ".join(written) + "." if written else ""))
        self.stopped.emit(result)

    def _stop_failed(self, exc: object) -> None:
        self._busy = False
        self._update_enabled()
        self._fail(str(exc))

    # -- live controls ------------------------------------------------------------------------------

    def _bandwidth_changed(self, bandwidth: float) -> None:
        if self.pipeline is not None:
            self.pipeline.set_bandwidth(bandwidth)

    def _ab_toggled(self, button_id: int, checked: bool) -> None:
        if checked and self.pipeline is not None:
            self.pipeline.set_monitor_codec(button_id == 1)

    def set_monitor_codec(self, codec: bool) -> None:
        (self.b_button if codec else self.a_button).setChecked(True)

    # -- polling ------------------------------------------------------------------------------------

    def poll(self) -> None:
        if self.pipeline is None:
            return
        stats = self.pipeline.stats()
        self.input_meter.set_level(stats.input_peak)
        self.output_meter.set_level(stats.output_peak)
        self.latency_label.setText(
            "-" if stats.latency_s is None else f"{stats.latency_s * 1000:.0f} ms (measured)"
        )
        self.xrun_label.setText(
            f"{stats.underruns} / {stats.overruns}"
            + (f" (host {stats.host_xruns})" if stats.host_xruns else "")
        )
        steps = f", {stats.step_frames} frames per step" if stats.step_frames > 1 else ""
        self.load_label.setText(f"{stats.load * 100:.0f} % of real time{steps}")
        if stats.error:
            self._fail(stats.error)
            self.stop()
        elif stats.behind:
            self._set_status(
                "This machine cannot keep up: audio is lost (see the counters). Choose a larger buffer or a "
                "lower bitrate, or close other programs.",
                error=True,
            )
        elif self.running:
            self._set_status(f"Live at {format_bandwidth(self.bandwidth_slider.bandwidth())} kbps.")

    # -- helpers ------------------------------------------------------------------------------------

    def _update_enabled(self) -> None:
        available = not self.unavailable_reason
        running, busy = self.running, self._busy
        idle = not running and not busy
        for widget in (self.input_combo, self.output_combo, self.buffer_combo, self.record_ecdc, self.record_wav,
                       self.folder_edit, self.folder_button):  # fmt: skip
            widget.setEnabled(available and idle)
        self.refresh_button.setEnabled(self._sd is not None and idle)
        self.start_button.setEnabled(available and idle)
        self.stop_button.setEnabled(running and not busy)
        self.bandwidth_slider.setEnabled(available)
        self.a_button.setEnabled(available)
        self.b_button.setEnabled(available)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #c0392b;" if error else "")

    def _fail(self, message: str) -> None:
        self._set_status(message, error=True)
        self.failed.emit(message)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Record into", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def closeEvent(self, event) -> None:  # noqa: N802, ANN001
        if self.running:
            self._timer.stop()
            try:
                self.pipeline.stop()
            except Exception as exc:  # noqa: BLE001 - closing must not raise; say it on the way out
                self._fail(str(exc))
        super().closeEvent(event)


def pool_loader(bridge: CodecBridge, model_name: str) -> ModelLoader:
    """A `load_model` for the app: the shared model pool (which never downloads: `WeightsMissing`)."""

    def load() -> Any:
        return bridge.pool().model(model_name)

    return load


def live_spec(model_name: str) -> ModelSpec:
    """The model Live uses: `model_name` when it can stream frame by frame, else the 24 kHz model."""
    from codec.specs import get_spec  # noqa: PLC0415

    spec = get_spec(model_name)
    return spec if spec.streams_frames else get_spec("encodec_24khz")
