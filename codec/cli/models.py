"""`ecdc models ...`: list, download, import and remove model weights, and show where they live.

    ecdc models list                 known weights, what is installed, sizes
    ecdc models download NAME...     download (resumes an interrupted download; verifies official files)
    ecdc models import PATH          add a local .th file or Hugging Face folder (offline install)
    ecdc models remove NAME...       delete installed weights (and any unfinished download)
    ecdc models path [NAME]          the models folder, or where NAME is installed

`codec/cli/parser.py` adds the parser with `add_models_parser`; `codec/cli/main.py` calls `run_models`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from codec.cli.messages import PROG, one_line
from codec.errors import CodecError
from codec.units import format_bytes

_EPILOG = """\
names: encodec_24khz, encodec_48khz, encodec_32khz (also 24khz, 48khz, 32khz), encodec_24khz_hf,
encodec_48khz_hf (the Hugging Face copies), encodec_lm_24khz, encodec_lm_48khz (language models for -l).

The models folder is ECDC_STUDIO_MODELS if set, else the app's setting, else the user data folder.
Mirrors: ECDC_STUDIO_BASE_URL (official files), HF_ENDPOINT (Hugging Face files). Weights already in
the torch hub or Hugging Face caches are reused without downloading."""


def add_models_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `models` command to `subparsers` (the result of `ArgumentParser.add_subparsers`)."""
    parser = subparsers.add_parser(
        "models",
        help="list, download, import and remove model weights",
        description="Manage EnCodec model weights.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="models_command", metavar="{list,download,import,remove,path}", required=True
    )
    sub.add_parser("list", help="show the known weights and which are installed")
    download = sub.add_parser("download", help="download weights; an interrupted download resumes")
    download.add_argument("names", nargs="+", metavar="NAME")
    download.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="give up when the server sends nothing for this long (default 30, or ECDC_STUDIO_TIMEOUT)",
    )
    imported = sub.add_parser("import", help="add a local .th checkpoint or Hugging Face folder")
    imported.add_argument("path", metavar="PATH")
    remove = sub.add_parser("remove", help="delete installed weights")
    remove.add_argument("names", nargs="+", metavar="NAME")
    path = sub.add_parser("path", help="print the models folder, or the installed path of NAME")
    path.add_argument("name", nargs="?", metavar="NAME")
    return parser


def run_models(args: argparse.Namespace) -> int:
    """Run a parsed `ecdc models ...` command; returns the exit status (errors print one line)."""
    stdout, stderr = sys.stdout, sys.stderr
    try:
        return _COMMANDS[args.models_command](args, stdout, stderr)
    except CodecError as exc:
        stderr.write(f"{PROG}: error: {one_line(str(exc))}\n")
        return 1


def _list(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from codec.weights import list_models, models_dir  # noqa: PLC0415

    statuses = list_models()
    width = max(len(status.name) for status in statuses)
    checks = [_check_label(status) for status in statuses]
    check_width = max(len("CHECK"), *map(len, checks))
    stdout.write(f"{'NAME':<{width}}  {'STATUS':<9}  {'SIZE':>9}  {'CHECK':<{check_width}}  DESCRIPTION\n")
    for status, check in zip(statuses, checks):
        if status.installed:
            state, size = "installed", format_bytes(status.size_on_disk)
        elif status.partial_bytes:
            state, size = "partial", format_bytes(status.partial_bytes)
        else:
            state = "-"
            size = "~" + format_bytes(status.approx_size) if status.approx_size else "?"
        stdout.write(
            f"{status.name:<{width}}  {state:<9}  {size:>9}  {check:<{check_width}}  {status.description}\n"
        )
    stdout.write(
        "\nCHECK: how a download is verified. sha256: the whole published hash; sha256 prefix: the 8 hex\n"
        "digits in the file name; hub sha256: the hash the Hugging Face server announces; unpinned: from\n"
        "the moving main branch, no known commit; bundled: ships inside ECDC Studio, nothing to download.\n"
    )
    stdout.write(f"\nModels folder: {models_dir()}\n")
    return 0


def _check_label(status: Any) -> str:
    return status.check if status.pinned else f"{status.check}, unpinned"


def _download(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from codec.weights import ensure_weights  # noqa: PLC0415
    from codec.weights.registry import get_entry  # noqa: PLC0415

    for name in args.names:
        entry = get_entry(name)
        line = ProgressLine(entry.name, stderr)
        try:
            path = ensure_weights(entry.name, progress=line, timeout=args.timeout)
        except KeyboardInterrupt:
            line.finish()  # before the message, so it starts on its own line
            stderr.write(f"{PROG}: download interrupted; run the same command again to resume.\n")
            return 130
        finally:
            line.finish()
        stdout.write(f"{entry.name}: {path}\n")
    return 0


def _import(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from codec.weights import find_installed, import_weights  # noqa: PLC0415

    line = ProgressLine("import", stderr)
    try:
        name = import_weights(args.path, progress=line)
    finally:
        line.finish()
    stdout.write(f"Imported {args.path} as {name}: {find_installed(name)}\n")
    return 0


def _remove(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from codec.weights import remove  # noqa: PLC0415
    from codec.weights.registry import get_entry  # noqa: PLC0415

    for name in args.names:
        entry = get_entry(name)
        stdout.write(
            f"Removed {entry.name}.\n" if remove(entry.name) else f"{entry.name} was not installed.\n"
        )
    return 0


def _path(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from codec.weights import find_installed, models_dir  # noqa: PLC0415

    if args.name is None:
        stdout.write(f"{models_dir()}\n")
        return 0
    path = find_installed(args.name)
    if path is None:
        stderr.write(
            f"{PROG}: error: {args.name} is not installed; run `ecdc models download {args.name}`.\n"
        )
        return 1
    stdout.write(f"{path}\n")
    return 0


_COMMANDS = {"list": _list, "download": _download, "import": _import, "remove": _remove, "path": _path}


class ProgressLine:
    """A `ProgressCallback` drawing one self-overwriting line on a terminal; silent when `stream` is not one.
    It redraws only when the shown percentage (or megabyte count, total unknown) changes."""

    def __init__(self, label: str, stream: TextIO) -> None:
        self.label = label
        self.stream = stream
        self.enabled = stream.isatty()
        self._shown: tuple[int, int] | None = None
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        key = (done * 100 // total, 100) if total else (done // 1_000_000, 0)
        if key == self._shown:
            return
        self._shown = key
        if total:
            text = f"{self.label}: {format_bytes(done)} of {format_bytes(total)} ({key[0]}%)"
        else:
            text = f"{self.label}: {format_bytes(done)}"
        self.stream.write(f"\r{text:<60}")
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        """End the line (once), so the next output starts on a fresh one."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
