from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from codec.errors import WeightsError
from codec.specs import MODELS
from codec.weights import find_installed, import_weights
from codec.weights.cache import file_sha256
from codec.weights.importer import identify_hf_folder, identify_state_dict
from codec.weights.registry import REGISTRY
from tests.helpers.http_server import HF_CONFIGS
from tests.oracles import import_reference_encodec


class NotATensor:
    pass


def fake_hf_folder(parent, model="encodec_32khz", **config_changes):
    """A folder with a real config.json and a small safetensors holding just the tensors import looks at."""
    spec = MODELS[model]
    folder = parent / f"fake_{model}"
    folder.mkdir()
    config = {"model_type": "encodec", **HF_CONFIGS[model], **config_changes}
    (folder / "config.json").write_text(json.dumps(config))
    tensors = {
        "encoder.layers.0.conv.parametrizations.weight.original1": np.zeros((spec.n_filters, 1, 7), "f4")
    }
    for i in range(spec.max_codebooks):
        tensors[f"quantizer.layers.{i}.codebook.embed"] = np.zeros((spec.codebook_size, spec.dimension), "f4")
    save_file(tensors, str(folder / "model.safetensors"))
    return folder


def test_import_th_with_its_hash_in_the_name(model_24_file, tmp_path, isolated_caches):
    prefix = file_sha256(model_24_file)[:8]
    named = tmp_path / f"encodec_24khz-{prefix}.th"
    shutil.copyfile(model_24_file, named)
    assert import_weights(named) == "encodec_24khz"
    installed = find_installed("encodec_24khz")
    assert installed == isolated_caches / "encodec_24khz-d7cc33bc.th"
    assert file_sha256(installed) == file_sha256(model_24_file)
    assert sorted(p.name for p in isolated_caches.iterdir()) == [installed.name]  # no temporary left
    assert named.exists()  # copied, not moved


def test_import_th_without_hash_is_identified_by_structure(lm_file, tmp_path, isolated_caches):
    plain = tmp_path / "my lm.th"
    shutil.copyfile(lm_file, plain)
    seen = []
    assert (
        import_weights(plain, progress=lambda done, total: seen.append((done, total))) == "encodec_lm_48khz"
    )
    assert find_installed("encodec_lm_48khz") == isolated_caches / "encodec_lm_48khz-7add9fc3.th"
    assert seen[-1] == (lm_file.stat().st_size,) * 2


def test_import_th_whose_name_hash_does_not_match_is_refused(model_24_file, isolated_caches):
    # The generated file carries the real name, so its own hash cannot match the prefix in it.
    with pytest.raises(WeightsError, match=r"damaged or not the file its name says.*not d7cc33bc"):
        import_weights(model_24_file)
    assert find_installed("encodec_24khz") is None


def test_import_of_a_known_file_checks_its_whole_published_sha256(
    lm_file, tmp_path, isolated_caches, monkeypatch
):
    digest = file_sha256(lm_file)
    named = tmp_path / f"encodec_lm_48khz-{digest[:8]}.th"
    shutil.copyfile(lm_file, named)
    entry = REGISTRY["encodec_lm_48khz"]
    # The prefix in the name matches; the rest of the published hash does not.
    monkeypatch.setitem(
        REGISTRY, entry.name, dataclasses.replace(entry, file=named.name, sha256=digest[:8] + "0" * 56)
    )
    with pytest.raises(WeightsError, match=rf"not the file its name says.*not {digest[:8]}00000000"):
        import_weights(named)
    monkeypatch.setitem(REGISTRY, entry.name, dataclasses.replace(entry, file=named.name, sha256=digest))
    assert import_weights(named) == "encodec_lm_48khz"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"this is not a checkpoint", "not a PyTorch checkpoint"),
        ({"weight": NotATensor()}, "not a PyTorch checkpoint that loads safely"),
        ([torch.zeros(3)], "does not hold a state dict"),
        (torch.nn.Linear(4, 2).state_dict(), "fits no known EnCodec model"),
    ],
    ids=["bytes", "pickled-object", "list", "other-model"],
)
def test_import_th_rejects_files_that_are_not_known_state_dicts(tmp_path, isolated_caches, content, message):
    path = tmp_path / "model.th"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(WeightsError, match=message):
        import_weights(path)
    assert not isolated_caches.exists() or not any(isolated_caches.iterdir())


