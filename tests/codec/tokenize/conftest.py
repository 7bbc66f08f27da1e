"""Checkpoints of random-weights models, saved once per session for worker processes to load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def checkpoint(
    tmp_path_factory: pytest.TempPathFactory, random_model: Callable[..., object]
) -> Callable[..., Path]:
    """`checkpoint("encodec_24khz")` -> a `.th` of `random_model(name)` (our layout; `load_model` reads it)."""
    cache: dict[str, Path] = {}
    folder = tmp_path_factory.mktemp("tokenize_checkpoints")

    def make(name: str) -> Path:
        if name not in cache:
            import torch

            path = folder / f"{name}.th"
            torch.save(random_model(name).state_dict(), path)  # type: ignore[attr-defined]
            cache[name] = path
        return cache[name]

    return make
