"""Train an EnCodec-family model on the corpus: resumable, with a learning curve and periodic evaluation.

    train(TrainConfig(corpus=..., run_dir=...), max_seconds=3600)

`run_dir` holds `checkpoint.pt` (model, EMA codebook statistics, optimiser, step, random state; written
atomically every few minutes and at the end), `curve.csv` (training losses against steps, wall time and
audio seen) and `eval.csv` (held-out SI-SDR and log-mel distance at each rung). Running again resumes.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from codec.fileio import atomic_write
from codec.models.encodec import EncodecModel
from codec.modules.transform import initialise_filterbanks
from codec.specs import get_spec
from codec.training.augment import augment
from codec.training.losses import ReconstructionLoss
from codec.training.quantizer import EmaQuantizerTrainer

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainConfig:
    corpus: Path
    run_dir: Path
    model: str = "ecdc_small_24khz"
    crop_seconds: float = 0.5
    batch_size: int = 16
    learning_rate: float = 1e-3
    warmup_steps: int = 300
    decay_steps: int = 60_000  # cosine decay to 10 % of the peak rate over this many steps
    mel_weight: float = 1.0
    snr_weight: float = 1.0
    commitment_weight: float = 0.25
    # Share of crops drawn from each kind of audio (corpus kinds; missing kinds are skipped).
    kind_weights: dict[str, float] = field(
        default_factory=lambda: {"music": 0.35, "speech": 0.35, "synthetic": 0.2, "sfx": 0.1}
    )
    log_every: int = 50  # steps per learning-curve row
    eval_every: int = 500  # steps
    checkpoint_every_seconds: float = 300.0
    threads: int = 1
    seed: int = 0

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["corpus"], data["run_dir"] = str(self.corpus), str(self.run_dir)
        return data


class CropSampler:
    """Random crops of the memory-mapped corpus, by kind, skipping near-silence."""

    def __init__(self, corpus: Path, kind_weights: dict[str, float], generator: np.random.Generator) -> None:
        self.audio = np.load(Path(corpus) / "train.npy", mmap_mode="r")
        index = json.loads((Path(corpus) / "train_index.json").read_text())
        self.files: dict[str, list[dict]] = {}
        for entry in index:
            self.files.setdefault(entry["kind"], []).append(entry)
        kinds = [k for k in kind_weights if k in self.files]
        weights = np.array([kind_weights[k] for k in kinds], dtype=np.float64)
        self.kinds, self.kind_p = kinds, weights / weights.sum()
        self.file_p = {
            k: np.array([e["length"] for e in self.files[k]], dtype=np.float64)
            / sum(e["length"] for e in self.files[k])
            for k in kinds
        }
        self.rng = generator

    def crop(self, length: int) -> np.ndarray:
        for _ in range(8):
            kind = self.kinds[self.rng.choice(len(self.kinds), p=self.kind_p)]
            entry = self.files[kind][self.rng.choice(len(self.files[kind]), p=self.file_p[kind])]
            if entry["length"] <= length:
                piece = np.zeros(length, dtype=np.float32)
                start = int(self.rng.integers(0, length - entry["length"] + 1))
                piece[start : start + entry["length"]] = self.audio[
                    entry["start"] : entry["start"] + entry["length"]
                ]
            else:
                offset = entry["start"] + int(self.rng.integers(0, entry["length"] - length))
                piece = np.asarray(self.audio[offset : offset + length], dtype=np.float32)
            piece = piece / 32768.0
            if np.sqrt(np.mean(piece**2)) > 10 ** (-50 / 20):
                return piece
        return piece

    def batch(self, size: int, length: int) -> torch.Tensor:
        return torch.from_numpy(np.stack([self.crop(length) for _ in range(size)]))


def build_model(name: str, seed: int) -> EncodecModel:
    torch.manual_seed(seed)
    model = EncodecModel(get_spec(name))
    if model.spec.architecture == "transform":
        initialise_filterbanks(model.encoder, model.decoder)
    return model


def learning_rate(config: TrainConfig, step: int) -> float:
    warm = min(1.0, (step + 1) / config.warmup_steps)
    progress = min(1.0, step / config.decay_steps)
    return config.learning_rate * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


class Trainer:
    def __init__(self, config: TrainConfig, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.log = log
        torch.set_num_threads(config.threads)
        self.run_dir = Path(config.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.model = build_model(config.model, config.seed)
        self.spec = self.model.spec
        self.generator = torch.Generator().manual_seed(config.seed)
        self.quantizer = EmaQuantizerTrainer(self.model.quantizer, generator=self.generator)
        params = [p for name, p in self.model.named_parameters() if not name.startswith("quantizer.")]
        self.optimizer = torch.optim.AdamW(
            params, lr=config.learning_rate, betas=(0.8, 0.99), weight_decay=0.0
        )
        self.loss = ReconstructionLoss(self.spec.sample_rate)
        self.sampler = CropSampler(config.corpus, config.kind_weights, np.random.default_rng(config.seed))
        self.rungs = torch.tensor([self.spec.codebooks_for_bandwidth(b) for b in self.spec.bandwidths])
        self.step = 0
        self.audio_seconds = 0.0
        self.wall_seconds = 0.0
        if (self.run_dir / CHECKPOINT).exists():
            self._load()

    # -- checkpoints ---------------------------------------------------------------------------------------

    def save(self) -> None:
        state = {
            "config": self.config.to_json(),
            "model": self.model.state_dict(),
            "quantizer": self.quantizer.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "audio_seconds": self.audio_seconds,
            "wall_seconds": self.wall_seconds,
            "torch_rng": self.generator.get_state(),
            "numpy_rng": json.dumps(self.sampler.rng.bit_generator.state),
        }
        with atomic_write(self.run_dir / CHECKPOINT, overwrite=True) as fo:  # a crash keeps the last one
            torch.save(state, fo)

    def _load(self) -> None:
        state = torch.load(self.run_dir / CHECKPOINT, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.quantizer.load_state_dict(state["quantizer"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.audio_seconds = float(state["audio_seconds"])
        self.wall_seconds = float(state["wall_seconds"])
        self.generator.set_state(state["torch_rng"])
        self.sampler.rng.bit_generator.state = json.loads(state["numpy_rng"])
        self.log(f"resumed at step {self.step} ({self.audio_seconds / 3600:.2f} h of audio seen)")

    # -- one step --------------------------------------------------------------------------------------------

    def train_step(self) -> dict[str, float]:
        config = self.config
        self.model.train()
        hop = self.spec.hop_length
        length = max(1, round(config.crop_seconds * self.spec.sample_rate / hop)) * hop
        batch = augment(self.sampler.batch(config.batch_size, length), self.generator, self.spec.sample_rate)
        # Quantizer dropout: every item picks a rung of the bitrate ladder, so one model serves them all.
        picks = torch.randint(0, len(self.rungs), (config.batch_size,), generator=self.generator)
        num_codebooks = self.rungs[picks]
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(config, self.step)
        latent = self.model.encoder(batch[:, None])
        quantized, commitment = self.quantizer(latent, num_codebooks)
        decoded = self.model.decoder(quantized)[:, 0, :length]
        terms = self.loss(batch, decoded)
        total = config.mel_weight * terms["mel"] + config.snr_weight * terms["snr"]
        total = total + config.commitment_weight * commitment
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.optimizer.step()
        self.step += 1
        self.audio_seconds += config.batch_size * length / self.spec.sample_rate
        return {
            "loss": float(total.detach()),
            "mel": float(terms["mel"]),
            "snr_db": -10.0 * float(terms["snr"]),
            "commitment": float(commitment),
            "grad_norm": float(grad_norm),
        }

    # -- the loop --------------------------------------------------------------------------------------------

    def run(self, max_seconds: float | None = None, max_steps: int | None = None) -> None:
        from codec.training.evaluate import evaluate_clips, load_eval_clips

        eval_clips = load_eval_clips(Path(self.config.corpus) / "eval", per_kind=2, seconds=4.0)
        curve = _CsvLog(self.run_dir / "curve.csv")
        evals = _CsvLog(self.run_dir / "eval.csv")
        (self.run_dir / "config.json").write_text(json.dumps(self.config.to_json(), indent=1))
        started = time.monotonic()
        last_save = started
        window: list[dict[str, float]] = []
        stop = _StopRequest()
        while not stop.requested:
            now = time.monotonic()
            if max_seconds is not None and now - started >= max_seconds:
                break
            if max_steps is not None and self.step >= max_steps:
                break
            step_start = time.monotonic()
            window.append(self.train_step())
            self.wall_seconds += time.monotonic() - step_start
            if self.step % self.config.log_every == 0:
                means = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
                window.clear()
                row = {
                    "step": self.step,
                    "wall_s": round(self.wall_seconds, 1),
                    "audio_h": round(self.audio_seconds / 3600, 4),
                }
                row.update({k: round(v, 4) for k, v in means.items()})
                row["lr"] = learning_rate(self.config, self.step)
                curve.write(row)
                self.log(" ".join(f"{k}={v}" for k, v in row.items()))
            if self.step % self.config.eval_every == 0:
                self.model.eval()
                for result in evaluate_clips(self.model, eval_clips):
                    evals.write({"step": self.step, "wall_s": round(self.wall_seconds, 1), **result})
                    self.log(f"eval {result}")
            if time.monotonic() - last_save >= self.config.checkpoint_every_seconds:
                self.save()
                last_save = time.monotonic()
        self.save()


class _StopRequest:
    """SIGTERM / SIGINT end the run after the current step, with a checkpoint (so `kill` loses nothing)."""

    def __init__(self) -> None:
        self.requested = False
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._request)

    def _request(self, signum: int, frame: object) -> None:
        self.requested = True


class _CsvLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, row: dict) -> None:
        new = not self.path.exists()
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)


def train(config: TrainConfig, max_seconds: float | None = None, max_steps: int | None = None) -> Trainer:
    trainer = Trainer(config)
    trainer.run(max_seconds=max_seconds, max_steps=max_steps)
    return trainer