def test_identify_state_dict_recognises_each_official_layout():
    encodec = import_reference_encodec()
    factories = {
        "encodec_24khz": encodec.EncodecModel.encodec_model_24khz,
        "encodec_48khz": encodec.EncodecModel.encodec_model_48khz,
    }
    states = {name: factory(pretrained=False).state_dict() for name, factory in factories.items()}
    for name, state in states.items():
        assert identify_state_dict(state).name == name
    for name, model in (("encodec_lm_24khz", "encodec_24khz"), ("encodec_lm_48khz", "encodec_48khz")):
        spec = MODELS[model]
        lm = encodec.model.LMModel(spec.max_codebooks, 1024, num_layers=5, dim=200, past_context=10)
        assert identify_state_dict(lm.state_dict()).name == name
    state = states["encodec_24khz"]
    del state["quantizer.vq.layers.31._codebook.embed"]  # 31 codebooks fit no model
    assert identify_state_dict(state) is None


def test_import_hf_folder(hf_32_folder, isolated_caches):
    assert import_weights(hf_32_folder) == "encodec_32khz"
    installed = find_installed("encodec_32khz")
    assert installed == isolated_caches / "encodec_32khz"
    assert sorted(p.name for p in installed.iterdir()) == ["config.json", "model.safetensors"]
    assert file_sha256(installed / "model.safetensors") == file_sha256(hf_32_folder / "model.safetensors")


def test_import_hf_folder_by_its_config_path_and_again_over_the_first(tmp_path, isolated_caches):
    folder = fake_hf_folder(tmp_path)
    (folder / "preprocessor_config.json").write_text("{}")
    (folder / "README.md").write_text("not copied")
    assert import_weights(folder / "config.json") == "encodec_32khz"
    assert import_weights(folder) == "encodec_32khz"  # replaces the installed folder
    installed = find_installed("encodec_32khz")
    assert sorted(p.name for p in installed.iterdir()) == [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ]
    assert sorted(p.name for p in isolated_caches.iterdir()) == ["encodec_32khz"]


def test_identify_hf_folders_of_each_model(tmp_path):
    assert identify_hf_folder(fake_hf_folder(tmp_path, "encodec_24khz")).name == "encodec_24khz_hf"
    folder = fake_hf_folder(tmp_path, "encodec_48khz")
    tensors = {"encoder.layers.0.conv.weight": np.zeros((32, 2, 7), "f4")}
    tensors.update({f"quantizer.layers.{i}.codebook.embed": np.zeros((1024, 128), "f4") for i in range(16)})
    save_file(tensors, str(folder / "model.safetensors"))
    assert identify_hf_folder(folder).name == "encodec_48khz_hf"


def test_import_hf_folder_errors(tmp_path, isolated_caches):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WeightsError, match=r"not a Hugging Face EnCodec folder \(config.json and model"):
        import_weights(empty)
    other_rate = fake_hf_folder(tmp_path, sampling_rate=16000)
    with pytest.raises(WeightsError, match="at 16000 Hz with 1 channel"):
        import_weights(other_rate)
    mismatched = fake_hf_folder(tmp_path, "encodec_24khz")
    (mismatched / "config.json").write_text(
        json.dumps({"model_type": "encodec", **HF_CONFIGS["encodec_32khz"]})
    )
    with pytest.raises(WeightsError, match="does not match its config.json"):
        import_weights(mismatched)
    (mismatched / "model.safetensors").write_bytes(b"junk")
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        import_weights(mismatched)
    (mismatched / "config.json").write_text("{")
    with pytest.raises(WeightsError, match="not readable JSON"):
        import_weights(mismatched)
    with pytest.raises(WeightsError, match="does not exist"):
        import_weights(tmp_path / "nowhere.th")
    assert not isolated_caches.exists() or not any(isolated_caches.iterdir())
