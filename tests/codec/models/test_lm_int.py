"""The integer LM: exact by construction (bounds hold, tables are exact, batching changes nothing) and close
to the float LM it is derived from."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest
import torch

from codec.models.lm import LanguageModel
from codec.models.lm_int import (
    _ROW_BUDGET,
    ACT,
    CDF_BITS,
    EXP_BITS,
    Kernels,
    PortableLM,
    exp_table,
    gelu_table,
    position_table,
    quantize_rows,
    weights_fingerprint,
)
from codec.specs import get_spec


@pytest.fixture(scope="module")
def lm() -> LanguageModel:
    return LanguageModel.random(get_spec("encodec_24khz"), seed=3)


def test_quantized_rows_keep_float32_sums_exact():
    generator = np.random.default_rng(0)
    weight = generator.standard_t(3, size=(64, 800)) * 0.05  # heavy tails: some rows hit the L1 budget
    q, scale = quantize_rows(weight, blocks=4)
    assert np.abs(q).max() <= ACT
    assert np.abs(q).reshape(64, 4, 200).sum(-1).max() <= _ROW_BUDGET
    np.testing.assert_allclose(q * scale[:, None], weight, atol=float(scale.max()))
    # The worst case the bound allows: every input at +-ACT with the weights' signs.
    x = (np.sign(q) * ACT).astype(np.float32)
    for b in range(4):
        part = slice(200 * b, 200 * (b + 1))
        exact = (x[:, part].astype(np.int64) * q[:, part].astype(np.int64)).sum(-1)
        got = np.einsum("ij,ij->i", x[:, part], q[:, part].astype(np.float32), dtype=np.float32)
        assert np.array_equal(got.astype(np.int64), exact) and exact.max() <= 2**24


def test_tables_are_exact():
    table = exp_table()
    assert table[0] == 2**EXP_BITS and table[-1] == 0 and np.all(np.diff(table) <= 0)
    with localcontext() as ctx:
        ctx.prec = 40
        assert table[1000] == int((Decimal(2**EXP_BITS) * (Decimal(-1000) / 256).exp()).to_integral_value())
    gelu = gelu_table()
    x = (np.arange(gelu.size) - 2048) / 256
    reference = 128 * 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    assert np.abs(gelu - np.minimum(reference, ACT)).max() <= 0.51
    positions = position_table(200, 10000.0, 600) / 2**30
    p = np.arange(600)[:, None]
    phase = p / 10000.0 ** (np.arange(100) / 99)
    assert np.abs(positions - np.concatenate([np.cos(phase), np.sin(phase)], 1)).max() < 1e-6


def test_batched_blocks_and_single_steps_give_the_same_cdfs(lm):
    plm = PortableLM.from_float(lm)
    generator = np.random.default_rng(1)
    previous = generator.integers(-1, 1024, size=(3, 40, 5))
    batched = plm.stream(5, 40, batch=3).cdfs(previous)
    for b in range(3):
        stream = plm.stream(5, 40, kernels=Kernels("torch"))
        steps = np.concatenate([stream.cdfs(previous[b : b + 1, t : t + 1]) for t in range(40)], axis=1)
        assert np.array_equal(steps[0], batched[b])
    assert batched.dtype == np.int64 and batched[..., -1].max() <= 2**CDF_BITS
    assert np.diff(batched, axis=-1).min() >= 2  # every symbol keeps a codable range


def test_integer_lm_follows_the_float_lm(lm):
    # A random LM predicts nearly uniform distributions; a sharper one (scaled heads) shows whether the
    # integer LM follows the float LM where it is confident too.
    sharp = LanguageModel.random(get_spec("encodec_24khz"), seed=4)
    with torch.no_grad():
        for head in sharp.linears:
            head.weight.mul_(8.0)
    for model in (lm, sharp):
        plm = PortableLM.from_float(model)
        generator = torch.Generator().manual_seed(2)
        codes = torch.randint(0, 1024, (1, 4, 60), generator=generator)
        previous = torch.cat([torch.full((1, 4, 1), -1), codes[:, :, :-1]], dim=2)
        with torch.no_grad():
            probs = model(previous + 1)[0][0].permute(2, 1, 0).double().numpy()  # [T, K, card]
        cdf = plm.stream(4, 60).cdfs(previous.permute(0, 2, 1).numpy())[0]
        ranges = np.diff(cdf, axis=-1, prepend=0) / 2**CDF_BITS
        terms = np.where(probs > 0, probs * np.log(np.maximum(probs, 1e-300) / ranges), 0.0)
        kl = terms.sum(-1).mean()
        assert kl < 2e-3, kl  # nats per symbol: far below a percent of the ~7 nats a code costs


def test_fingerprint_names_the_weights(lm):
    other = LanguageModel.random(get_spec("encodec_24khz"), seed=3)
    assert weights_fingerprint(other) == weights_fingerprint(lm) == PortableLM.from_float(lm).fingerprint
    with torch.no_grad():
        other.linears[3].bias[7] += 1e-6
    assert weights_fingerprint(other) != weights_fingerprint(lm)
