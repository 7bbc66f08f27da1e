"""Fixtures for the `.ecdc` tests: random codes shaped like a model's output, and random-weights LMs."""

from __future__ import annotations

import pytest
import torch

from codec.ecdc.header import segment_lengths
from codec.models.encodec import EncodedAudio
from codec.models.lm import LanguageModel
from codec.specs import get_spec


def random_encoded(name: str, length: int, num_codebooks: int, seed: int = 0) -> EncodedAudio:
    """Uniform random codes for `length` samples of model `name`, with scales when the model has them."""
    spec = get_spec(name)
    generator = torch.Generator().manual_seed(seed)
    codes = [
        torch.randint(0, spec.codebook_size, (num_codebooks, spec.frames_for_length(n)), generator=generator)
        for n in segment_lengths(spec, length)
    ]
    scales = None
    if spec.normalize:
        scales = [float(torch.rand((), generator=generator)) + 0.01 for _ in codes]
    return EncodedAudio(name, spec.bandwidth_for_codebooks(num_codebooks), length, codes, scales)


def tiny_lm(name: str, seed: int = 0) -> LanguageModel:
    """A small random LM for `name`: same interface and coding path, a fraction of the cost per frame."""
    return LanguageModel.random(get_spec(name), seed=seed, dim=16, num_layers=1, num_heads=2)


@pytest.fixture(scope="session")
def lm24() -> LanguageModel:
    """Full-size random-weights LM of the 24 kHz model."""
    return LanguageModel.random(get_spec("encodec_24khz"), seed=11)


@pytest.fixture(scope="session")
def lm48() -> LanguageModel:
    """Full-size random-weights LM of the 48 kHz model."""
    return LanguageModel.random(get_spec("encodec_48khz"), seed=12)


@pytest.fixture
def single_thread():
    """Byte-exactness with the reference is checked at one thread, as the reference is usually run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
