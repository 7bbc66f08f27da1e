from __future__ import annotations

import math

import torch

from codec.training.losses import ReconstructionLoss


def test_losses_vanish_for_a_perfect_copy_and_grow_with_damage():
    generator = torch.Generator().manual_seed(0)
    reference = 0.1 * torch.randn(2, 12_000, generator=generator)
    loss = ReconstructionLoss(24_000)
    same = loss(reference, reference.clone())
    assert float(same["mel"]) == 0.0
    slight = loss(reference, reference + 0.001 * torch.randn(2, 12_000, generator=generator))
    heavy = loss(reference, reference + 0.05 * torch.randn(2, 12_000, generator=generator))
    assert 0 < float(slight["mel"]) < float(heavy["mel"])
    assert float(slight["snr"]) < float(heavy["snr"])


def test_snr_term_is_minus_snr_in_units_of_10_db():
    reference = torch.ones(1, 1000)
    estimate = reference * (1 - 10 ** (-20 / 20))  # error 20 dB below the signal
    value = float(ReconstructionLoss.snr_loss(reference, estimate))
    assert math.isclose(value, -2.0, abs_tol=1e-3)
