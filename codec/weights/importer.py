"""Recognise local checkpoints and install them into the models folder.

A ``.th`` file must be a state dict that ``torch.load(weights_only=True)`` accepts and whose keys and
shapes fit one of the official checkpoints; when its name carries a hash (``encodec_24khz-d7cc33bc.th``)
the file's sha256 must start with it. A Hugging Face folder must hold ``config.json`` and
``model.safetensors``; the model is recognised from the config (sampling rate, channels, codebook size)
and the safetensors header must agree with it. Only the safetensors header is read, not the tensors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codec.errors import WeightsError
from codec.progress import CancelToken, ProgressCallback, report
from codec.specs import MODELS, ModelSpec
from codec.weights.cache import (
    copy_file,
    ensure_models_dir,
    file_sha256,
    remove_path,
    replace_path,
    temp_sibling,
)
from codec.weights.registry import (
    HF_FILES,
    HF_REQUIRED_FILES,
    REGISTRY,
    WeightsEntry,
    sha256_prefix_from_name,
)

LM_DIM = 200


def import_weights(
    path: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> str:
    """Copy a local ``.th`` checkpoint or Hugging Face folder into the models folder; returns the
    registry name it was recognised as. Raises WeightsError with one sentence when it fits no model."""
    src = Path(path).expanduser()
    if src.is_file() and src.name in HF_FILES:
        src = src.parent
    if src.is_dir():
        entry = identify_hf_folder(src)
    elif src.is_file():
        entry = identify_th_file(src, cancel=cancel)
    else:
        raise WeightsError(f"{src} does not exist.")
    install(src, entry, progress=progress, cancel=cancel)
    return entry.name


def identify_th_file(path: Path, cancel: CancelToken | None = None) -> WeightsEntry:
    # A known file name is held to the registry's hash (the whole sha256 where published), any other
    # name carrying a hash to that prefix.
    known = next((e.sha256 for e in REGISTRY.values() if e.file == path.name and e.sha256), None)
    expected = known or sha256_prefix_from_name(path.name)
    if expected:
        digest = file_sha256(path, cancel)
        if not digest.startswith(expected):
            shown = min(len(expected), 16)
            raise WeightsError(
                f"{path.name} is damaged or not the file its name says (its sha256 starts with "
                f"{digest[:shown]}, not {expected[:shown]})."
            )
    import torch  # noqa: PLC0415 - torch is heavy; importing codec.weights must stay cheap

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a safe checkpoint
        raise WeightsError(
            f"{path.name} is not a PyTorch checkpoint that loads safely with weights_only "
            f"({type(exc).__name__})."
        ) from exc
    if not isinstance(state, Mapping) or not state:
        raise WeightsError(f"{path.name} does not hold a state dict.")
    entry = identify_state_dict(state)
    if entry is None:
        raise WeightsError(f"{path.name} is a state dict that fits no known EnCodec model or language model.")
    return entry


def identify_state_dict(state: Mapping[str, Any]) -> WeightsEntry | None:
    """The official entry whose layout `state` has (key names and shapes), or None."""
    official = [e for e in REGISTRY.values() if e.layout == "official"]
    lm_heads = _count(state, "emb.{}.weight")
    if lm_heads:
        emb = _shape(state, "emb.0.weight")
        for entry in (e for e in official if e.is_lm):
            spec = MODELS[entry.model]
            if (
                lm_heads == _count(state, "linears.{}.weight") == spec.max_codebooks
                and emb == (spec.codebook_size + 1, LM_DIM)
                and "transformer.norm_in.weight" in state
            ):
                return entry
        return None
    first = _shape(state, "encoder.model.0.conv.conv.weight_v") or _shape(
        state, "encoder.model.0.conv.conv.weight"
    )
    norm = "time_group_norm" if "encoder.model.0.conv.norm.weight" in state else "weight_norm"
    has_decoder = any(key.startswith("decoder.model.") for key in state)
    codebooks = _count(state, "quantizer.vq.layers.{}._codebook.embed")
    embed = _shape(state, "quantizer.vq.layers.0._codebook.embed")
    for entry in (e for e in official if not e.is_lm):
        spec = MODELS[entry.model]
        if (
            has_decoder
            and first is not None
            and first[:2] == (spec.n_filters, spec.channels)
            and norm == spec.norm
            and codebooks == spec.max_codebooks
            and embed == (spec.codebook_size, spec.dimension)
        ):
            return entry
    return None


def identify_hf_folder(folder: Path) -> WeightsEntry:
    """The hf entry a Hugging Face folder holds; raises WeightsError when it is not a known EnCodec."""
    missing = [name for name in HF_REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise WeightsError(
            f"{folder} is not a Hugging Face EnCodec folder ({' and '.join(missing)} missing)."
        )
    config_path = folder / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{config_path} is not readable JSON.") from exc
    if not isinstance(config, dict) or config.get("model_type", "encodec") != "encodec":
        raise WeightsError(f"{config_path} does not describe an EnCodec model.")
    rate = config.get("sampling_rate", 24_000)  # missing keys take transformers' EncodecConfig defaults
    channels = config.get("audio_channels", 1)
    bins = config.get("codebook_size", 1024)
    for entry in (e for e in REGISTRY.values() if e.layout == "hf"):
        spec = MODELS[entry.model]
        if (spec.sample_rate, spec.channels, spec.codebook_size) == (rate, channels, bins):
            _check_safetensors(folder / "model.safetensors", spec)
            return entry
    raise WeightsError(
        f"{config_path} describes an EnCodec model at {rate} Hz with {channels} channel(s) and {bins} "
        "codes per codebook, which is not a model this app knows."
    )


def _check_safetensors(path: Path, spec: ModelSpec) -> None:
    from safetensors import SafetensorError, safe_open  # noqa: PLC0415

    try:
        with safe_open(str(path), framework="np") as handle:
            shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}  # noqa: SIM118
    except (OSError, SafetensorError) as exc:
        raise WeightsError(f"{path} is not a readable safetensors file.") from exc
    first = next(
        (
            shapes[key]
            for key in (
                "encoder.layers.0.conv.weight",
                "encoder.layers.0.conv.weight_v",
                "encoder.layers.0.conv.parametrizations.weight.original1",
            )
            if key in shapes
        ),
        None,
    )
    if (
        first is None
        or first[:2] != (spec.n_filters, spec.channels)
        or _count(shapes, "quantizer.layers.{}.codebook.embed") != spec.max_codebooks
        or shapes.get("quantizer.layers.0.codebook.embed") != (spec.codebook_size, spec.dimension)
    ):
        raise WeightsError(
            f"{path} does not match its config.json (expected {spec.name}: {spec.channels} channel(s) and "
            f"{spec.max_codebooks} codebooks of {spec.codebook_size} entries)."
        )


def install(
    src: Path,
    entry: WeightsEntry,
    *,
    link: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Copy (or hard-link) the official file, or the files of the Hugging Face folder, `src` into the
    models folder as `entry`: into a temporary name first, renamed into place when complete."""
    final = ensure_models_dir() / entry.install_name
    tmp = temp_sibling(final, "import")
    if entry.layout == "official":
        copies = [(src, tmp)]
    else:
        copies = [(src / name, tmp / name) for name in HF_FILES if (src / name).is_file()]
    total = sum(source.stat().st_size for source, _ in copies)
    try:
        if entry.layout == "hf":
            tmp.mkdir()
        done = 0
        for source, target in copies:

            def sub(part: int, _: int, before: int = done) -> None:
                report(progress, before + part, total)

            copy_file(source, target, link=link, progress=sub, cancel=cancel)
            done += source.stat().st_size
        replace_path(tmp, final)
    except OSError as exc:
        raise WeightsError(f"Cannot copy {src} into {final.parent} ({exc.strerror or exc}).") from exc
    finally:
        remove_path(tmp)
    return final


def _count(mapping: Mapping[str, Any], pattern: str) -> int:
    count = 0
    while pattern.format(count) in mapping:
        count += 1
    return count


def _shape(state: Mapping[str, Any], key: str) -> tuple[int, ...] | None:
    shape = getattr(state.get(key), "shape", None)
    return None if shape is None else tuple(shape)
