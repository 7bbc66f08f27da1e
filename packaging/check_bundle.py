"""Check a built ECDC Studio bundle without running it, and print its size.

    python packaging/check_bundle.py dist/encodec-studio [--max-mib 600]
    python packaging/check_bundle.py "dist/ECDC Studio.app"

Fails (exit 1) when:
- an executable or a library the app needs is missing (both executables, libsndfile, PortAudio on Linux);
- something that must stay out is in: CUDA libraries, unused Qt modules (QML/Quick, WebEngine, 3D, PDF,
  virtual keyboard), torch's headers, tests and compiler stack;
- (Linux) a shared library in the bundle needs a library that is neither in the bundle nor one of the
  system libraries every desktop Linux provides (glibc, the OpenGL/EGL drivers, libxcb, Wayland, ALSA);
- the unpacked size is over --max-mib (MiB, as `du -sh` counts).
"""

from __future__ import annotations

import argparse
import mmap
import os
import re
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

EXECUTABLES = ("encodec-studio", "ecdc")
MIB = 1 << 20

# Libraries left to the target system on purpose: they must match its kernel, drivers or configuration.
SYSTEM_LIBRARIES = re.compile(
    r"^(ld-linux.*|libc|libm|libdl|libpthread|librt|libutil|libresolv|libcrypt|libanl|libnsl|libmvec"
    r"|libGL|libEGL|libGLX|libOpenGL|libGLESv2|libGLESv1_CM|libdrm|libgbm|libvulkan"
    r"|libxcb|libxcb-dri2|libxcb-dri3|libwayland-client|libwayland-cursor|libwayland-egl|libwayland-server"
    r"|libasound)\.so(\.\d+)*$"
)

# Files that must not be in the bundle (paths relative to it, with forward slashes).
FORBIDDEN = {
    "CUDA library": re.compile(
        r"(^|/)lib(cudart|cublas|cublasLt|cudnn|cufft|curand|cusolver|cusparse|nccl|nvrtc|nvJitLink"
        r"|torch_cuda|c10_cuda|caffe2_nvrtc)[^/]*$|(^|/)nvidia/"
    ),
    "unused Qt module": re.compile(
        r"(^|/)(lib)?Qt6?(Qml|Quick|WebEngine|3D|Pdf|VirtualKeyboard|Designer)[^/]*$"
        r"|(^|/)Qt(Qml|Quick|WebEngineCore|Pdf|3DCore)\.framework/"
        r"|/qml/"
    ),
    "torch headers, tests or compiler": re.compile(
        r"(^|/)torch/(include|test|_inductor|testing/_internal/opinfo)/|(^|/)torch/bin/test_|\.(h|hpp|cuh)$"
    ),
    "unused Python package": re.compile(r"(^|/)(sympy|transformers|pytest|_pytest|hypothesis|PIL)/"),
}

ELF_MAGIC = b"\x7fELF"
SHT_DYNAMIC = 6
DT_NEEDED = 1


def elf_needed(path: Path) -> list[str] | None:
    """The DT_NEEDED entries (sonames) of an ELF file, or None when `path` is not an ELF file."""
    try:
        with open(path, "rb") as handle:
            if handle.read(4) != ELF_MAGIC:
                return None
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    with data:
        return _dynamic_needed(data)


def _dynamic_needed(data: mmap.mmap) -> list[str]:
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        (shoff,) = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
        section_format, dyn_format = end + "IIQQQQIIQQ", end + "qQ"
    else:
        (shoff,) = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
        section_format, dyn_format = end + "IIIIIIIIII", end + "iI"
    # Fields used: [1] sh_type, [4] sh_offset, [5] sh_size, [6] sh_link.
    sections = [struct.unpack_from(section_format, data, shoff + i * shentsize) for i in range(shnum)]
    step = struct.calcsize(dyn_format)
    needed = []
    for section in sections:
        if section[1] != SHT_DYNAMIC:
            continue
        strings = sections[section[6]][4]
        for pos in range(section[4], section[4] + section[5], step):
            tag, value = struct.unpack_from(dyn_format, data, pos)
            if tag == 0:
                break
            if tag == DT_NEEDED:
                start = strings + value
                needed.append(data[start : data.find(b"\0", start)].decode("utf-8", "replace"))
    return needed


