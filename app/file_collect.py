"""Turn what a person dropped or opened (files, folders, URLs) into the audio and `.ecdc` files to queue."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QMimeData, QUrl

from app.queue_model import kind_for_path


@dataclass
class Collected:
    files: list[Path] = field(default_factory=list)  # audio and .ecdc files, in a stable order
    ignored: list[Path] = field(default_factory=list)  # files given by name that are neither


def collect(paths: Iterable[Path | str]) -> Collected:
    """Expand folders recursively (sorted, hidden entries skipped) and keep audio / `.ecdc` files once each.

    Files inside folders with other extensions are skipped silently; files named directly with other
    extensions are reported in `ignored`, so the UI can say why nothing happened.
    """
    result = Collected()
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = os.path.normcase(str(path.absolute()))
        if key not in seen:
            seen.add(key)
            result.files.append(path)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    child = Path(root) / name
                    if not name.startswith(".") and kind_for_path(child) is not None:
                        add(child)
        elif kind_for_path(path) is not None:
            add(path)
        else:
            result.ignored.append(path)
    return result


def local_paths(mime: QMimeData) -> list[Path]:
    """The local files and folders a drag carries (remote URLs are not ours to fetch)."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def mime_for_paths(paths: Iterable[Path]) -> QMimeData:
    """What a file manager puts on a drag of `paths`; the tests drop these."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(Path(p).absolute())) for p in paths])
    return mime
