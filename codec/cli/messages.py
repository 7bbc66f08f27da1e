"""How `ecdc` words its errors: one line, `ecdc: error: ...`, naming the file when there are several."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from codec.errors import CodecError, WeightsError

PROG = "ecdc"


def one_line(message: str) -> str:
    return " ".join(message.split())


def print_error(exc: BaseException, stderr: TextIO) -> None:
    stderr.write(f"{PROG}: error: {describe(exc)}\n")
    stderr.flush()


def about(path: Path, exc: BaseException) -> str:
    """The error's sentence, prefixed with the file it is about unless it already names it."""
    message = describe(exc)
    if isinstance(exc, WeightsError) or path.name in message:
        return message
    return f"{path}: {message}"


def describe(exc: BaseException) -> str:
    if isinstance(exc, WeightsError):
        message = one_line(str(exc))
        if "ecdc models" not in message and "--weights" not in message:
            message += " Download it with `ecdc models download NAME`, or pass --weights PATH."
        if "bundled" not in message:
            message += " Without Meta's weights, compress with the bundled model: --model small."
        return message
    if isinstance(exc, CodecError):
        return one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return one_line(f"cannot access{where}: {exc.strerror or exc}")
    return one_line(f"unexpected {type(exc).__name__}: {exc} (set ECDC_DEBUG=1 to see the traceback)")
