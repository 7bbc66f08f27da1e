"""Load EnCodec weights from the official state-dict layout or a Hugging Face folder, strictly.

Official files (`encodec_24khz-d7cc33bc.th`) are plain `torch.save`d state dicts with keys such as
`encoder.model.0.conv.conv.weight_g`. HF folders hold `config.json` and `model.safetensors` with keys such as
`encoder.layers.0.conv.weight_g` (or `...conv.parametrizations.weight.original0/1`). Both are mapped onto
our module names, which follow the HF layout; weight norm is folded into plain weights with the same
`torch._weight_norm` call the references use, so our weights are bit-identical to theirs.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import torch

from codec.errors import CheckpointError
from codec.specs import MODELS, ModelSpec

# Training-only buffers of the quantizer; inference never reads them.
_TRAINING_BUFFERS = ("inited", "cluster_size", "embed_avg")

_OFFICIAL_RENAMES = [
    (re.compile(r"^quantizer\.vq\.layers\.(\d+)\._codebook\."), r"quantizer.layers.\1.codebook."),
    (re.compile(r"\.model\."), ".layers."),
    (re.compile(r"\.conv\.conv\."), ".conv."),
    (re.compile(r"\.conv\.norm\."), ".norm."),
    (re.compile(r"\.convtr\.convtr\."), ".conv."),
    (re.compile(r"\.convtr\.norm\."), ".norm."),
]


def _rename(key: str) -> str:
    for pattern, replacement in _OFFICIAL_RENAMES:
        key = pattern.sub(replacement, key)
    key = key.replace(".parametrizations.weight.original0", ".weight_g")
    return key.replace(".parametrizations.weight.original1", ".weight_v")


def normalise_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map either layout onto ours: rename keys, fold weight norm, drop training-only buffers."""
    renamed = {_rename(k): v for k, v in state.items()}
    out: dict[str, torch.Tensor] = {}
    for key, value in renamed.items():
        if key.endswith(_TRAINING_BUFFERS):
            continue
        if key.endswith(".weight_v"):
            continue
        if key.endswith(".weight_g"):
            stem = key[: -len("_g")]
            v = renamed.get(stem + "_v")
            if v is None:
                raise CheckpointError(f"Checkpoint has {key} but no matching weight_v.")
            out[stem] = torch._weight_norm(v.float(), value.float(), 0)
            continue
        out[key] = value
    orphans = [k for k in renamed if k.endswith(".weight_v") and k[: -len("_v")] + "_g" not in renamed]
    if orphans:
        raise CheckpointError(f"Checkpoint has {orphans[0]} but no matching weight_g.")
    return out


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a `.th`/`.pt` file (weights_only) or of an HF folder's `model.safetensors`."""
    path = Path(path)
    if path.is_dir():
        weights = path / "model.safetensors"
        if not weights.is_file():
            raise CheckpointError(f"{path} has no model.safetensors.")
        from safetensors.torch import load_file

        try:
            return load_file(str(weights))
        except Exception as error:
            raise CheckpointError(f"Cannot read {weights}: {error}.") from None
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    if path.suffix == ".safetensors":
        return read_safetensors(path)[0]
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{path.name} is not a readable PyTorch checkpoint ({error}).") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path.name} is not a state dict of tensors.")
    return state


# ECDC Studio's own checkpoints: one .safetensors file, our key layout, float16 tensors, and metadata naming
# the model (and, for an LM, its architecture) so a file is never loaded into the wrong model.
STUDIO_FORMAT = "ecdc-studio-checkpoint/1"


def read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a `.safetensors` file."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            return {key: handle.get_tensor(key) for key in handle.keys()}, metadata
    except Exception as error:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"Cannot read {Path(path).name}: {error}.") from None


def write_studio_checkpoint(path: Path, state: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Save `state` as float16 safetensors with `metadata` (plus the format tag), atomically."""
    from safetensors.torch import save

    from codec.fileio import atomic_write

    tensors = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    with atomic_write(path, overwrite=True) as handle:
        handle.write(save(tensors, metadata={"format": STUDIO_FORMAT, **metadata}))


def studio_checkpoint_model(path: Path) -> str | None:
    """The model a `.safetensors` file of ours is for, or None for any other file."""
    if Path(path).suffix != ".safetensors" or not Path(path).is_file():
        return None
    metadata = read_safetensors(Path(path))[1]
    return metadata.get("model") if metadata.get("format") == STUDIO_FORMAT else None


def read_hf_config(folder: Path) -> dict[str, Any] | None:
    config = Path(folder) / "config.json"
    if not config.is_file():
        return None
    try:
        return json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointError(f"Cannot read {config}: {error}.") from None


def spec_from_hf_config(config: dict[str, Any], base: ModelSpec | None = None) -> ModelSpec:
    """The ModelSpec an HF `config.json` describes; the name is the matching known model's."""
    try:
        sample_rate = int(config["sampling_rate"])
        channels = int(config.get("audio_channels", 1))
        codebook_size = int(config.get("codebook_size", 1024))
    except (KeyError, TypeError, ValueError):
        raise CheckpointError("config.json lacks sampling_rate/audio_channels/codebook_size.") from None
    if base is None:
        matches = [
            s
            for s in MODELS.values()
            if (s.sample_rate, s.channels, s.codebook_size) == (sample_rate, channels, codebook_size)
        ]
        if not matches:
            raise CheckpointError(
                f"config.json describes a {sample_rate} Hz, {channels}-channel model that ECDC Studio does not know."
            )
        base = matches[0]
    chunk = config.get("chunk_length_s")
    bandwidths = tuple(float(b) for b in config.get("target_bandwidths", base.bandwidths))
    frame_rate = -(-sample_rate // _prod(config.get("upsampling_ratios", base.ratios)))
    bits = codebook_size.bit_length() - 1
    return dataclasses.replace(
        base,
        sample_rate=sample_rate,
        channels=channels,
        codebook_size=codebook_size,
        bandwidths=bandwidths,
        max_codebooks=int(1000 * max(bandwidths) // (frame_rate * bits)),
        ratios=tuple(int(r) for r in config.get("upsampling_ratios", base.ratios)),
        n_filters=int(config.get("num_filters", base.n_filters)),
        dimension=int(config.get("hidden_size", base.dimension)),
        causal=bool(config.get("use_causal_conv", base.causal)),
        norm=str(config.get("norm_type", base.norm)),
        true_skip=not bool(config.get("use_conv_shortcut", not base.true_skip)),
        normalize=bool(config.get("normalize", base.normalize)),
        segment=None if chunk is None else float(chunk),
        overlap=float(config.get("overlap") or base.overlap),
    )


def _prod(values: Any) -> int:
    result = 1
    for value in values:
        result *= int(value)
    return result


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy `state` (our layout) into `model`, naming every missing, unexpected or mis-shaped tensor."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = sorted(
        f"{k} {list(state[k].shape)} (expected {list(expected[k].shape)})"
        for k in set(state) & set(expected)
        if state[k].shape != expected[k].shape
    )
    problems = []
    for label, names in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
        if names:
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise CheckpointError(f"{source} does not fit this model ({'; '.join(problems)}).")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
