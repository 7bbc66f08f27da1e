"""The main window's actions and menus: what each command is called, its shortcut, where it appears (menu
bar, the item context menu), and when it is enabled. The slots are the window's; nothing here runs a job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar

from app.queue_model import ItemKind, ItemState, QueueItem

if TYPE_CHECKING:
    from app.main_window import MainWindow


class MainActions:
    """Every `QAction` of the main window, wired to its slots; `fill_menu_bar` and `fill_item_menu` place them."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window
        w = window
        self.open_files = self._make("&Open…", w.open_files_dialog, QKeySequence.StandardKey.Open)
        self.open_folder = self._make("Open &folder…", w.open_folder_dialog)
        self.quit = self._make("&Quit", w.close, QKeySequence.StandardKey.Quit)
        self.compress = self._make("&Compress", w.compress, "Ctrl+Return")
        self.compress_selected = self._make("Compress selected", w.compress_selected)
        self.cancel_selected = self._make("&Cancel selected", w.cancel_selected)
        self.cancel_all = self._make("Cancel &all", w.queue.cancel_all)
        self.clear_finished = self._make("C&lear finished", w.queue.clear_finished)
        self.remove = self._make("&Remove from queue", w.remove_selected)
        self.play = self._make("&Play", w.play_selected, "Space")
        self.decode = self._make("&Decode to WAV", w.decode_selected)
        self.export_wav = self._make("Export as &WAV…", lambda: w.export_selected(".wav"))
        self.export_flac = self._make("Export as &FLAC…", lambda: w.export_selected(".flac"))
        self.save_ecdc = self._make("&Save .ecdc as…", w.save_selected_ecdc)
        self.compare = self._make("Co&mpare…", w.compare_selected)
        self.show_folder = self._make("Show in &folder", w.show_selected_in_folder)
        self.models = self._make("&Models…", w.show_models_dialog)
        self.live = self._make("&Live…", w.show_live, "Ctrl+L")
        self.live.setToolTip("Hear an input device through the codec in real time")
        self.about = self._make("&About ECDC Studio", w.show_about)
        self.item_actions = [
            self.compress_selected,
            self.play,
            self.decode,
            self.export_wav,
            self.export_flac,
            self.save_ecdc,
            self.compare,
            self.show_folder,
            self.cancel_selected,
            self.remove,
        ]
        # Space plays only while the table has focus (elsewhere it presses the focused button).
        self.play.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        w.table.addAction(self.play)

    def _make(
        self, text: str, slot: Callable[[], Any], shortcut: QKeySequence | str | None = None
    ) -> QAction:
        action = QAction(text, self._window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        return action

    # --- placement ----------------------------------------------------------------------------------------
    def fill_menu_bar(self, bar: QMenuBar) -> QMenu:
        """File, Queue, Item, Tools and Help; returns the Item menu."""
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.open_files, self.open_folder])
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        queue_menu = bar.addMenu("&Queue")
        queue_menu.addActions([self.compress, self.cancel_selected, self.cancel_all])
        queue_menu.addSeparator()
        queue_menu.addActions([self.clear_finished, self.remove])
        item_menu = bar.addMenu("&Item")
        self.fill_item_menu(item_menu)
        tools = bar.addMenu("&Tools")
        tools.addAction(self.models)
        tools.addAction(self.live)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about)
        return item_menu

    def fill_item_menu(self, menu: QMenu) -> None:
        """The per-item commands, as in the Item menu and the table's context menu."""
        menu.addActions([self.play, self.compare])
        menu.addSeparator()
        menu.addActions([self.decode, self.export_wav, self.export_flac, self.save_ecdc])
        menu.addSeparator()
        menu.addActions([self.compress_selected, self.cancel_selected, self.remove])
        menu.addSeparator()
        menu.addAction(self.show_folder)

    # --- enabled states -----------------------------------------------------------------------------------
    def update_for_queue(self, can_compress: bool, active: bool, finished: bool) -> None:
        """Queue-wide commands: something to compress, something running, something finished."""
        self.compress.setEnabled(can_compress)
        self.cancel_all.setEnabled(active)
        self.clear_finished.setEnabled(finished)

    def update_for_selection(
        self, selected: Iterable[QueueItem], compressible: set[int], playing: bool
    ) -> None:
        """Per-item commands for the selected rows (the first one for single-item commands)."""
        selected = list(selected)
        item = selected[0] if selected else None
        has_ecdc = item is not None and item.ecdc_path is not None and item.activity is None
        self.cancel_selected.setEnabled(
            any(i.state in (ItemState.QUEUED, ItemState.RUNNING) or i.activity for i in selected)
        )
        self.compress_selected.setEnabled(
            any(i.kind is ItemKind.AUDIO and i.id in compressible for i in selected)
        )
        self.play.setEnabled(has_ecdc or playing)
        self.play.setText("&Stop" if playing else "&Play")
        self.decode.setEnabled(has_ecdc and item is not None and item.kind is ItemKind.ECDC)
        self.export_wav.setEnabled(has_ecdc)
        self.export_flac.setEnabled(has_ecdc)
        self.save_ecdc.setEnabled(has_ecdc)
        compare_ok = item is not None and item.kind is ItemKind.AUDIO and item.duration_s is not None
        self.compare.setEnabled(compare_ok)
        self.compare.setToolTip(
            "Listen to this file at every bandwidth" if compare_ok else "Compare needs an audio item"
        )
        self.show_folder.setEnabled(item is not None)
        self.remove.setEnabled(any(not i.is_busy for i in selected))
