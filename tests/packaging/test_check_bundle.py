"""packaging/check_bundle.py on small fake bundles and real system libraries: ELF dependency reading,
unresolved-library detection, forbidden content, size limit."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_bundle", ROOT / "packaging" / "check_bundle.py")
assert _spec is not None and _spec.loader is not None
check_bundle = importlib.util.module_from_spec(_spec)
sys.modules["check_bundle"] = check_bundle
_spec.loader.exec_module(check_bundle)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF checks are for Linux")


def _system_library(soname: str) -> Path:
    for folder in (
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/lib",
    ):
        path = Path(folder) / soname
        if path.is_file():
            return path.resolve()
    pytest.skip(f"{soname} is not installed")


def _objdump_needed(path: Path) -> list[str]:
    if not shutil.which("objdump"):
        pytest.skip("objdump is not installed")
    out = subprocess.run(["objdump", "-p", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split()[1] for line in out.splitlines() if line.strip().startswith("NEEDED")]


def make_bundle(tmp_path: Path) -> Path:
    """A minimal one-folder bundle that passes: both executables, libsndfile and PortAudio (not ELF)."""
    bundle = tmp_path / "encodec-studio"
    (bundle / "_internal" / "_soundfile_data").mkdir(parents=True)
    for exe in ("encodec-studio", "ecdc"):
        (bundle / exe).write_text("#!/bin/sh\n")
        (bundle / exe).chmod(0o755)
    (bundle / "_internal" / "_soundfile_data" / "libsndfile_x86_64.so").write_bytes(b"not an elf")
    (bundle / "_internal" / "libportaudio.so.2").write_bytes(b"not an elf")
    return bundle


@linux_only
def test_elf_needed_matches_objdump_on_real_libraries() -> None:
    for path in (_system_library("libportaudio.so.2"), Path(sys.executable).resolve()):
        assert check_bundle.elf_needed(path) == _objdump_needed(path)
    assert "libasound.so.2" in check_bundle.elf_needed(_system_library("libportaudio.so.2"))


def test_elf_needed_is_none_for_other_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "empty").write_bytes(b"")
    assert check_bundle.elf_needed(tmp_path / "a.txt") is None
    assert check_bundle.elf_needed(tmp_path / "empty") is None
    assert check_bundle.elf_needed(tmp_path / "missing") is None


@linux_only
def test_a_library_needing_something_absent_is_reported(tmp_path: Path) -> None:
    portaudio = _system_library("libportaudio.so.2")
    needed = check_bundle.elf_needed(portaudio)
    bundle = tmp_path / "b"
    bundle.mkdir()
    shutil.copy(portaudio, bundle / "libportaudio.so.2")
    missing = check_bundle.missing_libraries(bundle)
    # ALSA and glibc are system libraries; anything else it links must be in the bundle.
    expected = sorted(
        f"libportaudio.so.2 needs {n}" for n in needed if not check_bundle.SYSTEM_LIBRARIES.match(n)
    )
    assert missing == expected and expected  # e.g. libjack.so.0
    for soname in needed:
        (bundle / soname).write_bytes(b"stand-in")
    assert check_bundle.missing_libraries(bundle) == []


def test_forbidden_content_is_found(tmp_path: Path) -> None:
    bad = [
        "_internal/torch/lib/libtorch_cuda.so",
        "_internal/nvidia/cublas/lib/libcublas.so.12",
        "_internal/torch/include/ATen/ATen.h",
        "_internal/torch/test/c10_small_vector_test",
        "_internal/torch/_inductor/config.py",
        "_internal/PySide6/Qt/lib/libQt6Quick.so.6",
        "_internal/PySide6/Qt/qml/QtQuick/qmldir",
        "_internal/sympy/core.py",
    ]
    good = [
        "_internal/torch/lib/libtorch_cpu.so",
        "_internal/PySide6/Qt/lib/libQt6Widgets.so.6",
        "_internal/torch/nn/modules/conv.py",
    ]
    for rel in bad + good:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    found = check_bundle.find_forbidden(tmp_path)
    assert sorted(item.split(": ", 1)[1] for item in found) == sorted(bad)


def test_a_complete_small_bundle_passes_and_the_size_limit_applies(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    report = check_bundle.check_bundle(bundle, max_mib=1)
    assert report.ok, report.problems
    assert any(note.startswith("unpacked size: 0 MiB") for note in report.notes)
    (bundle / "_internal" / "big.bin").write_bytes(b"\0" * (2 << 20))
    report = check_bundle.check_bundle(bundle, max_mib=1)
    assert report.problems == ["the bundle is 2 MiB, over the 1 MiB limit"]


def test_missing_parts_fail_the_check(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    (bundle / "ecdc").unlink()
    (bundle / "_internal" / "_soundfile_data" / "libsndfile_x86_64.so").unlink()
    problems = check_bundle.check_bundle(bundle).problems
    assert any("executable ecdc is missing" in p for p in problems)
    assert any("libsndfile" in p for p in problems)
    assert check_bundle.main([str(bundle)]) == 1
    assert check_bundle.main([str(make_bundle(tmp_path / "other"))]) == 0
