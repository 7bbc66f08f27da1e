"""The LSTM at the bottleneck of the SEANet encoder and decoder, with a skip connection."""

from __future__ import annotations

import torch
from torch import nn


class SLSTM(nn.Module):
    """LSTM over a [B, C, T] tensor, output added to its input."""

    def __init__(self, dimension: int, num_layers: int = 2) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dimension, dimension, num_layers)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        y, _ = self.forward_with_state(x, state)
        return y

    def forward_with_state(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        x = x.permute(2, 0, 1)
        y, new_state = self.lstm(x, state)
        return (y + x).permute(1, 2, 0), new_state
