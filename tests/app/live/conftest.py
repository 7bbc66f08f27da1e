"""A random-weights 24 kHz model shared by the Live tests, and a test signal."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SR = 24_000


@pytest.fixture(scope="session")
def live_model():
    from codec.models.encodec import EncodecModel

    return EncodecModel.random("encodec_24khz", seed=4)


def chirp_signal(seconds: float, seed: int = 0) -> np.ndarray:
    """Mono float32: a swept tone with some noise, so that any misalignment shows."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    tone = 0.3 * np.sin(2 * np.pi * (200 * t + 300 * t**2))
    return (tone + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
