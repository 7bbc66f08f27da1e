"""The checkpoints ECDC Studio knows about, described as data (no torch, no network).

Three layouts exist:

- ``official``: one ``.th`` file (a plain ``torch.save``d state dict) from Meta's server. The hex after the
  dash in its name is the start of the file's sha256; downloads are checked against the whole sha256
  where it is known (`FULL_SHA256`), else against that prefix.
- ``hf``: a Hugging Face repository folder holding ``config.json`` and ``model.safetensors`` (and
  ``preprocessor_config.json``, not needed to load the model). Files download from ``resolve/<revision>/``
  of a pinned commit where one is known (`HF_REVISIONS`), else from ``main``. Each file is checked
  against its sha256 where it is known (`HF_SHA256`), else against the sha256 the hub announces for it
  (``X-Linked-Etag``, which the hub sends for LFS files such as ``model.safetensors``).
- ``bundled``: a ``.safetensors`` file shipped inside the ``codec`` package (ECDC Studio's own model and its
  LM, see docs/MODEL-CARD.md): always installed, never downloaded or removed.

Only values taken from a public record are written here; an unknown one stays unknown (None) and
`WeightsEntry.check` says so, down to ``ecdc models list``.

Sizes are approximate: computed from the parameter count in float32, not measured on the real files.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from codec.errors import UnknownModelError
from codec.specs import MODELS, get_spec

OFFICIAL_BASE_URL = "https://dl.fbaipublicfiles.com/encodec/v0/"
HF_DEFAULT_ENDPOINT = "https://huggingface.co"
BASE_URL_ENV = "ECDC_STUDIO_BASE_URL"
HF_ENDPOINT_ENV = "HF_ENDPOINT"

# Download order: the small files first, so the progress total is known for most of the transfer.
HF_FILES = ("config.json", "preprocessor_config.json", "model.safetensors")
HF_REQUIRED_FILES = ("config.json", "model.safetensors")

Layout = Literal["official", "hf", "bundled"]

_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.th$")

# Whole sha256 of official files, where published. encodec_24khz-d7cc33bc.th: 93,171,529 bytes.
FULL_SHA256: dict[str, str] = {
    "encodec_24khz-d7cc33bc.th": "d7cc33bcf1aad7f2dad9836f36431530744abeace3ca033005e3290ed4fa47bf",
}

# Hugging Face commits to download from. facebook/encodec_24khz at c1dbe2ae... appears in two
# independent public records (a download script pinned to it and a hub cache snapshot of it); the
# commits of facebook/encodec_32khz and facebook/encodec_48khz could not be learned from here.
HF_REVISIONS: dict[str, str] = {
    "facebook/encodec_24khz": "c1dbe2ae3f1de713481a3b3e7c47f357092ee040",
}

# sha256 of files at those commits ("repo@revision/file" -> hex). None could be learned from here; until
# they are, downloads are checked against the sha256 the hub announces (see the module docstring).
HF_SHA256: dict[str, str] = {}

Check = Literal["sha256", "sha256 prefix", "hub sha256", "none", "bundled"]


def sha256_prefix_from_name(file_name: str) -> str | None:
    """The sha256 prefix a file name such as ``encodec_24khz-d7cc33bc.th`` carries, or None."""
    match = _HASH_IN_NAME.search(file_name)
    return match.group(1) if match else None


@dataclass(frozen=True)
class WeightsEntry:
    """One downloadable checkpoint."""

    name: str
    model: str  # the ModelSpec name it is for
    description: str
    layout: Layout
    file: str | None = None  # official layout: the file name on the server and in the cache
    repo: str | None = None  # hf layout: the repository id
    sha256: str | None = None  # expected sha256 of an official file, or its leading hex digits
    approx_size: int | None = None  # bytes, approximate
    is_lm: bool = False
    revision: str | None = None  # hf layout: the pinned commit, None while unknown (then "main")
    file_sha256: tuple[tuple[str, str], ...] = ()  # hf layout: (file, sha256) where known

    @property
    def pinned(self) -> bool:
        """Whether downloads come from a fixed commit (always, for an official file)."""
        return self.layout in ("official", "bundled") or self.revision is not None

    def expected_sha256(self, file: str) -> str | None:
        """The sha256 (or, official files without a published hash, its leading digits) `file` must have."""
        if self.layout == "official":
            return self.sha256
        return dict(self.file_sha256).get(file)

    @property
    def check(self) -> Check:
        """How the weights file (``.th`` or ``model.safetensors``) is verified after a download."""
        if self.layout == "bundled":
            return "bundled"  # shipped in the package, never downloaded
        if self.layout == "official":
            if not self.sha256:
                return "none"
            return "sha256" if len(self.sha256) == 64 else "sha256 prefix"
        return "sha256" if self.expected_sha256("model.safetensors") else "hub sha256"

    @property
    def install_name(self) -> str:
        """File (official, bundled) or folder (hf) name inside the models folder (bundled: the package's)."""
        return self.file if self.layout != "hf" and self.file else self.name

    @property
    def files(self) -> tuple[str, ...]:
        """Files to download; of an hf folder only HF_REQUIRED_FILES must exist on the server."""
        if self.layout == "hf":
            return HF_FILES
        return (self.file,) if self.file else ()

    def url(self, file: str) -> str:
        """Where `file` of this entry downloads from, honouring the mirror environment variables."""
        if self.layout == "official":
            base = os.environ.get(BASE_URL_ENV) or OFFICIAL_BASE_URL
            return base.rstrip("/") + "/" + file
        endpoint = (os.environ.get(HF_ENDPOINT_ENV) or HF_DEFAULT_ENDPOINT).rstrip("/")
        return f"{endpoint}/{self.repo}/resolve/{self.revision or 'main'}/{file}"

    @property
    def source(self) -> str:
        """A human-readable origin: the official file URL or the Hugging Face repository URL."""
        if self.layout == "bundled":
            return "bundled with ECDC Studio"
        if self.layout == "official":
            return self.url(self.install_name)
        endpoint = (os.environ.get(HF_ENDPOINT_ENV) or HF_DEFAULT_ENDPOINT).rstrip("/")
        return f"{endpoint}/{self.repo}"


def _bundled(name: str, model: str, description: str, file: str, is_lm: bool) -> WeightsEntry:
    return WeightsEntry(
        name=name, model=model, description=description, layout="bundled", file=file, is_lm=is_lm
    )


def _official(
    name: str, model: str, description: str, file: str, approx_mb: int, is_lm: bool
) -> WeightsEntry:
    return WeightsEntry(
        name=name,
        model=model,
        description=description,
        layout="official",
        file=file,
        sha256=FULL_SHA256.get(file) or sha256_prefix_from_name(file),
        approx_size=approx_mb * 1_000_000,
        is_lm=is_lm,
    )


def _hf(name: str, model: str, description: str, repo: str, approx_mb: int) -> WeightsEntry:
    revision = HF_REVISIONS.get(repo)
    hashes = tuple(
        (file, HF_SHA256[f"{repo}@{revision}/{file}"])
        for file in HF_FILES
        if f"{repo}@{revision}/{file}" in HF_SHA256
    )
    return WeightsEntry(
        name=name,
        model=model,
        description=description,
        layout="hf",
        repo=repo,
        approx_size=approx_mb * 1_000_000,
        revision=revision,
        file_sha256=hashes,
    )


_LM_SMALL = MODELS["ecdc_small_24khz"].lm_checkpoint or ""
_LM_24 = MODELS["encodec_24khz"].lm_checkpoint or ""
_LM_48 = MODELS["encodec_48khz"].lm_checkpoint or ""

# Order matters: for a model, the first entry is the one downloaded when none is installed.
REGISTRY: dict[str, WeightsEntry] = {
    entry.name: entry
    for entry in (
        _official(
            "encodec_24khz",
            "encodec_24khz",
            "EnCodec 24 kHz mono, official Meta checkpoint",
            "encodec_24khz-d7cc33bc.th",
            93,
            False,
        ),
        _official(
            "encodec_48khz",
            "encodec_48khz",
            "EnCodec 48 kHz stereo, official Meta checkpoint",
            "encodec_48khz-7e698e3e.th",
            76,
            False,
        ),
        _hf(
            "encodec_32khz",
            "encodec_32khz",
            "EnCodec 32 kHz mono (MusicGen), Hugging Face",
            "facebook/encodec_32khz",
            236,
        ),
        _hf(
            "encodec_24khz_hf",
            "encodec_24khz",
            "EnCodec 24 kHz mono, Hugging Face copy",
            "facebook/encodec_24khz",
            93,
        ),
        _hf(
            "encodec_48khz_hf",
            "encodec_48khz",
            "EnCodec 48 kHz stereo, Hugging Face copy",
            "facebook/encodec_48khz",
            76,
        ),
        _official(
            "encodec_lm_24khz",
            "encodec_24khz",
            "Entropy-coding language model for 24 kHz (smaller .ecdc files)",
            _LM_24,
            62,
            True,
        ),
        _official(
            "encodec_lm_48khz",
            "encodec_48khz",
            "Entropy-coding language model for 48 kHz (smaller .ecdc files)",
            _LM_48,
            36,
            True,
        ),
        _bundled(
            "ecdc_small_24khz",
            "ecdc_small_24khz",
            "ECDC Studio's own small 24 kHz model (bundled, works offline)",
            "ecdc_small_24khz.safetensors",
            False,
        ),
        _bundled(
            "ecdc_lm_small_24khz",
            "ecdc_small_24khz",
            "Entropy-coding language model for the small model (bundled)",
            _LM_SMALL,
            True,
        ),
    )
}


def get_entry(name: str) -> WeightsEntry:
    """Look a checkpoint up by registry name, or by a model name or alias (``24khz``) for its main weights."""
    key = name.strip().lower()
    if key in REGISTRY:
        return REGISTRY[key]
    try:
        return REGISTRY[get_spec(key).name]
    except UnknownModelError:
        raise UnknownModelError(
            f"Unknown model weights {name!r}; choose one of {', '.join(REGISTRY)}."
        ) from None


def lm_entry_for(model: str) -> WeightsEntry:
    """The entropy-coding LM entry of model `model` (a spec name)."""
    for entry in REGISTRY.values():
        if entry.is_lm and entry.model == model:
            return entry
    raise UnknownModelError(f"{model} has no entropy-coding language model.")


def required_weights(model: str, use_lm: bool) -> list[str]:
    """Registry names a job with model `model` (a spec name) needs installed: the model, and its LM when
    LM coding is asked for and the model has one."""
    names = [model]
    if use_lm and any(entry.is_lm and entry.model == model for entry in REGISTRY.values()):
        names.append(lm_entry_for(model).name)
    return names


def variants(entry: WeightsEntry) -> list[WeightsEntry]:
    """Entries that can stand in for `entry`: all layouts of the same model when `entry` is a model's main
    entry (its name is the model's name), else just `entry`. `entry` comes first."""
    if entry.name != entry.model:
        return [entry]
    others = [
        e for e in REGISTRY.values() if e.model == entry.model and e.is_lm == entry.is_lm and e != entry
    ]
    return [entry, *others]


def bundled_dir() -> Path:
    """Where the bundled checkpoints live: inside the installed `codec` package (frozen apps included)."""
    return Path(__file__).resolve().parent / "bundled"
