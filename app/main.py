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

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.main_window import APP_TITLE, MainWindow
from app.settings import APPLICATION, ORGANIZATION, AppSettings


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
    return parser.parse_args(list(argv))


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
        window.shown_once.connect(lambda: QTimer.singleShot(0, window.close))
    return window


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if "--self-test" in raw:
        from app.self_test import run_self_test  # noqa: PLC0415 - only this mode needs it

        return run_self_test()
    app = QApplication.instance() or QApplication(["encodec-studio", *raw])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APP_TITLE)
    args = parse_args(app.arguments()[1:] if argv is None else argv)
    window = create_window(args)  # kept referenced while the event loop runs
    status = app.exec()
    del window
    return status


if __name__ == "__main__":
    sys.exit(main())
