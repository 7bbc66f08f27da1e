"""`encodec-studio [FILES...]`: start the desktop app, optionally with files or folders in the queue.

Start-up imports only Qt and the torch-free parts of `codec`; torch loads on the first model job, on a
worker thread, so the window appears quickly. Set ECDC_STUDIO_STARTUP_MARKER=PATH to have the app write
the time it first showed its window to PATH (used by bench/bench_startup.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QFileOpenEvent, QIcon
from PySide6.QtWidgets import QApplication

from app.main_window import APP_TITLE, MainWindow
from app.settings import APPLICATION, ORGANIZATION, AppSettings

ICON = Path(__file__).resolve().parent / "resources" / "encodec-studio.png"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="encodec-studio", description="ECDC Studio: compress audio with EnCodec."
    )
    parser.add_argument("files", nargs="*", type=Path, help="audio files, .ecdc files or folders to open")
    parser.add_argument("--settings", type=Path, help="keep settings in this INI file instead of the default")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check that this installation works (offline, no window needed)",
    )
    parser.add_argument(
        "--quit-after-show", action="store_true", help=argparse.SUPPRESS
    )  # start-up benchmark: exit once the window is painted
    return parser.parse_args(without_qt_options(argv))


# Qt's own command-line options (QGuiApplication/QApplication docs); Qt reads them from QApplication's argv.
_QT_OPTIONS_WITH_VALUE = {
    "-platform", "-platformpluginpath", "-platformtheme", "-plugin", "-qwindowgeometry", "-qwindowtitle",
    "-qwindowicon", "-style", "-stylesheet", "-session", "-display", "-geometry",
}  # fmt: skip
_QT_FLAGS = {"-reverse", "-widgetcount", "-nograb", "-dograb", "-sync"}


def without_qt_options(argv: Sequence[str]) -> list[str]:
    """`argv` minus Qt's own options (and their values), so argparse sees only ours."""
    ours: list[str] = []
    items = iter(argv)
    for item in items:
        option = item.split("=", 1)[0]
        if option in _QT_OPTIONS_WITH_VALUE:
            if "=" not in item:
                next(items, None)
        elif item not in _QT_FLAGS:
            ours.append(item)
    return ours


class FileOpenFilter(QObject):
    """Queues files the OS asks us to open (macOS Finder sends a QFileOpenEvent, not argv)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            self.window.add_paths([Path(event.file())])
            return True
        return False


def create_window(args: argparse.Namespace) -> MainWindow:
    """The main window for parsed arguments, shown, with the files queued once the event loop runs."""
    settings = AppSettings.from_file(args.settings) if args.settings else AppSettings()
    if settings.models_dir is not None:
        from codec.weights import set_models_dir  # noqa: PLC0415 - cheap, torch-free

        set_models_dir(settings.models_dir)
    window = MainWindow(settings)
    window.show()
    if args.files:
        files = list(args.files)
        QTimer.singleShot(0, lambda: window.add_paths(files))
    if args.quit_after_show:
        window.confirm_close = lambda: True  # nobody is there to answer "jobs are running, quit?"
        window.shown_once.connect(lambda: QTimer.singleShot(0, window.close))
    return window


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if "--self-test" in raw:
        from app.self_test import run_self_test  # noqa: PLC0415 - only this mode needs it

        return run_self_test()
    args = parse_args(raw)  # before Qt starts, so --help and bad options need no display
    app = QApplication.instance() or QApplication(["encodec-studio", *raw])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APP_TITLE)
    app.setDesktopFileName("encodec-studio")  # Wayland/GNOME match the window to its .desktop entry
    if ICON.is_file():
        app.setWindowIcon(QIcon(str(ICON)))
    window = create_window(args)  # kept referenced while the event loop runs
    app.installEventFilter(FileOpenFilter(window))
    status = app.exec()
    del window
    return status


if __name__ == "__main__":
    sys.exit(main())
