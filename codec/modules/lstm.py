"""The LSTM at the bottleneck of the SEANet encoder and decoder, with a skip connection."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: A running stream's blocks of at most this many frames take the step-by-step path (see `forward_with_state`).
SHORT_STEPS = 4


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
        if state is not None and x.shape[0] <= SHORT_STEPS and not self.training:
            y, new_state = self._steps(x, state)
        else:
            y, new_state = self.lstm(x, state)
        return (y + x).permute(1, 2, 0), new_state

    def _steps(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The LSTM cell by hand, for the few frames of a live stream's block.

        torch's oneDNN LSTM re-packs its weights on every call (several ms for 512 units), ten times the cost
        of one frame's arithmetic. Whole files never come here (their first call has no state), so their
        codes stay bit-identical with the reference; a stream's values differ by float rounding only.
        """
        lstm = self.lstm
        hidden, cell = list(state[0].unbind(0)), list(state[1].unbind(0))
        sequence = x
        for layer in range(lstm.num_layers):
            # Layer by layer: the input projection of every step is one product (one pass over the weights).
            inputs = F.linear(
                sequence, getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"bias_ih_l{layer}")
            )
            weight_hh, bias_hh = getattr(lstm, f"weight_hh_l{layer}"), getattr(lstm, f"bias_hh_l{layer}")
            outputs = []
            h, c = hidden[layer], cell[layer]
            for projected in inputs.unbind(0):
                gates = projected + F.linear(h, weight_hh, bias_hh)
                in_gate, forget_gate, cell_gate, out_gate = gates.chunk(4, dim=-1)
                c = forget_gate.sigmoid() * c + in_gate.sigmoid() * cell_gate.tanh()
                h = out_gate.sigmoid() * c.tanh()
                outputs.append(h)
            hidden[layer], cell[layer] = h, c
            sequence = torch.stack(outputs)
        return sequence, (torch.stack(hidden), torch.stack(cell))
