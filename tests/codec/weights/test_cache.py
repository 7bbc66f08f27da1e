from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from codec.weights import models_dir, set_models_dir
from codec.weights.cache import (
    copy_file,
    disk_size,
    hf_hub_cache_dir,
    hf_snapshot_dirs,
    replace_path,
    torch_hub_checkpoints_dir,
)


def test_models_dir_precedence_env_then_setting_then_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ECDC_STUDIO_MODELS", str(tmp_path / "env"))
    set_models_dir(tmp_path / "setting")
    assert models_dir() == tmp_path / "env"
    monkeypatch.delenv("ECDC_STUDIO_MODELS")
    assert models_dir() == tmp_path / "setting"
    set_models_dir(None)
    expected = Path(platformdirs.user_data_dir("encodec-studio", appauthor=False)) / "models"
    assert models_dir() == expected
    assert not (tmp_path / "setting").exists()  # asking does not create


def test_torch_hub_dir_follows_torch_home_then_xdg_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert torch_hub_checkpoints_dir() == tmp_path / "th" / "hub" / "checkpoints"
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert torch_hub_checkpoints_dir() == tmp_path / "xdg" / "torch" / "hub" / "checkpoints"


def test_hf_hub_dir_follows_hf_hub_cache_then_hf_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hf_hub_cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hubcache"))
    assert hf_hub_cache_dir() == tmp_path / "hubcache"


def test_hf_snapshots_list_refs_main_first(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--facebook--encodec_32khz"
    for revision in ("aaa", "bbb", "ccc"):
        (repo / "snapshots" / revision).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("bbb\n")
    assert hf_snapshot_dirs("facebook/encodec_32khz")[0].name == "bbb"
    assert sorted(p.name for p in hf_snapshot_dirs("facebook/encodec_32khz")) == ["aaa", "bbb", "ccc"]
    assert hf_snapshot_dirs("facebook/encodec_24khz") == []


def test_copy_file_follows_symlinks_and_reports_progress(tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(os.urandom(3_000_000))
    link = tmp_path / "link"
    link.symlink_to(blob)
    seen = []
    copy_file(link, tmp_path / "copy", progress=lambda done, total: seen.append((done, total)))
    assert (tmp_path / "copy").read_bytes() == blob.read_bytes()
    assert not (tmp_path / "copy").is_symlink()
    assert seen[-1] == (3_000_000, 3_000_000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    copy_file(link, tmp_path / "hard", link=True)
    assert (tmp_path / "hard").stat().st_ino == blob.stat().st_ino


def test_replace_path_swaps_a_whole_folder(tmp_path):
    final = tmp_path / "model"
    final.mkdir()
    (final / "old.txt").write_text("old")
    new = tmp_path / ".model.tmp"
    new.mkdir()
    (new / "config.json").write_text("{}")
    replace_path(new, final)
    assert sorted(p.name for p in final.iterdir()) == ["config.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert disk_size(final) == 2
