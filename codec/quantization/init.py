"""Codebooks for random-weight models that behave like trained ones.

A randomly initialised encoder emits small latents; codebooks of unit Gaussians would be so far away that
every frame picks the same entry. Drawing each stage's entries from the residuals that stage really sees
gives diverse codes at every stage, which is what tests, benchmarks and the self-test need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def probe_latents(
    encode: Callable[[torch.Tensor], torch.Tensor],
    channels: int,
    sample_rate: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Latent vectors [N, D] of noise at a few loudness levels, through `encode` ([B, C, T] -> [B, D, F])."""
    pieces = [
        level * torch.randn(1, channels, sample_rate, generator=generator) for level in (0.03, 0.1, 0.3, 1.0)
    ]
    with torch.no_grad():
        latents = [encode(piece)[0].t() for piece in pieces]
    return torch.cat(latents)


def fill_codebooks_from_latents(
    embeds: Sequence[torch.Tensor], latents: torch.Tensor, generator: torch.Generator
) -> None:
    """Fill each codebook tensor [size, D] in place with (jittered) residual vectors of its own stage."""
    residual = latents
    with torch.no_grad():
        for embed in embeds:
            size = embed.shape[0]
            picks = torch.randint(0, residual.shape[0], (size,), generator=generator)
            spread = residual.std() * 0.5 + 1e-6
            embed.copy_(residual[picks] + spread * torch.randn(embed.shape, generator=generator))
            distances = torch.cdist(residual, embed)
            residual = residual - embed[distances.argmin(dim=1)]
