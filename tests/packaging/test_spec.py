"""The PyInstaller spec without building: its macOS Info.plist declares the .ecdc document type and UTI,
its two executables run the project's entry points, and nothing it leaves out is imported by the app."""

from __future__ import annotations

import ast
import json
import os
import plistlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "encodec-studio.spec"
UTI = "org.ecdc-studio.ecdc"


def spec_literal(name: str) -> Any:
    """The value of the top-level assignment `name = <literal>` in the spec, read without running it."""
    for node in ast.parse(SPEC.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not assigned in {SPEC.name}")


@pytest.fixture(scope="module")
def info_plist() -> dict[str, Any]:
    plist = spec_literal("INFO_PLIST")
    return plistlib.loads(plistlib.dumps(plist))  # it must survive the trip PyInstaller makes


def test_info_plist_exports_the_ecdc_uti(info_plist: dict[str, Any]) -> None:
    (declaration,) = info_plist["UTExportedTypeDeclarations"]
    assert declaration["UTTypeIdentifier"] == UTI
    assert "public.data" in declaration["UTTypeConformsTo"]
    tags = declaration["UTTypeTagSpecification"]
    assert tags["public.filename-extension"] == ["ecdc"]
    assert tags["public.mime-type"] == ["application/x-ecdc"]
    assert (ROOT / "resources" / "macos" / declaration["UTTypeIconFile"]).is_file()


def test_info_plist_makes_the_app_the_owner_of_ecdc_documents(info_plist: dict[str, Any]) -> None:
    owned = [d for d in info_plist["CFBundleDocumentTypes"] if UTI in d["LSItemContentTypes"]]
    assert len(owned) == 1
    assert owned[0]["LSHandlerRank"] == "Owner"
    assert owned[0]["CFBundleTypeRole"] in {"Viewer", "Editor"}
    assert (ROOT / "resources" / "macos" / owned[0]["CFBundleTypeIconFile"]).is_file()
    others = [d for d in info_plist["CFBundleDocumentTypes"] if d is not owned[0]]
    assert all(d["LSHandlerRank"] == "Alternate" for d in others)  # never steal other file types


def test_info_plist_is_a_foreground_high_dpi_app(info_plist: dict[str, Any]) -> None:
    assert info_plist["NSHighResolutionCapable"] is True
    # The console `ecdc` executable would otherwise make PyInstaller write LSBackgroundOnly=True.
    assert info_plist["LSBackgroundOnly"] is False
    assert info_plist["CFBundleName"] == "ECDC Studio"


def test_the_macos_icons_are_in_the_spec_and_exist() -> None:
    text = SPEC.read_text(encoding="utf-8")
    for name in ("encodec-studio.icns", "ecdc-file.icns"):
        assert name in text
        assert (ROOT / "resources" / "macos" / name).is_file()


def test_executables_run_the_project_entry_points() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    scripts = dict(re.findall(r'^(ecdc|encodec-studio) = "([\w.:]+)"$', pyproject, re.MULTILINE))
    assert spec_literal("APP_NAME") == "encodec-studio"
    assert spec_literal("CLI_NAME") == "ecdc"
    launchers = {
        "encodec-studio": ROOT / "packaging" / "launchers" / "encodec_studio_main.py",
        "ecdc": ROOT / "packaging" / "launchers" / "ecdc_main.py",
    }
    for command, launcher in launchers.items():
        assert launcher.name in SPEC.read_text(encoding="utf-8")
        module, function = scripts[command].split(":")
        imports = [
            node
            for node in ast.walk(ast.parse(launcher.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom)
        ]
        assert any(node.module == module and node.names[0].name == function for node in imports), launcher


# Everything the app and the engine can import, then a real LM-coded compress/decompress and the main
# window: the modules loaded afterwards are the ones a frozen app needs.
_WORKLOAD = r"""
import importlib, json, os, pkgutil, sys, tempfile
from pathlib import Path
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import app, codec
for package in (app, codec):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        # codec.tokenize needs the `tokenize` extra (pyarrow, ray), which the bundle leaves out on purpose.
        if not info.name.endswith("__main__") and not info.name.startswith("codec.tokenize."):
            importlib.import_module(info.name)
import sounddevice, soundfile, torch  # the player imports sounddevice on first playback
from codec.jobs import ModelPool, compress_file, decompress_file
from codec.models.encodec import EncodecModel
from codec.models.lm import LanguageModel
from codec.specs import get_spec
from app.self_test import make_signal
work = Path(tempfile.mkdtemp())
torch.manual_seed(0)
torch.save(EncodecModel(get_spec("encodec_24khz")).state_dict(), work / "m.th")
torch.save(LanguageModel.random(get_spec("encodec_24khz")).state_dict(), work / "lm.th")
soundfile.write(work / "in.wav", make_signal(seconds=0.2), 24000)
pool = ModelPool(weights={"24khz": work / "m.th"}, lm_weights={"24khz": work / "lm.th"})
compress_file(work / "in.wav", work / "a.ecdc", pool=pool, model_name="encodec_24khz", bandwidth=6.0, use_lm=True)
decompress_file(work / "a.ecdc", work / "b.wav", pool=pool)
from PySide6.QtWidgets import QApplication
from app.main_window import MainWindow
from app.settings import AppSettings
qapp = QApplication([])
window = MainWindow(AppSettings.from_file(work / "s.ini"))
window.show()
qapp.processEvents()
window.confirm_close = lambda: True
window.close()
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.slow
def test_the_app_never_imports_what_the_spec_leaves_out(tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
    done = subprocess.run(
        [sys.executable, "-c", _WORKLOAD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert {"torch", "PySide6.QtWidgets", "pyqtgraph", "sounddevice", "codec.ecdc.lm_coding"} <= loaded
    excluded = spec_literal("EXCLUDED_MODULES") + [
        f"PySide6.{m}" for m in spec_literal("EXCLUDED_QT_MODULES")
    ]
    offending = sorted(m for m in loaded for e in excluded if m == e or m.startswith(e + "."))
    assert not offending, f"imported at run time but excluded from the bundle: {offending}"
