"""Where clips come from: a folder (recursive), a list of files, or a Hugging Face `datasets` dataset.

A source is a sequence of `ClipRef`s fetched a slice at a time, so a large dataset's audio bytes are held
only for the shards in flight. Audio is decoded here with soundfile (never by `datasets`, whose decoders
need extra system libraries) and converted to the model's rate and channels exactly as the compress path
does (`codec.audio`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soundfile as sf

from codec.audio import _unreadable, convert_audio, read_audio
from codec.errors import AudioFormatError, CodecError
from codec.fileio import StrPath, check_input
from codec.filetypes import AUDIO_SUFFIXES


class SourceError(CodecError, ValueError):
    """A source that cannot be listed: a missing folder, an empty list, a dataset without audio."""


@dataclass(frozen=True)
class ClipRef:
    """One clip: its id (unique in the source), and a path to read or the encoded file's bytes."""

    id: str
    path: str = ""
    data: bytes | None = None


class Source(Protocol):
    def __len__(self) -> int: ...

    def items(self, start: int, stop: int) -> list[ClipRef]: ...

    def describe(self) -> str: ...


class FileSource:
    """Audio files; ids are paths relative to `root` (a folder source) or as given (a file list)."""

    def __init__(self, paths: Sequence[StrPath], root: StrPath | None = None, label: str = "") -> None:
        self.paths = [str(p) for p in paths]
        self.root = Path(root) if root is not None else None
        self.label = label or f"{len(self.paths)} files"

    def __len__(self) -> int:
        return len(self.paths)

    def items(self, start: int, stop: int) -> list[ClipRef]:
        out = []
        for path in self.paths[start:stop]:
            clip_id = Path(path).relative_to(self.root).as_posix() if self.root else path
            out.append(ClipRef(clip_id, path))
        return out

    def describe(self) -> str:
        return self.label


def folder_source(folder: StrPath) -> FileSource:
    """Every file under `folder` (recursively) with an extension `codec.audio` reads, in sorted order."""
    root = Path(folder)
    if not root.is_dir():
        raise SourceError(f"{root} is not a folder.")
    paths = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file() and not _hidden(p, root)
    )
    if not paths:
        raise SourceError(f"{root} holds no audio files ({', '.join(AUDIO_SUFFIXES)}).")
    return FileSource(paths, root, label=f"folder {root}")


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def list_source(paths: Sequence[StrPath] | StrPath) -> FileSource:
    """Files given as a sequence, or as a text file with one path per line (relative to the text file)."""
    if isinstance(paths, (str, Path)):
        listing = check_input(paths)
        base = listing.parent
        lines = [line.strip() for line in listing.read_text(encoding="utf-8").splitlines()]
        files = [str(base / line) for line in lines if line and not line.startswith("#")]
        label = f"file list {listing}"
    else:
        files, label = [str(p) for p in paths], ""
    if not files:
        raise SourceError("The list of files is empty.")
    if len(set(files)) != len(files):
        raise SourceError("The list of files names a file twice; each clip must be unique.")
    return FileSource(files, None, label)


class DatasetSource:
    """Rows of a `datasets.Dataset` whose `audio_column` holds audio files (bytes and/or a path).

    The column is read undecoded (`Audio(decode=False)`) and each row's bytes are decoded with soundfile.
    Ids come from `id_column` when given, else the row number.
    """

    def __init__(self, dataset: Any, audio_column: str = "audio", id_column: str | None = None) -> None:
        from datasets import Audio  # noqa: PLC0415

        if audio_column not in dataset.column_names:
            raise SourceError(
                f"The dataset has no column {audio_column!r} (columns: {', '.join(dataset.column_names)})."
            )
        if id_column is not None and id_column not in dataset.column_names:
            raise SourceError(f"The dataset has no column {id_column!r} for clip ids.")
        if isinstance(dataset.features[audio_column], Audio):
            dataset = dataset.cast_column(audio_column, Audio(decode=False))
        self.dataset = dataset
        self.audio_column = audio_column
        self.id_column = id_column
        if id_column is not None and len(set(dataset[id_column])) != len(dataset):
            raise SourceError(f"Column {id_column!r} has duplicate ids.")

    def __len__(self) -> int:
        return len(self.dataset)

    def items(self, start: int, stop: int) -> list[ClipRef]:
        rows = self.dataset[start:stop]
        out = []
        for offset, value in enumerate(rows[self.audio_column]):
            clip_id = str(rows[self.id_column][offset]) if self.id_column else str(start + offset)
            if isinstance(value, dict):
                out.append(ClipRef(clip_id, value.get("path") or "", value.get("bytes")))
            elif isinstance(value, (bytes, bytearray)):
                out.append(ClipRef(clip_id, "", bytes(value)))
            else:
                out.append(ClipRef(clip_id, str(value) if value else ""))
        return out

    def describe(self) -> str:
        return f"dataset ({len(self)} rows, column {self.audio_column!r})"


def is_saved_dataset(path: StrPath) -> bool:
    """True for a folder written by `Dataset.save_to_disk`."""
    p = Path(path)
    return p.is_dir() and (p / "dataset_info.json").is_file() and (p / "state.json").is_file()


def open_source(
    src: Any, audio_column: str = "audio", id_column: str | None = None, split: str | None = None
) -> Source:
    """A folder, a `.txt` list of files, a saved dataset folder, a `datasets.Dataset`, or a list of paths."""
    if isinstance(src, (str, Path)):
        path = Path(src)
        if is_saved_dataset(path):
            import datasets  # noqa: PLC0415

            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                if split is None:
                    raise SourceError(f"{path} holds splits {', '.join(loaded)}; choose one with --split.")
                loaded = loaded[split]
            return DatasetSource(loaded, audio_column, id_column)
        if path.is_dir():
            return folder_source(path)
        if path.suffix.lower() == ".txt":
            return list_source(path)
        if path.exists():
            return list_source([path])
        raise SourceError(f"{path} does not exist.")
    if hasattr(src, "column_names") and hasattr(src, "features"):
        return DatasetSource(src, audio_column, id_column)
    return list_source(list(src))


def read_clip(clip: ClipRef, sample_rate: int, channels: int) -> tuple[np.ndarray, int, int]:
    """Decode and convert one clip: float32 [channels, frames] at `sample_rate`, with its source rate and
    channel count. Raises `AudioFormatError` (one sentence) for anything that is not readable audio."""
    if clip.data is not None:
        try:
            data, rate = sf.read(io.BytesIO(clip.data), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
            raise _unreadable(Path(clip.path or clip.id), exc) from None
        if data.shape[0] == 0:
            raise AudioFormatError(f"{clip.path or clip.id} contains no audio.")
        audio = np.ascontiguousarray(data.T)
    elif clip.path:
        audio, rate = read_audio(clip.path)
    else:
        raise AudioFormatError(f"Row {clip.id} has neither audio bytes nor a path.")
    return convert_audio(audio, rate, sample_rate, channels), rate, audio.shape[0]
