"""Training the residual vector quantizer: EMA codebooks, dead-code replacement, quantizer dropout.

The inference quantizer (`codec.quantization.rvq`) holds only the codebooks; training keeps the EMA
statistics here, beside it, and writes the updated codebooks back into the model's `embed` buffers, so the
model being trained is the model that is exported.
"""

from __future__ import annotations

import torch

from codec.quantization.rvq import ResidualVectorQuantizer


class EmaQuantizerTrainer:
    """Straight-through RVQ with EMA codebook updates (van den Oord 2017; EnCodec's settings)."""

    def __init__(
        self,
        rvq: ResidualVectorQuantizer,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        dead_code_threshold: float = 2.0,
        generator: torch.Generator | None = None,
    ) -> None:
        self.rvq = rvq
        self.generator = generator  # random picks (seeding, dead codes) come from it, so runs resume exactly
        self.decay = decay
        self.epsilon = epsilon
        self.dead_code_threshold = dead_code_threshold
        layers = len(rvq.layers)
        size, dim = rvq.layers[0].codebook.embed.shape
        self.cluster_size = torch.zeros(layers, size)
        self.embed_avg = torch.zeros(layers, size, dim)
        self.inited = torch.zeros(layers, dtype=torch.bool)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"cluster_size": self.cluster_size, "embed_avg": self.embed_avg, "inited": self.inited}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.cluster_size = state["cluster_size"].clone()
        self.embed_avg = state["embed_avg"].clone()
        self.inited = state["inited"].clone()

    def __call__(
        self, latent: torch.Tensor, num_codebooks: torch.Tensor, update: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantize latent [B, D, T] with `num_codebooks[b]` stages for item b.

        Returns the straight-through quantized latent [B, D, T] and the commitment loss (mean squared
        distance of each active stage's input to its chosen entry, summed over stages).
        """
        batch, dim, frames = latent.shape
        x = latent.transpose(1, 2).reshape(-1, dim)  # [B*T, D]
        active_rows = num_codebooks.repeat_interleave(frames)  # stages used by each row
        residual = x.detach()
        quantized = torch.zeros_like(residual)
        commitment = latent.new_zeros(())
        for stage, layer in enumerate(self.rvq.layers):
            mask = active_rows > stage
            if not bool(mask.any()):
                break
            embed = layer.codebook.embed
            if update and not bool(self.inited[stage]):
                self._initialise(stage, embed, residual[mask])
            indices = _nearest(residual, embed)
            chosen = embed[indices]
            if update:
                self._ema_update(stage, embed, residual[mask], indices[mask])
            weight = mask.float()[:, None]
            # The encoder learns to commit to its codes: gradient flows through x, the stage's input.
            stage_input = x - quantized
            commitment = commitment + ((stage_input - chosen) ** 2 * weight).sum() / (weight.sum() * dim)
            quantized = quantized + chosen * weight
            residual = residual - chosen * weight
        out = x + (quantized - x).detach()
        return out.view(batch, frames, dim).transpose(1, 2), commitment

    @torch.no_grad()
    def _initialise(self, stage: int, embed: torch.Tensor, vectors: torch.Tensor) -> None:
        picks = torch.randint(0, vectors.shape[0], (embed.shape[0],), generator=self.generator)
        embed.copy_(vectors[picks])
        self.rvq.layers[stage].codebook.invalidate()
        self.embed_avg[stage] = embed.clone()
        self.cluster_size[stage] = 1.0
        self.inited[stage] = True

    @torch.no_grad()
    def _ema_update(
        self, stage: int, embed: torch.Tensor, vectors: torch.Tensor, indices: torch.Tensor
    ) -> None:
        size = embed.shape[0]
        counts = torch.bincount(indices, minlength=size).float()
        sums = torch.zeros_like(embed).index_add_(0, indices, vectors)
        cluster_size = self.cluster_size[stage].mul_(self.decay).add_(counts, alpha=1 - self.decay)
        embed_avg = self.embed_avg[stage].mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = cluster_size.sum()
        smoothed = (cluster_size + self.epsilon) / (total + size * self.epsilon) * total
        embed.copy_(embed_avg / smoothed[:, None])
        self.rvq.layers[stage].codebook.invalidate()  # the inference path caches the codebook's norms
        # Entries nobody picks any more are re-seeded from this batch's vectors (EnCodec's expire_codes_).
        dead = cluster_size < self.dead_code_threshold
        if bool(dead.any()):
            picks = torch.randint(0, vectors.shape[0], (int(dead.sum()),), generator=self.generator)
            embed[dead] = vectors[picks]
            self.embed_avg[stage][dead] = vectors[picks] * self.dead_code_threshold
            cluster_size[dead] = self.dead_code_threshold


def _nearest(x: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
    distance = x.pow(2).sum(1, keepdim=True) - 2 * x @ embed.t() + embed.pow(2).sum(1)[None]
    return distance.argmin(dim=1)
