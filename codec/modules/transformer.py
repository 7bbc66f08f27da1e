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
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# A stride of several past-context windows, so the sliding window is moved back to the front of the
# cache rarely (the move is a memcpy, amortised over this many steps).
_CACHE_WINDOWS = 4
# Row counts the padded key/value projection is tried with, smallest first.
_CANDIDATE_MIN_ROWS = (9, 12, 16, 24, 32, 64)


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
    """Smallest row count whose padded key/value projections match the reference's on this CPU, or None.

    The reference projects a whole window (M = 2 .. context + 1 rows) at every step; a row of an M-row
    multiply can round differently from the same row in a multiply of another size. With the layers' real
    weights and random inputs, rows projected as the cache projects them (at the top of a `rows`-row
    multiply, or in blocks of other sizes) are compared with every row of full-window multiplies: all
    window sizes from `rows` up to 64 and a spread beyond for the first layer, a few sizes for the others.
    """
    generator = torch.Generator().manual_seed(seed)
    window = encoder.past_context + 1
    inputs = torch.randn(window + max(_CANDIDATE_MIN_ROWS), encoder.dim, generator=generator)
    for rows in _CANDIDATE_MIN_ROWS:
        if rows > window:
            break
        layers = list(encoder.layers)
        if _rows_exact(layers[0], inputs, rows, window, thorough=True) and all(
            _rows_exact(layer, inputs, rows, window, thorough=False) for layer in layers[1:]
        ):
            return rows
    return None


def _rows_exact(
    layer: StreamingTransformerLayer, inputs: torch.Tensor, rows: int, window: int, thorough: bool
) -> bool:
    weight, bias = _kv_weights(layer)
    # Each row as the one-step path computes it: the first row of a `rows`-row multiply.
    cached = torch.cat([F.linear(inputs[j : j + rows], weight, bias)[:1] for j in range(window)])
    # Blocks of new rows (coding several frames or sequences at once) start anywhere and have any size.
    for size in sorted({rows, rows + 1, 2 * rows + 3, 64, window}):
        for start in (0, 5):
            if start + size <= window and not torch.equal(
                F.linear(inputs[start : start + size], weight, bias), cached[start : start + size]
            ):
                return False
    if thorough:
        lengths = (
            set(range(rows, min(window, 64) + 1)) | set(range(64, window + 1, 16)) | {window - 1, window}
        )
    else:
        lengths = {rows, rows + 1, 47, window}
    for length in sorted(n for n in lengths if rows <= n <= window):
        if not torch.equal(F.linear(inputs[:length], weight, bias), cached[:length]):
            return False
    return True


def _kv_weights(layer: StreamingTransformerLayer) -> tuple[torch.Tensor, torch.Tensor]:
    attn = layer.self_attn
    dim = attn.embed_dim
    return attn.in_proj_weight[dim:], attn.in_proj_bias[dim:]


@dataclass(frozen=True)
class ExactPlan:
    """The shortcuts found bit-exact on this CPU (and thread count) for a given set of weights.

    `min_rows`: rows of the padded key/value projection (None: project whole windows, as the reference).
    `batched_rows`: whether one batched multiply of 1-row matrices rounds each row as a 1-row `F.linear`
    does (true for the LM's shapes with MKL; tiny shapes take another kernel).
    `blocks`: whether advancing several steps or sequences at once (row-wise norms, activations, softmax
    and attention over many rows) matches the reference; if not, coding goes one step at a time.
    """

    min_rows: int | None = None
    batched_rows: bool = False
    blocks: bool = False


REFERENCE_PLAN = ExactPlan()


