"""Shared fixtures: short generated test signals written to files, and random-weights models/checkpoints.

Signals are deterministic (a chord of sines plus a little noise) and short, to keep the suite fast on two
cores. Models are random-weights EnCodec models with randomised codebooks (see tests/oracles.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


def signal(
    sample_rate: int = 24_000,
    channels: int = 1,
    seconds: float = 0.5,
    amplitude: float = 0.5,
    seed: int = 0,
) -> np.ndarray:
    """float32 [channels, frames]: a different sine chord per channel plus -40 dB noise, peak `amplitude`."""
    frames = int(round(seconds * sample_rate))
    t = np.arange(frames) / sample_rate
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(channels):
        f0 = 220.0 * (1 + 0.25 * c)
        x = np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(2 * np.pi * 3.01 * f0 * t)
        x += 0.01 * rng.standard_normal(frames)
        rows.append(x)
    out = np.stack(rows) if rows else np.zeros((0, frames))
    peak = np.max(np.abs(out)) if out.size else 1.0
    return (amplitude * out / peak).astype(np.float32)


@pytest.fixture
def make_signal() -> Callable[..., np.ndarray]:
    """The `signal` generator: `make_signal(sample_rate, channels, seconds, amplitude, seed)`."""
    return signal


@pytest.fixture
def make_audio(tmp_path: Path) -> Callable[..., Path]:
    """Write a test signal to `tmp_path/name` with soundfile; format from the extension unless given.

    `make_audio("x.flac", sample_rate=44100, channels=2, seconds=0.3, subtype="PCM_24")` -> Path.
    """
    import soundfile as sf

    def make(
        name: str = "tone.wav",
        *,
        sample_rate: int = 24_000,
        channels: int = 1,
        seconds: float = 0.5,
        amplitude: float = 0.5,
        subtype: str | None = None,
        format: str | None = None,
        seed: int = 0,
        folder: Path | None = None,
    ) -> Path:
        path = (folder or tmp_path) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = signal(sample_rate, channels, seconds, amplitude, seed)
        sf.write(path, data.T, sample_rate, subtype=subtype, format=format)
        return path

    return make


@pytest.fixture(scope="session")
def reference_models() -> Callable[..., object]:
    """`reference_models("encodec_24khz", seed=0)` -> the cached random-weights reference model (oracle).

    Building one takes seconds (its codebooks are drawn from real latents), so each is built once per
    session; tests that change its bandwidth must set it themselves.
    """
    cache: dict[tuple[str, int], object] = {}

    def make(name: str = "encodec_24khz", seed: int = 0) -> object:
        key = (name, seed)
        if key not in cache:
            from tests.oracles import reference_model

            cache[key] = reference_model(name, seed)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def random_checkpoint(
    tmp_path_factory: pytest.TempPathFactory, reference_models: Callable[..., object]
) -> Callable[..., Path]:
    """`random_checkpoint("encodec_24khz", seed=0)` -> an official-layout `.th` of `reference_models(...)`.

    Saved once per session; load it with `codec.api.load_model(name, weights=path)` or `ecdc --weights`.
    """
    cache: dict[tuple[str, int], Path] = {}
    folder = tmp_path_factory.mktemp("checkpoints")

    def make(name: str = "encodec_24khz", seed: int = 0) -> Path:
        key = (name, seed)
        if key not in cache:
            import torch

            path = folder / f"{name}-random{seed}.th"
            torch.save(reference_models(name, seed).state_dict(), path)  # type: ignore[attr-defined]
            cache[key] = path
        return cache[key]

    return make


@pytest.fixture(scope="session")
def random_model() -> Callable[..., object]:
    """`random_model("encodec_24khz", seed=0)` -> a cached `EncodecModel.random` (random codebooks)."""
    cache: dict[tuple[str, int], object] = {}

    def make(name: str = "encodec_24khz", seed: int = 0) -> object:
        from codec.models.encodec import EncodecModel

        key = (name, seed)
        if key not in cache:
            cache[key] = EncodecModel.random(name, seed=seed)
        return cache[key]

    return make


@pytest.fixture
def ecdc_module() -> object:
    """`codec.ecdc` (the container reader/writer); skips the test until that package provides it."""
    module = pytest.importorskip("codec.ecdc")
    if not all(hasattr(module, name) for name in ("read_header", "write_ecdc", "read_ecdc")):
        pytest.skip("codec.ecdc does not provide read_header / write_ecdc / read_ecdc yet")
    return module


@pytest.fixture(scope="session")
def random_lm_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`random_lm_checkpoint("encodec_24khz", seed=0)` -> an official-layout LM `.th` with random weights."""
    cache: dict[tuple[str, int], Path] = {}
    folder = tmp_path_factory.mktemp("lm_checkpoints")

    def make(name: str = "encodec_24khz", seed: int = 0) -> Path:
        key = (name, seed)
        if key not in cache:
            import torch

            from codec.models.lm import LanguageModel
            from codec.specs import get_spec

            path = folder / f"lm_{name}-random{seed}.th"
            torch.save(LanguageModel.random(get_spec(name), seed).state_dict(), path)
            cache[key] = path
        return cache[key]

    return make
