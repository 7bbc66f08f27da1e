"""Safe file output: atomic writes that never touch an input and never leave a partial file.

Every file the engine (and the app) writes goes through `atomic_write` (copies: `atomic_copy`): the bytes go to a hidden temporary file in
the destination folder, which is flushed, fsync'ed and then renamed over the destination in one step.
Any exception on the way (an error, `Cancelled`, `KeyboardInterrupt`) removes the temporary file, so a
failed or cancelled job leaves the folder exactly as it found it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from codec.errors import CodecError

StrPath = str | os.PathLike[str]


class PathError(CodecError):
    """An input that does not exist, or an output that cannot or must not be written."""


class OutputExistsError(PathError):
    """The output file already exists and overwriting was not allowed."""


class OutputWriteError(PathError):
    """Writing an output failed (full disk, quota, read-only or failing drive); nothing was left behind."""


def same_path(a: StrPath, b: StrPath) -> bool:
    """True when `a` and `b` name the same file (hard links and symlinks included)."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
    except OSError:
        pass
    return os.path.normcase(str(pa.resolve())) == os.path.normcase(str(pb.resolve()))


def check_input(path: StrPath) -> Path:
    """Return `path` as a Path if it is an existing file; raise `PathError` otherwise."""
    p = Path(path)
    if not p.exists():
        raise PathError(f"Input file {p} does not exist.")
    if p.is_dir():
        raise PathError(f"Input {p} is a folder, not a file.")
    return p


def check_output(path: StrPath, *, inputs: Iterable[StrPath] = (), overwrite: bool = False) -> Path:
    """Refuse an output that is a folder, lies in a missing folder, is one of `inputs`, or exists.

    An existing output raises `OutputExistsError` unless `overwrite`; an input is refused even then.
    """
    p = Path(path)
    if p.is_dir():
        raise PathError(f"Output {p} is a folder; give a file name.")
    parent = p.parent
    if not parent.is_dir():
        raise PathError(f"Output folder {parent} for {p.name} does not exist.")
    for source in inputs:
        if same_path(p, source):
            raise PathError(f"Refusing to write {p} because it is also an input file.")
    if p.exists() and not overwrite:
        raise OutputExistsError(f"Output file {p} already exists.")
    return p


