"""Downloads against a real HTTP server on 127.0.0.1 (tests/helpers/http_server.py)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket

import numpy as np
import pytest
from safetensors.numpy import save_file

from codec.errors import Cancelled, WeightsError
from codec.progress import CancelToken
from codec.weights import ensure_weights
from codec.weights.cache import file_sha256
from codec.weights.registry import REGISTRY
from tests.helpers.http_server import HF_CONFIGS, trust

LM = "encodec_lm_48khz"


@pytest.fixture
def served_lm(server, lm_file, monkeypatch):
    server.publish_official(lm_file)
    trust(monkeypatch, lm_file)
    return lm_file


def _contents(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_clean_download_verifies_and_installs(server, served_lm, isolated_caches):
    size = served_lm.stat().st_size
    seen = []
    path = ensure_weights(LM, progress=lambda done, total: seen.append((done, total)))
    assert path == isolated_caches / served_lm.name
    assert file_sha256(path) == file_sha256(served_lm)
    assert _contents(isolated_caches) == [served_lm.name]  # no .part left
    assert seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert [(h.range, h.status) for h in server.hits] == [(None, 200)]
    assert ensure_weights(LM) == path
    assert len(server.hits) == 1  # installed weights are not fetched again


def test_cut_transfer_resumes_with_range(server, served_lm, isolated_caches):
    size = served_lm.stat().st_size
    server.cut(after=5_000_000, times=1)
    path = ensure_weights(LM)
    hits = server.requests_for(served_lm.name)
    assert [(h.range, h.status) for h in hits] == [(None, 200), ("bytes=5000000-", 206)]
    assert sum(h.sent for h in hits) == size  # nothing was fetched twice
    assert file_sha256(path) == file_sha256(served_lm)


def test_repeatedly_cut_transfer_fails_then_resumes_on_the_next_call(server, served_lm, isolated_caches):
    server.cut(after=1_000_000, times=100)
    with pytest.raises(WeightsError, match="interrupted.*resume"):
        ensure_weights(LM)
    part = isolated_caches / (served_lm.name + ".part")
    saved = part.stat().st_size
    assert saved == 4_000_000  # the first try and three automatic resumes
    assert not (isolated_caches / served_lm.name).exists()
    server.cut(after=0, times=0)
    path = ensure_weights(LM)
    assert server.hits[-1].range == f"bytes={saved}-" and server.hits[-1].status == 206
    assert file_sha256(path) == file_sha256(served_lm)
    assert not part.exists()


def test_server_without_range_support_restarts_from_zero(server, served_lm, isolated_caches):
    server.range_support = False
    server.cut(after=3_000_000, times=1)
    path = ensure_weights(LM)
    hits = server.requests_for(served_lm.name)
    assert [(h.range, h.status) for h in hits] == [(None, 200), ("bytes=3000000-", 200)]
    assert hits[1].sent == served_lm.stat().st_size
    assert file_sha256(path) == file_sha256(served_lm)


def test_partial_file_longer_than_the_file_restarts(server, served_lm, isolated_caches):
    isolated_caches.mkdir()
    part = isolated_caches / (served_lm.name + ".part")
    part.write_bytes(b"x" * (served_lm.stat().st_size + 10))
    path = ensure_weights(LM)
    assert [h.status for h in server.hits] == [416, 200]
    assert file_sha256(path) == file_sha256(served_lm)


def test_complete_partial_file_is_verified_without_refetching(server, served_lm, isolated_caches):
    isolated_caches.mkdir()
    shutil.copyfile(served_lm, isolated_caches / (served_lm.name + ".part"))  # stopped while verifying
    path = ensure_weights(LM)
    assert [(h.range, h.status, h.sent) for h in server.hits] == [
        (f"bytes={served_lm.stat().st_size}-", 416, 0)
    ]
    assert file_sha256(path) == file_sha256(served_lm)


def test_wrong_hash_deletes_the_file(server, lm_file, isolated_caches):
    server.publish_official(lm_file)  # the registry keeps the real hash prefix, which this file lacks
    with pytest.raises(WeightsError, match=r"failed verification.*not the 7add9fc3\).*deleted"):
        ensure_weights(LM)
    assert _contents(isolated_caches) == []


def test_missing_file_is_a_404_sentence(server, isolated_caches):
    with pytest.raises(WeightsError, match=r"encodec_lm_48khz-7add9fc3\.th is not on 127\.0\.0\.1.*HTTP 404"):
        ensure_weights(LM)
    assert _contents(isolated_caches) == []


def test_server_error_says_try_again_later(server, served_lm, isolated_caches):
    server.status_overrides[f"/official/{served_lm.name}"] = 503
    with pytest.raises(WeightsError, match=r"HTTP 503.*try again later"):
        ensure_weights(LM)


@pytest.mark.parametrize("after", [None, 1_000_000], ids=["before-headers", "mid-transfer"])
def test_stalled_server_times_out(server, served_lm, isolated_caches, after):
    server.stall(after=after)
    with pytest.raises(WeightsError, match=r"stalled \(no data for 0\.3 s\)"):
        ensure_weights(LM, timeout=0.3)
    assert not (isolated_caches / served_lm.name).exists()
    if after:
        assert (isolated_caches / (served_lm.name + ".part")).stat().st_size == after


def test_timeout_can_come_from_the_environment(server, served_lm, isolated_caches, monkeypatch):
    monkeypatch.setenv("ECDC_STUDIO_TIMEOUT", "0.2")
    server.stall(after=None)
    with pytest.raises(WeightsError, match=r"no data for 0\.2 s"):
        ensure_weights(LM)


def test_cancel_mid_way_leaves_no_final_file_and_keeps_the_part(server, served_lm, isolated_caches):
    token = CancelToken()

    def progress(done, total):
        if done >= 2_000_000:
            token.cancel()

    with pytest.raises(Cancelled):
        ensure_weights(LM, progress=progress, cancel=token)
    assert not (isolated_caches / served_lm.name).exists()
    saved = (isolated_caches / (served_lm.name + ".part")).stat().st_size
    assert 2_000_000 <= saved < served_lm.stat().st_size
    path = ensure_weights(LM)  # a later download continues where the cancelled one stopped
    assert (server.hits[-1].range, server.hits[-1].status) == (f"bytes={saved}-", 206)
    assert file_sha256(path) == file_sha256(served_lm)


def test_no_network_says_how_to_import(isolated_caches, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ECDC_STUDIO_BASE_URL", f"http://127.0.0.1:{port}/")
    with pytest.raises(WeightsError) as caught:
        ensure_weights(LM)
    message = str(caught.value)
    assert "connection refused" in message
    assert "ecdc models import PATH" in message and "Import button" in message
    assert message.count(". ") == 0  # one sentence


def test_hf_folder_downloads_into_place(server, hf_32_folder, isolated_caches):
    server.publish_hf("facebook/encodec_32khz", hf_32_folder)
    seen = []
    path = ensure_weights("encodec_32khz", progress=lambda done, total: seen.append((done, total)))
    assert path == isolated_caches / "encodec_32khz"
    assert _contents(path) == ["config.json", "model.safetensors"]
    for name in ("config.json", "model.safetensors"):
        assert file_sha256(path / name) == file_sha256(hf_32_folder / name)
    assert _contents(isolated_caches) == ["encodec_32khz"]  # the temporary folder was renamed
    statuses = {h.path.rsplit("/", 1)[1]: h.status for h in server.hits}
    digest = file_sha256(hf_32_folder / "model.safetensors")
    assert statuses == {
        "config.json": 200,
        "preprocessor_config.json": 404,
        "model.safetensors": 302,
        digest: 200,
    }
    assert server.hits[0].path == "/hf/facebook/encodec_32khz/resolve/main/config.json"  # no known commit
    total = sum((hf_32_folder / n).stat().st_size for n in ("config.json", "model.safetensors"))
    assert seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and all(t == total for _, t in seen)


def test_hf_download_that_fails_verification_is_deleted(server, tmp_path, isolated_caches):
    repo = tmp_path / "bogus"
    repo.mkdir()
    (repo / "config.json").write_text(json.dumps({"model_type": "encodec", **HF_CONFIGS["encodec_32khz"]}))
    (repo / "preprocessor_config.json").write_text("{}")
    save_file(
        {"encoder.layers.0.conv.weight": np.zeros((8, 1, 7), np.float32)}, str(repo / "model.safetensors")
    )
    server.publish_hf("facebook/encodec_32khz", repo)
    with pytest.raises(WeightsError, match=r"encodec_32khz failed verification.*deleted"):
        ensure_weights("encodec_32khz")
    assert _contents(isolated_caches) == []


def test_hf_file_that_differs_from_the_announced_sha256_is_deleted(server, hf_32_folder, isolated_caches):
    server.publish_hf("facebook/encodec_32khz", hf_32_folder)
    (location, headers) = server.redirects["/hf/facebook/encodec_32khz/resolve/main/model.safetensors"]
    headers["X-Linked-Etag"] = '"' + "0" * 64 + '"'  # the hub says one thing, the storage host sends another
    with pytest.raises(
        WeightsError, match=r"model\.safetensors failed verification.*127\.0\.0\.1.*announced.*deleted"
    ):
        ensure_weights("encodec_32khz")
    assert not (isolated_caches / "encodec_32khz").exists()
    assert not (isolated_caches / "encodec_32khz.part" / "model.safetensors").exists()


def test_a_known_sha256_is_checked_whatever_the_hub_announces(
    server, hf_32_folder, isolated_caches, monkeypatch
):
    server.publish_hf("facebook/encodec_32khz", hf_32_folder)
    entry = REGISTRY["encodec_32khz"]
    pinned = dataclasses.replace(entry, file_sha256=(("model.safetensors", "f" * 64),))
    monkeypatch.setitem(REGISTRY, "encodec_32khz", pinned)
    assert pinned.check == "sha256"
    with pytest.raises(WeightsError, match=r"model\.safetensors failed verification.*ffffffffffffffff"):
        ensure_weights("encodec_32khz")
    real = dataclasses.replace(
        entry, file_sha256=(("model.safetensors", file_sha256(hf_32_folder / "model.safetensors")),)
    )
    monkeypatch.setitem(REGISTRY, "encodec_32khz", real)
    assert ensure_weights("encodec_32khz") == isolated_caches / "encodec_32khz"


def test_pinned_hf_repository_downloads_from_its_commit(server, hf_24_folder, isolated_caches):
    revision = REGISTRY["encodec_24khz_hf"].revision
    assert revision is not None and len(revision) == 40
    server.publish_hf("facebook/encodec_24khz", hf_24_folder)  # served at the registry's commit only
    path = ensure_weights("encodec_24khz_hf")
    assert file_sha256(path / "model.safetensors") == file_sha256(hf_24_folder / "model.safetensors")
    resolved = {h.path for h in server.hits if "/resolve/" in h.path}
    assert resolved and all(f"/resolve/{revision}/" in p for p in resolved)


def test_hf_hub_offline_refuses_hugging_face_downloads(server, hf_32_folder, isolated_caches, monkeypatch):
    server.publish_hf("facebook/encodec_32khz", hf_32_folder)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError, match=r"HF_HUB_OFFLINE"):
        ensure_weights("encodec_32khz")
    assert server.hits == []


def test_official_file_with_a_full_sha256_must_match_all_of_it(server, lm_file, isolated_caches, monkeypatch):
    server.publish_official(lm_file)
    digest = file_sha256(lm_file)
    entry = REGISTRY[LM]
    # Right prefix, wrong rest: a prefix check would accept this file, the whole-hash check must not.
    monkeypatch.setitem(REGISTRY, LM, dataclasses.replace(entry, sha256=digest[:8] + "0" * 56))
    assert REGISTRY[LM].check == "sha256"
    with pytest.raises(WeightsError, match=r"failed verification"):
        ensure_weights(LM)
    monkeypatch.setitem(REGISTRY, LM, dataclasses.replace(entry, sha256=digest[:8]))
    assert REGISTRY[LM].check == "sha256 prefix"
    assert file_sha256(ensure_weights(LM)) == digest
