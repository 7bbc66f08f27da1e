"""`ecdc tokenize SRC OUT` and `ecdc detokenize SHARDS OUT`: whole datasets to codes and back.

ecdc tokenize corpus/ codes/ -b 6                     a folder, in this process
ecdc tokenize files.txt codes/ --executor local --workers 4
ecdc tokenize my_dataset/ codes/ --audio-column audio  a folder saved by `Dataset.save_to_disk`
ecdc tokenize corpus/ codes/ --executor ray --address HOST:6379 --workers 16 --device cuda
ecdc detokenize codes/ audio/                          one .wav per row
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, TextIO

TOKENIZE_HELP = """\
Tokenize a dataset into EnCodec codes: Parquet shards (OUT/data/shard-*.parquet,
one row per clip) that load with datasets.load_dataset("parquet",
data_dir="OUT/data"), pyarrow or pandas. SRC is a folder (searched
recursively), a .txt file with one audio path per line, or a folder written by
datasets' save_to_disk. Re-running the same command resumes: shards already
written are skipped. Files that cannot be read are listed in
OUT/errors/shard-*.parquet and do not stop the run."""


def add_tokenize_parsers(sub: Any, model_type: Any, bandwidth_type: Any, devices: tuple[str, ...]) -> None:
    from codec.tokenize.config import DEFAULT_SHARD_SIZE, EXECUTORS  # noqa: PLC0415

    tok = sub.add_parser(
        "tokenize",
        help="turn a folder, file list or datasets dataset into Parquet shards of codes",
        description=TOKENIZE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tok.add_argument(
        "src", type=Path, metavar="SRC", help="folder, .txt list of files, or saved dataset folder"
    )
    tok.add_argument("out", type=Path, metavar="OUT", help="output folder (created; resumed if it exists)")
    tok.add_argument("--model", type=model_type, default="encodec_24khz", help="24khz (default) or 48khz")
    tok.add_argument("-b", "--bandwidth", type=bandwidth_type, default=None, metavar="KBPS", help="default 6")
    tok.add_argument(
        "--executor",
        "--engine",  # its first name, kept so scripts written for it still run
        dest="executor",
        choices=EXECUTORS,
        default="inline",
        help="where clips are coded (default inline)",
    )
    tok.add_argument("--workers", type=int, default=1, help="worker processes or Ray actors (default 1)")
    tok.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    tok.add_argument("--device", choices=devices, default="cpu", help="where each worker's model runs")
    tok.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1)")
    tok.add_argument("--weights", type=Path, metavar="PATH", help="model weights (.th file or HF folder)")
    tok.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE, help="clips per shard")
    tok.add_argument(
        "--batch-size", type=int, default=None, help="clips per encoder batch (default: by device)"
    )
    tok.add_argument("--audio-column", default="audio", help="datasets column holding the audio")
    tok.add_argument(
        "--id-column", default=None, help="datasets column holding clip ids (default row number)"
    )
    tok.add_argument("--split", default=None, help="split of a saved DatasetDict")

    detok = sub.add_parser(
        "detokenize",
        help="decode Parquet shards of codes back to audio files",
        description="Decode every row of tokenized shards to OUT/<id>.wav (folders in ids are kept). "
        "Files that already exist are skipped, so an interrupted run resumes.",
    )
    detok.add_argument("src", type=Path, metavar="SHARDS", help="a tokenize output folder or a shard file")
    detok.add_argument("out", type=Path, metavar="OUT", help="output folder for the audio files")
    detok.add_argument("--weights", type=Path, metavar="PATH", help="model weights (.th file or HF folder)")
    detok.add_argument("--device", choices=devices, default="cpu")
    detok.add_argument("--format", choices=("wav", "flac"), default="wav")


class _Status:
    """One self-rewriting status line on a terminal (nothing otherwise)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()

    def show(self, text: str) -> None:
        if self.tty:
            self.stream.write(f"\r\033[K{text}")
            self.stream.flush()

    def done(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")


def _audio(seconds: float) -> str:
    return f"{seconds:.1f} s audio" if seconds < 360 else f"{seconds / 3600:.2f} h audio"


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = width * done // total if total else width
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def run_tokenize(args: argparse.Namespace, stderr: TextIO) -> int:
    from codec.device import resolve_device  # noqa: PLC0415
    from codec.specs import get_spec  # noqa: PLC0415
    from codec.tokenize.config import TokenizeConfig, require  # noqa: PLC0415

    require("pyarrow")
    from codec.tokenize.pipeline import TokenizeProgress, tokenize  # noqa: PLC0415

    spec = get_spec(args.model)
    bandwidth = (
        args.bandwidth
        if args.bandwidth is not None
        else (6.0 if 6.0 in spec.bandwidths else spec.bandwidths[0])
    )
    spec.check_bandwidth(bandwidth)
    if args.executor != "ray":
        resolve_device(args.device)  # a Ray cluster's workers may have devices this machine lacks
    config = TokenizeConfig(
        model=spec.name,
        bandwidth=bandwidth,
        weights=str(args.weights) if args.weights else None,
        device=args.device,
        batch_size=args.batch_size,
        threads=args.threads,
    )
    status = _Status(stderr)

    def progress(state: TokenizeProgress) -> None:
        status.show(
            f"{_bar(state.clips_done, state.clips_total)} files {state.clips_done}/{state.clips_total}"
            f" ({state.clips_failed} failed), {_audio(state.audio_seconds)},"
            f" {state.realtime_factor:.1f} h/h"
        )

    summary = tokenize(
        args.src,
        args.out,
        config,
        executor=args.executor,
        workers=args.workers,
        address=args.address,
        shard_size=args.shard_size,
        audio_column=args.audio_column,
        id_column=args.id_column,
        split=args.split,
        progress=progress,
    )
    state = summary.progress
    message = f"{args.out}: {state.shards_done} shards written"
    if state.shards_skipped:
        message += f", {state.shards_skipped} already done"
    message += f"; {_audio(state.audio_seconds)} in {state.elapsed_s:.1f} s ({state.realtime_factor:.1f} h/h)"
    if state.clips_failed:
        message += f"; {state.clips_failed} files failed, listed in {args.out / 'errors'}"
    status.done(message)
    return 1 if state.clips_failed else 0


def run_detokenize(args: argparse.Namespace, stderr: TextIO) -> int:
    from codec.device import resolve_device  # noqa: PLC0415
    from codec.tokenize.config import require  # noqa: PLC0415

    require("pyarrow")
    from codec.tokenize.detokenize import detokenize  # noqa: PLC0415

    resolve_device(args.device)
    status = _Status(stderr)
    started = time.monotonic()

    def progress(files: int, seconds: float) -> None:
        elapsed = time.monotonic() - started
        status.show(f"files {files}, {_audio(seconds)}, {seconds / elapsed if elapsed else 0:.1f}x real time")

    summary = detokenize(
        args.src,
        args.out,
        weights=args.weights,
        device=args.device,
        suffix=f".{args.format}",
        progress=progress,
    )
    skipped = f" ({summary.skipped} existed)" if summary.skipped else ""
    status.done(f"{args.out}: {summary.written} files written{skipped} in {summary.elapsed_s:.1f} s")
    return 0
