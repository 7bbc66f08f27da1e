from __future__ import annotations

import pytest

from tests.helpers.http_server import (
    CheckpointServer,
    isolate_weights,
    make_hf_checkpoint,
    make_official_checkpoint,
)


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path, monkeypatch):
    """Every test gets empty models / torch hub / HF hub folders and no network settings of its own."""
    return isolate_weights(monkeypatch, tmp_path)


@pytest.fixture(scope="session")
def lm_file(tmp_path_factory):
    """A random-weights official LM checkpoint (the smallest real checkpoint, ~36 MB)."""
    return make_official_checkpoint("encodec_lm_48khz", tmp_path_factory.mktemp("official"))


@pytest.fixture(scope="session")
def model_24_file(tmp_path_factory):
    """A random-weights official 24 kHz checkpoint (~93 MB)."""
    return make_official_checkpoint("encodec_24khz", tmp_path_factory.mktemp("official24"))


@pytest.fixture(scope="session")
def hf_32_folder(tmp_path_factory):
    """A random-weights Hugging Face 32 kHz folder, without preprocessor_config.json (~236 MB)."""
    return make_hf_checkpoint(
        "encodec_32khz", tmp_path_factory.mktemp("hf"), preprocessor=False, randomise=False
    )


@pytest.fixture(scope="session")
def hf_24_folder(tmp_path_factory):
    """A random-weights Hugging Face 24 kHz folder (~93 MB)."""
    return make_hf_checkpoint("encodec_24khz", tmp_path_factory.mktemp("hf24"), randomise=False)


@pytest.fixture
def server(tmp_path, monkeypatch):
    with CheckpointServer(tmp_path / "www", lifetime=120) as running:
        for key, value in running.env().items():
            monkeypatch.setenv(key, value)
        yield running
