"""Train the entropy-coding language model on a codec's codes (same `LanguageModel` as Meta's LMs).

    codes = extract_codes(model, corpus, hours=1.5)         # int16 [K, T] pieces
    lm = train_lm(model.spec, codes, seconds=900)

Each training sequence is a run of frames no longer than the LM's attention window, with a random rung
of the bitrate ladder: the LM sees (and predicts) only that many codebooks, as when it codes a file.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from codec.models.encodec import EncodecModel
from codec.models.lm import LanguageModel
from codec.specs import ModelSpec

SMALL_LM = {"dim": 128, "num_layers": 3, "num_heads": 4, "hidden_scale": 4.0}


@torch.inference_mode()
def extract_codes(
    model: EncodecModel, corpus: Path, hours: float, seed: int = 0, piece_seconds: float = 30.0
) -> list[torch.Tensor]:
    """Codes (all `max_codebooks`) of random `piece_seconds` pieces of the training audio, `hours` in all."""
    audio = np.load(Path(corpus) / "train.npy", mmap_mode="r")
    rng = np.random.default_rng(seed)
    length = int(piece_seconds * model.spec.sample_rate)
    top = model.spec.bandwidths[-1]
    pieces = []
    for _ in range(max(1, int(hours * 3600 / piece_seconds))):
        start = int(rng.integers(0, len(audio) - length))
        piece = torch.from_numpy(np.asarray(audio[start : start + length], dtype=np.float32) / 32768.0)
        pieces.append(model.encode(piece[None], top).codes[0].to(torch.int16))
    return pieces


def logits(lm: LanguageModel, indices: torch.Tensor) -> torch.Tensor:
    """The reference forward of `lm` up to the softmax: [B, K, T, card] for `indices` [B, K, T]."""
    num_codebooks = indices.shape[1]
    embedded = sum(lm.emb[k](indices[:, k]) for k in range(num_codebooks))
    out, _, _ = lm.transformer(embedded)
    return torch.stack([lm.linears[k](out) for k in range(num_codebooks)], dim=1)


def bits_per_frame(lm: LanguageModel, codes: torch.Tensor, num_codebooks: int) -> float:
    """Average cross-entropy in bits per frame of `codes` [K, T] at `num_codebooks`."""
    with torch.inference_mode():
        target = codes[:num_codebooks].long()[None]
        inputs = torch.cat([torch.zeros_like(target[..., :1]), target[..., :-1] + 1], dim=-1)
        window = lm.transformer.past_context
        total, frames = 0.0, 0
        for start in range(0, target.shape[-1], window):
            piece_in, piece_target = inputs[..., start : start + window], target[..., start : start + window]
            piece_in = piece_in.clone()
            piece_in[..., 0] = 0  # each window starts like a fresh segment (a slight overestimate)
            out = logits(lm, piece_in)
            total += float(
                F.cross_entropy(out.reshape(-1, lm.card), piece_target.reshape(-1), reduction="sum")
            )
            frames += piece_target.shape[-1]
    return total / frames / math.log(2)


def train_lm(
    spec: ModelSpec,
    codes: list[torch.Tensor],
    seconds: float,
    architecture: dict | None = None,
    batch_size: int = 16,
    learning_rate: float = 2e-3,
    warmup_steps: int = 200,
    frames: int = 150,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> LanguageModel:
    """Train an LM for `spec` on `codes` for about `seconds` of wall time."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    lm = LanguageModel.from_spec(spec, **(architecture or SMALL_LM)).train()
    optimizer = torch.optim.AdamW(lm.parameters(), lr=learning_rate, betas=(0.9, 0.98), weight_decay=0.01)
    rungs = [spec.codebooks_for_bandwidth(b) for b in spec.bandwidths]
    frames = min(lm.transformer.past_context, frames)
    started = time.monotonic()
    step = 0
    while time.monotonic() - started < seconds:
        num_codebooks = rungs[int(torch.randint(0, len(rungs), (1,), generator=generator))]
        batch = []
        for _ in range(batch_size):
            piece = codes[int(torch.randint(0, len(codes), (1,), generator=generator))]
            start = int(torch.randint(0, piece.shape[-1] - frames, (1,), generator=generator))
            batch.append(piece[:num_codebooks, start : start + frames].long())
        target = torch.stack(batch)  # [B, K, T]
        inputs = torch.cat([torch.zeros_like(target[..., :1]), target[..., :-1] + 1], dim=-1)
        warm = min(1.0, (step + 1) / warmup_steps)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate * warm
        loss = F.cross_entropy(logits(lm, inputs).reshape(-1, lm.card), target.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
        optimizer.step()
        step += 1
        if step % 50 == 0:
            log(f"lm step={step} nq={num_codebooks} bits/code={float(loss) / math.log(2):.3f}")
    return lm.eval()
