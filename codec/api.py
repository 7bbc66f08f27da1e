"""Load models by name or from a local checkpoint: the entry point of the engine's public API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from codec.checkpoints import (
    load_into,
    normalise_state_dict,
    read_hf_config,
    read_state_dict,
    spec_from_hf_config,
    studio_checkpoint_model,
)
from codec.device import resolve_device
from codec.errors import CheckpointError
from codec.models.encodec import EncodecModel
from codec.progress import CancelToken, ProgressCallback
from codec.specs import ModelSpec, get_spec

if TYPE_CHECKING:
    from codec.models.lm import LanguageModel


def _ensure_weights(
    name: str, progress: ProgressCallback | None, cancel: CancelToken | None, allow_download: bool
) -> Path:
    from codec.weights import ensure_weights

    return ensure_weights(name, progress=progress, cancel=cancel, allow_download=allow_download)


def model_from_checkpoint(path: str | Path, spec: ModelSpec | None = None) -> EncodecModel:
    """An EncodecModel from an official `.th` file, an HF folder (spec from config.json when present) or
    one of our `.safetensors` checkpoints (spec from its metadata)."""
    path = Path(path)
    config = read_hf_config(path) if path.is_dir() else None
    if config is not None:
        spec = spec_from_hf_config(config, base=spec)
    studio_model = studio_checkpoint_model(path)
    if studio_model is not None:
        if spec is not None and spec.name != studio_model:
            raise CheckpointError(f"{path.name} holds {studio_model}, not {spec.name}.")
        spec = get_spec(studio_model)
    if spec is None:
        raise CheckpointError(f"Cannot tell which model {path.name} is for; name the model explicitly.")
    model = EncodecModel(spec)
    load_into(model, normalise_state_dict(read_state_dict(path)), path.name)
    return model.eval()


def load_model(
    name: str,
    weights: str | Path | None = None,
    device: str | torch.device = "cpu",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    allow_download: bool = True,
) -> EncodecModel:
    """Load model `name` (`encodec_24khz`, `24khz`, ...) from `weights`, or from the model cache when `weights`
    is None, downloading into it if `allow_download` (else `WeightsMissing`). `progress` and `cancel` apply
    to the download."""
    spec = get_spec(name)
    path = (
        Path(weights) if weights is not None else _ensure_weights(spec.name, progress, cancel, allow_download)
    )
    model = model_from_checkpoint(path, spec)
    if model.spec.name != spec.name:
        raise CheckpointError(f"{path.name} holds {model.spec.name}, not {spec.name}.")
    return model.to(resolve_device(device))


def load_lm(
    name: str,
    weights: str | Path | None = None,
    device: str | torch.device = "cpu",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    allow_download: bool = True,
) -> LanguageModel:
    """Load the entropy-coding language model of model `name` (24 or 48 kHz); weights as for `load_model`."""
    from codec.models.lm import load_lm_state

    spec = get_spec(name)
    if not spec.has_lm:
        raise CheckpointError(f"{spec.name} has no language model for entropy coding.")
    from codec.weights.registry import lm_entry_for

    lm_name = lm_entry_for(spec.name).name
    path = (
        Path(weights) if weights is not None else _ensure_weights(lm_name, progress, cancel, allow_download)
    )
    return load_lm_state(path, spec).to(resolve_device(device))
