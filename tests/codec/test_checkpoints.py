"""Strict checkpoint loading: both layouts load; anything that does not fit says exactly what."""

import json

import pytest
import torch
from safetensors.torch import save_file

from codec.api import load_model, model_from_checkpoint
from codec.checkpoints import normalise_state_dict
from codec.errors import CheckpointError
from codec.models.encodec import EncodecModel
from tests.oracles import reference_model


@pytest.fixture(scope="module")
def reference_24k():
    return reference_model("encodec_24khz", seed=1)


@pytest.fixture
def official_th(reference_24k, tmp_path):
    path = tmp_path / "encodec_24khz-d7cc33bc.th"
    torch.save(reference_24k.state_dict(), path)
    return path


def _same_output(model_a, model_b, spec):
    audio = 0.3 * torch.randn(spec.channels, 4000, generator=torch.Generator().manual_seed(0))
    a, b = model_a.encode(audio, spec.bandwidths[-1]), model_b.encode(audio, spec.bandwidths[-1])
    return all(torch.equal(x, y) for x, y in zip(a.codes, b.codes))


def test_official_state_dict_loads(official_th):
    model = load_model("24khz", weights=official_th)
    assert model.spec.name == "encodec_24khz"
    assert not model.training


def test_weight_norm_is_folded_exactly(reference_24k):
    state = normalise_state_dict(reference_24k.state_dict())
    assert not any(k.endswith(("weight_g", "weight_v")) for k in state)
    g = reference_24k.state_dict()["encoder.model.0.conv.conv.weight_g"]
    v = reference_24k.state_dict()["encoder.model.0.conv.conv.weight_v"]
    assert torch.equal(state["encoder.layers.0.conv.weight"], torch._weight_norm(v, g, 0))


def test_hf_folder_with_legacy_weight_norm_keys_loads(reference_24k, tmp_path, official_th):
    """An HF folder whose tensors use `weight_g/weight_v` (older transformers) instead of parametrizations."""
    ours_layout = {}
    for key, value in reference_24k.state_dict().items():
        key = (
            key.replace(".model.", ".layers.")
            .replace(".conv.conv.", ".conv.")
            .replace(".convtr.convtr.", ".conv.")
        )
        key = key.replace("quantizer.vq.layers.", "quantizer.layers.").replace("._codebook.", ".codebook.")
        ours_layout[key] = value.contiguous()
    save_file(ours_layout, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"sampling_rate": 24000, "audio_channels": 1}))
    from_hf = load_model("encodec_24khz", weights=tmp_path)
    from_official = load_model("encodec_24khz", weights=official_th)
    assert _same_output(from_hf, from_official, from_hf.spec)


def _save(state, path):
    torch.save(state, path)
    return path


def test_missing_tensor_is_named(reference_24k, tmp_path):
    state = dict(reference_24k.state_dict())
    del state["decoder.model.15.conv.conv.bias"]
    with pytest.raises(CheckpointError, match=r"missing: decoder\.layers\.15\.conv\.bias"):
        load_model("24khz", weights=_save(state, tmp_path / "x.th"))


def test_unexpected_tensor_is_named(reference_24k, tmp_path):
    state = dict(reference_24k.state_dict())
    state["encoder.model.99.conv.conv.bias"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match=r"unexpected: encoder\.layers\.99\.conv\.bias"):
        load_model("24khz", weights=_save(state, tmp_path / "x.th"))


def test_misshaped_tensor_is_named(reference_24k, tmp_path):
    state = dict(reference_24k.state_dict())
    state["encoder.model.15.conv.conv.bias"] = torch.zeros(7)
    with pytest.raises(CheckpointError, match=r"mis-shaped: encoder\.layers\.15\.conv\.bias \[7\]"):
        load_model("24khz", weights=_save(state, tmp_path / "x.th"))


def test_24khz_weights_do_not_load_as_48khz(official_th):
    with pytest.raises(CheckpointError, match="does not fit"):
        load_model("48khz", weights=official_th)


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.th"
    torch.save({"weights": object()}, path)
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_model("24khz", weights=path)


def test_not_a_state_dict(tmp_path):
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_model("24khz", weights=_save([torch.zeros(1)], tmp_path / "list.th"))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model("24khz", weights=tmp_path / "nope.th")
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        load_model("24khz", weights=tmp_path)


def test_hf_config_of_an_unknown_model(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"sampling_rate": 16000, "audio_channels": 1}))
    save_file({"x": torch.zeros(1)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError, match="16000 Hz"):
        model_from_checkpoint(tmp_path)


def test_random_model_roundtrips_through_its_own_state_dict(tmp_path):
    model = EncodecModel.random("encodec_32khz", seed=2)
    path = _save(model.state_dict(), tmp_path / "ours.th")
    loaded = load_model("32khz", weights=path)
    assert _same_output(model, loaded, model.spec)
