import pytest
import torch
import torch.nn.functional as F

from codec.modules.conv import pad1d


@pytest.mark.parametrize("length", [1, 2, 3, 5, 8, 13])
@pytest.mark.parametrize("left", [0, 1, 3, 6])
@pytest.mark.parametrize("right", [0, 1, 4])
def test_reflect_pad_equals_torch_and_pads_short_inputs(length, left, right):
    x = torch.randn(2, 3, length)
    out = pad1d(x, left, right)
    assert out.shape == (2, 3, length + left + right)
    if length > max(left, right):
        assert torch.equal(out, F.pad(x, (left, right), "reflect"))
    else:  # too short to reflect: zero-extended first, then reflected, then the extension dropped
        extra = max(left, right) - length + 1
        expected = F.pad(F.pad(x, (0, extra)), (left, right), "reflect")[..., : length + left + right]
        assert torch.equal(out, expected)


def test_zero_padding_is_passed_to_torch():
    x = torch.randn(1, 2, 5)
    assert torch.equal(pad1d(x, 2, 1, "constant"), F.pad(x, (2, 1)))


@pytest.mark.parametrize("stride", [2, 4, 5, 8])
@pytest.mark.parametrize("frames", [3, 100, 5000])  # the overlap GEMM, torch's op, the polyphase conv
def test_transposed_conv_paths_equal_torch_to_rounding(stride, frames):
    from codec.modules.conv import conv_transpose1d, conv_transpose1d_overlap

    generator = torch.Generator().manual_seed(stride)
    x = torch.randn(2, 6, frames, generator=generator)
    weight = torch.randn(6, 4, 2 * stride, generator=generator)
    bias = torch.randn(4, generator=generator)
    expected = F.conv_transpose1d(x, weight, bias, stride)
    for out in (
        conv_transpose1d(x, weight, bias, stride),
        conv_transpose1d_overlap(x, weight, stride) + bias[:, None],
    ):
        assert out.shape == expected.shape
        assert float((out - expected).abs().max()) <= 1e-5 * float(expected.abs().max())
