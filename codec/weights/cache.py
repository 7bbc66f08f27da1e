"""Where weights live on disk: our models folder, the torch hub and Hugging Face hub caches, and the file
operations that put things there (hashing, chunked copies, atomic placement of files and folders).

The models folder is, by precedence: the ``ECDC_STUDIO_MODELS`` environment variable, the folder the GUI
set with `set_models_dir` from its saved settings, then platformdirs' user *data* folder
``encodec-studio/models``. A data folder rather than a cache folder because imported weights cannot be
downloaded again on an offline machine, and cache cleaners may empty cache folders.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from codec.errors import WeightsError
from codec.progress import CancelToken, ProgressCallback, check_cancel, report

MODELS_DIR_ENV = "ECDC_STUDIO_MODELS"
APP_NAME = "encodec-studio"
PART_SUFFIX = ".part"
CHUNK_SIZE = 1 << 20

_models_dir_setting: Path | None = None


def set_models_dir(path: str | os.PathLike[str] | None) -> None:
    """Use `path` as the models folder (the GUI's saved setting); None goes back to the default.
    The ``ECDC_STUDIO_MODELS`` environment variable still wins over this setting."""
    global _models_dir_setting
    _models_dir_setting = None if path is None else Path(path).expanduser()


def models_dir() -> Path:
    """The folder our weights are installed in (not created here)."""
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        return Path(env).expanduser()
    if _models_dir_setting is not None:
        return _models_dir_setting
    import platformdirs  # noqa: PLC0415 - only needed for the default

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "models"


def ensure_models_dir() -> Path:
    folder = models_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsError(f"Cannot create the models folder {folder}: {exc.strerror or exc}.") from exc
    return folder


def _user_cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def torch_hub_checkpoints_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` as torch.hub computes it (without importing torch)."""
    torch_home = os.environ.get("TORCH_HOME")
    base = Path(torch_home).expanduser() if torch_home else _user_cache_home() / "torch"
    return base / "hub" / "checkpoints"


def hf_hub_cache_dir() -> Path:
    """The Hugging Face hub cache, as huggingface_hub computes it."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(variable)
        if value:
            return Path(value).expanduser()
    hf_home = os.environ.get("HF_HOME")
    base = Path(hf_home).expanduser() if hf_home else _user_cache_home() / "huggingface"
    return base / "hub"


def hf_snapshot_dirs(repo: str) -> list[Path]:
    """Snapshot folders of `repo` in the HF hub cache, the one ``refs/main`` points at first."""
    repo_dir = hf_hub_cache_dir() / ("models--" + repo.replace("/", "--"))
    snapshots = repo_dir / "snapshots"
    if not snapshots.is_dir():
        return []
    found = sorted(
        (p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
    )
    try:
        main = (repo_dir / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        main = ""
    return sorted(found, key=lambda p: p.name != main)


def file_sha256(path: Path, cancel: CancelToken | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            check_cancel(cancel)
            digest.update(chunk)
    return digest.hexdigest()


def disk_size(path: Path) -> int:
    """Bytes used by a file, or by the files under a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def temp_sibling(path: Path, tag: str) -> Path:
    """A fresh hidden name beside `path`, for work that is renamed into place when complete."""
    return path.with_name(f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}")


def copy_file(
    src: Path,
    dst: Path,
    *,
    link: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> None:
    """Copy `src` (symlinks followed) to `dst`, in chunks with progress and cancel. With `link`, a hard link
    is tried first (same disk, no extra space); use it only for sources that are never modified in place."""
    src = src.resolve()
    if link:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    total = src.stat().st_size
    done = 0
    with open(src, "rb") as reader, open(dst, "wb") as writer:
        while chunk := reader.read(CHUNK_SIZE):
            check_cancel(cancel)
            writer.write(chunk)
            done += len(chunk)
            report(progress, done, total)


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def replace_path(tmp: Path, final: Path) -> None:
    """Move the finished file or folder `tmp` to `final`, replacing what is there; a folder already at
    `final` is moved aside first, since a folder cannot be renamed over a non-empty one."""
    if tmp.is_dir() and final.exists():
        old = temp_sibling(final, "old")
        os.replace(final, old)
        os.replace(tmp, final)
        remove_path(old)
    else:
        os.replace(tmp, final)
