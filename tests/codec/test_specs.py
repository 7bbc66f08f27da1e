"""Model specs: codebook counts per bandwidth, frame rates, and errors that list the valid choices."""

import pytest

from codec.errors import UnknownModelError, UnsupportedBandwidthError
from codec.specs import MODELS, get_spec
from tests.oracles import reference_model


@pytest.mark.parametrize(
    "name, expected",
    [
        ("encodec_24khz", {1.5: 2, 3.0: 4, 6.0: 8, 12.0: 16, 24.0: 32}),
        ("encodec_48khz", {3.0: 2, 6.0: 4, 12.0: 8, 24.0: 16}),
        ("encodec_32khz", {2.2: 4}),
    ],
)
def test_codebooks_per_bandwidth(name, expected):
    spec = get_spec(name)
    assert {bw: spec.codebooks_for_bandwidth(bw) for bw in spec.bandwidths} == expected
    assert spec.max_codebooks == max(expected.values())


@pytest.mark.parametrize("name", ["encodec_24khz", "encodec_48khz"])
def test_specs_agree_with_reference(name):
    spec, ref = get_spec(name), reference_model(name)
    assert spec.frame_rate == ref.frame_rate
    assert spec.bits_per_codebook == ref.bits_per_codebook
    assert spec.segment_length == ref.segment_length
    assert spec.segment_stride == ref.segment_stride
    assert list(spec.bandwidths) == [float(b) for b in ref.target_bandwidths]
    for bandwidth in spec.bandwidths:
        assert spec.codebooks_for_bandwidth(bandwidth) == ref.quantizer.get_num_quantizers_for_bandwidth(
            ref.frame_rate, bandwidth
        )


def test_frames_use_integer_arithmetic():
    """0.1.1's float formula gives 22 frames for 6720 samples at 24 kHz; the encoder emits 21."""
    spec = get_spec("encodec_24khz")
    assert spec.frames_for_length(6720) == 21
    assert spec.frames_for_length(53760) == 168
    assert spec.frames_for_length(1) == 1


def test_unsupported_bandwidth_lists_valid_ones():
    with pytest.raises(UnsupportedBandwidthError, match=r"choose one of 3, 6, 12, 24 kbps"):
        get_spec("48khz").codebooks_for_bandwidth(1.5)


def test_aliases_and_unknown_names():
    assert get_spec("24KHZ") is MODELS["encodec_24khz"]
    with pytest.raises(UnknownModelError, match="encodec_24khz"):
        get_spec("16khz")


def test_bandwidth_for_codebooks_inverts():
    for spec in MODELS.values():
        for bandwidth in spec.bandwidths:
            assert spec.bandwidth_for_codebooks(spec.codebooks_for_bandwidth(bandwidth)) == bandwidth
