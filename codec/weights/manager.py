"""What the rest of the app calls: find, ensure (reuse, adopt or download), list and remove weights."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from codec.errors import WeightsError, WeightsMissing
from codec.progress import CancelToken, ProgressCallback, report
from codec.weights.cache import (
    disk_size,
    ensure_models_dir,
    file_sha256,
    hf_snapshot_dirs,
    models_dir,
    remove_path,
    replace_path,
    torch_hub_checkpoints_dir,
)
from codec.weights.download import IMPORT_HINT, NotOnServerError, download_file, part_path
from codec.weights.importer import identify_hf_folder, install
from codec.weights.registry import HF_REQUIRED_FILES, REGISTRY, WeightsEntry, bundled_dir, get_entry, variants

HF_OFFLINE_ENV = "HF_HUB_OFFLINE"  # huggingface_hub's switch; honoured for Hugging Face downloads

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class ModelStatus:
    """One registry entry as the models window and ``ecdc models list`` show it."""

    name: str
    model: str  # the ModelSpec name
    description: str
    is_lm: bool
    layout: str  # "official" or "hf"
    path: Path | None  # where it is installed, None when it is not
    size_on_disk: int  # bytes, 0 when not installed
    approx_size: int | None  # approximate download size in bytes
    partial_bytes: int  # bytes of an unfinished download that the next download resumes from
    source: str  # where it downloads from
    check: str = "none"  # how a download is verified: "sha256", "sha256 prefix", "hub sha256" or "none"
    pinned: bool = True  # downloads come from a fixed file or commit (False: a moving branch)

    @property
    def installed(self) -> bool:
        return self.path is not None


def find_installed(name: str) -> Path | None:
    """The installed file or folder of the entry `name`, or None (only our models folder is looked at)."""
    entry = get_entry(name)
    if entry.layout == "bundled":
        bundled = bundled_dir() / entry.install_name
        return bundled if bundled.is_file() else None
    path = models_dir() / entry.install_name
    if entry.layout == "official":
        return path if path.is_file() else None
    return path if all((path / file).is_file() for file in HF_REQUIRED_FILES) else None


def has_weights(name: str) -> bool:
    """Whether usable weights for `name` are installed (any layout of the model); never downloads or copies."""
    return any(find_installed(candidate.name) is not None for candidate in variants(get_entry(name)))


def ensure_weights(
    name: str,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    allow_download: bool = True,
    timeout: float | None = None,
) -> Path:
    """The path of usable weights for `name` (a ``.th`` file or a Hugging Face folder), getting them if
    needed: an installed copy (for a model name, any installed layout of that model), else a verified
    copy from the torch hub or Hugging Face hub cache, else a download (when `allow_download`; else `WeightsMissing`).
    Progress is (bytes, total bytes) of the download or copy; `timeout` is seconds of silence allowed."""
    entry = get_entry(name)
    with _lock(entry.name):
        candidates = variants(entry)
        for candidate in candidates:
            path = find_installed(candidate.name)
            if path is not None:
                return path
        for candidate in candidates:
            path = _adopt_from_hub_cache(candidate, progress, cancel)
            if path is not None:
                return path
        if entry.layout == "bundled":
            raise WeightsError(
                f"The bundled {entry.name} weights are missing from this installation; reinstall ECDC Studio."
            )
        if not allow_download:
            raise WeightsMissing(
                entry.name,
                f"The {entry.name} weights are not installed; download them with "
                f"`ecdc models download {entry.name}` or add a file with {IMPORT_HINT}.",
            )
        return _download(entry, progress, cancel, timeout)


def list_models() -> list[ModelStatus]:
    statuses = []
    for entry in REGISTRY.values():
        path = find_installed(entry.name)
        partial = part_path(models_dir() / entry.install_name)
        statuses.append(
            ModelStatus(
                name=entry.name,
                model=entry.model,
                description=entry.description,
                is_lm=entry.is_lm,
                layout=entry.layout,
                path=path,
                size_on_disk=0 if path is None else disk_size(path),
                approx_size=entry.approx_size,
                partial_bytes=disk_size(partial) if partial.exists() else 0,
                source=entry.source,
                check=entry.check,
                pinned=entry.pinned,
            )
        )
    return statuses


def remove(name: str) -> bool:
    """Delete the installed weights of `name` and any unfinished download of them; False if none.
    Raises WeightsError at once, without waiting, while this process is downloading them."""
    entry = get_entry(name)
    if entry.layout == "bundled":
        raise WeightsError(f"{entry.name} is bundled with ECDC Studio and cannot be removed.")
    final = models_dir() / entry.install_name
    removed = False
    lock = _lock(entry.name)
    if not lock.acquire(blocking=False):  # never wait (the GUI calls this on its own thread)
        raise WeightsError(f"{entry.name} is being downloaded; cancel the download before removing it.")
    try:
        for path in (final, part_path(final)):
            if path.exists():
                try:
                    remove_path(path)
                except OSError as exc:
                    raise WeightsError(f"Cannot delete {path} ({exc.strerror or exc}).") from exc
                removed = True
    finally:
        lock.release()
    return removed


def _lock(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


def _adopt_from_hub_cache(
    entry: WeightsEntry, progress: ProgressCallback | None, cancel: CancelToken | None
) -> Path | None:
    """Install `entry` from the torch hub or Hugging Face hub cache when a verified copy is there."""
    if entry.layout == "official" and entry.file:
        src = torch_hub_checkpoints_dir() / entry.file
        if src.is_file() and (not entry.sha256 or file_sha256(src, cancel).startswith(entry.sha256)):
            return install(src, entry, link=True, progress=progress, cancel=cancel)
        return None
    snapshots = hf_snapshot_dirs(entry.repo or "")
    snapshots.sort(key=lambda p: p.name != entry.revision)  # the pinned commit's snapshot first
    for snapshot in snapshots:
        try:
            found = identify_hf_folder(snapshot)
        except WeightsError:
            continue
        known = [(file, digest) for file, digest in entry.file_sha256 if (snapshot / file).is_file()]
        if found.name == entry.name and all(file_sha256(snapshot / f, cancel) == d for f, d in known):
            return install(snapshot, entry, link=True, progress=progress, cancel=cancel)
    return None


def _download(
    entry: WeightsEntry, progress: ProgressCallback | None, cancel: CancelToken | None, timeout: float | None
) -> Path:
    final = ensure_models_dir() / entry.install_name
    if entry.layout == "official":
        return download_file(
            entry.url(entry.install_name),
            final,
            sha256=entry.sha256,
            progress=progress,
            cancel=cancel,
            timeout=timeout,
        )
    # A Hugging Face folder: its files go into `<name>.part/` (each through its own `.part` file, so
    # every file resumes), then the folder is checked and renamed into place.
    if os.environ.get(HF_OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        raise WeightsError(
            f"{entry.name} is not installed and {HF_OFFLINE_ENV} forbids downloading it from Hugging Face; "
            f"unset it, or add the files with {IMPORT_HINT}."
        )
    work = part_path(final)
    try:
        work.mkdir(exist_ok=True)
    except OSError as exc:
        raise WeightsError(f"Cannot create {work} ({exc.strerror or exc}).") from exc
    done = 0
    for file in entry.files:
        dest = work / file
        if not dest.is_file():

            def sub(part: int, total: int, before: int = done) -> None:
                report(progress, before + part, before + total if total else 0)

            # Only the weights report progress: a bar that reached 100 % on a 1 kB config would jump back.
            track = sub if file == "model.safetensors" else None
            try:
                download_file(
                    entry.url(file),
                    dest,
                    sha256=entry.expected_sha256(file),
                    hub_sha256=True,
                    progress=track,
                    cancel=cancel,
                    timeout=timeout,
                )
            except NotOnServerError:
                if file in HF_REQUIRED_FILES:
                    raise
                continue
        done += dest.stat().st_size
    try:
        found = identify_hf_folder(work)
        if found.name != entry.name:
            raise WeightsError(f"The files describe {found.name}.")
    except WeightsError as exc:
        remove_path(work)
        raise WeightsError(
            f"The download of {entry.name} failed verification ({str(exc).rstrip('.')}), so it was "
            "deleted; try again or use another mirror."
        ) from exc
    try:
        replace_path(work, final)
    except OSError as exc:
        raise WeightsError(
            f"Cannot move the downloaded {entry.name} into {final} ({exc.strerror or exc})."
        ) from exc
    return final
