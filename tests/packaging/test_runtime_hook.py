"""The PortAudio run-time hook (packaging/rthooks/pyi_rth_ecdc_portaudio.py), run as the frozen app runs it:
with sys._MEIPASS pointing at a bundle folder."""

from __future__ import annotations

import ctypes.util
import runpy
import sys
from pathlib import Path

import pytest

HOOK = Path(__file__).resolve().parents[2] / "packaging" / "rthooks" / "pyi_rth_ecdc_portaudio.py"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the hook acts on Linux only")


@pytest.fixture
def original_lookup(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace ctypes.util.find_library by a recorder (restored after the test); returns the names asked."""
    asked: list[str] = []

    def lookup(name: str) -> str:
        asked.append(name)
        return f"/usr/lib/lib{name}.so.system"

    monkeypatch.setattr(ctypes.util, "find_library", lookup)
    monkeypatch.delenv("ECDC_STUDIO_SYSTEM_PORTAUDIO", raising=False)
    return asked


def test_portaudio_resolves_to_the_bundled_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, original_lookup: list[str]
) -> None:
    (tmp_path / "libportaudio.so.2").write_bytes(b"\x7fELF")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    runpy.run_path(str(HOOK))
    assert ctypes.util.find_library("portaudio") == str(tmp_path / "libportaudio.so.2")
    assert ctypes.util.find_library("sndfile") == "/usr/lib/libsndfile.so.system"  # others unchanged
    assert original_lookup == ["sndfile"]


def test_the_system_library_can_be_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, original_lookup: list[str]
) -> None:
    (tmp_path / "libportaudio.so.2").write_bytes(b"\x7fELF")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setenv("ECDC_STUDIO_SYSTEM_PORTAUDIO", "1")
    runpy.run_path(str(HOOK))
    assert ctypes.util.find_library("portaudio") == "/usr/lib/libportaudio.so.system"


def test_nothing_changes_when_the_bundle_has_no_portaudio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, original_lookup: list[str]
) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    runpy.run_path(str(HOOK))
    assert ctypes.util.find_library("portaudio") == "/usr/lib/libportaudio.so.system"
