"""Residual vector quantizer: each stage codes what the stages before it left over."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Codebook(nn.Module):
    """One codebook of `size` entries of `dim` floats, nearest entry by Euclidean distance."""

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("embed", torch.zeros(size, dim))
        self._prepared: tuple[torch.Tensor, torch.Tensor] | None = None

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super()._load_from_state_dict(*args, **kwargs)
        self._prepared = None

    def _apply(self, fn, recurse=True):  # noqa: ANN001, ANN202
        self._prepared = None
        return super()._apply(fn, recurse)

    def invalidate(self) -> None:
        """Forget the cached transposed codebook and norms (call after changing `embed` in place)."""
        self._prepared = None

    def _transposed_and_norms(self) -> tuple[torch.Tensor, torch.Tensor]:
        # The same expressions as the reference, evaluated once instead of per call: equal bits, equal codes.
        if self._prepared is None:
            embed_t = self.embed.t()
            self._prepared = (embed_t, embed_t.pow(2).sum(0, keepdim=True))
        return self._prepared

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: [N, dim] -> indices [N]."""
        embed_t, embed_norms = self._transposed_and_norms()
        dist = -(x.pow(2).sum(1, keepdim=True) - 2 * x @ embed_t + embed_norms)
        return dist.max(dim=-1).indices

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        return F.embedding(indices, self.embed)


class CodebookLayer(nn.Module):
    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.codebook = Codebook(size, dim)


class ResidualVectorQuantizer(nn.Module):
    """Latents [B, D, T] <-> codes [K, B, T]."""

    def __init__(self, dimension: int, num_quantizers: int, codebook_size: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(CodebookLayer(codebook_size, dimension) for _ in range(num_quantizers))

    def encode(self, x: torch.Tensor, num_codebooks: int) -> torch.Tensor:
        batch, _, frames = x.shape
        residual = x.transpose(1, 2)  # [B, T, D]
        codes = []
        for layer in self.layers[:num_codebooks]:
            flat = residual.reshape(-1, residual.shape[-1])
            indices = layer.codebook.encode(flat).view(batch, frames)
            residual = residual - layer.codebook.decode(indices)
            codes.append(indices)
        return torch.stack(codes)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        quantized = torch.tensor(0.0, device=codes.device)
        for layer, indices in zip(self.layers, codes):
            quantized = quantized + layer.codebook.decode(indices)
        return quantized.transpose(1, 2)