@dataclass
class Report:
    """What a check found: problems make it fail, notes are printed."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _files(root: Path) -> Iterable[Path]:
    for folder, _dirs, names in os.walk(root):
        for name in names:
            yield Path(folder) / name


def bundle_size(root: Path) -> int:
    """Bytes of the regular files under `root` (symbolic links not followed or counted)."""
    return sum(p.stat().st_size for p in _files(root) if p.is_file() and not p.is_symlink())


def find_forbidden(root: Path) -> list[str]:
    """'<what>: <path>' for every file under `root` that must not be in a bundle."""
    found = []
    for path in _files(root):
        rel = path.relative_to(root).as_posix()
        for what, pattern in FORBIDDEN.items():
            if pattern.search(rel):
                found.append(f"{what}: {rel}")
                break
    return found


def missing_libraries(root: Path) -> list[str]:
    """'<library> needs <soname>' for each ELF dependency found neither in the bundle nor in SYSTEM_LIBRARIES."""
    names = {path.name for path in _files(root)}
    missing = []
    for path in sorted(_files(root)):
        if path.is_symlink():
            continue
        needed = elf_needed(path)
        for soname in needed or ():
            if soname not in names and not SYSTEM_LIBRARIES.match(soname):
                missing.append(f"{path.relative_to(root).as_posix()} needs {soname}")
    return missing


def check_bundle(root: Path, max_mib: float | None = None) -> Report:
    """Check the one-folder bundle (Linux) or .app (macOS) at `root`."""
    report = Report()
    if not root.is_dir():
        report.problems.append(f"{root} is not a folder")
        return report
    is_app = root.suffix == ".app"
    exe_dir = root / "Contents" / "MacOS" if is_app else root
    for exe in EXECUTABLES:
        path = exe_dir / exe
        if not (path.is_file() and os.access(path, os.X_OK)):
            report.problems.append(f"executable {exe} is missing from {exe_dir}")
    names = {path.name for path in _files(root)}
    if not any(name.startswith("libsndfile") for name in names):
        report.problems.append("libsndfile (soundfile's _soundfile_data) is missing")
    if is_app:
        if not any(name.startswith("libportaudio") for name in names):
            report.problems.append("libportaudio (sounddevice's _sounddevice_data) is missing")
    elif sys.platform.startswith("linux"):
        if "libportaudio.so.2" not in names:
            report.problems.append("libportaudio.so.2 is missing")
        report.problems += [f"unresolved library: {item}" for item in missing_libraries(root)]
    report.problems += [f"must not be bundled: {item}" for item in find_forbidden(root)]
    size = bundle_size(root)
    report.notes.append(f"unpacked size: {size / MIB:.0f} MiB ({size / 1e6:.0f} MB)")
    internal = root / "Contents" if is_app else root / "_internal"
    if internal.is_dir():
        parts = sorted(
            (
                (bundle_size(p) if p.is_dir() else p.stat().st_size, p.name)
                for p in internal.iterdir()
                if not p.is_symlink()
            ),
            reverse=True,
        )
        report.notes.append(
            "largest parts: " + ", ".join(f"{name} {part / MIB:.0f} MiB" for part, name in parts[:6])
        )
    if max_mib is not None and size > max_mib * MIB:
        report.problems.append(f"the bundle is {size / MIB:.0f} MiB, over the {max_mib:g} MiB limit")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a built ECDC Studio bundle.")
    parser.add_argument("bundle", type=Path, help="dist/encodec-studio or 'dist/ECDC Studio.app'")
    parser.add_argument("--max-mib", type=float, default=None, help="fail when the unpacked size is larger")
    args = parser.parse_args(argv)
    report = check_bundle(args.bundle, args.max_mib)
    for note in report.notes:
        print(f"check-bundle: {note}")
    for problem in report.problems:
        print(f"check-bundle: FAILED: {problem}")
    print(f"check-bundle: {'ok' if report.ok else f'{len(report.problems)} problem(s)'}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