def _temp_file(parent: Path, name: str) -> tuple[Path, int]:
    """Create a new hidden temporary file next to the destination; mode 0666 minus the umask."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = parent / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            return temp, os.open(temp, flags, 0o666)
        except FileExistsError:
            continue


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); folders cannot be opened this way on Windows."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _commit(temp: Path, dst: Path, overwrite: bool) -> None:
    if overwrite:
        if dst.exists():
            with contextlib.suppress(OSError):
                os.chmod(temp, dst.stat().st_mode & 0o7777)
        os.replace(temp, dst)
        return
    # A hard link fails if dst appeared since check_output: no race can clobber a file.
    try:
        os.link(temp, dst)
    except FileExistsError:
        raise OutputExistsError(f"Output file {dst} already exists.") from None
    except OSError:
        # File systems without hard links (FAT, some network shares): check, then rename.
        if dst.exists():
            raise OutputExistsError(f"Output file {dst} already exists.") from None
        os.replace(temp, dst)
        return
    with contextlib.suppress(OSError):
        os.unlink(temp)


class _WriteRecorder:
    """A file object that remembers the first error a write raised.

    soundfile writes through a cffi callback that swallows the callback's exception and then fails with
    an unrelated AssertionError; the recorded error is what lets `atomic_write` say what really happened.
    """

    def __init__(self, fo: BinaryIO) -> None:
        self._fo = fo
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self._fo.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def __getattr__(self, name: str) -> object:
        return getattr(self._fo, name)


class _QuietWrites:
    """Reports a failed write as 0 bytes written instead of raising (the error stays recorded)."""

    def __init__(self, fo: BinaryIO) -> None:
        self._fo = fo

    def write(self, data: bytes) -> int:
        try:
            return self._fo.write(data)
        except OSError:
            return 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._fo, name)


def quiet_writes(fo: BinaryIO) -> BinaryIO:
    """`fo` (from `atomic_write`) for soundfile: its cffi callback prints a raised exception as "Exception
    ignored" and then fails on its own, whereas a short write fails cleanly; `atomic_write` still
    reports the recorded error."""
    return _QuietWrites(fo)  # type: ignore[return-value]


def _write_failed(dst: Path, exc: OSError) -> OutputWriteError:
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = " Free some space or choose another folder." if exc.errno in _SPACE_ERRNOS else ""
    return OutputWriteError(f"Cannot write {dst} ({reason}); nothing was left behind.{hint}")


_SPACE_ERRNOS = {getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG") if hasattr(errno, name)}


@contextlib.contextmanager
def atomic_write(
    path: StrPath, overwrite: bool = False, *, inputs: Iterable[StrPath] = ()
) -> Iterator[BinaryIO]:
    """Open a binary file that appears at `path` only if the `with` block completes.

    The checks of `check_output` run first (missing folder, output is an input, output exists). The
    file object is readable, writable and seekable (soundfile needs that). On success it is flushed,
    fsync'ed and renamed onto `path`; on any exception, `KeyboardInterrupt` included, the temporary
    file is removed and the exception propagates. A failed write to the file (a full disk, say) comes
    out as `OutputWriteError` naming `path`, whatever the code writing it raised in turn.
    """
    inputs = list(inputs)
    dst = check_output(path, inputs=inputs, overwrite=overwrite)
    temp, fd = _temp_file(dst.parent, dst.name)
    committed = False
    try:
        raw = os.fdopen(fd, "w+b")
        fo = _WriteRecorder(raw)
        try:
            yield fo  # type: ignore[misc]
            raw.flush()
            os.fsync(raw.fileno())
        except Exception as exc:
            space = isinstance(exc, OSError) and exc.errno in _SPACE_ERRNOS
            failure = fo.error or (exc if space else None)
            if failure is not None and not isinstance(exc, CodecError):
                raise _write_failed(dst, failure) from exc
            raise
        finally:
            with contextlib.suppress(OSError):  # already flushed; on the error path nothing is kept
                raw.close()
        if fo.error is not None:  # a write failed but whoever wrote carried on
            raise _write_failed(dst, fo.error)
        try:
            _commit(temp, dst, overwrite)
        except OutputExistsError:
            raise
        except OSError as exc:
            raise _write_failed(dst, exc) from exc
        committed = True
    finally:
        if not committed:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    _fsync_folder(dst.parent)


def atomic_copy(src: StrPath, dst: StrPath, *, overwrite: bool = False) -> Path:
    """Copy `src` to `dst` through `atomic_write` (temporary file, fsync, rename): `dst` is never seen
    partial. Copying a file onto itself does nothing."""
    source, target = check_input(src), Path(dst)
    if target.exists() and same_path(source, target):
        return target
    with open(source, "rb") as reader, atomic_write(target, overwrite, inputs=[source]) as writer:
        shutil.copyfileobj(reader, writer)  # a full disk names dst (OutputWriteError)
    return target


_COUNTER = re.compile(r"^(?P<base>.*) \((?P<n>\d+)\)$")


def unique_path(path: StrPath) -> Path:
    """`path` itself if free, else the first free `name (1).ext`, `name (2).ext`, ...

    A name that already ends in a counter continues from it: `song (1).ecdc` -> `song (2).ecdc`.
    """
    p = Path(path)
    if not p.exists():
        return p
    stem, suffix = p.stem, p.suffix
    match = _COUNTER.match(stem)
    base, n = (match["base"], int(match["n"])) if match else (stem, 0)
    while True:
        n += 1
        candidate = p.with_name(f"{base} ({n}){suffix}")
        if not candidate.exists():
            return candidate
