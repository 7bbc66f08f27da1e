"""Linux desktop integration files in resources/: the .desktop entry, the application/x-ecdc MIME type,
the icons, and the per-user install script (run against a temporary XDG_DATA_HOME)."""

from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from codec.jobs import ECDC_MAGIC

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
DESKTOP = RESOURCES / "encodec-studio.desktop"
MIME_XML = RESOURCES / "encodec-studio-mime.xml"
INSTALL = RESOURCES / "install-desktop-integration.sh"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICONS = {"apps": "encodec-studio", "mimetypes": "application-x-ecdc"}
NS = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux desktop integration")


def desktop_entry(path: Path = DESKTOP) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def png_size(path: Path) -> tuple[int, int, int]:
    """(width, height, colour type) from a PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert data[12:16] == b"IHDR"
    width, height, _depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, colour


def test_desktop_entry_launches_the_app_with_files_and_claims_ecdc() -> None:
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "ECDC Studio"
    assert entry["Exec"].split()[0] == "encodec-studio" and entry["Exec"].endswith("%F")
    assert entry["Icon"] == "encodec-studio"
    assert entry["Terminal"] == "false"
    mime_types = entry["MimeType"].rstrip(";").split(";")
    assert mime_types[0] == "application/x-ecdc"
    assert "AudioVideo" in entry["Categories"].split(";")


SHARED_MIME_INFO = Path("/usr/share/mime/packages/freedesktop.org.xml")


@pytest.mark.skipif(not SHARED_MIME_INFO.is_file(), reason="shared-mime-info is not installed")
def test_desktop_entry_claims_every_audio_type_the_app_opens() -> None:
    # The file manager's "Open with" follows codec.filetypes, the list the queue and the open dialog use.
    from codec.filetypes import AUDIO_SUFFIXES

    claimed = set(desktop_entry()["MimeType"].rstrip(";").split(";"))
    claimed_suffixes = set()
    for mime in ET.parse(SHARED_MIME_INFO).getroot().findall("m:mime-type", NS):
        names = {mime.get("type")} | {alias.get("type") for alias in mime.findall("m:alias", NS)}
        if names & claimed:
            claimed_suffixes |= {
                glob.get("pattern", "").lower().lstrip("*") for glob in mime.findall("m:glob", NS)
            }
    # .w64 and .caf have no freedesktop type (nothing to claim); every other suffix must be claimed.
    assert sorted(set(AUDIO_SUFFIXES) - claimed_suffixes - {".w64", ".caf"}) == []


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils is not installed")
def test_desktop_entry_validates() -> None:
    done = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_mime_type_declares_the_glob_and_the_ecdc_magic() -> None:
    root = ET.parse(MIME_XML).getroot()
    (mime,) = root.findall("m:mime-type", NS)
    assert mime.get("type") == "application/x-ecdc"
    assert [g.get("pattern") for g in mime.findall("m:glob", NS)] == ["*.ecdc"]
    (match,) = mime.findall("m:magic/m:match", NS)
    assert (match.get("type"), match.get("offset")) == ("string", "0")
    assert match.get("value").encode("ascii") == ECDC_MAGIC  # what codec writes at the start of a file
    assert mime.find("m:icon", NS).get("name") == ICONS["mimetypes"]
    assert mime.find("m:comment", NS).text
    assert "application/x-ecdc" in desktop_entry()["MimeType"]


@linux_only
@pytest.mark.skipif(not shutil.which("update-mime-database"), reason="shared-mime-info is not installed")
def test_mime_database_built_from_the_xml_knows_ecdc(tmp_path: Path) -> None:
    (tmp_path / "packages").mkdir()
    shutil.copy(MIME_XML, tmp_path / "packages" / "encodec-studio.xml")
    subprocess.run(["update-mime-database", str(tmp_path)], check=True, capture_output=True)
    globs = (tmp_path / "globs2").read_text().splitlines()
    assert any(line.endswith(":application/x-ecdc:*.ecdc") for line in globs), globs
    magic = (tmp_path / "magic").read_bytes()
    assert b"[60:application/x-ecdc]\n>0=\x00\x04ECDC\n" in magic
    assert "application/x-ecdc:application-x-ecdc" in (tmp_path / "icons").read_text()


@pytest.mark.parametrize("context", sorted(ICONS))
@pytest.mark.parametrize("size", ICON_SIZES)
def test_icons_exist_at_every_size(context: str, size: int) -> None:
    path = RESOURCES / "icons" / "hicolor" / f"{size}x{size}" / context / f"{ICONS[context]}.png"
    assert png_size(path) == (size, size, 6)  # RGBA


@pytest.mark.parametrize("name", ["encodec-studio.icns", "ecdc-file.icns"])
def test_macos_icons_hold_png_images_up_to_1024(name: str) -> None:
    data = (RESOURCES / "macos" / name).read_bytes()
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data)
    sizes = {}
    pos = 8
    while pos < len(data):
        kind, length = data[pos : pos + 4].decode(), struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        chunk = data[pos + 8 : pos + length]
        assert chunk[:8] == b"\x89PNG\r\n\x1a\n"
        sizes[kind] = struct.unpack(">II", chunk[16:24])
        pos += length
    assert pos == len(data)
    assert sizes["ic07"] == (128, 128) and sizes["ic09"] == (512, 512) and sizes["ic10"] == (1024, 1024)
    # The @2x variants: ic11 is 16@2x, ic12 32@2x, ic13 128@2x, ic14 256@2x.
    assert sizes["icp4"] == (16, 16) and sizes["ic11"] == (32, 32) and sizes["ic14"] == (512, 512)


def _fake_tool(folder: Path, name: str, log: Path) -> None:
    tool = folder / name
    tool.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
    tool.chmod(0o755)


@linux_only
def test_install_script_registers_everything_for_the_user_and_uninstalls(tmp_path: Path) -> None:
    exe = tmp_path / "my apps" / "encodec-studio"  # a space: Exec must quote it
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    tools, log = tmp_path / "bin", tmp_path / "calls.log"
    tools.mkdir()
    _fake_tool(tools, "xdg-mime", log)
    data = tmp_path / "data"
    env = dict(os.environ, XDG_DATA_HOME=str(data), PATH=f"{tools}{os.pathsep}{os.environ['PATH']}")

    done = subprocess.run(
        ["bash", str(INSTALL), "--exec", str(exe)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    installed = data / "applications" / "encodec-studio.desktop"
    entry = desktop_entry(installed)
    assert entry["Exec"] == f'"{exe}" %F'
    assert entry["TryExec"] == str(exe)
    assert entry["Icon"] == "encodec-studio" and entry["MimeType"] == desktop_entry()["MimeType"]
    assert (data / "mime" / "packages" / "encodec-studio.xml").read_bytes() == MIME_XML.read_bytes()
    for size in ICON_SIZES:
        for context, name in ICONS.items():
            assert (data / "icons" / "hicolor" / f"{size}x{size}" / context / f"{name}.png").is_file()
    assert "xdg-mime default encodec-studio.desktop application/x-ecdc" in log.read_text()
    if shutil.which("update-mime-database"):
        assert "application/x-ecdc" in (data / "mime" / "globs2").read_text()
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(installed)], check=True)

    done = subprocess.run(["bash", str(INSTALL), "--uninstall"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not installed.exists()
    assert not (data / "mime" / "packages" / "encodec-studio.xml").exists()
    assert not list((data / "icons").rglob("*.png"))


@linux_only
def test_install_script_finds_the_bundle_executable_beside_its_folder(tmp_path: Path) -> None:
    # The Linux bundle layout: encodec-studio/{encodec-studio, desktop/install-desktop-integration.sh}.
    bundle = tmp_path / "encodec-studio"
    shutil.copytree(RESOURCES, bundle / "desktop", ignore=shutil.ignore_patterns("*.py", "macos"))
    (bundle / "encodec-studio").write_text("#!/bin/sh\n")
    (bundle / "encodec-studio").chmod(0o755)
    data = tmp_path / "data"
    env = dict(os.environ, XDG_DATA_HOME=str(data), PATH="/usr/bin:/bin")
    done = subprocess.run(
        ["bash", str(bundle / "desktop" / "install-desktop-integration.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert desktop_entry(data / "applications" / "encodec-studio.desktop")["Exec"] == (
        f'"{bundle / "encodec-studio"}" %F'
    )


@linux_only
def test_install_script_refuses_without_an_executable(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), PATH="/usr/bin:/bin")
    done = subprocess.run(["bash", str(INSTALL)], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "cannot find the encodec-studio executable" in done.stderr
    assert not (tmp_path / "data" / "applications").exists()