def batched_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, batched: bool) -> torch.Tensor:
    """`F.linear` applied to each row of `x` [N, C] on its own, bit for bit.

    A 1-row linear takes the matrix-vector path and rounds differently from a multi-row one. With
    `batched`, a batched multiply of N 1-row matrices gives the same rows in one call; otherwise rows go
    one at a time.
    """
    rows = x.shape[0]
    if rows == 1:
        return F.linear(x, weight, bias)
    if not batched:
        return torch.cat([F.linear(x[i : i + 1], weight, bias) for i in range(rows)])
    out = torch.baddbmm(bias.expand(rows, 1, -1), x.unsqueeze(1), weight.t().expand(rows, -1, -1))
    return out.squeeze(1)


@torch.no_grad()
def batched_rows_exact(linears: list[tuple[torch.Tensor, torch.Tensor]], seed: int = 0) -> bool:
    """Whether `batched_linear(..., batched=True)` equals row-by-row `F.linear` for each (weight, bias)."""
    generator = torch.Generator().manual_seed(seed)
    for weight, bias in linears:
        x = torch.randn(37, weight.shape[1], generator=generator)
        rows = torch.cat([F.linear(x[i : i + 1], weight, bias) for i in range(x.shape[0])])
        if not torch.equal(batched_linear(x, weight, bias, batched=True), rows):
            return False
    return True


