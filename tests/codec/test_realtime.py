"""The public streaming API: codes equal the file path however the input is cut, audio within float rounding,
bitrate switches between frames, and non-causal models are refused with a clear error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from codec import NotStreamableError, StreamingDecoder, StreamingEncoder
from codec.models.encodec import EncodecModel

HOP = 320


@pytest.fixture(scope="module")
def model():
    return EncodecModel.random("encodec_24khz", seed=4)


def snr_db(reference: torch.Tensor, other: torch.Tensor) -> float:
    noise = ((reference - other) ** 2).sum().item()
    return math.inf if noise == 0 else 10 * math.log10((reference**2).sum().item() / noise)


def cuts(length: int, how: str) -> list[int]:
    if how == "random":
        rng = np.random.default_rng(length)
        sizes = rng.integers(0, 3000, size=length).tolist()  # zeros included: empty calls are fine
    else:
        sizes = [int(how)] * length
    bounds, position = [], 0
    for size in sizes:
        if position >= length:
            break
        bounds.append((position, min(length, position + size)))
        position += size
    return bounds


def stream_encode(encoder: StreamingEncoder, audio: torch.Tensor, how: str) -> torch.Tensor:
    codes = [encoder.encode(audio[:, a:b]) for a, b in cuts(audio.shape[-1], how)]
    return torch.cat([*codes, encoder.flush()], dim=-1)


@pytest.mark.parametrize(
    "length, how",
    [(4000, "1"), (24_000 + 17, "320"), (24_000 * 2 + 7, "4096"), (24_000 * 2 + 100, "random"), (2239, "random"),
     (150, "7")],
)  # fmt: skip
def test_codes_equal_the_file_path_however_the_input_is_cut(model, length, how):
    audio = 0.2 * torch.randn(1, length, generator=torch.Generator().manual_seed(length))
    whole = model.encode(audio, 6.0).codes[0]
    encoder = StreamingEncoder(model, 6.0)
    streamed = stream_encode(encoder, audio, how)
    assert streamed.shape == whole.shape
    assert torch.equal(streamed, whole)
    assert encoder.length == length and encoder.frames == whole.shape[-1]


def test_complete_frames_come_out_as_soon_as_their_last_sample_arrives(model):
    encoder = StreamingEncoder(model, 6.0)
    assert encoder.warmup_samples == 7 * HOP  # the last encoder conv reflects six frames at the start
    audio = 0.2 * torch.randn(1, 20 * HOP, generator=torch.Generator().manual_seed(1))
    emitted = 0
    for end in range(1, audio.shape[-1] + 1):
        emitted += encoder.encode(audio[:, end - 1 : end]).shape[-1]
        expected = 0 if end < encoder.warmup_samples else end // HOP
        assert emitted == expected, end
    assert encoder.flush().shape[-1] == 0  # nothing was held back


def test_decoded_audio_equals_the_file_path_within_rounding(model):
    length = 24_000 * 2 + 123
    audio = 0.2 * torch.randn(1, length, generator=torch.Generator().manual_seed(3))
    encoded = model.encode(audio, 6.0)
    reference = model.decode(encoded)
    decoder = StreamingDecoder(model)
    assert decoder.warmup_frames == 7 and decoder.delay == 0
    codes = encoded.codes[0]
    pieces, frames_in = [], 0
    for start in range(0, codes.shape[-1], 3):
        stop = min(start + 3, codes.shape[-1])
        piece = decoder.decode(codes[:, start:stop])
        frames_in += stop - start
        if frames_in >= decoder.warmup_frames:
            assert decoder.length == frames_in * HOP  # every complete frame's samples are out
        pieces.append(piece)
    pieces.append(decoder.flush())
    streamed = torch.cat(pieces, dim=-1)[:, :length]
    assert streamed.shape == reference.shape
    assert snr_db(reference, streamed) > 90


def test_bitrate_switches_between_frames(model):
    audio = 0.2 * torch.randn(1, 30 * HOP, generator=torch.Generator().manual_seed(5))
    full = model.encode(audio, 24.0).codes[0]
    encoder, decoder = StreamingEncoder(model, 1.5), StreamingDecoder(model)
    plan = [(0, 10 * HOP, 1.5), (10 * HOP, 20 * HOP, 12.0), (20 * HOP, 30 * HOP, 3.0)]
    codes, out = [], []
    for start, stop, bandwidth in plan:
        encoder.bandwidth = bandwidth
        piece = encoder.encode(audio[:, start:stop])
        codes.append(piece)
        out.append(decoder.decode(piece))
    codes.append(encoder.flush())
    out.append(decoder.decode(codes[-1]))
    out.append(decoder.flush())
    assert [c.shape for c in codes] == [(2, 10), (16, 10), (4, 10), (4, 0)]
    for piece, start in zip(codes[:3], (0, 10, 20)):  # residual quantization: the first K codebooks of 32
        assert torch.equal(piece, full[: piece.shape[0], start : start + 10])
    # The decoder takes the changing codebook count in its stride: same audio as one decode of that latent.
    with torch.inference_mode():
        latent = torch.cat([model.quantizer.decode(c[:, None]) for c in codes if c.shape[-1]], dim=-1)
        reference = model.decoder(latent)[0]
    assert snr_db(reference, torch.cat(out, dim=-1)) > 90


def test_reset_starts_a_new_stream_and_flush_ends_one(model):
    audio = 0.2 * torch.randn(1, 10 * HOP, generator=torch.Generator().manual_seed(6))
    encoder = StreamingEncoder(model, 6.0)
    first = stream_encode(encoder, audio, "320")
    with pytest.raises(RuntimeError, match="reset"):
        encoder.encode(audio)
    encoder.reset()
    assert torch.equal(stream_encode(encoder, audio, "1000"), first)
    assert encoder.flush().shape == (8, 0)  # a second flush returns nothing


def test_bad_input_is_refused_clearly(model):
    encoder = StreamingEncoder(model, 6.0)
    with pytest.raises(ValueError, match=r"\[1, n\]"):
        encoder.encode(torch.zeros(2, 100))
    with pytest.raises(ValueError, match="kbps"):
        encoder.bandwidth = 5.0
    assert encoder.encode(np.zeros(100, np.float32)).shape == (8, 0)  # mono 1-D numpy is fine


def test_non_causal_models_are_refused():
    model = EncodecModel.random("encodec_48khz")
    with pytest.raises(NotStreamableError, match="not causal"):
        StreamingEncoder(model, 6.0)
    with pytest.raises(NotStreamableError, match="segment"):
        StreamingDecoder(model)


def test_short_lstm_steps_match_the_full_lstm():
    from codec.modules.lstm import SLSTM

    torch.manual_seed(0)
    layer = SLSTM(64).eval()
    x = torch.randn(1, 64, 12)
    with torch.inference_mode():
        whole = layer(x)
        first, state = layer.forward_with_state(x[..., :5])  # no state: torch's LSTM
        pieces = [first]
        for start in (5, 6, 9):  # blocks of 1 and 3 frames with state: the step-by-step cell
            stop = {5: 6, 6: 9, 9: 12}[start]
            piece, state = layer.forward_with_state(x[..., start:stop], state)
            pieces.append(piece)
    torch.testing.assert_close(torch.cat(pieces, dim=-1), whole, rtol=1e-5, atol=1e-6)


def test_cached_transposed_conv_matrix_follows_the_weight():
    from codec.modules.conv import conv_transpose1d_overlap

    weight = torch.randn(8, 4, 6, requires_grad=True)
    x = torch.randn(1, 8, 5)

    def reference(w):
        return torch.nn.functional.conv_transpose1d(x, w, None, 3)

    with torch.no_grad():
        torch.testing.assert_close(conv_transpose1d_overlap(x, weight, 3), reference(weight))
        weight.mul_(2)  # an in-place update (an optimiser step) must not reuse the old matrix
        torch.testing.assert_close(conv_transpose1d_overlap(x, weight, 3), reference(weight))
    conv_transpose1d_overlap(x, weight, 3).sum().backward()  # training: gradients reach the weight
    assert weight.grad is not None and weight.grad.abs().sum() > 0
