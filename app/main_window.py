"""The main window: drop area, settings strip, queue table and the buttons and menus that drive the queue.

The window wires widgets to the core objects (`QueueModel`, `CompressionQueue`, `TaskRunner`, `CodecBridge`)
and shows their outcomes; it does no file or model work itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.codec_bridge import CodecBridge, import_torch_quietly
from app.drop_area import DropArea, accept_path_drag, take_dropped_paths
from app.estimates import estimate_text, settings_targets, summary_text
from app.file_collect import Collected, collect
from app.main_actions import MainActions
from app.models_dialog import ModelsDialog
from app.queue_controller import CompressionQueue, CompressSettings, ItemAction, OverwriteChoice
from app.queue_model import ItemKind, ItemState, QueueItem, QueueModel, path_key
from app.queue_table import QueueTable
from app.settings import AppSettings
from app.settings_strip import LM_HINT, SettingsStrip
from app.tasks import TaskRunner
from app.weights_dialog import WeightsDialog, WeightsPrompts
from codec.filetypes import open_dialog_filter, output_path_for
from codec.progress import CancelToken
from codec.specs import MODELS

if TYPE_CHECKING:
    from app.player import Player

log = logging.getLogger(__name__)

APP_TITLE = "ECDC Studio"
STARTUP_MARKER_ENV = "ECDC_STUDIO_STARTUP_MARKER"
OPEN_FILTER = open_dialog_filter()
WARM_UP_DELAY_MS = 1500
#: Up to this many files (no folders) are added on the spot; more are collected on a worker.
ADD_AT_ONCE = 64
#: Rows added per event-loop turn when a big drop is added (a few ms of UI-thread work each).
ADD_CHUNK = 100
#: Coalescing delay of the window's refresh (estimates, button states, summary).
REFRESH_MS = 60


class MainWindow(QMainWindow):
    """ECDC Studio's one window. `shown_once` fires after the first show has been painted."""

    shown_once = Signal()

    def __init__(
        self,
        settings: AppSettings,
        runner: TaskRunner | None = None,
        bridge: CodecBridge | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.runner = runner if runner is not None else TaskRunner(self)
        self.bridge = bridge if bridge is not None else CodecBridge()
        self.queue_model = QueueModel(self)
        self.queue = CompressionQueue(self.queue_model, self.runner, self.bridge, self)
        self.queue.ask_overwrite = self.ask_overwrite
        #: Asked when closing during a job; tests replace it. Returns True to cancel the jobs and close.
        self.confirm_close: Callable[[], bool] = self._ask_close
        self.weights_prompts = WeightsPrompts(self.runner, self)
        #: What to open once a model's weights are installed (compare or Live asked and the person agreed).
        self._after_install: dict[str, Callable[[], None]] = {}
        self.models_dialog: ModelsDialog | None = None
        self.compare_windows: list[QWidget] = []
        self.live_window: QWidget | None = None
        self.context_menu: QMenu | None = None
        self.player: Player | None = None  # created on first playback (numpy and sounddevice load then)
        self._playing_item: int | None = None
        self._shown = False

        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        self._build_widgets()
        self.main_actions = MainActions(self)
        self.item_menu = self.main_actions.fill_menu_bar(self.menuBar())
        self._connect()
        self._restore()

    # --- construction -------------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        model_name = self.settings.model
        self.drop_area = DropArea()
        self.strip = SettingsStrip(
            model_name,
            self.settings.bandwidth(model_name),
            self.settings.use_lm,
            self.settings.output_dir,
            self.settings.overwrite,
        )
        self.table = QueueTable(self.queue_model)
        self.compress_button = QPushButton("Compress")
        self.compress_button.setDefault(True)
        self.compress_button.setToolTip("Compress every file in the queue that is not compressed yet")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel the selected items")
        self.cancel_all_button = QPushButton("Cancel all")
        self.clear_button = QPushButton("Clear finished")
        self.summary_label = QLabel()

        buttons = QHBoxLayout()
        buttons.addWidget(self.compress_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.cancel_all_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        buttons.addWidget(self.summary_label)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(10, 10, 10, 6)
        layout.setSpacing(8)
        layout.addWidget(self.drop_area)
        layout.addWidget(self.strip)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.setCentralWidget(central)
        self.statusBar().setSizeGripEnabled(True)
        self.resize(1100, 640)

    def _connect(self) -> None:
        self.drop_area.paths_dropped.connect(self.add_paths)
        self.drop_area.browse_requested.connect(self.open_files_dialog)
        self.compress_button.clicked.connect(self.compress)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.cancel_all_button.clicked.connect(self.queue.cancel_all)
        self.clear_button.clicked.connect(self.queue.clear_finished)
        self.table.context_menu_requested.connect(self._context_menu)
        self.table.delete_pressed.connect(self.remove_selected)
        self.table.doubleClicked.connect(lambda _index: self.play_selected())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.strip.compress_settings_changed.connect(self._compress_settings_changed)
        self.strip.output_changed.connect(self._output_settings_changed)

        self.queue.weights_missing.connect(self.weights_prompts.request)
        self.weights_prompts.installed.connect(self._weights_installed)
        self.weights_prompts.declined.connect(self.queue.skip_missing_weights)
        self.weights_prompts.declined.connect(lambda name, _reason: self._after_install.pop(name, None))
        self.strip.official_models_requested.connect(self.show_models_dialog)
        self.queue.item_failed.connect(self._item_failed)
        self.queue.queue_finished.connect(self._queue_finished)
        self.queue.running_changed.connect(lambda _running: self._schedule_refresh())
        self.queue.action_finished.connect(self._action_finished)
        self.queue.action_failed.connect(self._action_failed)

        # Repaint-driven refreshes (estimates, button states) are coalesced: progress arrives 25 times a second.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._refresh)
        for signal in (
            self.queue_model.dataChanged,
            self.queue_model.rowsInserted,
            self.queue_model.rowsRemoved,
            self.queue_model.modelReset,
        ):
            signal.connect(self._schedule_refresh)
        self._apply_output_settings()
        self._refresh()

    def _restore(self) -> None:
        geometry = self.settings.geometry
        if geometry is not None:
            self.restoreGeometry(geometry)

    # --- adding files -------------------------------------------------------------------------------------
    def add_paths(self, paths: Iterable[Path | str]) -> list[int]:
        """Queue audio and `.ecdc` files, folders searched recursively; says in the status bar what happened.

        A few files are added at once (their ids are returned). Folders and long lists are searched on a
        worker and added a chunk per event-loop turn, so a drop of thousands of files never freezes the
        window; the rows appear as they are added and [] is returned.
        """
        paths = [Path(p) for p in paths]
        settings = self.strip.compress_settings()
        if len(paths) <= ADD_AT_ONCE and not any(p.is_dir() for p in paths):
            collected = collect(paths)
            added = self.queue.add_files(collected.files, settings)
            self._report_added(len(added), len(collected.files), collected.ignored)
            return added

        def search(progress: object, cancel: CancelToken) -> tuple[Collected, list[str]]:
            collected = collect(paths)
            cancel.raise_if_cancelled()
            return collected, [path_key(p) for p in collected.files]

        self.statusBar().showMessage("Looking for audio files…")
        self.runner.run(
            search,
            on_done=lambda found: self._add_in_chunks(*found, settings, 0, 0),
            on_error=lambda exc: self.statusBar().showMessage(f"Could not add the files: {exc}", 8000),
            lane="io",
        )
        return []

    def _add_in_chunks(
        self, collected: Collected, keys: list[str], settings: CompressSettings, start: int, added: int
    ) -> None:
        end = start + ADD_CHUNK
        added += len(self.queue.add_files(collected.files[start:end], settings, keys[start:end]))
        if end < len(collected.files):
            self.statusBar().showMessage(f"Adding files… {end} of {len(collected.files)}")
            QTimer.singleShot(0, lambda: self._add_in_chunks(collected, keys, settings, end, added))
        else:
            self._report_added(added, len(collected.files), collected.ignored)

    def _report_added(self, added: int, found: int, ignored: list[Path]) -> None:
        parts = [f"Added {added} file{'s' if added != 1 else ''}"]
        if found > added:
            parts.append(f"{found - added} already in the queue")
        if ignored:
            names = ", ".join(p.name for p in ignored[:3])
            parts.append(f"ignored {len(ignored)} that are not audio or .ecdc ({names})")
        self.statusBar().showMessage("; ".join(parts) + ".", 8000)

    def open_files_dialog(self) -> None:
        start = str(self.settings.last_open_dir or Path.home())
        files, _ = QFileDialog.getOpenFileNames(self, "Open audio or .ecdc files", start, OPEN_FILTER)
        if files:
            self.settings.last_open_dir = Path(files[0]).parent
            self.add_paths(files)

    def open_folder_dialog(self) -> None:
        start = str(self.settings.last_open_dir or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of audio files", start)
        if folder:
            self.settings.last_open_dir = Path(folder)
            self.add_paths([folder])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        accept_path_drag(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        accept_path_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = take_dropped_paths(event)
        if paths:
            self.add_paths(paths)

    # --- selection and settings ---------------------------------------------------------------------------
    def selected_items(self) -> list[QueueItem]:
        items = [self.queue_model.item(i) for i in self.table.selected_ids()]
        return [item for item in items if item is not None]

    def current_item(self) -> QueueItem | None:
        items = self.selected_items()
        return items[0] if items else None

    def settings_targets(self) -> list[QueueItem]:
        """Items the strip's settings apply to: the selected waiting items, else every waiting item."""
        return settings_targets(self.queue_model.items(), self.selected_items())

    def _selection_changed(self) -> None:
        waiting = [item for item in self.selected_items() if item.kind is ItemKind.AUDIO and item.spec_known]
        if waiting and (waiting[0].is_waiting or waiting[0].is_compressible):
            item = waiting[0]
            self.strip.show_settings(CompressSettings(item.model_name, item.bandwidth, item.use_lm))
        self._refresh()

    def _compress_settings_changed(self) -> None:
        settings = self.strip.compress_settings()
        self.settings.model = settings.model_name
        self.settings.set_bandwidth(settings.model_name, settings.bandwidth)
        if MODELS[settings.model_name].has_lm:
            self.settings.use_lm = settings.use_lm
        self.queue.apply_settings([item.id for item in self.settings_targets()], settings)
        self._refresh()

    def _output_settings_changed(self) -> None:
        self.settings.output_dir = self.strip.output_dir()
        self.settings.overwrite = self.strip.overwrite()
        self._apply_output_settings()

    def _apply_output_settings(self) -> None:
        self.queue.output_dir = self.strip.output_dir()
        self.queue.overwrite = self.strip.overwrite()

    # --- refresh ------------------------------------------------------------------------------------------
    def _schedule_refresh(self, *_args: object) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _refresh(self) -> None:
        self.strip.set_estimate(self.estimate_text())
        items = self.queue_model.items()
        compressible = set(self.queue.compressible_ids())
        can_compress = bool(compressible) and not self.queue.paused
        active = any(i.state in (ItemState.QUEUED, ItemState.RUNNING) or i.activity for i in items)
        finished = any(i.is_finished for i in items)
        self.compress_button.setEnabled(can_compress)
        self.cancel_all_button.setEnabled(active)
        self.clear_button.setEnabled(finished)
        self.main_actions.update_for_queue(can_compress, active, finished)
        self._update_item_actions(compressible)
        # A refresh walks the whole queue: with thousands of rows, do it less often.
        self._refresh_timer.setInterval(REFRESH_MS if len(items) < 500 else 4 * REFRESH_MS)
        self.summary_label.setText(self.summary_text())

    def _update_item_actions(self, compressible: set[int] | None = None) -> None:
        if compressible is None:
            compressible = set(self.queue.compressible_ids())
        playing = self.player is not None and self.player.playing
        self.main_actions.update_for_selection(self.selected_items(), compressible, playing)
        self.cancel_button.setEnabled(self.main_actions.cancel_selected.isEnabled())

    def estimate_text(self) -> str:
        """The strip's live line for its settings and the items they apply to (`app.estimates.estimate_text`)."""
        settings = self.strip.compress_settings()
        self.strip.estimate_label.setToolTip(LM_HINT if settings.use_lm else "")
        return estimate_text(
            MODELS[settings.model_name],
            settings.bandwidth,
            settings.use_lm,
            self.queue_model.items(),
            self.selected_items(),
        )

    def summary_text(self) -> str:
        return summary_text(self.queue_model.items())

    # --- queue commands -----------------------------------------------------------------------------------
    def compress(self) -> int:
        count = self.queue.start()
        if count:
            self.statusBar().showMessage(f"Compressing {count} file{'s' if count != 1 else ''}…", 4000)
        return count

    def compress_selected(self) -> int:
        return self.queue.start([item.id for item in self.selected_items()])

    def cancel_selected(self) -> None:
        self.queue.cancel([item.id for item in self.selected_items()])

    def remove_selected(self) -> None:
        self.queue.remove([item.id for item in self.selected_items()])

    def ask_overwrite(self, path: Path) -> OverwriteChoice:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("File exists")
        box.setText(f"{path.name} already exists in {path.parent}.")
        overwrite = box.addButton("Overwrite", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep both", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Skip", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.exec()
        clicked = box.clickedButton()
        if clicked is overwrite:
            return OverwriteChoice.OVERWRITE
        if clicked is keep:
            return OverwriteChoice.KEEP_BOTH
        return OverwriteChoice.SKIP

    def _item_failed(self, item_id: int, message: str) -> None:
        item = self.queue_model.item(item_id)
        if item is not None:
            self.statusBar().showMessage(f"{item.path.name}: {message}", 8000)

    def _queue_finished(self) -> None:
        self._refresh()
        done = sum(1 for i in self.queue_model.items() if i.state is ItemState.DONE)
        failed = sum(1 for i in self.queue_model.items() if i.state is ItemState.FAILED)
        self.statusBar().showMessage(f"Queue finished: {done} done, {failed} failed.", 8000)

    # --- per-item actions ---------------------------------------------------------------------------------
    def play_selected(self) -> None:
        """Play (or stop) the selected item's `.ecdc`: decoded on a worker, then handed to `play_audio`."""
        item = self.current_item()
        if self.player is not None and self.player.playing:
            self.player.pause()
            if item is None or item.id == self._playing_item:
                return
        if item is not None and item.ecdc_path is not None and item.activity is None:
            self.queue.decode(item.id)

    def play_audio(self, audio: Any, sample_rate: int, title: str, item_id: int | None = None) -> bool:
        """Play decoded float32 `[channels, frames]` audio through `app.player.Player`.

        Returns False (with the reason in the status bar) where playback is not available.
        """
        if self.player is None:
            from app.player import Player  # noqa: PLC0415 - numpy and sounddevice load on first playback

            self.player = Player(self)
            self.player.error_occurred.connect(lambda message: self.statusBar().showMessage(message, 8000))
            self.player.playing_changed.connect(lambda _playing: self._update_item_actions())
        if not self.player.available:
            self.statusBar().showMessage(self.player.unavailable_reason, 8000)
            return False
        self.player.set_sources([audio], sample_rate)
        self.player.seek(0)
        self.player.play()
        self._playing_item = item_id
        self.statusBar().showMessage(f"Playing {title} (Space stops)", 6000)
        return True

    def decode_selected(self) -> None:
        """Decode the selected `.ecdc` to a WAV beside it (or in the output folder), never overwriting."""
        from codec.fileio import unique_path  # noqa: PLC0415

        item = self.current_item()
        if item is None or item.ecdc_path is None:
            return
        dst = unique_path(output_path_for(item.ecdc_path, self.strip.output_dir(), ".wav"))
        self.queue.export_audio(item.id, dst)

    def export_selected(self, suffix: str) -> None:
        item = self.current_item()
        if item is None or item.ecdc_path is None:
            return
        proposal = output_path_for(item.ecdc_path, self.strip.output_dir(), suffix)
        kind = "WAV" if suffix == ".wav" else "FLAC"
        name, _ = QFileDialog.getSaveFileName(
            self, f"Export decoded audio as {kind}", str(proposal), f"{kind} files (*{suffix})"
        )
        if name:
            dst = Path(name)
            if dst.suffix.lower() != suffix:
                dst = dst.with_name(dst.name + suffix)
            self.queue.export_audio(item.id, dst)

    def save_selected_ecdc(self) -> None:
        item = self.current_item()
        if item is None or item.ecdc_path is None:
            return
        name, _ = QFileDialog.getSaveFileName(
            self, "Save .ecdc as", str(item.ecdc_path), "ECDC files (*.ecdc)"
        )
        if name:
            dst = Path(name)
            if dst.suffix.lower() != ".ecdc":
                dst = dst.with_name(dst.name + ".ecdc")
            self.queue.save_ecdc_as(item.id, dst)

    def show_selected_in_folder(self) -> None:
        item = self.current_item()
        if item is not None:
            target = (
                item.output_path if item.output_path is not None and item.output_path.exists() else item.path
            )
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(target.parent)))

    def compare_selected(self) -> None:
        """Open `app.compare.window.CompareWindow` for the selected audio file, once the model pool exists."""
        item = self.current_item()
        if item is None or item.kind is not ItemKind.AUDIO:
            return
        self.compare_file(item.path, item.model_name)

    def compare_file(self, source: Path, model_name: str) -> None:
        """Open the compare window on `source` with `model_name`, asking for its weights first if missing."""
        if self._ask_for_weights(model_name, "Compare", lambda: self.compare_file(source, model_name)):
            return
        pool = self.bridge.pool_if_loaded()
        if pool is not None:
            self._open_compare(source, pool, model_name)
            return
        self.statusBar().showMessage("Loading the engine…", 4000)
        bridge = self.bridge
        self.runner.run(
            lambda progress, cancel: bridge.pool(),
            on_done=lambda pool_: self._open_compare(source, pool_, model_name),
            on_error=lambda exc: self.statusBar().showMessage(f"Compare failed: {exc}", 8000),
        )

    def _open_compare(self, source: Path, pool: Any, model_name: str) -> None:
        from app.compare.window import CompareWindow  # noqa: PLC0415 - pyqtgraph loads on first use

        window = CompareWindow(source, self.runner, pool, model_name, parent=self)
        window.setWindowFlag(Qt.WindowType.Window, True)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        window.destroyed.connect(
            lambda *_: self.compare_windows.remove(window) if window in self.compare_windows else None
        )
        self.compare_windows.append(window)
        window.show()

    def show_live(self) -> None:
        """Open (or raise) the Live window (`app.live.view`) on the strip's model, if it streams, else 24 kHz."""
        if self.live_window is not None:
            self.live_window.raise_()
            self.live_window.activateWindow()
            return
        from app.live.view import LiveWindow, live_spec, pool_loader  # noqa: PLC0415 - loads on first use

        spec = live_spec(self.strip.model_name())
        if self._ask_for_weights(spec.name, "Live", self.show_live):
            return
        window = LiveWindow(spec, self.runner, pool_loader(self.bridge, spec.name), parent=self)
        window.setWindowFlag(Qt.WindowType.Window, True)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        window.destroyed.connect(lambda *_: setattr(self, "live_window", None))
        self.live_window = window
        window.show()

    def _action_finished(self, item_id: int, action: ItemAction, result: Any) -> None:
        self._refresh()
        item = self.queue_model.item(item_id)
        if item is None:
            return
        if action is ItemAction.DECODE:
            audio, rate = result
            self.play_audio(audio, rate, (item.ecdc_path or item.path).name, item_id)
        elif action in (ItemAction.EXPORT, ItemAction.SAVE):
            self.statusBar().showMessage(f"Wrote {Path(result)}", 8000)

    def _action_failed(self, item_id: int, action: ItemAction, message: str) -> None:
        self._refresh()
        item = self.queue_model.item(item_id)
        name = item.path.name if item is not None else "item"
        self.statusBar().showMessage(f"{name}: {action.value} failed: {message}", 10000)

    def _context_menu(self, pos: QPoint) -> None:
        self._update_item_actions()
        if self.context_menu is not None:
            self.context_menu.deleteLater()
        self.context_menu = QMenu(self)
        self.main_actions.fill_item_menu(self.context_menu)
        self.context_menu.popup(pos)

    # --- weights ------------------------------------------------------------------------------------------
    @property
    def weights_dialog(self) -> WeightsDialog | None:
        """The missing-weights dialog open now, if any."""
        return self.weights_prompts.dialog

    def _ask_for_weights(self, model_name: str, what: str, then: Callable[[], None]) -> bool:
        """True when `model_name`'s weights are missing: the weights dialog is asked for (the pool never
        downloads by itself) and `then` runs once they are installed."""
        from codec.weights import has_weights  # noqa: PLC0415 - keeps start-up light, as in app.settings

        if has_weights(model_name):
            return False
        self._after_install[model_name] = then
        self.weights_prompts.request(
            model_name, f"{what} needs the {model_name} weights, which are not installed."
        )
        return True

    def _weights_installed(self, name: str) -> None:
        self.statusBar().showMessage(f"Installed {name}.", 6000)
        then = self._after_install.pop(name, None)
        if then is not None:
            then()
        if self.queue.paused:
            self.queue.resume()

    def show_models_dialog(self) -> None:
        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(
                self.runner, self, on_models_dir_changed=self._models_dir_changed
            )
        self.models_dialog.refresh()
        self.models_dialog.show()
        self.models_dialog.raise_()

    def _models_dir_changed(self, folder: Path | None) -> None:
        self.settings.models_dir = folder

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About ECDC Studio",
            "<b>ECDC Studio</b><br>Compress audio with Meta's EnCodec neural codec into <code>.ecdc</code> "
            "files, and decode them back.",
        )

    # --- window lifecycle ---------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            QTimer.singleShot(0, self._first_shown)

    def _first_shown(self) -> None:
        marker = os.environ.get(STARTUP_MARKER_ENV)
        if marker:
            import json  # noqa: PLC0415
            import sys  # noqa: PLC0415
            import time  # noqa: PLC0415

            record = {"shown_at": time.time(), "torch_imported": "torch" in sys.modules}
            Path(marker).write_text(json.dumps(record) + "\n", encoding="utf-8")
        self.shown_once.emit()
        QTimer.singleShot(WARM_UP_DELAY_MS, self._warm_up)

    def _warm_up(self) -> None:
        """Import torch on the model worker while the person picks files, so the first job starts sooner."""
        if self.isVisible():
            self.runner.run(lambda progress, cancel: import_torch_quietly())

    def _ask_close(self) -> bool:
        answer = QMessageBox.question(
            self,
            "Jobs are running",
            "Files are still being processed. Cancel them and quit?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.queue.busy() or self.runner.active_count():
            if not self.confirm_close():
                event.ignore()
                return
            self.statusBar().showMessage("Cancelling…")
            if not self.queue.shutdown():
                log.warning("a worker did not stop in time")
        for dialog in (self.weights_dialog, self.models_dialog):
            if dialog is not None and dialog.isVisible():
                dialog.reject()
        if self.player is not None:
            self.player.close()
        if self.live_window is not None:
            self.live_window.close()  # stops the devices and writes a recording in progress
        self.runner.cancel_all()
        self.runner.wait(10_000)
        self.settings.geometry = self.saveGeometry()
        self.settings.sync()
        super().closeEvent(event)
