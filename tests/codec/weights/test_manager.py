from __future__ import annotations

import os
import shutil
import socket
import threading

import pytest

from codec.errors import Cancelled, UnknownModelError, WeightsError
from codec.progress import CancelToken
from codec.weights import ensure_weights, find_installed, list_models, remove
from codec.weights.cache import file_sha256
from tests.helpers.http_server import trust

LM = "encodec_lm_48khz"


@pytest.fixture
def offline(monkeypatch):
    """Mirrors that refuse connections: any download attempt fails."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ECDC_STUDIO_BASE_URL", f"http://127.0.0.1:{port}/")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")


def test_not_installed_without_download_says_how_to_get_it(isolated_caches):
    with pytest.raises(WeightsError, match=r"not installed.*ecdc models download encodec_lm_48khz"):
        ensure_weights(LM, allow_download=False)
    with pytest.raises(UnknownModelError):
        ensure_weights("encodec_12khz")


def test_torch_hub_cache_is_reused_without_network(lm_file, tmp_path, isolated_caches, monkeypatch, offline):
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    shutil.copyfile(lm_file, hub / lm_file.name)
    trust(monkeypatch, lm_file)
    path = ensure_weights(LM)
    assert path == isolated_caches / lm_file.name
    assert file_sha256(path) == file_sha256(lm_file)
    assert (hub / lm_file.name).exists()  # the user's cache is left alone


def test_torch_hub_file_with_the_wrong_hash_is_not_used(lm_file, tmp_path, isolated_caches, offline):
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    shutil.copyfile(lm_file, hub / lm_file.name)  # the registry keeps the real hash; this file lacks it
    with pytest.raises(WeightsError, match="Cannot reach"):
        ensure_weights(LM)
    assert find_installed(LM) is None


def test_hf_hub_cache_snapshot_is_reused(hf_32_folder, tmp_path, isolated_caches, offline):
    repo = tmp_path / "hf" / "hub" / "models--facebook--encodec_32khz"
    snapshot = repo / "snapshots" / "0123abcd"
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        blob = repo / "blobs" / name.replace(".", "_")
        os.link(hf_32_folder / name, blob)
        (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    path = ensure_weights("encodec_32khz")
    assert path == isolated_caches / "encodec_32khz"
    assert not (path / "model.safetensors").is_symlink()
    assert file_sha256(path / "model.safetensors") == file_sha256(hf_32_folder / "model.safetensors")


def test_model_name_falls_back_to_an_installed_hf_copy(isolated_caches):
    folder = isolated_caches / "encodec_24khz_hf"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    assert find_installed("encodec_24khz") is None
    assert ensure_weights("encodec_24khz", allow_download=False) == folder
    assert ensure_weights("24khz", allow_download=False) == folder
    with pytest.raises(WeightsError, match="not installed"):
        ensure_weights("encodec_48khz", allow_download=False)


def test_list_and_remove(server, lm_file, isolated_caches, monkeypatch):
    server.publish_official(lm_file)
    trust(monkeypatch, lm_file)
    statuses = {status.name: status for status in list_models()}
    assert set(statuses) >= {"encodec_24khz", "encodec_48khz", "encodec_32khz", "encodec_lm_24khz", LM}
    assert not statuses[LM].installed and statuses[LM].size_on_disk == 0
    assert statuses[LM].source == f"{server.official_url}{lm_file.name}"
    assert statuses["encodec_32khz"].source == f"{server.hf_endpoint}/facebook/encodec_32khz"

    server.cut(after=1_000_000, times=4)  # the first try and its three resumes are all cut
    with pytest.raises(WeightsError):
        ensure_weights(LM)
    assert {s.name: s for s in list_models()}[LM].partial_bytes == 4_000_000

    path = ensure_weights(LM)
    status = {s.name: s for s in list_models()}[LM]
    assert status.installed and status.path == path
    assert status.size_on_disk == lm_file.stat().st_size and status.partial_bytes == 0
    assert status.is_lm and status.model == "encodec_48khz"

    assert remove(LM) is True
    assert find_installed(LM) is None and not path.exists()
    assert remove(LM) is False


def test_remove_also_drops_an_unfinished_download(isolated_caches):
    isolated_caches.mkdir()
    part = isolated_caches / "encodec_lm_24khz-1608e3c0.th.part"
    part.write_bytes(b"123")
    assert remove("encodec_lm_24khz") is True
    assert not part.exists()


def test_concurrent_requests_download_once(server, lm_file, isolated_caches, monkeypatch):
    server.publish_official(lm_file)
    trust(monkeypatch, lm_file)
    results, errors = [], []

    def fetch():
        try:
            results.append(ensure_weights(LM))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert results == [isolated_caches / lm_file.name] * 3
    assert len(server.requests_for(lm_file.name)) == 1


def test_remove_refuses_while_a_download_runs(server, lm_file, isolated_caches, monkeypatch):
    server.publish_official(lm_file)
    trust(monkeypatch, lm_file)
    token = CancelToken()
    outcome = []

    def progress(done, total):
        if not outcome:
            try:
                remove(LM)
            except WeightsError as exc:
                outcome.append(str(exc))
            token.cancel()

    with pytest.raises(Cancelled):
        ensure_weights(LM, progress=progress, cancel=token)
    assert outcome == [f"{LM} is being downloaded; cancel the download before removing it."]
    assert remove(LM) is True  # the kept .part goes once the download has stopped
    assert not any(isolated_caches.iterdir())
