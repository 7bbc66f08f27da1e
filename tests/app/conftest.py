"""Fixtures for the GUI tests: isolated settings and models folder, a random-weights model installed in it,
and a main window that is closed cleanly (jobs cancelled, workers joined) after each test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.http_server import isolate_weights

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: The official file names the registry expects in the models folder.
OFFICIAL_FILES = {
    "encodec_24khz": "encodec_24khz-d7cc33bc.th",
    "encodec_48khz": "encodec_48khz-7e698e3e.th",
}


@pytest.fixture
def app_settings(tmp_path: Path):
    from app.settings import AppSettings

    return AppSettings.from_file(tmp_path / "settings.ini")


@pytest.fixture
def models_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty, isolated models folder (and empty torch / HF caches) for this test."""
    folder = isolate_weights(monkeypatch, tmp_path)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def install_random_model(models_dir: Path, random_checkpoint: Callable[..., Path]) -> Callable[[str], Path]:
    """`install_random_model("encodec_24khz")`: put a random-weights checkpoint into the models folder under
    the official name (installed files are looked up by name, not re-hashed)."""

    def install(name: str = "encodec_24khz") -> Path:
        dst = models_dir / OFFICIAL_FILES[name]
        if not dst.exists():
            try:
                os.link(random_checkpoint(name), dst)
            except OSError:
                shutil.copyfile(random_checkpoint(name), dst)
        return dst

    return install


@pytest.fixture
def make_window(qtbot, app_settings) -> Iterator[Callable[..., object]]:
    """`make_window(settings=None)` -> a shown MainWindow; closed at teardown without asking."""
    from app.main_window import MainWindow

    windows: list[MainWindow] = []

    def make(settings=None, **kwargs) -> MainWindow:
        window = MainWindow(settings or app_settings, **kwargs)
        window.confirm_close = lambda: True
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.confirm_close = lambda: True
        window.close()
        window.runner.wait(30_000)
