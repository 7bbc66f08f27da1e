"""Our EnCodec (exact mode) against Meta's `encodec` 0.1.1 with the same random weights: same codes, scales, audio.

The fast default is bounded against the same oracle in test_fast_mode.py.
"""

import pytest
import torch

from codec.api import load_model
from tests.oracles import reference_model, torch_threads

LENGTHS = [1, 319, 320, 321, 6720, 47520, 47521, 48000, 53760]
SECONDS = 3


@pytest.fixture(autouse=True)
def single_threaded_ops():
    """Bit-exactness needs the same reduction order on both sides: the reference's own results change
    with torch's thread count, and our 48 kHz path runs each segment single-threaded."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module", params=["encodec_24khz", "encodec_48khz"])
def pair(request, tmp_path_factory):
    """The reference model and ours, ours loaded from the reference's state dict saved as an official `.th`."""
    name = request.param
    reference = reference_model(name, seed=3)
    path = tmp_path_factory.mktemp(name) / f"{name}-00000000.th"
    torch.save(reference.state_dict(), path)
    return reference, load_model(name, weights=path)


def _reference_encode_decode(reference, audio, bandwidth):
    reference.set_target_bandwidth(bandwidth)
    with torch.no_grad():
        frames = reference.encode(audio[None])
        decoded = reference.decode(frames)[0, :, : audio.shape[-1]]
    return frames, decoded


@pytest.mark.parametrize("length", LENGTHS + ["seconds"])
def test_codes_scales_and_audio_match_reference(pair, length):
    reference, ours = pair
    spec = ours.spec
    length = SECONDS * spec.sample_rate if length == "seconds" else length
    generator = torch.Generator().manual_seed(length)
    audio = 0.3 * torch.randn(spec.channels, length, generator=generator)
    for bandwidth in spec.bandwidths:
        frames, expected_audio = _reference_encode_decode(reference, audio, bandwidth)
        encoded = ours.encode(audio, bandwidth, exact=True)

        assert len(encoded.codes) == len(frames)
        for ours_codes, (ref_codes, _) in zip(encoded.codes, frames):
            assert torch.equal(ours_codes, ref_codes[0]), f"codes differ at {bandwidth} kbps"
        if spec.normalize:
            assert encoded.scales == [scale.item() for _, scale in frames]
        else:
            assert encoded.scales is None

        decoded = ours.decode(encoded)
        assert decoded.shape == expected_audio.shape == (spec.channels, length)
        assert (decoded - expected_audio).abs().max().item() < 1e-4


def test_codes_use_every_codebook_entry_range(pair):
    """Guards the oracle itself: with zero codebooks every code would be 0 and parity would prove nothing."""
    _, ours = pair
    audio = 0.3 * torch.randn(ours.spec.channels, ours.spec.sample_rate)
    codes = torch.cat(ours.encode(audio, ours.spec.bandwidths[-1]).codes, dim=-1)
    assert codes.unique().numel() > 100
