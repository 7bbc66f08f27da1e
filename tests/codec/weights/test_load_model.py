"""End to end: the public API fetches missing weights through codec.weights from a local server."""

from __future__ import annotations

import torch

import codec
from codec.weights import find_installed
from tests.helpers.http_server import trust


def test_load_model_downloads_into_an_empty_cache_and_loads(
    server, model_24_file, isolated_caches, monkeypatch
):
    server.publish_official(model_24_file)
    trust(monkeypatch, model_24_file)
    seen = []
    model = codec.load_model("encodec_24khz", progress=lambda done, total: seen.append((done, total)))
    assert find_installed("encodec_24khz") == isolated_caches / model_24_file.name
    assert seen[-1] == (model_24_file.stat().st_size,) * 2
    assert [(h.path, h.status) for h in server.hits] == [(f"/official/{model_24_file.name}", 200)]

    # The loaded weights are the served ones (codebooks compared; layouts are mapped by codec.checkpoints).
    served = torch.load(model_24_file, weights_only=True)
    loaded = model.state_dict()
    for i in range(32):
        assert torch.equal(
            loaded[f"quantizer.layers.{i}.codebook.embed"], served[f"quantizer.vq.layers.{i}._codebook.embed"]
        )
    audio = torch.randn(1, 4800, generator=torch.Generator().manual_seed(1)) * 0.3
    assert model.encode(audio, bandwidth=6.0).codes[0].shape == (8, 15)

    codec.load_model("encodec_24khz")  # now from the cache, without the server
    assert len(server.hits) == 1


def test_load_lm_downloads_its_checkpoint(server, lm_file, isolated_caches, monkeypatch):
    server.publish_official(lm_file)
    trust(monkeypatch, lm_file)
    lm = codec.load_lm("encodec_48khz")
    assert find_installed("encodec_lm_48khz") == isolated_caches / lm_file.name
    served = torch.load(lm_file, weights_only=True)
    loaded = lm.state_dict()
    assert set(loaded) == set(served)
    assert all(torch.equal(loaded[key], value) for key, value in served.items())
