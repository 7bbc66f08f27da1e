"""Quality of a model on held-out clips: SI-SDR, log-mel distance and (speech) STOI at each rung."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from codec.metrics import log_mel_distance, si_sdr


@dataclass(frozen=True)
class Clip:
    name: str
    kind: str  # "speech" or "music"
    audio: np.ndarray  # float32 mono at the model rate


def load_eval_clips(folder: Path, per_kind: int | None = None, seconds: float | None = None) -> list[Clip]:
    """Clips under `folder/speech` and `folder/music` (24 kHz mono wav), optionally a few and shortened."""
    import soundfile as sf

    clips = []
    for kind in ("speech", "music"):
        paths = sorted((Path(folder) / kind).glob("*.wav"))
        if per_kind is not None:
            paths = paths[:: max(1, len(paths) // per_kind)][:per_kind]
        for path in paths:
            audio, rate = sf.read(str(path), dtype="float32")
            if seconds is not None:
                audio = audio[: int(seconds * rate)]
            clips.append(Clip(path.stem, kind, audio))
    return clips


@torch.inference_mode()
def roundtrip(model: torch.nn.Module, audio: np.ndarray, bandwidth: float) -> np.ndarray:
    encoded = model.encode(torch.from_numpy(audio)[None], bandwidth)
    return model.decode(encoded)[0].numpy()


def stoi(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    from pystoi import stoi as pystoi

    return float(pystoi(reference, estimate, sample_rate, extended=False))


def evaluate_clips(
    model: torch.nn.Module,
    clips: list[Clip],
    bandwidths: tuple[float, ...] | None = None,
    with_stoi: bool = False,
) -> list[dict]:
    """One row per (kind, bandwidth): mean SI-SDR (dB), log-mel distance (dB) and, if asked, STOI."""
    spec = model.spec
    rows = []
    for bandwidth in bandwidths or spec.bandwidths:
        for kind in ("speech", "music"):
            chosen = [c for c in clips if c.kind == kind]
            if not chosen:
                continue
            scores: dict[str, list[float]] = {"si_sdr": [], "log_mel": [], "stoi": []}
            for clip in chosen:
                decoded = roundtrip(model, clip.audio, bandwidth)
                scores["si_sdr"].append(si_sdr(clip.audio, decoded))
                scores["log_mel"].append(log_mel_distance(clip.audio, decoded, spec.sample_rate))
                if with_stoi and kind == "speech":
                    scores["stoi"].append(stoi(clip.audio, decoded, spec.sample_rate))
            row = {"kind": kind, "kbps": bandwidth}
            row.update({k: round(float(np.mean(v)), 3) for k, v in scores.items() if v})
            rows.append(row)
    return rows
