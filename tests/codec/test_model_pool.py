"""`ModelPool`: each model loaded once across threads, and downloads only where the caller allowed them."""

from __future__ import annotations

import threading
import time

import pytest

import codec.api
import codec.weights.manager
from codec.errors import CodecError, UnsupportedOptionError, WeightsMissing
from codec.model_pool import ModelPool

# ------------------------------------------------------------------------------------------ ModelPool


def test_pool_loads_each_model_once_across_threads(monkeypatch):
    calls = []

    def fake_load(name, weights=None, device="cpu", progress=None, cancel=None, allow_download=False):
        calls.append(name)
        time.sleep(0.05)  # widen the race window
        return object()

    monkeypatch.setattr(codec.api, "load_model", fake_load)
    pool = ModelPool()
    results = []
    threads = [
        threading.Thread(target=lambda n=n: results.append(pool.model(n)))
        for n in ["24khz", "encodec_24khz", "24KHZ", "encodec_24khz"] * 2
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["encodec_24khz"]
    assert len({id(r) for r in results}) == 1
    assert pool.loaded() == ["model:encodec_24khz"]
    pool.clear()
    pool.model("24khz")
    assert calls == ["encodec_24khz"] * 2


def test_pool_passes_weights_and_device(monkeypatch, tmp_path):
    seen = {}

    def fake_load(name, weights=None, device="cpu", progress=None, cancel=None, allow_download=False):
        seen[name] = (weights, device)
        return object()

    monkeypatch.setattr(codec.api, "load_model", fake_load)
    pool = ModelPool(device="cpu", weights={"48khz": tmp_path / "w.th"})
    pool.model("encodec_48khz")
    pool.model("24khz")
    assert seen == {"encodec_48khz": (tmp_path / "w.th", "cpu"), "encodec_24khz": (None, "cpu")}


def test_pool_lm_for_model_without_lm():
    with pytest.raises(UnsupportedOptionError, match="language model"):
        ModelPool().lm("32khz")


def test_failed_load_is_retried(monkeypatch):
    attempts = []

    def flaky(name, weights=None, device="cpu", progress=None, cancel=None, allow_download=False):
        attempts.append(name)
        if len(attempts) == 1:
            raise CodecError("network down")
        return "model"

    monkeypatch.setattr(codec.api, "load_model", flaky)
    pool = ModelPool()
    with pytest.raises(CodecError):
        pool.model("24khz")
    assert pool.model("24khz") == "model"


# ------------------------------------------------------------------------------------------ downloads


@pytest.fixture
def no_weights(monkeypatch, tmp_path):
    """An empty models folder and empty torch / HF caches; a download records its name instead."""
    from tests.helpers.http_server import isolate_weights

    folder = isolate_weights(monkeypatch, tmp_path)
    folder.mkdir(parents=True)
    downloads = []

    def fake_download(entry, progress, cancel, timeout):
        downloads.append(entry.name)
        raise CodecError("no network in this test")

    monkeypatch.setattr(codec.weights.manager, "_download", fake_download)
    return downloads


def test_a_pool_never_downloads_unless_it_was_allowed_to(no_weights):
    pool = ModelPool()
    with pytest.raises(WeightsMissing, match="not installed") as missing:
        pool.model("24khz")
    assert missing.value.name == "encodec_24khz" and no_weights == []
    with pytest.raises(WeightsMissing) as missing:
        pool.lm("encodec_24khz")
    assert missing.value.name == "encodec_lm_24khz" and no_weights == []
    assert pool.loaded() == []

    allowed = ModelPool(allow_download=True)
    with pytest.raises(CodecError, match="no network"):
        allowed.model("24khz")
    assert no_weights == ["encodec_24khz"]


def test_the_bundled_model_needs_no_permission(no_weights):
    assert ModelPool().model("small").spec.name == "ecdc_small_24khz"
    assert no_weights == []
