"""Quality of a model on held-out clips: SI-SDR, log-mel distance and (speech) STOI at each rung."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from codec.metrics import log_mel_distance, si_sdr

KINDS = ("speech", "synthetic", "music")  # real voices, espeak-ng voices, music


@dataclass(frozen=True)
class Clip:
    name: str
    kind: str  # one of KINDS
    audio: np.ndarray  # float32 mono at the model rate


def clip_kind(folder_kind: str, name: str) -> str:
    """espeak-ng clips sit with the speech but are reported apart: a speech codec is judged on real voices."""
    return "synthetic" if folder_kind == "speech" and name.startswith("espeak-") else folder_kind


def load_eval_clips(folder: Path, per_kind: int | None = None, seconds: float | None = None) -> list[Clip]:
    """Clips under `folder/speech` and `folder/music` (24 kHz mono wav), optionally a few and shortened."""
    import soundfile as sf

    clips = []
    for folder_kind in ("speech", "music"):
        for path in sorted((Path(folder) / folder_kind).glob("*.wav")):
            audio, rate = sf.read(str(path), dtype="float32")
            if seconds is not None:
                audio = audio[: int(seconds * rate)]
            clips.append(Clip(path.stem, clip_kind(folder_kind, path.stem), audio))
    if per_kind is None:
        return clips
    chosen = []
    for kind in KINDS:
        of_kind = [c for c in clips if c.kind == kind]
        chosen += of_kind[:: max(1, len(of_kind) // per_kind)][:per_kind]
    return chosen


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
        for kind in KINDS:
            chosen = [c for c in clips if c.kind == kind]
            if not chosen:
                continue
            scores: dict[str, list[float]] = {"si_sdr": [], "log_mel": [], "stoi": []}
            for clip in chosen:
                decoded = roundtrip(model, clip.audio, bandwidth)
                scores["si_sdr"].append(si_sdr(clip.audio, decoded))
                scores["log_mel"].append(log_mel_distance(clip.audio, decoded, spec.sample_rate))
                if with_stoi and kind != "music":
                    scores["stoi"].append(stoi(clip.audio, decoded, spec.sample_rate))
            row = {"kind": kind, "kbps": bandwidth}
            row.update({k: round(float(np.mean(v)), 3) for k, v in scores.items() if v})
            rows.append(row)
    return rows
