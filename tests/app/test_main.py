"""The `encodec-studio` entry point: options before Qt starts, files from the OS, quitting cleanly."""

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QFileOpenEvent

from app.main import FileOpenFilter, parse_args

ROOT = Path(__file__).resolve().parents[2]


def run_app(*args, env_extra=None, timeout=120):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "app.main", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_help_needs_no_display():
    result = run_app("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: encodec-studio")


def test_qt_options_are_left_to_qt():
    args = parse_args(["-platform", "offscreen", "a.wav"])
    assert [p.name for p in args.files] == ["a.wav"]


def test_quit_with_files_still_being_probed_does_not_hang(tmp_path, make_audio):
    src = make_audio("in.wav", seconds=0.5)
    result = run_app(
        "--quit-after-show", "--settings", tmp_path / "s.ini", src, env_extra={"QT_QPA_PLATFORM": "offscreen"}
    )
    assert result.returncode == 0, result.stderr


def test_file_open_events_queue_files(make_window, make_audio):
    window = make_window()
    src = make_audio("finder.wav", seconds=0.2)
    QCoreApplication.instance().installEventFilter(FileOpenFilter(window))
    QCoreApplication.sendEvent(QCoreApplication.instance(), QFileOpenEvent(str(src)))
    assert [item.path for item in window.queue.model.items()] == [src]
