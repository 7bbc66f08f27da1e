"""Which files ECDC Studio reads and writes, and what outputs are called: the one list the CLI, the queue,
the open dialog and folder scanning derive theirs from.

Cheap to import (no torch, soundfile or Qt; 0.15 s): the GUI sorts dropped files with it on the UI thread.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from codec.ecdc.header import MAGIC as ECDC_MAGIC

#: Audio that `codec.audio` reads (libsndfile through soundfile), lower case.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".w64", ".caf")
#: Audio that `codec.audio` writes, and soundfile's name of each format.
AUDIO_OUTPUT_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
ECDC_SUFFIX = ".ecdc"

FileKind = Literal["audio", "ecdc"]


def file_kind(path: str | os.PathLike[str]) -> FileKind | None:
    """ "audio" or "ecdc" by the name's suffix (any case); None for a file ECDC Studio does not open."""
    suffix = Path(path).suffix.lower()
    if suffix == ECDC_SUFFIX:
        return "ecdc"
    return "audio" if suffix in AUDIO_SUFFIXES else None


def starts_with_ecdc_magic(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with the `.ecdc` magic bytes (whatever its name)."""
    try:
        with open(path, "rb") as fo:
            return fo.read(len(ECDC_MAGIC)) == ECDC_MAGIC
    except OSError:
        return False


def is_ecdc(path: str | os.PathLike[str]) -> bool:
    """Whether to read `path` as `.ecdc`: it is named `*.ecdc` or starts with the magic bytes."""
    return file_kind(path) == "ecdc" or starts_with_ecdc_magic(path)


def open_dialog_filter() -> str:
    """The name filter of an "open audio or .ecdc files" dialog (Qt's `a (*.x *.y);;b (*)` syntax).

    >>> open_dialog_filter().startswith("Audio and ECDC files (*.wav *.flac *.ogg")
    True
    """
    patterns = " ".join(f"*{suffix}" for suffix in (*AUDIO_SUFFIXES, ECDC_SUFFIX))
    return f"Audio and ECDC files ({patterns});;All files (*)"


def output_path_for(
    src: str | os.PathLike[str],
    folder: str | os.PathLike[str] | None = None,
    suffix: str = ECDC_SUFFIX,
    tag: str = "",
) -> Path:
    """The default output of `src`: in `folder` (None: next to `src`), named `src`'s stem + `tag` + `suffix`.

    >>> output_path_for("in/song.flac").as_posix(), output_path_for("song.ecdc", "out", ".wav", "_decompressed").as_posix()
    ('in/song.ecdc', 'out/song_decompressed.wav')
    """
    src = Path(src)
    where = Path(folder) if folder is not None else src.parent
    return where / f"{src.stem}{tag}{suffix}"
