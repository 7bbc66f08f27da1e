"""The streaming transformer of the entropy-coding language model, and a fast cached way to step it.

Two ways to run the same weights:

- `StreamingTransformerEncoder.forward` is the reference computation (`encodec` 0.1.1), op for op. Every
  step re-projects keys and values of the whole past window (up to 263 or 526 rows).
- `TransformerStream` steps several independent sequences in lockstep and keeps a key/value cache, so each
  step projects only the new rows. `.ecdc` files coded with the LM are only decodable if every probability
  is bit-identical to the reference's, so the cache is used only where it is provably exact on this CPU:
  a matrix-multiply row does not depend on the other rows once the multiply has enough rows
  (`exact_min_rows`), so new rows are projected in a multiply padded to that many rows, and windows shorter
  than that take the reference path. Every other op runs with the reference's shapes and memory layout.
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F
from torch import nn

# A stride of several past-context windows, so the sliding window is moved back to the front of the
# cache rarely (the move is a memcpy, amortised over this many steps).
_CACHE_WINDOWS = 4
# Row counts the padded key/value projection is tried with, smallest first.
_CANDIDATE_MIN_ROWS = (16, 24, 32, 64)


def create_sin_embedding(positions: torch.Tensor, dim: int, max_period: float = 10000) -> torch.Tensor:
    """Sinusoidal embedding [B, T, dim] (cos then sin) of integer `positions` [B, T, 1], as the reference."""
    half_dim = dim // 2
    adim = torch.arange(half_dim, device=positions.device).view(1, 1, -1)
    phase = positions / (max_period ** (adim / (half_dim - 1)))
    return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)


class StreamingTransformerLayer(nn.Module):
    """Post-norm transformer layer whose attention sees the layer's past inputs (reference key layout)."""

    def __init__(self, dim: int, num_heads: int, hidden_dim: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, num_heads, dropout=0.0, batch_first=True)
        self.linear1 = nn.Linear(dim, hidden_dim)
        self.linear2 = nn.Linear(hidden_dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(
        self, x: torch.Tensor, x_past: torch.Tensor, past_context: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One block of T steps [B, T, C] given H past inputs [B, H, C]; returns (output, the layer input)."""
        x_in = x
        x = self.norm1(x + self._sa_block(x, x_past, past_context))
        x = self.norm2(x + self._ff_block(x))
        return x, x_in

    def _sa_block(self, x: torch.Tensor, x_past: torch.Tensor, past_context: int) -> torch.Tensor:
        _, steps, _ = x.shape
        _, past, _ = x_past.shape
        keys = torch.cat([x_past, x], dim=1)
        queries_pos = torch.arange(past, steps + past, device=x.device).view(-1, 1)
        keys_pos = torch.arange(steps + past, device=x.device).view(1, -1)
        delta = queries_pos - keys_pos
        valid_access = (delta >= 0) & (delta <= past_context)
        return self.self_attn(x, keys, keys, attn_mask=~valid_access, need_weights=False)[0]

    def _ff_block(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(F.gelu(self.linear1(x)))


class StreamingTransformerEncoder(nn.Module):
    """Input LayerNorm, sinusoidal positions and `num_layers` streaming layers (reference `encodec` layout)."""

    def __init__(
        self,
        dim: int,
        hidden_scale: float = 4.0,
        num_heads: int = 8,
        num_layers: int = 5,
        max_period: float = 10000,
        past_context: int = 1000,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not a multiple of num_heads {num_heads}.")
        self.dim = dim
        self.num_heads = num_heads
        self.max_period = max_period
        self.past_context = past_context
        self.norm_in = nn.LayerNorm(dim)
        hidden_dim = int(dim * hidden_scale)
        self.layers = nn.ModuleList(
            StreamingTransformerLayer(dim, num_heads, hidden_dim) for _ in range(num_layers)
        )

    def forward(
        self, x: torch.Tensor, states: list[torch.Tensor] | None = None, offset: int = 0
    ) -> tuple[torch.Tensor, list[torch.Tensor], int]:
        """Reference streaming step over [B, T, C]; `states` holds each layer's past inputs."""
        _, steps, channels = x.shape
        if states is None:
            states = [torch.zeros_like(x[:, :1]) for _ in range(1 + len(self.layers))]
        positions = torch.arange(steps, device=x.device).view(1, -1, 1) + offset
        x = self.norm_in(x) + create_sin_embedding(positions, channels, self.max_period)
        new_states: list[torch.Tensor] = []
        for layer_state, layer in zip(states, self.layers):
            x, layer_input = layer(x, layer_state, self.past_context)
            new_states.append(torch.cat([layer_state, layer_input], dim=1)[:, -self.past_context :, :])
        return x, new_states, offset + steps

    def position_embedding(self, position: int) -> torch.Tensor:
        """Embedding [1, 1, C] of one position, computed exactly as a single reference step computes it."""
        positions = torch.arange(1).view(1, -1, 1) + position
        return create_sin_embedding(positions, self.dim, self.max_period)


@torch.no_grad()
def exact_min_rows(encoder: StreamingTransformerEncoder, seed: int = 0) -> int | None:
    """Smallest row count from which key/value projection rows equal the reference's on this CPU, or None.

    The reference projects a whole window (M rows) per step; a row of an M-row multiply can differ from the
    same row computed in a smaller multiply. For each layer's real weights, rows of padded multiplies are
    compared with rows of full-window multiplies of many sizes; any mismatch rejects the candidate.
    """
    generator = torch.Generator().manual_seed(seed)
    window = encoder.past_context + 1
    inputs = torch.randn(window, encoder.dim, generator=generator)
    for rows in _CANDIDATE_MIN_ROWS:
        if rows > window:
            break
        if all(_rows_exact(layer, inputs, rows) for layer in encoder.layers):
            return rows
    return None


def _rows_exact(layer: StreamingTransformerLayer, inputs: torch.Tensor, rows: int) -> bool:
    weight, bias = _kv_weights(layer)
    window = inputs.shape[0]
    lengths = sorted({rows, rows + 1, rows + 2, rows + 7, 2 * rows + 3, window // 2, window - 1, window})
    padded = torch.zeros(rows, inputs.shape[1])
    for length in lengths:
        if length < rows or length > window:
            continue
        full = F.linear(inputs[:length], weight, bias)
        # The newest row is the one the cache needs; it may sit anywhere in a padded multiply.
        for slot in (0, rows - 1):
            padded.zero_()
            padded[slot] = inputs[length - 1]
            if not torch.equal(F.linear(padded, weight, bias)[slot], full[length - 1]):
                return False
        # A block of several streams' rows at once (48 kHz segments stepped together).
        block = inputs[length - rows : length]
        if not torch.equal(F.linear(block, weight, bias), full[length - rows : length]):
            return False
    return True


def _kv_weights(layer: StreamingTransformerLayer) -> tuple[torch.Tensor, torch.Tensor]:
    attn = layer.self_attn
    dim = attn.embed_dim
    return attn.in_proj_weight[dim:], attn.in_proj_bias[dim:]


def batched_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """`F.linear` applied to each row of `x` [N, C] on its own, bit for bit, in one call.

    A 1-row linear takes the matrix-vector path and rounds differently from a multi-row one; a batched
    matrix multiply of N 1-row matrices takes that same path for each row (checked by the LM tests).
    """
    rows = x.shape[0]
    if rows == 1:
        return F.linear(x, weight, bias)
    out = torch.baddbmm(bias.expand(rows, 1, -1), x.unsqueeze(1), weight.t().expand(rows, -1, -1))
    return out.squeeze(1)


class TransformerStream:
    """`batch` independent sequences advanced together through a `StreamingTransformerEncoder`.

    Equivalent, bit for bit, to calling the reference `forward` once per step and per sequence with T=1
    and the states it returns. `advance` takes several steps at once when their inputs are known (coding),
    or one (decoding, where a step's input depends on the previous step's output).
    """

    def __init__(
        self,
        encoder: StreamingTransformerEncoder,
        batch: int,
        min_rows: int | None,
        max_steps: int | None = None,
    ) -> None:
        self.encoder = encoder
        self.batch = batch
        self.min_rows = min_rows
        self.step_index = 0
        self._layers = list(encoder.layers)
        self._context = encoder.past_context
        self._weights = [_LayerWeights(layer) for layer in self._layers]
        # Timeline row r of a sequence: r = 0 is the initial zero state, r = t + 1 the input of step t.
        self._start = 0  # timeline row held at cache slot 0
        self._capacity = 0
        capacity = _CACHE_WINDOWS * (self._context + 1)
        if max_steps is not None:  # short sequences (48 kHz segments) need no more than their length
            capacity = min(capacity, max_steps + 1)
        self._allocate(max(2, capacity))
        self._masks: dict[int, torch.Tensor] = {}
        if min_rows is not None:
            for index in range(len(self._layers)):
                self._project(index, self._inputs[index, :, :1], 0)

    def _allocate(self, capacity: int) -> None:
        shape = (len(self._layers), self.batch, capacity, self.encoder.dim)
        caches = [torch.zeros(shape) for _ in range(3)]
        if self._capacity:
            for new, old in zip(caches, (self._inputs, self._keys, self._values)):
                new[:, :, : self._capacity] = old
        self._inputs, self._keys, self._values = caches
        self._capacity = capacity

    @torch.no_grad()
    def advance(self, x: torch.Tensor) -> torch.Tensor:
        """Take `steps` steps: `x` [batch, steps, C] are the summed embeddings; returns [batch, steps, C]."""
        batch, steps, dim = x.shape
        first = max(0, self.step_index + 1 - self._context)  # first timeline row the window can reach
        needed = self.step_index + steps + 1 - first
        if needed > self._capacity:
            self._slide(first)
            self._allocate(max(needed, self._capacity))
        elif self.step_index + steps + 1 - self._start > self._capacity:
            self._slide(first)
        positions = self.encoder_positions(self.step_index, steps)
        x = self.encoder.norm_in(x) + positions
        for index, layer in enumerate(self._layers):
            x = self._layer(index, layer, x)
        self.step_index += steps
        return x

    def encoder_positions(self, start: int, steps: int) -> torch.Tensor:
        return _position_table(self.encoder, start + steps)[start : start + steps]

    def _slide(self, first: int) -> None:
        keep = first - self._start
        if keep <= 0:
            return
        size = self._capacity - keep
        for cache in (self._inputs, self._keys, self._values):
            cache[:, :, :size] = cache[:, :, keep:].clone()
        self._start = first

    def _project(self, index: int, rows: torch.Tensor, slot: int) -> None:
        """Key/value projection of new rows [batch, n, C] stored at cache slots slot..slot+n-1."""
        weights = self._weights[index]
        batch, count, dim = rows.shape
        flat = rows.reshape(batch * count, dim)
        if flat.shape[0] < (self.min_rows or 0):
            padded = flat.new_zeros(self.min_rows, dim)
            padded[: flat.shape[0]] = flat
            flat = padded
        projected = F.linear(flat, weights.kv_weight, weights.kv_bias)[: batch * count]
        projected = projected.view(batch, count, 2 * dim)
        self._keys[index, :, slot : slot + count] = projected[..., :dim]
        self._values[index, :, slot : slot + count] = projected[..., dim:]

    def _layer(self, index: int, layer: StreamingTransformerLayer, x: torch.Tensor) -> torch.Tensor:
        batch, steps, dim = x.shape
        weights = self._weights[index]
        slot0 = self.step_index + 1 - self._start  # cache slot of this block's first new row
        self._inputs[index, :, slot0 : slot0 + steps] = x
        if self.min_rows is not None:
            self._project(index, x, slot0)
        # Window length of step t is min(t + 2, context + 1); the first few are shorter than min_rows.
        slow = 0
        if self.min_rows is None:
            slow = steps
        else:
            while slow < steps and self._window(self.step_index + slow) < self.min_rows:
                slow += 1
        attn = torch.empty(batch, steps, dim)
        for s in range(slow):
            length = self._window(self.step_index + s)
            for b in range(batch):
                past = self._inputs[index, b : b + 1, slot0 + s + 1 - length : slot0 + s]
                attn[b, s] = layer._sa_block(x[b : b + 1, s : s + 1], past, self._context)[0, 0]
        if slow < steps:
            mixed = self._cached_attention(index, x[:, slow:], slot0 + slow, self.step_index + slow)
            flat = batched_linear(mixed.reshape(-1, dim), weights.out_weight, weights.out_bias)
            attn[:, slow:] = flat.view(batch, steps - slow, dim)
        x = layer.norm1(x + attn)
        flat = x.reshape(batch * steps, dim)
        hidden = F.gelu(batched_linear(flat, weights.ff1_weight, weights.ff1_bias))
        ff = batched_linear(hidden, weights.ff2_weight, weights.ff2_bias).view(batch, steps, dim)
        return layer.norm2(x + ff)

    def _window(self, step: int) -> int:
        return min(step + 2, self._context + 1)

    def _mask(self, length: int) -> torch.Tensor:
        mask = self._masks.get(length)
        if mask is None:
            mask = self._masks[length] = torch.zeros(1, 1, 1, length)
        return mask

    def _cached_attention(self, index: int, x: torch.Tensor, slot0: int, step0: int) -> torch.Tensor:
        """Attention of `x` [batch, steps, C] over cached keys/values, before the output projection.

        The same ops as `nn.MultiheadAttention`'s path for one query: a 1-row query projection, then
        scaled-dot-product attention with an all-zero float mask over [1, heads, window, head_dim] views.
        """
        batch, steps, dim = x.shape
        weights = self._weights[index]
        heads = self._layers[index].self_attn.num_heads
        head_dim = dim // heads
        queries = batched_linear(x.reshape(-1, dim), weights.q_weight, weights.q_bias)
        queries = queries.view(batch, steps, heads, 1, head_dim)
        out = torch.empty(batch, steps, heads, head_dim)
        keys, values = self._keys[index], self._values[index]
        full = self._context + 1
        s = 0
        while s < steps:
            length = self._window(step0 + s)
            lo = slot0 + s + 1 - length  # first cache slot of the window of step s
            if length < full:  # a growing window: one step, every sequence
                size = (batch, heads, length, head_dim)
                stride = (keys.stride(0), head_dim, dim, 1)
                k = keys.as_strided(size, stride, keys.storage_offset() + lo * dim)
                v = values.as_strided(size, stride, values.storage_offset() + lo * dim)
                q = queries[:, s]
                out[:, s] = F.scaled_dot_product_attention(q, k, v, self._mask(length), 0.0, False)[:, :, 0]
                s += 1
                continue
            # Full windows: consecutive steps slide by one row, so one strided view covers them all.
            n = steps - s
            for b in range(batch):
                size = (n, heads, length, head_dim)
                stride = (dim, head_dim, dim, 1)
                base = b * keys.stride(0) + lo * dim
                k = keys.as_strided(size, stride, keys.storage_offset() + base)
                v = values.as_strided(size, stride, values.storage_offset() + base)
                q = queries[b, s:]
                out[b, s:] = F.scaled_dot_product_attention(q, k, v, self._mask(length), 0.0, False)[:, :, 0]
            s = steps
        return out.view(batch, steps, dim)


class _LayerWeights:
    """A layer's projection weights split as the reference's MHA splits its packed input projection."""

    def __init__(self, layer: StreamingTransformerLayer) -> None:
        attn = layer.self_attn
        dim = attn.embed_dim
        self.q_weight, self.q_bias = attn.in_proj_weight[:dim], attn.in_proj_bias[:dim]
        self.kv_weight, self.kv_bias = attn.in_proj_weight[dim:], attn.in_proj_bias[dim:]
        self.out_weight, self.out_bias = attn.out_proj.weight, attn.out_proj.bias
        self.ff1_weight, self.ff1_bias = layer.linear1.weight, layer.linear1.bias
        self.ff2_weight, self.ff2_bias = layer.linear2.weight, layer.linear2.bias


_POSITION_TABLES: dict[tuple[int, float], torch.Tensor] = {}
_POSITION_LOCK = threading.Lock()


def _position_table(encoder: StreamingTransformerEncoder, count: int) -> torch.Tensor:
    """Rows 0..count-1 of the positional embedding, each computed as a one-step reference call computes it.

    Computing several positions in one call may round cos/sin differently (vector vs scalar tail), so rows
    are made one at a time and cached for the process.
    """
    key = (encoder.dim, float(encoder.max_period))
    with _POSITION_LOCK:
        table = _POSITION_TABLES.get(key)
        have = 0 if table is None else table.shape[0]
        if have < count:
            grown = max(count, 2 * have, 1024)
            rows = [encoder.position_embedding(p)[0] for p in range(have, grown)]
            new = torch.cat(rows)
            table = new if table is None else torch.cat([table, new])
            _POSITION_TABLES[key] = table
        return table
