"""The `ecdc` command: compress and decompress audio with EnCodec, flag-compatible with Meta's `encodec`.

    ecdc [options] INPUT [OUTPUT]          like `encodec`: .ecdc in -> audio out, audio in -> .ecdc out
    ecdc [options] INPUT... [FOLDER]       several files at once
    ecdc info FILE...                      describe .ecdc (and audio) files
    ecdc models {list,download,...}        manage model weights (codec/cli/models.py)

The words `info` and `models` are commands when they come first; to compress a file literally named
`info` or `models`, write `./info`. Errors print one line, `ecdc: error: ...`, and exit 1 (2 for bad
usage, 130 after Ctrl-C); a failed or interrupted run leaves no partial output file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO

from codec.errors import CodecError, WeightsError
from codec.fileio import OutputExistsError, PathError, check_input, check_output, same_path
from codec.filetypes import AUDIO_OUTPUT_FORMATS, ECDC_SUFFIX, is_ecdc, output_path_for
from codec.specs import MODELS, format_bandwidth, get_spec
from codec.units import format_bytes, format_duration

PROG = "ecdc"
SUFFIX = ECDC_SUFFIX
AUDIO_OUTPUTS = tuple(AUDIO_OUTPUT_FORMATS)
BITS = {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"}
MODEL_CHOICES = ("24khz", "48khz", "32khz", "small")
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
COMMANDS = ("info", "models", "train", "tokenize", "detokenize")

DESCRIPTION = """\
High fidelity neural audio codec (Meta's EnCodec).

If INPUT is a .ecdc file, decompresses it. If INPUT is audio (wav, flac, ogg,
mp3, ...), compresses it to .ecdc; if OUTPUT is .wav or .flac instead, does a
compression/decompression cycle, to hear the result. The flags match the
reference `encodec` command.

Several inputs: give three or more files, or end with an existing folder
(`ecdc a.wav b.wav out/`). OUTPUT must then be a folder or left out; each
output is named after its input. With exactly two files the second is OUTPUT,
as in `encodec`.

Other commands: `ecdc info FILE...` describes .ecdc files; `ecdc models ...`
lists, downloads and imports model weights (see `ecdc models --help`);
`ecdc train ...` trains a model of your own. To process a file named `info`,
`models` or `train`, write `./info`."""

EPILOG = """\
examples:
  ecdc speech.wav                  compress to speech.ecdc (24 kHz, 6 kbps)
  ecdc -b 12 --hq song.flac        48 kHz stereo model at 12 kbps
  ecdc -l speech.wav               entropy-code with the language model
  ecdc song.ecdc                   decompress to song_decompressed.wav
  ecdc --bits 24 song.ecdc s.flac  decompress to 24-bit FLAC
  ecdc -b 3 song.wav preview.wav   hear what 3 kbps sounds like
  ecdc *.wav compressed/           compress many files into a folder
  ecdc info song.ecdc              model, bandwidth, duration, bitrate
  ecdc models download 48khz       fetch model weights ahead of time
  ecdc --model small speech.wav    the bundled model: no download needed

safety: an input is never overwritten; an existing output is refused without
-f; outputs go to a temporary file that is renamed when complete, so an error
or Ctrl-C leaves no partial file.

exit status: 0 success, 1 error, 2 bad usage, 130 interrupted."""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help').\n")


def _model_name(value: str) -> str:
    try:
        return get_spec(value).name
    except CodecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _bandwidth(value: str) -> float:
    try:
        bandwidth = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bandwidth must be a number of kbps, not {value!r}") from None
    return bandwidth


def get_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        usage=f"{PROG} [options] INPUT [OUTPUT]\n       {PROG} [options] INPUT... [FOLDER]\n"
        f"       {PROG} info FILE...\n       {PROG} models {{list,download,import,remove,path}} ...",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="INPUT [OUTPUT]",
        help="input file(s), then optionally the output file (one input) or output folder (several)",
    )
    codec = parser.add_argument_group("codec")
    codec.add_argument(
        "-b",
        "--bandwidth",
        type=_bandwidth,
        default=None,
        metavar="KBPS",
        help="target bandwidth in kbps: 1.5, 3, 6, 12 or 24 (24khz); 3, 6, 12 or 24 (48khz); "
        "2.2 (32khz); 1.5, 3, 6 or 12 (small). Default 6 (2.2 for 32khz).",
    )
    codec.add_argument(
        "-q", "--hq", action="store_true", help="use the 48 kHz stereo model (same as --model 48khz)"
    )
    codec.add_argument(
        "--model",
        type=_model_name,
        default=None,
        metavar="{" + ",".join(MODEL_CHOICES) + "}",
        help="model for compression (default 24khz, Meta's weights); `small` is ECDC Studio's own bundled "
        "model, which works offline; decompression uses the model named in the file",
    )
    codec.add_argument(
        "-l",
        "--lm",
        action="store_true",
        help="entropy-code with the language model: 20-30%% smaller files, about 5x slower",
    )
    codec.add_argument(
        "--lm-format",
        choices=("portable", "reference"),
        default="portable",
        help="how -l / --lm files are written: portable (default; decodes identically on any machine, "
        "checksummed so damage loses only the damaged seconds) or reference (what Meta's encodec 0.1.1 "
        "reads, but only where the LM rounds exactly as it did when writing)",
    )
    codec.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        default="cpu",
        help="where the model runs (default cpu; the language model always runs on the CPU so that "
        "LM-coded files decode anywhere)",
    )
    codec.add_argument(
        "--weights",
        type=Path,
        metavar="PATH",
        help="model weights: a local .th file or HF folder, used as is",
    )
    codec.add_argument(
        "--lm-weights", type=Path, metavar="PATH", help="language-model weights: a local .th file, used as is"
    )
    out = parser.add_argument_group("output")
    out.add_argument("-f", "--force", action="store_true", help="overwrite output files that exist")
    out.add_argument(
        "-s",
        "--decompress_suffix",
        "--decompress-suffix",
        default="_decompressed",
        metavar="SUFFIX",
        help="suffix of decompressed file names when no OUTPUT is given (default _decompressed)",
    )
    out.add_argument(
        "-r", "--rescale", action="store_true", help="scale decoded audio down instead of clipping it"
    )
    out.add_argument(
        "--bits",
        choices=tuple(BITS),
        default="16",
        help="sample format of decoded .wav/.flac: 16-bit, 24-bit or 32-bit float (wav only); default 16",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version  # noqa: PLC0415

        return version("encodec-studio")
    except Exception:
        return "unknown"


def get_command_parser() -> argparse.ArgumentParser:
    """The parser of `ecdc info ...` and `ecdc models ...`."""
    parser = _Parser(prog=PROG, description="ECDC Studio commands.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    info = sub.add_parser(
        "info",
        help="describe .ecdc and audio files",
        description="Describe .ecdc files (model, bandwidth, duration, LM coding, sizes, bitrate) and "
        "audio files (format, rate, channels, duration), from their headers.",
    )
    info.add_argument("files", nargs="+", type=Path, metavar="FILE")
    info.add_argument("--json", action="store_true", help="print one JSON object per file")
    try:
        from codec.cli.models import add_models_parser  # noqa: PLC0415
    except ImportError:
        pass
    else:
        add_models_parser(sub)
    from codec.cli.train import add_train_parser  # noqa: PLC0415

    add_train_parser(sub)
    from codec.cli.tokenize import add_tokenize_parsers  # noqa: PLC0415

    add_tokenize_parsers(sub, _model_name, _bandwidth, DEVICE_CHOICES)
    return parser


# ---------------------------------------------------------------------------------------------- output


class ProgressBar:
    """A one-line bar on a terminal's stderr; `ProgressCallback`-compatible."""

    WIDTH = 30

    def __init__(self, label: str, stream: TextIO) -> None:
        self.label = label
        self.stream = stream
        self._last = -1
        self._drawn = False
        self._started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        permille = min(1000, max(0, int(1000 * done / total))) if total else 1000
        if permille // 5 == self._last // 5 and permille != 1000:
            return
        self._last = permille
        filled = self.WIDTH * permille // 1000
        elapsed = time.monotonic() - self._started
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {permille / 10:5.1f}% {elapsed:5.1f}s")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._drawn = False


# ---------------------------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class Job:
    kind: str  # "compress", "decompress", "roundtrip"
    src: Path
    dst: Path


def _plan(args: argparse.Namespace) -> list[Job]:
    paths: list[Path] = args.paths
    folder: Path | None = None
    output: Path | None = None
    if len(paths) >= 2 and paths[-1].is_dir():
        inputs, folder = paths[:-1], paths[-1]
    elif len(paths) == 2:
        inputs, output = paths[:1], paths[1]
    else:
        inputs = paths
        if len(paths) >= 3 and not paths[-1].exists():
            raise PathError(
                f"{paths[-1]} does not exist; with several inputs, the last path must be an existing "
                "output folder (or an input file)."
            )
    for src in inputs:
        check_input(src)
    jobs = []
    for src in inputs:
        decompress = is_ecdc(src)
        if output is not None:
            suffix = output.suffix.lower()
            if decompress and suffix not in AUDIO_OUTPUTS:
                raise PathError(f"Output {output} must end in .wav or .flac to decompress {src.name}.")
            if not decompress and suffix not in (SUFFIX, *AUDIO_OUTPUTS):
                raise PathError(f"Output {output} must end in .ecdc, .wav or .flac.")
            kind = "decompress" if decompress else ("compress" if suffix == SUFFIX else "roundtrip")
            jobs.append(Job(kind, src, output))
            continue
        if decompress:
            jobs.append(Job("decompress", src, output_path_for(src, folder, ".wav", args.decompress_suffix)))
        else:
            jobs.append(Job("compress", src, output_path_for(src, folder, SUFFIX)))
    return jobs


def _check_outputs(jobs: list[Job], force: bool, subtype: str) -> None:
    """Find every output clash, and audio outputs that cannot hold `subtype`, before any work starts."""
    from codec.audio import output_format  # noqa: PLC0415

    inputs = [job.src for job in jobs]
    for i, job in enumerate(jobs):
        for other in jobs[:i]:
            if same_path(job.dst, other.dst):
                raise PathError(f"{other.src} and {job.src} would both be written to {job.dst}.")
        try:
            check_output(job.dst, inputs=inputs, overwrite=force)
        except OutputExistsError:
            raise OutputExistsError(
                f"Output file {job.dst} already exists; use -f / --force to overwrite."
            ) from None
        if job.kind != "compress":
            output_format(job.dst, subtype)


def _model_choice(args: argparse.Namespace) -> str:
    if args.hq and args.model not in (None, "encodec_48khz"):
        raise CodecError(f"-q / --hq selects encodec_48khz; it cannot be combined with --model {args.model}.")
    return "encodec_48khz" if args.hq else (args.model or "encodec_24khz")


def _bandwidth_choice(args: argparse.Namespace, model: str) -> float:
    spec = MODELS[model]
    bandwidth = args.bandwidth
    if bandwidth is None:
        bandwidth = 6.0 if 6.0 in spec.bandwidths else spec.bandwidths[0]
    spec.check_bandwidth(bandwidth)
    return bandwidth


def _pool(args: argparse.Namespace) -> Any:
    from codec.device import resolve_device  # noqa: PLC0415
    from codec.model_pool import ModelPool  # noqa: PLC0415

    resolve_device(args.device)  # an unavailable device fails before any loading
    for path in (args.weights, args.lm_weights):
        if path is not None and not path.exists():
            raise PathError(f"Weights {path} do not exist.")
    # --weights applies to whichever model a job needs; a checkpoint for another model fails to load
    # with a clear error rather than silently using the wrong weights.
    weights = {name: args.weights for name in MODELS} if args.weights else None
    lm_weights = (
        {name: args.lm_weights for name in MODELS if MODELS[name].has_lm} if args.lm_weights else None
    )
    # Like Meta's `encodec`, the command downloads missing weights (with a bar on a terminal).
    return ModelPool(device=args.device, weights=weights, lm_weights=lm_weights, allow_download=True)


def _run_job(
    job: Job,
    args: argparse.Namespace,
    pool: Any,
    model: str,
    bandwidth: float,
    progress: Any,
    header: Any = None,
) -> Any:
    from codec import jobs  # noqa: PLC0415

    subtype = BITS[args.bits]
    common = dict(pool=pool, overwrite=args.force, progress=progress)
    if job.kind == "compress":
        return jobs.compress_file(
            job.src,
            job.dst,
            model_name=model,
            bandwidth=bandwidth,
            use_lm=args.lm,
            lm_format=args.lm_format,
            **common,
        )
    if job.kind == "decompress":
        return jobs.decompress_file(
            job.src, job.dst, subtype=subtype, rescale=args.rescale, header=header, **common
        )
    return jobs.roundtrip_file(
        job.src,
        job.dst,
        model_name=model,
        bandwidth=bandwidth,
        use_lm=args.lm,
        subtype=subtype,
        rescale=args.rescale,
        lm_format=args.lm_format,
        **common,
    )


def _summary(job: Job, result: Any) -> str:
    what = f"{job.src.name} -> {job.dst.name}"
    sizes = f"{format_bytes(result.input_bytes)} -> {format_bytes(result.output_bytes)}"
    rate = f"{format_bandwidth(result.bandwidth)} kbps nominal, {result.bitrate_kbps:.2f} kbps actual"
    return f"{what}: {sizes} ({result.ratio:.1f}:1, {rate}) in {result.seconds_taken:.1f} s"


def _preload(job: Job, args: argparse.Namespace, pool: Any, model: str, stderr: TextIO) -> Any:
    """Load (downloading if needed) what `job` needs, with its own bar: a download can take minutes.
    The input is checked first, so a file that is not audio says so rather than failing a download.
    Returns the header of a `.ecdc` input (the job reuses it), else None."""
    use_lm = args.lm
    header = None
    if job.kind != "decompress":
        from codec.audio import info_audio  # noqa: PLC0415

        info_audio(job.src)
    else:
        from codec.ecdc import read_header  # noqa: PLC0415

        header = read_header(job.src)  # not an .ecdc file: one clear EcdcFormatError
        model, use_lm = header.model, header.use_lm
    bar = ProgressBar(f"loading {model}", stderr) if stderr.isatty() else None
    try:
        pool.model(model, progress=bar)
        if use_lm:
            pool.lm(model, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    return header


def run_codec(args: argparse.Namespace, stderr: TextIO) -> int:
    from codec.audio import ClippingWarning  # noqa: PLC0415

    jobs = _plan(args)
    model = _model_choice(args)
    bandwidth = 0.0
    if any(job.kind != "decompress" for job in jobs):
        bandwidth = _bandwidth_choice(args, model)
        if args.lm and not MODELS[model].has_lm:
            raise CodecError(f"{model} has no language model; drop -l / --lm.")
    _check_outputs(jobs, args.force, BITS[args.bits])
    pool = _pool(args)
    tty = stderr.isatty()
    failures = 0
    for job in jobs:
        bar = None
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                header = _preload(job, args, pool, model, stderr)
                bar = ProgressBar(job.src.name, stderr) if tty else None
                result = _run_job(job, args, pool, model, bandwidth, bar, header)
        except CodecError as exc:
            if isinstance(exc, WeightsError):
                raise  # every other job would fail the same way
            if bar is not None:
                bar.close()
            failures += 1
            stderr.write(f"{PROG}: error: {_about(job.src, exc)}\n")
            continue
        finally:
            if bar is not None:
                bar.close()
        for warning in caught:
            if issubclass(warning.category, ClippingWarning):
                hint = "" if args.rescale else " (use -r / --rescale to scale it down instead)"
                stderr.write(f"{PROG}: warning: {_one_line(str(warning.message))}{hint}\n")
        for start, stop in getattr(result, "lost_s", ()):
            # A lost tail is left out (the output ends early); a lost stretch inside is muted.
            where = (
                "the output ends before it" if start >= result.duration_s else "it is silent in the output"
            )
            stderr.write(
                f"{PROG}: warning: {job.src.name}: audio from {format_duration(start, 2)} to {format_duration(stop, 2)} "
                f"was damaged and could not be decoded; {where}.\n"
            )
        if tty:
            stderr.write(_summary(job, result) + "\n")
    if failures and len(jobs) > 1:
        stderr.write(f"{PROG}: error: {failures} of {len(jobs)} files failed.\n")
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------------- info


def _info_record(path: Path) -> dict[str, Any]:
    from codec.jobs import probe  # noqa: PLC0415

    info = probe(path)
    record: dict[str, Any] = {
        "file": str(path),
        "kind": info.kind,
        "size_bytes": info.size_bytes,
        "duration_s": round(info.duration_s, 6),
        "sample_rate": info.sample_rate,
        "channels": info.channels,
        "bitrate_kbps": round(info.bitrate_kbps, 3),
    }
    if info.header is not None:
        header = info.header
        record.update(
            model=header.model,
            bandwidth_kbps=header.bandwidth,
            num_codebooks=header.num_codebooks,
            lm=header.use_lm,
            lm_format=header.lm_format,
            format_version=header.version,
            samples=header.length,
            header_bytes=header.header_size,
        )
    else:
        record.update(format=info.format, samples=info.frames)
    return record


def _print_info(record: dict[str, Any], out: TextIO) -> None:
    rows = [("file", record["file"])]
    if record["kind"] == "ecdc":
        spec = MODELS.get(record["model"])
        title = f" ({spec.title})" if spec else ""
        rows += [
            ("model", f"{record['model']}{title}"),
            (
                "bandwidth",
                f"{format_bandwidth(record['bandwidth_kbps'])} kbps ({record['num_codebooks']} codebooks)",
            ),
            ("LM coding", _lm_description(record)),
        ]
    else:
        rows.append(("format", record["format"]))
    channels = "mono" if record["channels"] == 1 else f"{record['channels']} channels"
    rows += [
        ("duration", f"{format_duration(record['duration_s'], 2)} ({record['samples']} samples)"),
        ("audio", f"{record['sample_rate']} Hz, {channels}"),
    ]
    size = format_bytes(record["size_bytes"])
    if record["kind"] == "ecdc":
        size += f" (header {format_bytes(record['header_bytes'])})"
        raw = record["samples"] * record["channels"] * 2
        if record["size_bytes"]:
            size += f"; 16-bit PCM would be {format_bytes(raw)}, {raw / record['size_bytes']:.1f}:1"
    rows += [("size", size), ("bitrate", f"{record['bitrate_kbps']:.2f} kbps")]
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        out.write(f"{key:<{width}}  {value}\n")


def _lm_description(record: dict[str, Any]) -> str:
    if not record["lm"]:
        return "no"
    if record.get("lm_format") == "portable":
        return "yes, portable (version 1: decodes identically on any machine, checksummed)"
    return "yes, reference (version 0: decodes only where the LM rounds as it did when writing)"


def run_info(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    failures = 0
    for i, path in enumerate(args.files):
        try:
            record = _info_record(path)
        except CodecError as exc:
            failures += 1
            stderr.write(f"{PROG}: error: {_about(path, exc)}\n")
            continue
        if args.json:
            stdout.write(json.dumps(record) + "\n")
        else:
            if i:
                stdout.write("\n")
            _print_info(record, stdout)
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------------- main


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _print_error(exc: BaseException, stderr: TextIO) -> None:
    stderr.write(f"{PROG}: error: {_describe(exc)}\n")
    stderr.flush()


def _about(path: Path, exc: BaseException) -> str:
    """The error's sentence, prefixed with the file it is about unless it already names it."""
    message = _describe(exc)
    if isinstance(exc, WeightsError) or path.name in message:
        return message
    return f"{path}: {message}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, WeightsError):
        message = _one_line(str(exc))
        if "ecdc models" not in message and "--weights" not in message:
            message += " Download it with `ecdc models download NAME`, or pass --weights PATH."
        if "bundled" not in message:
            message += " Without Meta's weights, compress with the bundled model: --model small."
        return message
    if isinstance(exc, CodecError):
        return _one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return _one_line(f"cannot access{where}: {exc.strerror or exc}")
    return _one_line(f"unexpected {type(exc).__name__}: {exc} (set ECDC_DEBUG=1 to see the traceback)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `ecdc` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    stdout, stderr = sys.stdout, sys.stderr
    try:
        if argv and argv[0] in COMMANDS:
            args = get_command_parser().parse_args(argv)
            if args.command == "info":
                return run_info(args, stdout, stderr)
            if args.command == "train":
                from codec.cli.train import run_train  # noqa: PLC0415

                return run_train(args)
            if args.command in ("tokenize", "detokenize"):
                from codec.cli import tokenize  # noqa: PLC0415

                run = tokenize.run_tokenize if args.command == "tokenize" else tokenize.run_detokenize
                return run(args, stderr)
            from codec.cli.models import run_models  # noqa: PLC0415

            return run_models(args)
        return run_codec(get_parser().parse_args(argv), stderr)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        stderr.write(f"\n{PROG}: error: interrupted; no partial output file was left behind.\n")
        return 130
    except Exception as exc:
        if os.environ.get("ECDC_DEBUG") and not isinstance(exc, CodecError):
            raise
        _print_error(exc, stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
