"""The compare view of one audio file: its bitrate ladder, spectrograms, sample-accurate A/B and blind ABX.

Opened by the main window's per-item "Compare…" action:

    window = CompareWindow(path, runner, pool, "encodec_24khz", parent=main_window)

Keys: Space play/pause, 1..9 a version, O the original, Left/Right seek 1 s (Shift: 5 s), L loop the region
selected by dragging on a spectrogram, Escape clears that region.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.compare.abx_dialog import AbxDialog
from app.compare.controls import CompareControls
from app.compare.ladder_table import LadderTable
from app.compare.session import CompareSession, SpectrogramImage
from app.compare.spectrogram_view import SpectrogramView
from app.compare.transport import CompareTransport
from app.player import Player
from app.tasks import TaskRunner
from codec.baselines import opus_available
from codec.ladder import OPUS_MIN_KBPS, LadderCache
from codec.specs import format_bandwidth, get_spec

SEEK_STEP_S = 1.0
SEEK_STEP_LARGE_S = 5.0


class CompareWindow(QMainWindow):
    """Compare one file's encodings; everything slow runs on `runner`, playback on its own stream."""

    def __init__(
        self,
        source_path: Path,
        runner: TaskRunner,
        pool: Any,
        model_name: str,
        parent: QWidget | None = None,
        *,
        player: Player | None = None,
        cache: LadderCache | None = None,
    ) -> None:
        super().__init__(parent)
        self.source_path = Path(source_path)
        self.spec = get_spec(model_name)
        self.setWindowTitle(f"Compare — {self.source_path.name} — {self.spec.title}")
        self.resize(1100, 820)
        self.session = CompareSession(self.source_path, runner, pool, self.spec.name, self, cache)
        self.player = player if player is not None else Player(self)
        if self.player.parent() is None:
            self.player.setParent(self)
        self.chosen_version = 1  # the encoded version the spectrogram compares with the original
        self.blind = False
        self.abx_dialog: AbxDialog | None = None
        self._build()
        self._connect()
        self._shortcuts()
        self._refresh_availability()
        self.status("Reading the file…")
        self.session.load()

    # -- construction -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.bandwidth_boxes: dict[float, QCheckBox] = {}
        ladder_row = QHBoxLayout()
        ladder_row.addWidget(QLabel(f"<b>{self.spec.name}</b> at"))
        for bandwidth in self.spec.bandwidths:
            box = QCheckBox(f"{format_bandwidth(bandwidth)} kbps")
            box.setChecked(True)
            box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            self.bandwidth_boxes[bandwidth] = box
            ladder_row.addWidget(box)
        self.opus_box = QCheckBox("Opus too")
        self.opus_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        if opus_available():
            self.opus_box.setToolTip(
                f"Add Opus at the same bitrates (from {format_bandwidth(OPUS_MIN_KBPS)} kbps), to A/B and ABX the "
                "neural codec against the classical one"
            )
        else:
            self.opus_box.setEnabled(False)
            self.opus_box.setToolTip("Install opus-tools (opusenc, opusdec) to compare with Opus")
        ladder_row.addWidget(self.opus_box)
        self.encode_button = QPushButton("Encode ladder")
        self.encode_button.setToolTip("Encode the file at every checked bandwidth, decode it and score it")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(200)
        self.progress.hide()  # shown while the ladder encodes
        for button in (self.encode_button, self.cancel_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            ladder_row.addWidget(button)
        ladder_row.addWidget(self.progress)
        ladder_row.addStretch(1)

        self.table = LadderTable()
        self.controls = CompareControls()
        self.view = SpectrogramView()
        self.transport = CompareTransport()

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(ladder_row)
        top_layout.addWidget(self.table)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.controls)
        bottom_layout.addWidget(self.view, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([230, 560])

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.transport)
        self.setCentralWidget(central)

    def _connect(self) -> None:
        session, player, view = self.session, self.player, self.view
        session.source_loaded.connect(self._source_loaded)
        session.source_failed.connect(lambda message: self.status(f"Cannot read the file: {message}"))
        session.ladder_started.connect(self._ladder_started)
        session.ladder_progress.connect(
            lambda done, total: self.progress.setValue(int(1000 * done / max(1, total)))
        )
        session.ladder_finished.connect(self._ladder_finished)
        session.ladder_failed.connect(self._ladder_failed)
        session.image_ready.connect(self._image_ready)
        session.image_failed.connect(lambda message: self.status(f"Spectrogram failed: {message}"))

        self.encode_button.clicked.connect(self.encode_ladder)
        self.cancel_button.clicked.connect(session.cancel_ladder)
        self.table.version_chosen.connect(self.choose_version)

        self.controls.layout_changed.connect(view.set_layout_mode)
        self.controls.difference_toggled.connect(self._difference_toggled)
        self.controls.scale_changed.connect(self._scale_changed)
        self.controls.levels_changed.connect(view.set_levels)
        view.levels_changed.connect(self.controls.set_levels)
        view.seek_requested.connect(player.seek_seconds)
        view.loop_region_changed.connect(self._loop_region_changed)

        self.transport.play_clicked.connect(self.toggle_play)
        self.transport.loop_toggled.connect(self.set_looping)
        self.transport.device_chosen.connect(player.set_device)
        self.transport.refresh_requested.connect(self.refresh_devices)
        self.transport.abx_clicked.connect(self.open_abx)

        player.position_changed.connect(self._position_changed)
        player.playing_changed.connect(self.transport.set_playing)
        player.selection_changed.connect(self._selection_changed)
        player.availability_changed.connect(lambda *_: self._refresh_availability())
        player.error_occurred.connect(self.status)

    def _shortcuts(self) -> None:
        keys: list[tuple[str, Any]] = [
            ("Space", self.toggle_play),
            ("O", lambda: self.select_version(0)),
            ("Left", lambda: self.seek_by(-SEEK_STEP_S)),
            ("Right", lambda: self.seek_by(SEEK_STEP_S)),
            ("Shift+Left", lambda: self.seek_by(-SEEK_STEP_LARGE_S)),
            ("Shift+Right", lambda: self.seek_by(SEEK_STEP_LARGE_S)),
            ("L", self.toggle_loop),
            ("Escape", self.clear_loop),
        ]
        keys += [(str(n), lambda n=n: self.select_version(n)) for n in range(1, 10)]
        self.shortcuts = {}
        for key, slot in keys:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)
            self.shortcuts[key] = shortcut

    # -- status -------------------------------------------------------------------------------------

    def status(self, message: str) -> None:
        self.statusBar().showMessage(message)

    def _refresh_availability(self) -> None:
        player = self.player
        ready = self.session.loaded
        self.transport.set_devices(player.devices, player.device)
        self.transport.set_available(player.available, player.unavailable_reason)
        if player.available:
            self.transport.play_button.setEnabled(ready)
            self.transport.abx_button.setEnabled(ready and self.session.version_count() > 1)

    def refresh_devices(self) -> None:
        """Look for output devices again (one plugged in, or an audio server started, since)."""
        self.player.refresh_devices()
        self._refresh_availability()

    def set_output_device(self, device: int | str | None) -> None:
        """Play through `device` (index, name, or None for the system default)."""
        self.player.set_device(device)
        self._refresh_availability()

    # -- source and ladder --------------------------------------------------------------------------

    def _source_loaded(self) -> None:
        session = self.session
        channels = session.audio.shape[0]
        kind = {1: "mono", 2: "stereo"}.get(channels, f"{channels} channels")
        self.table.set_original(
            f"Original ({session.sample_rate / 1000:g} kHz {kind}, {self.source_path.suffix.lstrip('.').upper()})",
            session.source_bytes,
            session.duration,
        )
        self.table.set_current(0)
        self.view.set_duration(session.duration)
        self.player.set_sources(session.versions(), session.sample_rate)
        self._refresh_availability()
        self._position_changed(0)
        self.session.request_image(0, "signal", self.view.scale)
        wanted = self.checked_bandwidths()
        if wanted and len(self.session.cached_bandwidths(wanted)) == len(wanted):
            self.encode_ladder()  # everything is cached: show it at once
        else:
            self.status("Choose bandwidths and press “Encode ladder”.")

    def checked_bandwidths(self) -> list[float]:
        return [b for b, box in self.bandwidth_boxes.items() if box.isChecked()]

    def set_checked_bandwidths(self, bandwidths: list[float]) -> None:
        for bandwidth, box in self.bandwidth_boxes.items():
            box.setChecked(any(abs(bandwidth - b) < 1e-9 for b in bandwidths))

    def encode_ladder(self) -> None:
        """Encode the checked bandwidths (cached ones come back at once)."""
        wanted = self.checked_bandwidths()
        if not wanted:
            self.status("Check at least one bandwidth.")
            return
        opus = [b for b in wanted if b >= OPUS_MIN_KBPS] if self.opus_box.isChecked() else []
        self.session.run_ladder(wanted, opus)

    def _ladder_started(self) -> None:
        self.encode_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.show()
        self.status("Encoding the ladder…")

    def _ladder_done_ui(self) -> None:
        self.encode_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.hide()

    def _ladder_finished(self, rungs: list) -> None:
        self._ladder_done_ui()
        self.table.set_rungs(rungs)
        self.player.set_sources(self.session.versions(), self.session.sample_rate)
        self.table.set_current(self.player.selected if not self.blind else 0)
        self._refresh_availability()
        self.chosen_version = min(max(1, self.chosen_version), len(rungs))
        self._show_chosen_version()
        self.status(
            f"Ladder ready: {len(rungs)} versions. Keys 1–{min(9, len(rungs))} switch, O the original."
        )

    def _ladder_failed(self, message: str) -> None:
        self._ladder_done_ui()
        self.status("Ladder cancelled." if not message else f"Ladder failed: {message}")

    # -- versions -----------------------------------------------------------------------------------

    def select_version(self, index: int) -> None:
        """Listen to version `index` (0: original) and, for an encoded one, show it in the spectrogram."""
        if self.blind or not 0 <= index < self.session.version_count():
            return
        self.player.select(index)
        self.table.set_current(index)
        if index > 0 and index != self.chosen_version:
            self.chosen_version = index
            self._show_chosen_version()

    def choose_version(self, index: int) -> None:
        self.select_version(index)

    def _selection_changed(self, index: int) -> None:
        if not self.blind:
            self.table.set_current(index)

    def _show_chosen_version(self) -> None:
        index = self.chosen_version
        if index < 1 or index >= self.session.version_count():
            return
        label = self.session.version_label(index)
        self.view.set_title("version", label)
        self.view.set_title("difference", f"Difference ({label} − original)")
        self.session.request_image(index, "signal", self.view.scale)
        if self.view.difference_visible:
            self.session.request_image(index, "difference", self.view.scale)

    # -- spectrograms -------------------------------------------------------------------------------

    def _image_ready(self, image: SpectrogramImage) -> None:
        if image.scale != self.view.scale:
            return  # the scale changed while it was computed
        if image.kind == "difference":
            if image.version != self.chosen_version:
                return
            slot = "difference"
        elif image.version == 0:
            slot = "original"
        elif image.version == self.chosen_version:
            slot = "version"
        else:
            return
        self.view.set_image(slot, image.db, image.edges, image.x0, image.x1)

    def _scale_changed(self, scale: str) -> None:
        self.view.set_scale(scale)
        for slot in ("original", "version", "difference"):
            self.view.clear_image(slot)
        self.session.request_image(0, "signal", scale)
        self._show_chosen_version()

    def _difference_toggled(self, visible: bool) -> None:
        self.view.set_difference_visible(visible)
        if visible:
            self._show_chosen_version()

    # -- transport ----------------------------------------------------------------------------------

    def toggle_play(self) -> None:
        if self.session.loaded:
            self.player.toggle()

    def seek_by(self, seconds: float) -> None:
        rate = self.player.sample_rate
        if rate:
            self.player.seek(self.player.position + round(seconds * rate))

    def _position_changed(self, frame: int) -> None:
        rate = self.player.sample_rate or 1
        self.view.set_playhead(frame / rate)
        self.transport.set_time(frame / rate, self.session.duration)

    def _loop_region_changed(self, start: float, end: float) -> None:
        rate = self.player.sample_rate
        self.player.set_loop(round(start * rate), round(end * rate))
        self.status(
            f"Loop region {start:.2f}–{end:.2f} s" + ("" if self.looping else " (press L to loop it)")
        )

    @property
    def looping(self) -> bool:
        return self.transport.loop_button.isChecked()

    def set_looping(self, enabled: bool) -> None:
        if enabled and self.view.loop_region() is None:
            self.transport.set_loop_checked(False)
            self.status("Drag on a spectrogram to select the region to loop.")
            return
        self.transport.set_loop_checked(enabled)
        self.player.set_loop_enabled(enabled)
        region = self.view.loop_region()
        if enabled and region is not None and self.player.sample_rate:
            here = self.player.position / self.player.sample_rate
            if not region[0] <= here < region[1]:
                self.player.seek_seconds(region[0])

    def toggle_loop(self) -> None:
        self.set_looping(not self.looping)

    def clear_loop(self) -> None:
        self.view.clear_loop_region()
        self.player.set_loop(None)
        self.set_looping(False)

    # -- blind ABX ----------------------------------------------------------------------------------

    def open_abx(self) -> AbxDialog | None:
        """Open the blind test between the original and the chosen version (both changeable there)."""
        if self.session.version_count() < 2 or not self.player.available:
            return None
        labels = [self.session.version_label(i) for i in range(self.session.version_count())]
        dialog = AbxDialog(self.player, labels, self, version_a=0, version_b=self.chosen_version)
        dialog.blind_changed.connect(self._set_blind)
        dialog.setModal(True)
        dialog.finished.connect(lambda _: setattr(self, "abx_dialog", None))
        self.abx_dialog = dialog
        dialog.open()
        return dialog

    def _set_blind(self, blind: bool) -> None:
        self.blind = blind
        self.table.set_highlight_enabled(not blind)
        if not blind:
            self.table.set_current(self.player.selected)

    # -- closing ------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        self.session.close()
        self.player.close()
        super().closeEvent(event)
