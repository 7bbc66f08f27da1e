"""Decode tokenized rows back to audio files, one file per row, named after the row's id."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codec.fileio import StrPath
from codec.progress import CancelToken, check_cancel
from codec.tokenize.shards import TokenizeError, data_files, encoded_of, iter_rows

if TYPE_CHECKING:
    from codec.models.encodec import EncodecModel, EncodedAudio

# Rows decoded together: decode_batch batches the 24 kHz upsampling stack across them.
DECODE_ROWS = 16
_UNSAFE = re.compile(r"[^A-Za-z0-9._/-]")


@dataclass(frozen=True)
class DetokenizeSummary:
    out: Path
    written: int
    skipped: int
    audio_seconds: float
    elapsed_s: float


def output_name(clip_id: str, suffix: str) -> Path:
    """A relative output path for a row id: its folders kept, characters outside [A-Za-z0-9._-] replaced,
    never absolute and never climbing out of the output folder."""
    parts = [p for p in _UNSAFE.sub("_", clip_id).split("/") if p not in ("", ".", "..")]
    if not parts:
        parts = ["clip"]
    return Path(*parts).with_suffix(suffix)


def detokenize(
    src: StrPath,
    out: StrPath,
    *,
    weights: StrPath | None = None,
    device: str = "cpu",
    suffix: str = ".wav",
    subtype: str = "PCM_16",
    progress: Callable[[int, float], None] | None = None,
    cancel: CancelToken | None = None,
) -> DetokenizeSummary:
    """Decode every row of the shards in `src` to `out/<id>.wav` (or `.flac`). Files that exist are
    skipped, so an interrupted run resumes; each file is written atomically."""
    from codec.api import load_model  # noqa: PLC0415
    from codec.audio import write_audio  # noqa: PLC0415
    from codec.batch import decode_batch  # noqa: PLC0415

    if suffix not in (".wav", ".flac"):
        raise TokenizeError(f"Audio output must be .wav or .flac, not {suffix}.")
    files = data_files(src)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    models: dict[str, EncodecModel] = {}
    written = skipped = 0
    seconds = 0.0
    started = time.monotonic()
    pending: list[tuple[Path, EncodedAudio]] = []

    def flush() -> None:
        nonlocal written, seconds
        if not pending:
            return
        name = pending[0][1].model
        if name not in models:
            models[name] = load_model(name, weights=weights, device=device)
        model = models[name]
        audio = decode_batch(model, [e for _, e in pending])
        for (target, encoded), samples in zip(pending, audio):
            target.parent.mkdir(parents=True, exist_ok=True)
            write_audio(target, samples.numpy(), encoded.spec.sample_rate, subtype)
            written += 1
            seconds += encoded.length / encoded.spec.sample_rate
            if progress is not None:
                progress(written, seconds)
        pending.clear()

    seen: set[Path] = set()
    for row in iter_rows(files):
        check_cancel(cancel)
        target = out / output_name(str(row.get("id")), suffix)
        if target in seen:
            raise TokenizeError(f"Two rows would both be written to {target}.")
        seen.add(target)
        if target.exists():
            skipped += 1
            continue
        encoded = encoded_of(row)
        if pending and (encoded.model != pending[0][1].model or len(pending) >= DECODE_ROWS):
            flush()
        pending.append((target, encoded))
    flush()
    return DetokenizeSummary(out, written, skipped, seconds, time.monotonic() - started)
