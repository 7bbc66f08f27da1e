"""The transform head of the small model: MDCT start, and streaming identical to the whole-file path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codec.models.encodec import EncodecModel
from codec.modules.transform import initialise_filterbanks, mdct_basis
from codec.specs import get_spec


def test_mdct_pair_reconstructs_all_but_the_last_hop():
    model = EncodecModel(get_spec("ecdc_small_24khz"))
    initialise_filterbanks(model.encoder, model.decoder)
    hop = model.spec.hop_length
    x = torch.randn(1, 1, 50 * hop + 123)
    with torch.no_grad():
        y = model.decoder.layers[-1](model.encoder.layers[0](x))
    assert y.shape[-1] >= x.shape[-1]
    settled = x.shape[-1] - hop - 123  # the final hop has no next frame to cancel its aliasing
    torch.testing.assert_close(y[..., :settled], x[..., :settled], atol=1e-5, rtol=0)


def test_mdct_basis_is_orthonormal_over_overlapping_frames():
    basis = mdct_basis(8).double()
    # Princen-Bradley: frames at hop spacing form an orthonormal (tight) frame; rows of one frame are orthonormal.
    torch.testing.assert_close(basis @ basis.T, torch.eye(8, dtype=torch.float64), atol=1e-6, rtol=0)


@pytest.fixture(scope="module")
def trained_like_model() -> EncodecModel:
    model = EncodecModel.random("ecdc_small_24khz", seed=3)
    return model


@pytest.mark.parametrize("cut", [1 * 320, 4096, "random"])
def test_streaming_codes_and_audio_equal_the_whole_file(trained_like_model: EncodecModel, cut):
    model = trained_like_model
    rng = np.random.default_rng(0)
    audio = torch.from_numpy(0.1 * rng.standard_normal(24_000 * 2 + 77).astype(np.float32))[None]
    whole = model.encode(audio, 6.0)
    if cut == "random":
        sizes = rng.integers(1, 3000, size=200)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        bounds = bounds[bounds < audio.shape[-1]].tolist() + [audio.shape[-1]]
    else:
        bounds = list(range(0, audio.shape[-1], cut)) + [audio.shape[-1]]
    blocks = [audio[:, a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    streamed = model.encode_stream(blocks, 6.0)
    assert streamed.length == whole.length
    agreement = float((streamed.codes[0] == whole.codes[0]).float().mean())
    assert agreement >= 0.999
    decoded_whole = model.decode(whole)
    decoded_stream = torch.cat(list(model.decode_stream(whole)), dim=-1)
    assert decoded_stream.shape == decoded_whole.shape == audio.shape
    error = (decoded_stream - decoded_whole).pow(2).mean() / decoded_whole.pow(2).mean()
    assert float(error) < 1e-8  # > 80 dB SNR: float rounding only
