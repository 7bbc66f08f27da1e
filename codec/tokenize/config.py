"""Settings of a tokenize run; no heavy imports, so the `ecdc` parser can use them."""

from __future__ import annotations

from dataclasses import dataclass

from codec.errors import CodecError

INSTALL_HINT = "pip install 'encodec-studio[tokenize]'"


class TokenizeError(CodecError):
    """A tokenize or detokenize run that cannot proceed (a mismatched output folder, a bad shard)."""


def require(module: str) -> None:
    """Import an optional dependency, or raise a one-line `TokenizeError` saying how to install it."""
    import importlib  # noqa: PLC0415

    try:
        importlib.import_module(module)
    except ImportError:
        raise TokenizeError(
            f"This needs {module.split('.')[0]}, which is not installed: {INSTALL_HINT}."
        ) from None


EXECUTORS = ("inline", "local", "ray")
DEFAULT_SHARD_SIZE = 256
# Clips longer than this stream through the encoder block by block (the compress path) in flat memory;
# shorter ones are decoded whole and batched.
STREAM_SECONDS = 30.0
# A worker hands the encoder at most this many model-rate samples at once: its memory stays bounded.
BATCH_SAMPLES = 24_000 * 60


@dataclass(frozen=True)
class TokenizeConfig:
    """What every worker needs to load the model and code clips (picklable: it travels to workers)."""

    model: str = "encodec_24khz"
    bandwidth: float = 6.0
    weights: str | None = None
    device: str = "cpu"
    batch_size: int | None = None  # clips per encoder batch; None: codec.batch's default for the device
    threads: int = 1  # torch threads per worker
    stream_seconds: float = STREAM_SECONDS
