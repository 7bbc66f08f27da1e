"""Our EnCodec against transformers' EncodecModel, loaded from a real `save_pretrained` folder."""

import pytest
import torch
from transformers import EncodecConfig
from transformers import EncodecModel as HFEncodecModel

from codec.api import load_model
from tests.oracles import randomise_codebooks

CONFIGS = {
    "encodec_32khz": dict(
        sampling_rate=32000,
        upsampling_ratios=[8, 5, 4, 4],
        num_filters=64,
        codebook_size=2048,
        target_bandwidths=[2.2],
        use_causal_conv=False,
        use_conv_shortcut=False,
        normalize=False,
    ),
    "encodec_24khz": dict(),
    "encodec_48khz": dict(
        sampling_rate=48000,
        audio_channels=2,
        target_bandwidths=[3.0, 6.0, 12.0, 24.0],
        use_causal_conv=False,
        norm_type="time_group_norm",
        normalize=True,
        chunk_length_s=1.0,
        overlap=0.01,
    ),
}


@pytest.fixture(scope="module", params=list(CONFIGS))
def pair(request, tmp_path_factory):
    name = request.param
    torch.manual_seed(5)
    hf = HFEncodecModel(EncodecConfig(**CONFIGS[name])).eval()
    randomise_codebooks(hf, seed=5)
    folder = tmp_path_factory.mktemp(name)
    hf.save_pretrained(folder)
    return hf, load_model(name, weights=folder)


def test_spec_comes_from_config(pair):
    hf, ours = pair
    assert ours.spec.sample_rate == hf.config.sampling_rate
    assert ours.spec.max_codebooks == len(hf.quantizer.layers)
    assert list(ours.spec.bandwidths) == list(hf.config.target_bandwidths)


@pytest.mark.parametrize("length", [1, 321, 6720, 50_000])
def test_codes_and_audio_match_transformers(pair, length):
    hf, ours = pair
    spec = ours.spec
    if spec.segment_length is not None:
        # transformers pads 48 kHz input to whole chunks (the reference does not), so compare one chunk.
        length = min(length, spec.segment_stride)
    audio = 0.3 * torch.randn(spec.channels, length, generator=torch.Generator().manual_seed(length))
    for bandwidth in spec.bandwidths:
        with torch.no_grad():
            out = hf.encode(audio[None], bandwidth=bandwidth)
            expected = hf.decode(out.audio_codes, out.audio_scales)[0][0][:, :length]
        encoded = ours.encode(audio, bandwidth)
        assert len(encoded.codes) == out.audio_codes.shape[0] == 1
        assert torch.equal(encoded.codes[0], out.audio_codes[0, 0])
        decoded = ours.decode(encoded)
        assert decoded.shape == expected.shape
        assert (decoded - expected).abs().max().item() < 1e-4
