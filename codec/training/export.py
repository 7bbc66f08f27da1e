"""Turn a training run into the checkpoints the app loads: our `.safetensors` layout, float16.

The exported model is what evaluation measures: `load_exported` reads the file back through the same
loader the app uses, so the card's figures are those of the float16 weights that ship.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from codec.checkpoints import write_studio_checkpoint
from codec.models.encodec import EncodecModel
from codec.training.trainer import CHECKPOINT, build_model


def load_run(run_dir: Path) -> tuple[EncodecModel, dict]:
    """The model of a training run's checkpoint (eval mode) and the checkpoint's bookkeeping."""
    state = torch.load(Path(run_dir) / CHECKPOINT, map_location="cpu", weights_only=True)
    model = build_model(state["config"]["model"], 0)
    model.load_state_dict(state["model"])
    info = {k: state[k] for k in ("step", "audio_seconds", "wall_seconds")}
    return model.eval(), info


def export_model(run_dir: Path, out: Path) -> Path:
    """Write the run's model to `out` (.safetensors) with its training figures in the metadata."""
    model, info = load_run(run_dir)
    metadata = {
        "model": model.spec.name,
        "trained_steps": str(info["step"]),
        "trained_audio_hours": f"{info['audio_seconds'] / 3600:.2f}",
        "trained_cpu_hours": f"{info['wall_seconds'] / 3600:.2f}",
    }
    write_studio_checkpoint(Path(out), model.state_dict(), metadata)
    return Path(out)


def export_lm(lm: torch.nn.Module, model_name: str, out: Path, extra: dict[str, str] | None = None) -> Path:
    """Write an entropy-coding LM of ours (its architecture in the metadata) to `out`."""
    from codec.models.lm import LM_ARCHITECTURE_FIELDS

    architecture = {key: lm.config[key] for key in LM_ARCHITECTURE_FIELDS}
    metadata = {"model": model_name, "lm": json.dumps(architecture), **(extra or {})}
    write_studio_checkpoint(Path(out), lm.state_dict(), metadata)
    return Path(out)
