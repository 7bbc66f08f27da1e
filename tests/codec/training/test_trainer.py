"""The training loop on a tiny generated corpus: it learns, checkpoints, and resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.training.trainer import CHECKPOINT, TrainConfig, Trainer


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    rate = 24_000
    t = np.arange(rate * 4) / rate
    rng = np.random.default_rng(0)
    music = 0.1 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    speech = 0.1 * rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 3 * t) > 0)
    audio = np.concatenate([music, speech])
    np.save(tmp_path / "train.npy", np.round(audio * 32767).astype(np.int16))
    index = [
        {"name": "music", "kind": "music", "start": 0, "length": len(t)},
        {"name": "speech", "kind": "speech", "start": len(t), "length": len(t)},
    ]
    (tmp_path / "train_index.json").write_text(json.dumps(index))
    for kind, signal in (("music", music), ("speech", speech)):
        (tmp_path / "eval" / kind).mkdir(parents=True)
        sf.write(str(tmp_path / "eval" / kind / "clip.wav"), signal[: rate * 2], rate, subtype="PCM_16")
    return tmp_path


def _config(corpus: Path, run_dir: Path) -> TrainConfig:
    return TrainConfig(
        corpus=corpus,
        run_dir=run_dir,
        batch_size=2,
        crop_seconds=0.1,
        eval_every=4,
        warmup_steps=2,
        log_every=1,
    )


def test_resumed_run_matches_an_uninterrupted_one(tiny_corpus: Path, tmp_path: Path):
    straight = Trainer(_config(tiny_corpus, tmp_path / "straight"))
    straight.run(max_steps=4)
    first = Trainer(_config(tiny_corpus, tmp_path / "resumed"))
    first.run(max_steps=2)
    assert (tmp_path / "resumed" / CHECKPOINT).is_file()
    second = Trainer(_config(tiny_corpus, tmp_path / "resumed"))
    assert second.step == 2
    second.run(max_steps=4)
    for (name, a), b in zip(straight.model.state_dict().items(), second.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    curve = (tmp_path / "resumed" / "curve.csv").read_text().splitlines()
    assert curve[0].startswith("step,wall_s,audio_h,loss,mel,snr_db")
    assert [row.split(",")[0] for row in curve[1:]] == [
        "1",
        "2",
        "3",
        "4",
    ]  # one row a step, across the resume
    evals = (tmp_path / "straight" / "eval.csv").read_text().splitlines()
    assert evals[0].startswith("step,wall_s,kind,kbps,si_sdr,log_mel")
    assert len(evals) == 1 + 2 * len(straight.spec.bandwidths)  # one eval at step 4: both kinds, every rung


def test_training_lowers_the_loss(tiny_corpus: Path, tmp_path: Path):
    config = _config(tiny_corpus, tmp_path / "run")
    config.batch_size = 4
    trainer = Trainer(config)
    losses = [trainer.train_step()["loss"] for _ in range(30)]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
