"""The entropy-coding language model of EnCodec: predicts each frame's codes from the previous frame.

Same state-dict layout as the reference `encodec.model.LMModel`, so the official checkpoints
(`encodec_lm_24khz-1608e3c0.th`, `encodec_lm_48khz-7add9fc3.th`) load strictly. `forward` is the reference
computation; `stream` gives an `LMStream` that steps several sequences at once with a key/value cache and
yields bit-identical probabilities (see `codec.modules.transformer`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from codec.errors import CheckpointError
from codec.modules.transformer import (
    REFERENCE_PLAN,
    ExactPlan,
    StreamingTransformerEncoder,
    TransformerStream,
    batched_linear,
    batched_rows_exact,
    exact_min_rows,
    layer_linears,
)
from codec.specs import ModelSpec

LM_DIM = 200
LM_LAYERS = 5
LM_HEADS = 8
LM_HIDDEN_SCALE = 4.0

_LOCK = threading.RLock()


class LanguageModel(nn.Module):
    """Probabilities of the `card` values of each of `n_q` codebooks at a frame, given the previous frame."""

    def __init__(
        self,
        n_q: int = 32,
        card: int = 1024,
        dim: int = LM_DIM,
        num_layers: int = LM_LAYERS,
        num_heads: int = LM_HEADS,
        hidden_scale: float = LM_HIDDEN_SCALE,
        past_context: int = 262,
        model_name: str | None = None,
    ) -> None:
        super().__init__()
        self.config = dict(
            n_q=n_q,
            card=card,
            dim=dim,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_scale=hidden_scale,
            past_context=past_context,
            model_name=model_name,
        )
        self.n_q = n_q
        self.card = card
        self.dim = dim
        self.model_name = model_name
        self.transformer = StreamingTransformerEncoder(
            dim, hidden_scale, num_heads, num_layers, past_context=past_context
        )
        self.emb = nn.ModuleList(nn.Embedding(card + 1, dim) for _ in range(n_q))
        self.linears = nn.ModuleList(nn.Linear(dim, card) for _ in range(n_q))
        self._plans: dict[int, ExactPlan] = {}
        self._tables: dict[int, tuple[np.ndarray, torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def from_spec(cls, spec: ModelSpec, **overrides: int | float) -> LanguageModel:
        """The LM architecture of `spec` (random weights); `overrides` shrink it for tests."""
        options: dict = dict(
            n_q=spec.max_codebooks, card=spec.codebook_size, past_context=spec.lm_past_context
        )
        options.update(overrides)
        return cls(model_name=spec.name, **options).eval()

    @classmethod
    def random(cls, spec: ModelSpec, seed: int = 0, **overrides: int | float) -> LanguageModel:
        """A random-weights LM for `spec` (tests and benchmarks), without touching the global RNG."""
        state = torch.random.get_rng_state()
        try:
            torch.manual_seed(seed)
            return cls.from_spec(spec, **overrides)
        finally:
            torch.random.set_rng_state(state)

    def load_state_dict(
        self, state_dict: Mapping[str, torch.Tensor], strict: bool = True, assign: bool = False
    ) -> Any:
        # New weights invalidate the stacked tables, the exactness self-check and any CPU copy.
        self._tables.clear()
        self._plans.clear()
        self.__dict__.pop("_cpu_copy", None)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def forward(
        self, indices: torch.Tensor, states: list[torch.Tensor] | None = None, offset: int = 0
    ) -> tuple[torch.Tensor, list[torch.Tensor], int]:
        """Reference step: `indices` [B, K, T] hold 1 + codes (0 = none); returns probabilities [B, card, K, T]."""
        _, num_codebooks, _ = indices.shape
        input_ = sum([self.emb[k](indices[:, k]) for k in range(num_codebooks)])
        out, states, offset = self.transformer(input_, states, offset)
        logits = torch.stack([self.linears[k](out) for k in range(num_codebooks)], dim=1).permute(0, 3, 1, 2)
        return torch.softmax(logits, dim=1), states, offset

    def on_cpu(self) -> LanguageModel:
        """This LM if it lives on the CPU, else a CPU copy (made once).

        Coding always runs on the CPU: LM-coded bytes depend on bit-exact float results, and those are the
        reference's CPU results (a GPU rounds differently).
        """
        if all(p.device.type == "cpu" for p in self.parameters()):
            return self
        copy = getattr(self, "_cpu_copy", None)
        if copy is None:
            copy = LanguageModel(**self.config).eval()
            copy.load_state_dict({k: v.detach().cpu() for k, v in self.state_dict().items()})
            object.__setattr__(self, "_cpu_copy", copy)
        return copy

    def exact_plan(self) -> ExactPlan:
        """The bit-exact shortcuts of `TransformerStream` valid for these weights on this CPU.

        Checked once per thread count (a multi-threaded multiply may split its work differently) with the
        real weights on random inputs; a shortcut that does not reproduce the reference's rounding is off.
        """
        threads = torch.get_num_threads()
        with _LOCK:
            plan = self._plans.get(threads)
            if plan is None:
                plan = self._plans[threads] = self._find_plan()
            return plan

    @torch.no_grad()
    def _find_plan(self) -> ExactPlan:
        heads = [(self.linears[0].weight, self.linears[0].bias)]
        batched = batched_rows_exact(layer_linears(self.transformer) + heads)
        plan = ExactPlan(exact_min_rows(self.transformer), batched, blocks=True)
        # End to end, against the reference forward: first block coding, then step by step.
        if not self._agrees_with_reference(plan, blocks=True):
            plan = replace(plan, blocks=False)
        if not self._agrees_with_reference(plan, blocks=False):
            plan = REFERENCE_PLAN
        return plan

    def _agrees_with_reference(self, plan: ExactPlan, blocks: bool) -> bool:
        """Whether streams under `plan` give the reference's probabilities on a few random sequences,
        long enough to reach the cached key/value path."""
        generator = torch.Generator().manual_seed(0)
        num_codebooks, steps = min(self.n_q, 3), (plan.min_rows or 8) + 4
        codes = torch.randint(0, self.card, (2, num_codebooks, steps), generator=generator)
        previous = torch.cat([torch.full((2, num_codebooks, 1), -1), codes[:, :, :-1]], dim=2)
        expected = []
        for b in range(2):
            states, offset, frames = None, 0, []
            for t in range(steps):
                probas, states, offset = self(previous[b : b + 1, :, t : t + 1] + 1, states, offset)
                frames.append(probas[0, :, :, 0])
            expected.append(torch.stack(frames))
        by_frame = previous.permute(0, 2, 1).contiguous().numpy()
        if blocks:
            stream = self.stream(2, num_codebooks, plan=plan)
            got = torch.cat([stream.advance(by_frame[:, :3]), stream.advance(by_frame[:, 3:])], dim=1)
        else:
            got = []
            for b in range(2):
                stream = self.stream(1, num_codebooks, plan=plan)
                got.append(
                    torch.cat([stream.advance(by_frame[b : b + 1, t : t + 1]) for t in range(steps)], 1)
                )
            got = torch.cat(got)
        return torch.equal(got, torch.stack(expected))

    @torch.no_grad()
    def codebook_tables(self, num_codebooks: int) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        """Embeddings [K, card + 1, dim] (numpy), head weights [K, card, dim] and biases [K, 1, card] of the
        first K codebooks, stacked once per K (weights must not change afterwards)."""
        with _LOCK:
            tables = self._tables.get(num_codebooks)
            if tables is None:
                codebooks = range(num_codebooks)
                embeddings = np.stack([self.emb[k].weight.detach().numpy() for k in codebooks])
                weights = torch.stack([self.linears[k].weight.detach() for k in codebooks])
                biases = torch.stack([self.linears[k].bias.detach() for k in codebooks])[:, None]
                tables = self._tables[num_codebooks] = (embeddings, weights, biases)
            return tables

    def stream(
        self, batch: int, num_codebooks: int, max_steps: int | None = None, plan: ExactPlan | None = None
    ) -> LMStream:
        """A fresh streaming state for `batch` sequences coded with the first `num_codebooks` codebooks.

        `max_steps`: expected sequence length, sizes the caches (longer sequences still work). `plan`:
        which exact shortcuts to use, by default those `exact_plan` found valid.
        """
        return LMStream(self, batch, num_codebooks, max_steps, plan)


class LMStream:
    """Advances `batch` independent code sequences together; gives every codebook's distribution per frame.

    Frame t is predicted from frame t-1 (nothing at t = 0). `advance` takes the codes preceding a block of
    frames and returns their probabilities [batch, frames, card, K], as the reference's softmax computes them.
    """

    def __init__(
        self,
        lm: LanguageModel,
        batch: int,
        num_codebooks: int,
        max_steps: int | None = None,
        plan: ExactPlan | None = None,
    ) -> None:
        if not 1 <= num_codebooks <= lm.n_q:
            raise ValueError(f"The LM codes 1 to {lm.n_q} codebooks, not {num_codebooks}.")
        self.lm = lm
        self.batch = batch
        self.num_codebooks = num_codebooks
        self._plan = lm.exact_plan() if plan is None else plan
        self._stream = TransformerStream(lm.transformer, batch, self._plan, max_steps)
        self._tables, self._head_weights, self._head_bias = lm.codebook_tables(num_codebooks)
        self._head_weights_t = self._head_weights.transpose(1, 2)
        self._codebook_index = np.arange(num_codebooks)

    @property
    def frames_done(self) -> int:
        return self._stream.step_index

    @property
    def plan(self) -> ExactPlan:
        return self._plan

    @torch.no_grad()
    def advance(self, previous: np.ndarray) -> torch.Tensor:
        """`previous` [batch, frames, K]: for each frame, the codes of the frame before it (-1 = none)."""
        batch, frames, num_codebooks = previous.shape
        rows = self._tables[self._codebook_index, previous + 1]  # [batch, frames, K, dim]
        # The reference sums embeddings one codebook after another, starting from 0; numpy reduces a
        # non-contiguous axis in that order.
        summed = np.add.reduce(rows, axis=2, initial=np.float32(0.0))
        out = self._stream.advance(torch.from_numpy(summed))
        flat = out.reshape(batch * frames, 1, -1)
        logits = torch.empty(batch * frames, num_codebooks, 1, self.lm.card)
        batched = self._plan.batched_rows
        if flat.shape[0] == 1 and batched:
            # One frame: the K heads as one batched multiply of 1-row matrices.
            heads = self._head_weights_t
            torch.baddbmm(self._head_bias, flat.expand(num_codebooks, 1, -1), heads, out=logits[0])
        else:
            for k in range(num_codebooks):
                weight, bias = self._head_weights[k], self._head_bias[k, 0]
                logits[:, k, 0] = batched_linear(flat[:, 0], weight, bias, batched)
        probas = torch.softmax(logits.permute(0, 3, 1, 2), dim=1)  # [N, card, K, 1] as the reference
        return probas[..., 0].view(batch, frames, self.lm.card, num_codebooks)


# The architecture fields an LM checkpoint of ours records in its metadata (official LMs have fixed ones).
LM_ARCHITECTURE_FIELDS = ("dim", "num_layers", "num_heads", "hidden_scale")


def _read_studio_lm(path: Path, spec: ModelSpec) -> tuple[dict[str, torch.Tensor], dict]:
    from codec.checkpoints import read_safetensors

    if not path.is_file():
        raise CheckpointError(f"LM checkpoint {path} does not exist.")
    state, metadata = read_safetensors(path)
    if metadata.get("model") != spec.name:
        raise CheckpointError(f"{path.name} is an LM for {metadata.get('model')}, not {spec.name}.")
    try:
        architecture = json.loads(metadata["lm"])
        overrides = {key: architecture[key] for key in LM_ARCHITECTURE_FIELDS}
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{path.name} does not describe its LM architecture.") from None
    return state, overrides


def load_lm_state(source: str | Path | Mapping[str, torch.Tensor], spec: ModelSpec) -> LanguageModel:
    """An LM for `spec` with the weights of an official checkpoint file (or an already loaded state dict)."""
    if not spec.has_lm:
        raise CheckpointError(f"{spec.name} has no entropy-coding language model.")
    overrides: dict = {}
    if isinstance(source, Mapping):
        state = source
    elif Path(source).suffix == ".safetensors":
        state, overrides = _read_studio_lm(Path(source), spec)
    else:
        path = Path(source)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise CheckpointError(f"LM checkpoint {path} does not exist.") from None
        except Exception as exc:  # torch raises many types for a damaged or foreign file
            raise CheckpointError(f"LM checkpoint {path} could not be read ({type(exc).__name__}).") from None
        if not isinstance(state, Mapping):
            raise CheckpointError(f"LM checkpoint {path} does not hold a state dict.")
    lm = LanguageModel.from_spec(spec, **overrides)
    expected = lm.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise CheckpointError(f"The LM checkpoint does not fit {spec.name}: {detail} keys.")
    for key, tensor in state.items():
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != tuple(expected[key].shape):
            shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise CheckpointError(
                f"The LM checkpoint does not fit {spec.name}: {key} is {shape}, "
                f"expected {tuple(expected[key].shape)}."
            )
    lm.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return lm.eval()
