from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codec.errors import Cancelled, CodecError
from codec.fileio import (
    OutputExistsError,
    OutputWriteError,
    PathError,
    atomic_copy,
    atomic_write,
    check_input,
    check_output,
    same_path,
    unique_path,
)


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_write_creates_file_only_on_success(tmp_path):
    dst = tmp_path / "out.bin"
    with atomic_write(dst) as fo:
        fo.write(b"hello")
        assert not dst.exists()  # nothing visible until the block completes
        assert len(listing(tmp_path)) == 1  # just the hidden temp file
    assert dst.read_bytes() == b"hello"
    assert listing(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt(), Cancelled("Cancelled.")])
def test_atomic_write_leaves_nothing_on_exception(tmp_path, exc):
    dst = tmp_path / "out.bin"
    with pytest.raises(type(exc)):
        with atomic_write(dst) as fo:
            fo.write(b"partial")
            raise exc
    assert listing(tmp_path) == []


def test_a_full_disk_names_the_output_and_leaves_nothing(tmp_path):
    dst = tmp_path / "out.bin"
    with pytest.raises(OutputWriteError, match=r"Cannot write .*out\.bin \(No space left on device\)"):
        with atomic_write(dst) as fo:
            fo.write(b"partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # what a write on a full disk raises
    assert listing(tmp_path) == []


def test_errors_that_are_not_about_the_output_pass_through(tmp_path):
    dst = tmp_path / "out.bin"
    with pytest.raises(FileNotFoundError):
        with atomic_write(dst) as fo:
            fo.write(b"partial")
            open(tmp_path / "missing-input.wav", "rb")
    assert listing(tmp_path) == []


# Writes past RLIMIT_FSIZE fail with EFBIG, a real kernel write error that needs no full disk or root.
WRITE_LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
import numpy as np, soundfile as sf
from codec.audio import write_audio_stream
from codec.errors import CodecError
try:
    write_audio_stream(sys.argv[2], (np.zeros((1, 24_000), np.float32) for _ in range(4)), 24_000)
except CodecError as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE semantics")
def test_a_failed_write_inside_soundfile_is_reported_as_a_write_error(tmp_path):
    # soundfile swallows the write's exception in its cffi callback and fails with an AssertionError;
    # the error must still name the file and say why.
    dst = tmp_path / "out.wav"
    result = subprocess.run(
        [sys.executable, "-c", WRITE_LIMITED, "20000", str(dst)], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith(f"OutputWriteError Cannot write {dst} (File too large)"), result
    assert "Free some space" in result.stdout
    assert listing(tmp_path) == []


def test_atomic_write_keeps_old_file_when_overwrite_fails(tmp_path):
    dst = tmp_path / "out.bin"
    dst.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(dst, overwrite=True) as fo:
            fo.write(b"new")
            raise KeyboardInterrupt
    assert dst.read_bytes() == b"old"
    assert listing(tmp_path) == ["out.bin"]


def test_atomic_write_overwrite(tmp_path):
    dst = tmp_path / "out.bin"
    dst.write_bytes(b"old")
    with pytest.raises(OutputExistsError):
        with atomic_write(dst) as fo:
            fo.write(b"new")
    assert dst.read_bytes() == b"old"
    with atomic_write(dst, overwrite=True) as fo:
        fo.write(b"new")
    assert dst.read_bytes() == b"new"
    assert listing(tmp_path) == ["out.bin"]


def test_output_appearing_during_write_is_not_clobbered(tmp_path):
    dst = tmp_path / "out.bin"
    with pytest.raises(OutputExistsError):
        with atomic_write(dst) as fo:
            fo.write(b"mine")
            dst.write_bytes(b"someone else's")
    assert dst.read_bytes() == b"someone else's"
    assert listing(tmp_path) == ["out.bin"]


def test_atomic_write_file_is_seekable_and_readable(tmp_path):
    dst = tmp_path / "out.bin"
    with atomic_write(dst) as fo:
        fo.write(b"abcdef")
        fo.seek(0)
        assert fo.read(3) == b"abc"
        fo.seek(0)
        fo.write(b"X")
    assert dst.read_bytes() == b"Xbcdef"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_atomic_write_uses_normal_permissions(tmp_path):
    dst = tmp_path / "out.bin"
    umask = os.umask(0o022)
    os.umask(umask)
    with atomic_write(dst) as fo:
        fo.write(b"x")
    assert dst.stat().st_mode & 0o777 == 0o666 & ~umask


def test_refuses_to_write_onto_an_input(tmp_path):
    src = tmp_path / "in.wav"
    src.write_bytes(b"precious")
    for target in (src, tmp_path / "." / "in.wav", Path(os.path.relpath(src))):
        with pytest.raises(PathError, match="input"):
            with atomic_write(target, overwrite=True, inputs=[src]) as fo:
                fo.write(b"oops")
    assert src.read_bytes() == b"precious"
    assert listing(tmp_path) == ["in.wav"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_refuses_symlink_or_hardlink_to_an_input(tmp_path):
    src = tmp_path / "in.wav"
    src.write_bytes(b"precious")
    link = tmp_path / "link.wav"
    link.symlink_to(src)
    hard = tmp_path / "hard.wav"
    os.link(src, hard)
    for target in (link, hard):
        with pytest.raises(PathError):
            check_output(target, inputs=[src], overwrite=True)


def test_missing_output_folder_and_folder_output(tmp_path):
    with pytest.raises(PathError, match="does not exist") as info:
        check_output(tmp_path / "nope" / "out.ecdc")
    assert "nope" in str(info.value)
    with pytest.raises(PathError, match="folder"):
        check_output(tmp_path)
    assert isinstance(info.value, CodecError)


def test_check_input(tmp_path):
    with pytest.raises(PathError, match="does not exist"):
        check_input(tmp_path / "missing.wav")
    with pytest.raises(PathError, match="folder"):
        check_input(tmp_path)
    f = tmp_path / "a.wav"
    f.write_bytes(b"x")
    assert check_input(str(f)) == f


def test_same_path(tmp_path):
    a = tmp_path / "a"
    a.write_bytes(b"")
    assert same_path(a, tmp_path / "sub" / ".." / "a")
    assert not same_path(a, tmp_path / "b")
    assert same_path(tmp_path / "x", tmp_path / "x")  # neither exists


def test_unique_path(tmp_path):
    p = tmp_path / "song.ecdc"
    assert unique_path(p) == p
    p.write_bytes(b"")
    assert unique_path(p) == tmp_path / "song (1).ecdc"
    (tmp_path / "song (1).ecdc").write_bytes(b"")
    assert unique_path(p) == tmp_path / "song (2).ecdc"
    assert unique_path(tmp_path / "song (1).ecdc") == tmp_path / "song (2).ecdc"
    noext = tmp_path / "README"
    noext.write_bytes(b"")
    assert unique_path(noext) == tmp_path / "README (1)"


def test_atomic_copy(tmp_path):
    src = tmp_path / "a.ecdc"
    src.write_bytes(b"ECDC" * 1000)
    dst = tmp_path / "b.ecdc"
    assert atomic_copy(src, dst) == dst and dst.read_bytes() == src.read_bytes()
    with pytest.raises(OutputExistsError):
        atomic_copy(src, dst)
    src.write_bytes(b"new")
    atomic_copy(src, dst, overwrite=True)
    assert dst.read_bytes() == b"new"
    assert atomic_copy(src, src, overwrite=True) == src and src.read_bytes() == b"new"  # onto itself: nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ecdc", "b.ecdc"]  # no temporary file left


def test_atomic_copy_syncs_before_the_rename(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    src = tmp_path / "a.ecdc"
    src.write_bytes(b"x" * 10)
    atomic_copy(src, tmp_path / "b.ecdc")
    assert synced  # the data is on disk before the new name points at it
