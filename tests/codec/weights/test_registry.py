from __future__ import annotations

import pytest

from codec.errors import UnknownModelError
from codec.specs import MODELS
from codec.weights.registry import REGISTRY, get_entry, sha256_prefix_from_name, variants

OFFICIAL_FILES = {
    "encodec_24khz": "encodec_24khz-d7cc33bc.th",
    "encodec_48khz": "encodec_48khz-7e698e3e.th",
    "encodec_lm_24khz": "encodec_lm_24khz-1608e3c0.th",
    "encodec_lm_48khz": "encodec_lm_48khz-7add9fc3.th",
}


def test_official_entries_carry_the_real_file_names_and_hash_prefixes():
    for name, file in OFFICIAL_FILES.items():
        entry = REGISTRY[name]
        assert entry.layout == "official"
        assert entry.file == file
        prefix = file.rsplit("-", 1)[1].removesuffix(".th")
        assert entry.sha256 is not None and entry.sha256.startswith(prefix)
        assert entry.url(file) == f"https://dl.fbaipublicfiles.com/encodec/v0/{file}"
        assert entry.pinned and entry.expected_sha256(file) == entry.sha256


def test_the_whole_published_sha256_is_checked_where_known_else_the_prefix():
    assert (
        REGISTRY["encodec_24khz"].sha256 == "d7cc33bcf1aad7f2dad9836f36431530744abeace3ca033005e3290ed4fa47bf"
    )
    assert REGISTRY["encodec_24khz"].check == "sha256"
    for name in ("encodec_48khz", "encodec_lm_24khz", "encodec_lm_48khz"):
        assert REGISTRY[name].check == "sha256 prefix" and len(REGISTRY[name].sha256 or "") == 8


def test_hf_entries_are_pinned_where_a_commit_is_known():
    entry = REGISTRY["encodec_24khz_hf"]
    assert entry.pinned and entry.revision == "c1dbe2ae3f1de713481a3b3e7c47f357092ee040"
    assert entry.url("model.safetensors") == (
        f"https://huggingface.co/facebook/encodec_24khz/resolve/{entry.revision}/model.safetensors"
    )
    for name in ("encodec_32khz", "encodec_48khz_hf"):  # no commit known yet: the moving branch, said so
        assert not REGISTRY[name].pinned and "/resolve/main/" in REGISTRY[name].url("config.json")
    for entry in (e for e in REGISTRY.values() if e.layout == "hf"):
        # No per-file sha256 is known yet, so the hub's announced one is what a download is checked against.
        assert entry.check == ("sha256" if entry.expected_sha256("model.safetensors") else "hub sha256")


def test_lm_entries_match_the_specs_lm_checkpoints():
    for spec in MODELS.values():
        lms = [e for e in REGISTRY.values() if e.is_lm and e.model == spec.name]
        assert [e.file for e in lms] == ([spec.lm_checkpoint] if spec.has_lm else [])


def test_every_model_has_a_main_entry_named_like_it():
    for spec in MODELS.values():
        entry = REGISTRY[spec.name]
        assert entry.model == spec.name and not entry.is_lm
    assert {e.model for e in REGISTRY.values()} == set(MODELS)
    assert all(e.approx_size for e in REGISTRY.values() if e.layout != "bundled")  # nothing to download


def test_hf_entries_download_from_the_hub_and_honour_hf_endpoint(monkeypatch):
    entry = REGISTRY["encodec_32khz"]
    assert entry.layout == "hf" and entry.repo == "facebook/encodec_32khz" and entry.sha256 is None
    assert set(entry.files) == {"config.json", "model.safetensors", "preprocessor_config.json"}
    assert (
        entry.url("config.json") == "https://huggingface.co/facebook/encodec_32khz/resolve/main/config.json"
    )
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.test/hf/")
    assert (
        entry.url("model.safetensors")
        == "http://mirror.test/hf/facebook/encodec_32khz/resolve/main/model.safetensors"
    )
    assert REGISTRY["encodec_24khz_hf"].repo == "facebook/encodec_24khz"
    assert REGISTRY["encodec_48khz_hf"].repo == "facebook/encodec_48khz"


def test_base_url_env_moves_official_downloads(monkeypatch):
    monkeypatch.setenv("ECDC_STUDIO_BASE_URL", "http://127.0.0.1:9/mirror")
    assert REGISTRY["encodec_48khz"].url("encodec_48khz-7e698e3e.th") == (
        "http://127.0.0.1:9/mirror/encodec_48khz-7e698e3e.th"
    )


def test_sha256_prefix_from_name():
    assert sha256_prefix_from_name("encodec_24khz-d7cc33bc.th") == "d7cc33bc"
    assert sha256_prefix_from_name("my-weights.th") is None
    assert sha256_prefix_from_name("model.th") is None


def test_get_entry_accepts_aliases_and_rejects_unknown_names():
    assert get_entry("24khz").name == "encodec_24khz"
    assert get_entry("ENCODEC_LM_48KHZ").name == "encodec_lm_48khz"
    with pytest.raises(UnknownModelError, match="encodec_lm_24khz"):
        get_entry("encodec_96khz")


def test_variants_of_a_main_entry_include_its_other_layouts_only():
    assert [e.name for e in variants(REGISTRY["encodec_24khz"])] == ["encodec_24khz", "encodec_24khz_hf"]
    assert [e.name for e in variants(REGISTRY["encodec_24khz_hf"])] == ["encodec_24khz_hf"]
    assert [e.name for e in variants(REGISTRY["encodec_lm_24khz"])] == ["encodec_lm_24khz"]
