"""The `ecdc` command: compress and decompress audio with EnCodec, flag-compatible with Meta's `encodec`.

    ecdc [options] INPUT [OUTPUT]          like `encodec`: .ecdc in -> audio out, audio in -> .ecdc out
    ecdc [options] INPUT... [FOLDER]       several files at once
    ecdc info FILE...                      describe .ecdc (and audio) files
    ecdc models {list,download,...}        manage model weights (codec/cli/models.py)

The words `info` and `models` are commands when they come first; to compress a file literally named
`info` or `models`, write `./info`. Errors print one line, `ecdc: error: ...`, and exit 1 (2 for bad
usage, 130 after Ctrl-C); a failed or interrupted run leaves no partial output file.

This module only dispatches: `parser.py` (flags and help), `run.py` (plan and run the codec jobs),
`progress.py` (the terminal bar), `info.py` (`ecdc info`), `messages.py` (how errors read), and the
`models`, `train` and `tokenize` commands in their own modules.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from codec.cli.info import run_info
from codec.cli.messages import PROG, print_error
from codec.cli.parser import COMMANDS, get_command_parser, get_parser
from codec.cli.run import run_codec
from codec.errors import CodecError


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
        print_error(exc, stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