def layer_linears(encoder: StreamingTransformerEncoder) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) of every 1-row linear a step runs: query, output and feed-forward projections."""
    out = []
    for layer in encoder.layers:
        w = _LayerWeights(layer)
        out += [(w.q_weight, w.q_bias), (w.out_weight, w.out_bias)]
        out += [(w.ff1_weight, w.ff1_bias), (w.ff2_weight, w.ff2_bias)]
    return out


class TransformerStream:
    """`batch` independent sequences advanced together through a `StreamingTransformerEncoder`.

    Equivalent, bit for bit, to calling the reference `forward` once per step and per sequence with T=1
    and the states it returns. `advance` takes several steps at once when their inputs are known (coding),
    or one (decoding, where a step's input depends on the previous step's output).

    Per layer and sequence the caches hold the layer inputs and, per row, its key and value side by side
    ([key | value], 2C floats). A new row is projected by a multiply over `min_rows` cache rows starting
    at its slot, written straight into the key/value cache: rows of a multiply that size do not depend on
    each other, and the rows after the new one are future slots, overwritten when their turn comes.
    Windows shorter than `min_rows` (the first steps), or every window when `min_rows` is None, are
    projected whole, as the reference does.
    """

    def __init__(
        self,
        encoder: StreamingTransformerEncoder,
        batch: int,
        plan: ExactPlan = REFERENCE_PLAN,
        max_steps: int | None = None,
    ) -> None:
        self.encoder = encoder
        self.batch = batch
        self.min_rows = min_rows = plan.min_rows
        self._batched = plan.batched_rows
        self.step_index = 0
        self._context = encoder.past_context
        self._weights = [_LayerWeights(layer) for layer in encoder.layers]
        self._slack = min_rows or 0
        # Timeline row r of a sequence: r = 0 is the initial zero state, r = t + 1 the input of step t.
        self._start = 0  # timeline row held at cache slot 0
        self._capacity = 0
        capacity = _CACHE_WINDOWS * (self._context + 1)
        if max_steps is not None:  # short sequences (48 kHz segments) need no more than their length
            capacity = min(capacity, max_steps + 1)
        self._allocate(max(2, capacity))
        self._masks: dict[int, torch.Tensor] = {}
        if min_rows is not None:
            with torch.no_grad():
                for index in range(len(self._weights)):
                    self._project(index, 0, 1)

    def _allocate(self, capacity: int) -> None:
        layers, dim = len(self._weights), self.encoder.dim
        rows = capacity + self._slack
        inputs = torch.zeros(layers, self.batch, rows, dim)
        keys_values = torch.zeros(layers, self.batch, rows, 2 * dim)
        if self._capacity:
            inputs[:, :, : self._capacity] = self._inputs[:, :, : self._capacity]
            keys_values[:, :, : self._capacity] = self._kv[:, :, : self._capacity]
        self._inputs, self._kv = inputs, keys_values
        self._capacity = capacity
        # Per-layer views of the first sequence, for the one-step path.
        self._inputs0 = [inputs[index, 0] for index in range(layers)]
        self._kv0 = [keys_values[index, 0] for index in range(layers)]

    @torch.no_grad()
    def advance(self, x: torch.Tensor) -> torch.Tensor:
        """Take `steps` steps: `x` [batch, steps, C] are the summed embeddings; returns [batch, steps, C]."""
        batch, steps, dim = x.shape
        step = self.step_index
        first = max(0, step + 1 - self._context)  # first timeline row the window can reach
        needed = step + steps + 1 - first
        if needed > self._capacity:
            self._slide(first)
            self._allocate(max(needed, self._capacity))
        elif step + steps + 1 - self._start > self._capacity:
            self._slide(first)
        norm = self.encoder.norm_in
        x = torch.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
        x = x + _position_table(self.encoder, step + steps)[step : step + steps]
        if batch == 1 and steps == 1:
            row = x[0]
            for index in range(len(self._weights)):
                row = self._one_step(index, row)
            x = row[None]
        else:
            for index in range(len(self._weights)):
                x = self._block(index, x)
        self.step_index += steps
        return x

    def _slide(self, first: int) -> None:
        keep = first - self._start
        if keep <= 0:
            return
        size = self._capacity - keep
        for cache in (self._inputs, self._kv):
            cache[:, :, :size] = cache[:, :, keep : self._capacity].clone()
        self._start = first

    def _project(self, index: int, slot: int, count: int) -> None:
        """Key/value projection of cache rows slot..slot+count-1 of every sequence, into the cache."""
        weights = self._weights[index]
        rows = max(count, self._slack)
        for b in range(self.batch):
            torch.addmm(
                weights.kv_bias,
                self._inputs[index, b, slot : slot + rows],
                weights.kv_weight_t,
                out=self._kv[index, b, slot : slot + rows],
            )

    def _window_kv(self, index: int, b: int, lo: int, hi: int) -> torch.Tensor:
        """Keys and values [length, 2C] of cache slots lo..hi-1: cached, or projected whole like the reference."""
        if self.min_rows is not None and hi - lo >= self.min_rows:
            return self._kv[index, b, lo:hi]
        w = self._weights[index]
        return torch.addmm(w.kv_bias, self._inputs[index, b, lo:hi], w.kv_weight_t)

    def _attend(
        self, index: int, queries: torch.Tensor, kv: torch.Tensor, count: int, length: int
    ) -> torch.Tensor:
        """SDPA of `count` queries [count, heads, 1, head_dim] over windows of `length` rows starting at `kv`
        (consecutive queries' windows start one row apart), as MHA calls it: zero float mask, no dropout."""
        w = self._weights[index]
        size = (count, w.heads, length, w.head_dim)
        stride = (kv.stride(0), w.head_dim, kv.stride(0), 1)
        keys = kv.as_strided(size, stride, kv.storage_offset())
        values = kv.as_strided(size, stride, kv.storage_offset() + w.dim)
        mask = self._masks.get(length)
        if mask is None:
            mask = self._masks[length] = torch.zeros(1, 1, 1, length)
        return F.scaled_dot_product_attention(queries, keys, values, mask, 0.0, False)

    def _one_step(self, index: int, row: torch.Tensor) -> torch.Tensor:
        """One step of one sequence, row [1, C]: the decoding hot path, with as few ops as possible."""
        w = self._weights[index]
        slot = self.step_index + 1 - self._start
        length = min(self.step_index + 2, self._context + 1)
        inputs, cache = self._inputs0[index], self._kv0[index]
        inputs[slot].copy_(row[0])
        if self.min_rows is not None:
            rows = self._slack
            torch.addmm(w.kv_bias, inputs[slot : slot + rows], w.kv_weight_t, out=cache[slot : slot + rows])
        kv = self._window_kv(index, 0, slot + 1 - length, slot + 1)
        query = F.linear(row, w.q_weight, w.q_bias).view(1, w.heads, 1, w.head_dim)
        mixed = self._attend(index, query, kv, 1, length)
        attn = F.linear(mixed.view(1, w.dim), w.out_weight, w.out_bias)
        h = torch.layer_norm(row + attn, w.norm_shape, w.norm1_weight, w.norm1_bias, w.norm1_eps)
        ff = F.linear(F.gelu(F.linear(h, w.ff1_weight, w.ff1_bias)), w.ff2_weight, w.ff2_bias)
        return torch.layer_norm(h + ff, w.norm_shape, w.norm2_weight, w.norm2_bias, w.norm2_eps)

    def _block(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Several steps [batch, steps, C] of one layer; every linear runs row by row (`batched_linear`)."""
        batch, steps, dim = x.shape
        w = self._weights[index]
        slot0 = self.step_index + 1 - self._start  # cache slot of this block's first new row
        self._inputs[index, :, slot0 : slot0 + steps] = x
        if self.min_rows is not None:
            self._project(index, slot0, steps)
        queries = batched_linear(x.reshape(-1, dim), w.q_weight, w.q_bias, self._batched)
        queries = queries.view(batch, steps, w.heads, 1, w.head_dim)
        mixed = torch.empty(batch, steps, w.heads, w.head_dim)
        full = self._context + 1
        s = 0
        while s < steps:
            length = min(self.step_index + s + 2, full)
            lo = slot0 + s + 1 - length  # first cache slot of the window of step s
            cached = self.min_rows is not None and length >= self.min_rows
            if length == full and cached:
                # Full windows: consecutive steps slide by one row, so one strided view covers them all.
                for b in range(batch):
                    kv = self._kv[index, b, lo:]
                    mixed[b, s:] = self._attend(index, queries[b, s:], kv, steps - s, length)[:, :, 0]
                break
            for b in range(batch):
                kv = self._window_kv(index, b, lo, lo + length)
                mixed[b, s] = self._attend(index, queries[b, s : s + 1], kv, 1, length)[0, :, 0]
            s += 1
        attn = batched_linear(mixed.view(-1, dim), w.out_weight, w.out_bias, self._batched).view(
            batch, steps, dim
        )
        x = torch.layer_norm(x + attn, w.norm_shape, w.norm1_weight, w.norm1_bias, w.norm1_eps)
        hidden = F.gelu(batched_linear(x.reshape(-1, dim), w.ff1_weight, w.ff1_bias, self._batched))
        ff = batched_linear(hidden, w.ff2_weight, w.ff2_bias, self._batched).view(batch, steps, dim)
        return torch.layer_norm(x + ff, w.norm_shape, w.norm2_weight, w.norm2_bias, w.norm2_eps)


class _LayerWeights:
    """A layer's projection weights split as the reference's MHA splits its packed input projection."""

    def __init__(self, layer: StreamingTransformerLayer) -> None:
        attn = layer.self_attn
        dim = attn.embed_dim
        self.dim, self.heads, self.head_dim = dim, attn.num_heads, dim // attn.num_heads
        self.q_weight, self.q_bias = attn.in_proj_weight[:dim], attn.in_proj_bias[:dim]
        self.kv_weight_t, self.kv_bias = attn.in_proj_weight[dim:].t(), attn.in_proj_bias[dim:]
        self.norm_shape = layer.norm1.normalized_shape
        self.norm1_weight, self.norm1_bias, self.norm1_eps = (
            layer.norm1.weight,
            layer.norm1.bias,
            layer.norm1.eps,
        )
        self.norm2_weight, self.norm2_bias, self.norm2_eps = (
            layer.norm2.weight,
            layer.norm2.bias,
            layer.norm2.eps,
        )
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
