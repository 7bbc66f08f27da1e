"""The portable LM: an integer version of the entropy-coding language model, exact on every machine.

`PortableLM.from_float(lm)` derives it from any float `LanguageModel` (official or ours). It gives the same
CDFs, bit for bit, on every CPU, GPU, BLAS, thread count and torch or numpy version, because every number
it computes is either an integer or the result of IEEE 754 basic operations applied in a fixed order:

- Matrix multiplies only ever see integers: weights and activations are quantized, and every product
  and partial sum is an integer below 2**24 (float32 multiplies) or 2**53 (float64 multiplies). Integers
  that small add exactly in float arithmetic, in any order, with or without FMA, blocking, threads,
  TF32 tensor cores or flush-to-zero, so any BLAS gives the same sums.
- Between multiplies, only elementwise +, -, *, /, sqrt, floor and rint on float64 (correctly rounded by
  IEEE 754, so identical everywhere) and int64 sums. Reductions that could depend on order sum integers.
- exp, GELU and sin/cos come from tables built with `decimal` (correctly rounded, platform-independent)
  and integer products, never from the platform's libm.

The weights are derived the same way (elementwise float64 ops, integer sums, exact max), and
`fingerprint` hashes the result so a file coded with other weights is refused rather than misdecoded.

Layout per step (as the float LM): sum of the K code embeddings, input LayerNorm, sinusoidal positions,
`num_layers` post-norm layers (attention over the last `past_context` inputs and the current one, GELU
feed-forward), one linear head per codebook. Where the float LM computes softmax probabilities, this one
computes the arithmetic coder's integer CDF directly (`cdfs`).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from functools import lru_cache

import numpy as np

from codec.errors import CheckpointError

# Name of this integer recipe, written in portable files: a change to any constant below needs a new one.
RECIPE = "i1"

# Every float32 multiply operand is an integer in -ACT..ACT (also exact in TF32's 11-bit significand).
ACT = 2047
_F32_EXACT = 1 << 24
# Per output row and input block, sum |w| * ACT stays within 2**24: no partial sum can round.
_ROW_BUDGET = _F32_EXACT // ACT
# Queries and keys (float64 multiplies) and the embedding sum.
WIDE = (1 << 15) - 1
# Residual branches (attention, feed-forward): with the ACT-bounded stream they feed a LayerNorm whose
# sum of squares stays below 2**53, so it is exact in float64.
BRANCH = (1 << 13) - 1
# LayerNorm outputs: z = (x - mean) / std in units of 2**-NORM_BITS; representation covers 8 std.
NORM_BITS = 12
_NORM_RANGE = 8.0
# A value's typical magnitude times this bounds the range its integers cover (clamped beyond).
_SPREAD = 6.0
# exp(-i / EXP_STEPS) * 2**EXP_BITS for i < EXP_SIZE, then 0: softmax weights and CDF frequencies.
EXP_STEPS = 256
EXP_SIZE = 24 * EXP_STEPS
EXP_BITS = 20
# GELU: inputs in steps of 2**-8 over [-8, 16), outputs in steps of 2**-7 (ACT covers +-16); below -8
# GELU is 0 to far less than a step, and outputs beyond ACT are clamped anyway.
GELU_IN_BITS = 8
GELU_OUT_BITS = 7
GELU_LOW = 8 << GELU_IN_BITS
GELU_SIZE = 24 << GELU_IN_BITS
# Positions: cos/sin in units of 2**-30.
POS_BITS = 30
# Longest run of frames one stream may code (the format's LM unit is at most this long).
MAX_FRAMES = 4096

# The arithmetic coder's total range, and the least range of a symbol (so every symbol stays codable).
CDF_BITS = 24
MIN_RANGE = 2

_PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494459230781640628620899863")
_PRECISION = 50
_TABLE_LOCK = threading.Lock()

Matmul = Callable[[np.ndarray, np.ndarray], np.ndarray]


# -- tables from exact arithmetic ------------------------------------------------------------------------


def _context() -> Context:
    # Every field given: a bare Context copies the rest from decimal.DefaultContext, which callers may change.
    return Context(
        prec=_PRECISION,
        rounding=ROUND_HALF_EVEN,
        Emin=-999999,
        Emax=999999,
        capitals=1,
        clamp=0,
        flags=[],
        traps=[InvalidOperation, DivisionByZero, Overflow],
    )


@lru_cache(maxsize=1)
def exp_table() -> np.ndarray:
    """round(2**EXP_BITS * exp(-i / EXP_STEPS)) for i in 0..EXP_SIZE-1, then 0 (float64, integer-valued)."""
    with localcontext(_context()) as ctx:
        scale = Decimal(1 << EXP_BITS)
        values = [
            int((scale * ctx.exp(Decimal(-i) / EXP_STEPS)).to_integral_value()) for i in range(EXP_SIZE)
        ]
    return np.array([*values, 0], dtype=np.float64)


@lru_cache(maxsize=1)
def gelu_table() -> np.ndarray:
    """GELU (tanh form) of (i - GELU_LOW) * 2**-GELU_IN_BITS in units of 2**-GELU_OUT_BITS (at most ACT)."""
    with localcontext(_context()) as ctx:
        c = ctx.sqrt(2 / _PI) * 2
        out_scale = Decimal(1 << GELU_OUT_BITS)
        values = []
        for i in range(GELU_SIZE):
            x = Decimal(i - GELU_LOW) / (1 << GELU_IN_BITS)
            # gelu(x) = x * sigmoid(2 * sqrt(2 / pi) * (x + 0.044715 x^3))
            sigmoid = 1 / (1 + ctx.exp(-c * (x + Decimal("0.044715") * x * x * x)))
            values.append(min(ACT, int((x * sigmoid * out_scale).to_integral_value())))
    return np.array(values, dtype=np.float64)


def _cos_sin(x: Decimal) -> tuple[Decimal, Decimal]:
    """cos and sin by their Taylor series after reduction to [-pi, pi] (pure decimal arithmetic)."""
    with localcontext(_context()):
        two_pi = 2 * _PI
        x = x % two_pi
        if x > _PI:
            x -= two_pi
        x2 = x * x
        cos, sin = Decimal(0), Decimal(0)
        term_c, term_s = Decimal(1), x
        n = 0
        tiny = Decimal(10) ** -(_PRECISION - 5)
        while abs(term_c) > tiny or abs(term_s) > tiny:
            cos += term_c
            sin += term_s
            term_c = -term_c * x2 / ((2 * n + 1) * (2 * n + 2))
            term_s = -term_s * x2 / ((2 * n + 2) * (2 * n + 3))
            n += 1
        return cos, sin


_POSITIONS: dict[tuple[int, float], np.ndarray] = {}


def position_table(dim: int, max_period: float, count: int) -> np.ndarray:
    """[count, dim] int64: cos then sin of p / max_period ** (i / (dim/2 - 1)) in units of 2**-POS_BITS.

    The rotation by 2**b positions is computed exactly (decimal) for each frequency, and the rows are built
    by doubling with rounded fixed-point complex products: integers only.
    """
    key = (dim, float(max_period))
    with _TABLE_LOCK:
        table = _POSITIONS.get(key)
        if table is not None and table.shape[0] >= count:
            return table[:count]
        size = 1 << max(1, (count - 1).bit_length())
        half = dim // 2
        with localcontext(_context()) as ctx:
            log_period = ctx.ln(Decimal(repr(float(max_period))))
            freqs = [ctx.exp(-log_period * i / (half - 1)) if half > 1 else Decimal(1) for i in range(half)]
        unit = 1 << POS_BITS
        re = np.zeros((size, half), dtype=np.int64)
        im = np.zeros((size, half), dtype=np.int64)
        re[0] = unit
        filled, bit = 1, 0
        while filled < size:
            with localcontext(_context()):
                rot = [_cos_sin(f * (1 << bit)) for f in freqs]
                rc = np.array([int((c * unit).to_integral_value()) for c, _ in rot], dtype=np.int64)
                rs = np.array([int((s * unit).to_integral_value()) for _, s in rot], dtype=np.int64)
            a, b = re[:filled], im[:filled]
            half_unit = 1 << (POS_BITS - 1)
            re[filled : 2 * filled] = (a * rc - b * rs + half_unit) >> POS_BITS
            im[filled : 2 * filled] = (a * rs + b * rc + half_unit) >> POS_BITS
            filled *= 2
            bit += 1
        table = np.concatenate([re, im], axis=1)
        _POSITIONS[key] = table
        return table[:count]


# -- weight derivation ------------------------------------------------------------------------------------


def _as64(tensor: object) -> np.ndarray:
    array = tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else np.asarray(tensor)
    return np.asarray(array, dtype=np.float64)


def _exact_max(values: np.ndarray) -> float:
    return float(np.max(np.abs(values))) if values.size else 0.0


def quantize_rows(weight: np.ndarray, blocks: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Integer weights [out, in] and per-row scales [out] (weight ~ q * scale) with |q| <= ACT and, in each
    of `blocks` equal input blocks, sum |q| <= 2**24 / ACT, so float32 products with |x| <= ACT are exact.
    """
    out_dim, in_dim = weight.shape
    peak = np.max(np.abs(weight), axis=1)
    scale = np.where(peak > 0, peak / ACT, 1.0)
    width = in_dim // blocks

    def block_l1(scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = np.rint(weight / scale[:, None])
        return q, np.abs(q).astype(np.int64).reshape(out_dim, blocks, width).sum(-1).max(-1)

    q, l1 = block_l1(scale)
    # Widen rows over budget in proportion (from exact integer sums), then step until every row fits.
    target = max(1, _ROW_BUDGET - width // 2)
    scale = np.where(l1 > _ROW_BUDGET, scale * (l1 / target), scale)
    while True:
        q, l1 = block_l1(scale)
        over = l1 > _ROW_BUDGET
        if not over.any():
            return q, scale
        scale = np.where(over, scale * 1.0625, scale)


def _row_norms(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Euclidean norm of each real weight row, from exact integer sums of squares."""
    squares = (q.astype(np.int64) ** 2).sum(-1)
    return np.sqrt(squares.astype(np.float64)) * scale


@dataclass(frozen=True)
class _Linear:
    """An integer linear layer: float32 integer weights [blocks, in/blocks, out] and the float64 affine
    map from accumulator units to output units (`out = acc * mult + add`)."""

    weight: np.ndarray
    mult: np.ndarray
    add: np.ndarray

    @property
    def blocks(self) -> int:
        return self.weight.shape[0]

    def __call__(self, kernels: Kernels, x: np.ndarray) -> np.ndarray:
        """acc * mult + add for integer rows `x` [N, in] (float64, before flooring)."""
        x32 = x.astype(np.float32)
        if self.blocks == 1:
            acc = kernels.rows(x32, self.weight[0])
        else:
            rows, width = x32.shape
            split = x32.reshape(rows, self.blocks, width // self.blocks)
            if rows < _GEMM_ROWS:  # one row at a time (see Kernels.rows)
                parts = np.stack([kernels.matmul(split[i][:, None], self.weight) for i in range(rows)])
                parts = parts.reshape(rows, self.blocks, -1).transpose(1, 0, 2)
            else:
                parts = kernels.matmul(split.transpose(1, 0, 2), self.weight)
            # Each block's sums are exact in float32; their total (up to 2**26) is taken in float64.
            acc = parts.sum(0, dtype=np.float64)
        return acc * self.mult + self.add


def _linear(
    weight: np.ndarray,
    bias: np.ndarray,
    in_scale: float,
    out_scale: float,
    blocks: int = 1,
    offset: float = 0.5,
) -> tuple[_Linear, np.ndarray, np.ndarray]:
    """The integer form of `x @ weight.T + bias` for inputs in units of `in_scale`, outputs in units of
    `out_scale` (floor(value + `offset`)); also returns the integer weights and row scales."""
    q, scale = quantize_rows(weight, blocks)
    out_dim, in_dim = q.shape
    stacked = q.T.reshape(blocks, in_dim // blocks, out_dim).astype(np.float32)
    mult = scale * in_scale / out_scale
    add = bias / out_scale + offset
    return _Linear(_frozen(stacked), mult, add), q, scale


def _frozen(array: np.ndarray) -> np.ndarray:
    """A read-only contiguous copy: the weights of an integer layer (kernels may cache them on a device)."""
    out = np.array(array, order="C")
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class _Norm:
    """Integer LayerNorm: z = rint(c * NORM / sqrt(sum c^2)) with c = D x - sum x, then floor(z * mult + add)."""

    mult: np.ndarray
    add: np.ndarray
    scale: float  # real value of one output unit
    typical: float  # typical magnitude of the outputs (for the ranges of what they feed)


def _norm(weight: np.ndarray, bias: np.ndarray, extra: float = 0.0) -> _Norm:
    gamma, beta = _exact_max(weight), _exact_max(bias)
    scale = (_NORM_RANGE * gamma + beta + extra) / ACT or 1.0
    mult = weight / ((1 << NORM_BITS) * scale)
    add = bias / scale + 0.5
    return _Norm(mult, add, scale, gamma + beta + extra)


@dataclass(frozen=True)
class _Layer:
    qkv: _Linear
    out: _Linear
    norm1: _Norm
    ff1: _Linear
    ff2: _Linear
    norm2: _Norm
    att_mult: float  # score units -> exp-table steps
    zero_kv: np.ndarray  # keys and values of the all-zero initial state row [2 * dim]


class PortableLM:
    """Integer-exact LM derived from a float `LanguageModel` (see the module docstring)."""

    def __init__(self, lm: object) -> None:
        transformer = lm.transformer  # type: ignore[attr-defined]
        self.n_q: int = lm.n_q  # type: ignore[attr-defined]
        self.card: int = lm.card  # type: ignore[attr-defined]
        self.dim: int = lm.dim  # type: ignore[attr-defined]
        self.model_name: str | None = lm.model_name  # type: ignore[attr-defined]
        self.past_context: int = transformer.past_context
        self.max_period: float = float(transformer.max_period)
        self.heads: int = transformer.num_heads
        self.head_dim = self.dim // self.heads
        dim = self.dim
        if dim > 256:
            # LayerNorm's float64 sums of squares are exact only up to this width (see BRANCH).
            raise CheckpointError(f"The portable LM supports widths up to 256, not {dim}.")

        embeddings = np.stack([_as64(e.weight) for e in lm.emb])  # type: ignore[attr-defined]
        # The sum of all n_q embeddings stays within WIDE, so LayerNorm's integer sums cannot overflow.
        peak = math.fsum(np.max(np.abs(embeddings), axis=(1, 2)).tolist()) or 1.0
        self.embeddings = np.rint(embeddings * (WIDE / peak))

        norm_in = transformer.norm_in
        self.norm_in = _norm(_as64(norm_in.weight), _as64(norm_in.bias), extra=1.0)
        x_scale, x_typical = self.norm_in.scale, self.norm_in.typical
        self.position_scale = 2.0**-POS_BITS / x_scale

        self.layers: list[_Layer] = []
        for layer in transformer.layers:
            attn = layer.self_attn
            w_in, b_in = _as64(attn.in_proj_weight), _as64(attn.in_proj_bias)
            # Queries and keys: float64 multiplies, so a guaranteed bound (no clamping) leaves bits to spare.
            qk_q, qk_scale = quantize_rows(w_in[: 2 * dim])
            l1 = np.abs(qk_q).astype(np.int64).sum(-1) * qk_scale
            bounds = l1 * (ACT * x_scale) + np.abs(b_in[: 2 * dim])
            q_scale = float(np.max(bounds[:dim])) / WIDE or 1.0
            k_scale = float(np.max(bounds[dim:])) / WIDE or 1.0
            v_q, v_scale = quantize_rows(w_in[2 * dim :])
            v_range = _SPREAD * float(np.max(_row_norms(v_q, v_scale))) * x_typical
            value_scale = (v_range + _exact_max(b_in[2 * dim :])) / ACT or 1.0
            out_scales = np.concatenate(
                [np.full(dim, q_scale), np.full(dim, k_scale), np.full(dim, value_scale)]
            )
            q_all = np.concatenate([qk_q, v_q])
            scales = np.concatenate([qk_scale, v_scale])
            qkv = _Linear(
                _frozen(q_all.T[None].astype(np.float32)),
                scales * x_scale / out_scales,
                b_in / out_scales + 0.5,
            )
            zero_kv = np.floor(qkv.add[dim:])
            zero_kv[dim:] = np.clip(zero_kv[dim:], -ACT, ACT)
            att_mult = q_scale * k_scale / math.sqrt(self.head_dim) * EXP_STEPS

            out, _, _ = _linear(
                _as64(attn.out_proj.weight), _as64(attn.out_proj.bias), value_scale, x_scale, offset=0.5
            )
            norm1 = _norm(_as64(layer.norm1.weight), _as64(layer.norm1.bias))
            h_scale = norm1.scale
            # Straight to GELU table indices: floor(x * 2**GELU_IN_BITS + 0.5) + GELU_LOW.
            ff1, _, _ = _linear(
                _as64(layer.linear1.weight),
                _as64(layer.linear1.bias),
                h_scale,
                2.0**-GELU_IN_BITS,
                offset=0.5 + GELU_LOW,
            )
            hidden = layer.linear1.weight.shape[0]
            blocks = hidden // dim if hidden % dim == 0 else 1
            ff2, _, _ = _linear(
                _as64(layer.linear2.weight), _as64(layer.linear2.bias), 2.0**-GELU_OUT_BITS, h_scale, blocks
            )
            norm2 = _norm(_as64(layer.norm2.weight), _as64(layer.norm2.bias))
            self.layers.append(_Layer(qkv, out, norm1, ff1, ff2, norm2, att_mult, zero_kv))
            x_scale, x_typical = norm2.scale, norm2.typical

        # Heads are derived on first use, for the codebooks a file needs (rows are independent).
        self._head_source = [(head.weight, head.bias) for head in lm.linears]  # type: ignore[attr-defined]
        self._head_scale = x_scale * EXP_STEPS
        self._head_cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.fingerprint = weights_fingerprint(lm)

    @classmethod
    def from_float(cls, lm: object) -> PortableLM:
        """The portable LM of `lm`, derived once and kept on it (weights must not change afterwards)."""
        cached = getattr(lm, "_portable", None)
        if cached is None:
            cached = cls(lm)
            try:
                object.__setattr__(lm, "_portable", cached)
            except AttributeError:
                pass
        return cached

    def head(self, num_codebooks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integer head weights [dim, K * card] (float32) and the affine map to logits in exp-table steps
        (logits stay real numbers: only their differences are used) of the first K codebooks."""
        with _TABLE_LOCK:
            cached = self._head_cache.get(num_codebooks)
            if cached is None:
                sources = self._head_source[:num_codebooks]
                q, scale = quantize_rows(np.concatenate([_as64(weight) for weight, _ in sources]))
                bias = np.concatenate([_as64(bias) for _, bias in sources])
                weight = _frozen(q.T.astype(np.float32))
                mult = (scale * self._head_scale).astype(np.float32)
                cached = (weight, mult, (bias * EXP_STEPS).astype(np.float32))
                self._head_cache[num_codebooks] = cached
            return cached

    def stream(
        self, num_codebooks: int, frames: int, kernels: Kernels | None = None, batch: int = 1
    ) -> PortableStream:
        """A fresh state for coding `batch` sequences of up to `frames` frames with the first
        `num_codebooks` codebooks."""
        return PortableStream(self, num_codebooks, frames, kernels or NUMPY, batch)


def weights_fingerprint(lm: object) -> str:
    """16 hex digits naming the recipe, the architecture and the float weights (state dict bytes) the
    portable LM is derived from; written in portable files, so other weights are refused, not misdecoded."""
    digest = hashlib.sha256(RECIPE.encode())
    transformer = lm.transformer  # type: ignore[attr-defined]
    config = (lm.n_q, lm.card, lm.dim, transformer.num_heads, transformer.past_context)  # type: ignore[attr-defined]
    digest.update(repr((config, float(transformer.max_period))).encode())
    for key, tensor in lm.state_dict().items():  # type: ignore[attr-defined]
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(_as64(tensor).astype("<f4")).tobytes())
    return digest.hexdigest()[:16]


# -- kernels ----------------------------------------------------------------------------------------------


# Below this many rows, `Kernels.rows` multiplies row by row: BLAS matrix-vector products stream the
# weights once per row, while small matrix-matrix products pack the whole weight matrix first (measured
# with OpenBLAS and MKL: 3 rows of the 200 x 8192 heads took 30 times as long as one).
_GEMM_ROWS = 16


class Kernels:
    """Where the integer-valued matrix multiplies run: numpy (default) or torch on any device.

    Results are identical by construction; the choice exists to prove it and to use a GPU.
    """

    def __init__(self, name: str = "numpy", device: str = "cpu") -> None:
        self.name, self.device = name, device
        self._weights: dict[int, object] = {}
        if name == "numpy":
            self.matmul: Matmul = np.matmul
        elif name == "torch":
            self.matmul = self._torch_matmul
        else:
            raise ValueError(f"Unknown kernels {name!r}.")

    def rows(self, x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """x [N, in] @ weight [in, out], row by row when N is small (exact either way)."""
        count = x.shape[0]
        if count == 1 or count >= _GEMM_ROWS:
            return self.matmul(x, weight)
        return np.concatenate([self.matmul(x[i : i + 1], weight) for i in range(count)])

    def _torch_matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        import torch  # noqa: PLC0415 - optional backend

        def tensor(array: np.ndarray) -> torch.Tensor:
            # torch wants writable memory; read-only weights are copied (once, they are cached).
            array = np.ascontiguousarray(array) if array.flags.writeable else np.array(array)
            return torch.from_numpy(array).to(self.device)

        if b.flags.writeable:  # activations and caches: moved each time
            return torch.matmul(tensor(a), tensor(b)).cpu().numpy()
        # Weights (read-only arrays) are moved to the device once.
        cached = self._weights.get(id(b))
        if cached is None or cached[0] is not b:
            cached = self._weights[id(b)] = (b, tensor(b))
        return torch.matmul(tensor(a), cached[1]).cpu().numpy()


NUMPY = Kernels()


# -- the stream -------------------------------------------------------------------------------------------


def _input_norm(v: np.ndarray, norm: _Norm, extra: np.ndarray) -> np.ndarray:
    """Integer LayerNorm of the embedding sums `v` [N, D] (within WIDE): int64 sums of squares."""
    dim = v.shape[-1]
    vi = v.astype(np.int64)
    c = vi * dim - vi.sum(-1, keepdims=True)
    var = (c * c).sum(-1, keepdims=True)
    return _normalized(c, var.astype(np.float64), norm, norm.add + extra)


def _layer_norm(v: np.ndarray, norm: _Norm) -> np.ndarray:
    """Integer LayerNorm of rows `v` [N, D] (integer-valued float64 within ACT + BRANCH): every sum below
    2**53, so exact in float64 in any order."""
    dim = v.shape[-1]
    c = v * dim - v.sum(-1, keepdims=True)
    var = np.einsum("ij,ij->i", c, c)[:, None]
    return _normalized(c, var, norm, norm.add)


def _normalized(c: np.ndarray, var: np.ndarray, norm: _Norm, add: np.ndarray) -> np.ndarray:
    # z = c / std(c) in units of 2**-NORM_BITS, then gamma and beta: floor(z * mult + add), within ACT.
    inv = ((1 << NORM_BITS) * math.sqrt(c.shape[-1])) / np.maximum(np.sqrt(var), 1.0)
    y = np.floor((c * inv) * norm.mult + add)
    np.clip(y, -ACT, ACT, out=y)
    return y


class PortableStream:
    """Integer LM state of `batch` independent sequences of at most `frames` frames each (format LM units),
    advanced in lockstep; `cdfs` takes the next frames of every sequence.

    Rows never mix: batching only turns one-row multiplies into bigger ones, which are exact all the same,
    so a sequence's CDFs do not depend on what it is batched with.
    """

    def __init__(
        self, lm: PortableLM, num_codebooks: int, frames: int, kernels: Kernels, batch: int = 1
    ) -> None:
        if not 1 <= num_codebooks <= lm.n_q:
            raise CheckpointError(f"The language model codes 1 to {lm.n_q} codebooks, not {num_codebooks}.")
        if not 0 <= frames <= MAX_FRAMES:
            raise ValueError(f"A portable LM stream codes at most {MAX_FRAMES} frames.")
        self.lm, self.num_codebooks, self.kernels, self.batch = lm, num_codebooks, kernels, batch
        self.step = 0
        self.frames = frames
        rows = frames + 1  # row 0: the initial all-zero state, as the float LM's
        shape = (batch, lm.heads, rows, lm.head_dim)
        self._keys = [np.empty(shape) for _ in lm.layers]
        self._values = [np.empty(shape) for _ in lm.layers]
        dim = lm.dim
        for layer, keys, values in zip(lm.layers, self._keys, self._values):
            keys[:, :, 0] = layer.zero_kv[:dim].reshape(lm.heads, lm.head_dim)
            values[:, :, 0] = layer.zero_kv[dim:].reshape(lm.heads, lm.head_dim)
        self._tables = lm.embeddings[:num_codebooks]
        self._codebooks = np.arange(num_codebooks)
        positions = position_table(dim, lm.max_period, max(frames, 1)).astype(np.float64)
        self._positions = positions * lm.position_scale
        self._exp = exp_table()
        self._exp_int = self._exp.astype(np.int64)
        self._gelu = gelu_table().astype(np.float32)
        self._ranks = MIN_RANGE * np.arange(1, lm.card + 1, dtype=np.int64)

    @staticmethod
    def memory_per_sequence(lm: PortableLM, frames: int) -> int:
        """Bytes of key/value cache one sequence of `frames` frames takes."""
        return 2 * 8 * len(lm.layers) * (frames + 1) * lm.dim

    def cdfs(self, previous: np.ndarray) -> np.ndarray:
        """CDFs [batch, n, K, card] (int64, last value <= 2**24) of the next n frames of every sequence,
        given for each frame the codes of the frame before it, `previous` [batch, n, K] (-1: none)."""
        batch, n, _ = previous.shape
        if self.step + n > self.frames:
            raise ValueError("The stream is past its last frame.")
        lm = self.lm
        summed = self._tables[self._codebooks, previous + 1].sum(2)  # [B, n, dim], exact integers
        positions = self._positions[self.step : self.step + n]
        x = _input_norm(summed.reshape(batch * n, -1), lm.norm_in, np.tile(positions, (batch, 1)))
        for index, layer in enumerate(lm.layers):
            x = self._layer(index, layer, x, batch, n)
        self.step += n
        return self._cdf(x).reshape(batch, n, self.num_codebooks, lm.card)

    def _layer(self, index: int, layer: _Layer, x: np.ndarray, batch: int, n: int) -> np.ndarray:
        lm, kernels = self.lm, self.kernels
        dim = x.shape[1]
        heads, head_dim = lm.heads, lm.head_dim
        qkv = np.floor(layer.qkv(kernels, x))  # queries and keys within WIDE by construction
        split = qkv.reshape(batch, n, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)  # [3, B, H, n, hd]
        first = self.step + 1  # cache row of the first new input
        keys, values = self._keys[index], self._values[index]
        keys[:, :, first : first + n] = split[1]
        np.clip(split[2], -ACT, ACT, out=values[:, :, first : first + n])
        lo = max(0, first - lm.past_context)
        hi = first + n
        scores = kernels.matmul(split[0], keys[:, :, lo:hi].swapaxes(-1, -2))  # [B, H, n, L], exact
        if n > 1:
            # Query row r sees cache rows r - past_context .. r; the others weigh nothing.
            rows = np.arange(first, hi)[:, None]
            cols = np.arange(lo, hi)[None, :]
            visible = (cols <= rows) & (cols >= rows - lm.past_context)
            scores = np.where(visible, scores, -np.inf)
        steps = scores.max(-1, keepdims=True) - scores
        steps *= layer.att_mult
        np.minimum(steps, EXP_SIZE, out=steps)
        weights = self._exp[steps.astype(np.int64)]  # truncation: floor, as steps >= 0
        total = weights.sum(-1, keepdims=True)  # integers below 2**53
        mixed = kernels.matmul(weights, values[:, :, lo:hi])  # [B, H, n, hd]
        mixed /= total
        mixed += 0.5
        np.floor(mixed, out=mixed)
        attn = np.floor(layer.out(kernels, mixed.transpose(0, 2, 1, 3).reshape(batch * n, dim)))
        np.clip(attn, -BRANCH, BRANCH, out=attn)
        attn += x
        h = _layer_norm(attn, layer.norm1)
        pre = layer.ff1(kernels, h)  # GELU table index (offset and rounding folded in)
        np.clip(pre, 0, GELU_SIZE - 1, out=pre)
        g = self._gelu[pre.astype(np.int64)]  # truncation: floor, as pre >= 0
        ff = np.floor(layer.ff2(kernels, g))
        np.clip(ff, -BRANCH, BRANCH, out=ff)
        ff += h
        return _layer_norm(ff, layer.norm2)

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        lm = self.lm
        rows = x.shape[0]
        weight, mult, add = lm.head(self.num_codebooks)
        logits = self.kernels.rows(x.astype(np.float32), weight)  # float32, exact integers
        logits *= mult
        logits += add  # in exp-table steps (float32: deterministic, and precise enough for that)
        logits = logits.reshape(rows, self.num_codebooks, lm.card)
        steps = np.subtract(logits.max(-1, keepdims=True) + np.float32(0.5), logits, out=logits)
        # Truncation is floor as steps >= 0; beyond the table, frequency 0.
        freqs = np.take(self._exp, steps.astype(np.int64), mode="clip")
        # Ranges floor(freq * spare / total) + MIN_RANGE; a product rounds up past an integer at most once
        # per value, which the margin of `card` absorbs, so the CDF never passes 2**CDF_BITS.
        spare = (1 << CDF_BITS) - (MIN_RANGE + 1) * lm.card
        freqs *= spare / freqs.sum(-1, keepdims=True)
        np.floor(freqs, out=freqs)
        cdf = np.cumsum(freqs, axis=-1, out=freqs).astype(np.int64)  # integers below 2**24: exact
        cdf += self._ranks
        return cdf
