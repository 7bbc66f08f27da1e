"""The `ecdc` command line: its parsers, help text and argument types (`codec/cli/main.py` dispatches)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from codec.cli.messages import PROG
from codec.errors import CodecError
from codec.specs import get_spec

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


class UsageParser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help').\n")


def model_name_arg(value: str) -> str:
    try:
        return get_spec(value).name
    except CodecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def bandwidth_arg(value: str) -> float:
    try:
        bandwidth = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bandwidth must be a number of kbps, not {value!r}") from None
    return bandwidth


def get_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
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
        type=bandwidth_arg,
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
        type=model_name_arg,
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
        "--exact",
        action="store_true",
        help="code exactly as Meta's encodec 0.1.1 does, bit for bit (slower; the default may differ in "
        "rare near-tie codes, which sound the same)",
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
    parser = UsageParser(prog=PROG, description="ECDC Studio commands.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=UsageParser)
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

    add_tokenize_parsers(sub, model_name_arg, bandwidth_arg, DEVICE_CHOICES)
    return parser
