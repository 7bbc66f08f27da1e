"""The fast default against the reference and the exact mode (docs/ARCHITECTURE.md, "Exactness policy").

Fast: >= 99.9 % of codes identical with Meta's `encodec` 0.1.1 (same random weights) on the oracle signals
and on real audio, and decoded audio >= 60 dB SNR against the exact path's. Exact: bit-identical codes
(tests/codec/models/test_encodec_parity.py, which runs `exact=True`).
"""

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.api import load_model
from codec.models.encodec import FAST_SEGMENT_BATCH, EncodecModel, exact_by_default
from tests.oracles import reference_model, torch_threads

REAL = Path(__file__).resolve().parents[2] / "data" / "real"
CLIPS = sorted(REAL.glob("*.flac"))
MIN_SAME_CODES = 0.999
MIN_SNR_DB = 60.0


@pytest.fixture(autouse=True)
def single_threaded_ops():
    with torch_threads(1):
        yield


def snr_db(reference: torch.Tensor, other: torch.Tensor) -> float:
    noise = ((reference - other) ** 2).sum().item()
    return math.inf if noise == 0 else 10 * math.log10((reference**2).sum().item() / noise)


def same_codes(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    assert [c.shape for c in a] == [c.shape for c in b]
    return sum(int((x == y).sum()) for x, y in zip(a, b)) / sum(x.numel() for x in a)


@pytest.fixture(scope="module", params=["encodec_24khz", "encodec_48khz"])
def pair(request, tmp_path_factory):
    name = request.param
    reference = reference_model(name, seed=3)
    path = tmp_path_factory.mktemp(name) / f"{name}-00000000.th"
    torch.save(reference.state_dict(), path)
    ours = load_model(name, weights=path)
    assert not ours.exact  # the production default is the fast mode
    return reference, ours


def real_clip(path: Path, rate: int, channels: int) -> torch.Tensor:
    """A real clip at `rate` (linear resampling is plenty for a code comparison), mono or made stereo."""
    audio, clip_rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if clip_rate != rate:
        grid = np.arange(int(len(mono) * rate / clip_rate)) * clip_rate / rate
        mono = np.interp(grid, np.arange(len(mono)), mono).astype(np.float32)
    if channels == 1:
        return torch.from_numpy(mono)[None]
    delayed = np.concatenate([np.zeros(37, np.float32), 0.8 * mono[:-37]])  # a second, different channel
    return torch.from_numpy(np.stack([mono, delayed]))


@pytest.mark.parametrize("kind", ["noise", "real"])
def test_fast_codes_match_reference_and_decode_close_to_exact(pair, kind):
    reference, ours = pair
    spec = ours.spec
    if kind == "noise":  # the parity oracle's signal, long enough for several fast 48 kHz batches
        seconds = FAST_SEGMENT_BATCH + 3 if spec.segment is not None else 4
        audio = 0.3 * torch.randn(
            spec.channels, seconds * spec.sample_rate, generator=torch.Generator().manual_seed(5)
        )
    else:
        audio = torch.cat([real_clip(clip, spec.sample_rate, spec.channels) for clip in CLIPS[:2]], dim=-1)
    reference.set_target_bandwidth(6.0)
    with torch.no_grad():
        frames = reference.encode(audio[None])
    fast = ours.encode_stream(audio.split(spec.sample_rate * 4, dim=-1), 6.0, total_length=audio.shape[-1])
    exact = ours.encode(audio, 6.0, exact=True)
    ref_codes = [codes[0] for codes, _ in frames]
    assert all(torch.equal(a, b) for a, b in zip(exact.codes, ref_codes))
    assert same_codes(fast.codes, ref_codes) >= MIN_SAME_CODES
    if spec.normalize:
        assert fast.scales == exact.scales == [scale.item() for _, scale in frames]

    decoded_fast = torch.cat(list(ours.decode_stream(fast)), dim=-1)
    decoded_exact = ours.decode(exact, exact=True)
    assert decoded_fast.shape == decoded_exact.shape == audio.shape
    assert snr_db(decoded_exact, decoded_fast) >= MIN_SNR_DB


@pytest.mark.parametrize("clip", CLIPS, ids=[c.stem for c in CLIPS])
def test_bundled_model_fast_mode_on_real_audio(clip):
    model = load_model("ecdc_small_24khz")
    audio = real_clip(clip, model.spec.sample_rate, model.spec.channels)
    fast = model.encode_stream(audio.split(24_000 * 4, dim=-1), 6.0, total_length=audio.shape[-1])
    exact = model.encode(audio, 6.0, exact=True)
    assert same_codes(fast.codes, exact.codes) >= MIN_SAME_CODES
    decoded_fast = torch.cat(list(model.decode_stream(fast)), dim=-1)
    assert snr_db(model.decode(exact, exact=True), decoded_fast) >= MIN_SNR_DB


def test_exact_mode_from_the_environment(monkeypatch):
    monkeypatch.setenv("ECDC_EXACT", "1")
    assert exact_by_default() and EncodecModel.random("encodec_24khz").exact
    monkeypatch.setenv("ECDC_EXACT", "0")
    assert not exact_by_default() and not EncodecModel.random("encodec_24khz").exact


def test_fast_48khz_codes_do_not_depend_on_blocks_or_threads():
    model = EncodecModel.random("encodec_48khz", seed=2)
    audio = 0.2 * torch.randn(
        2, 48000 * (FAST_SEGMENT_BATCH + 2) + 999, generator=torch.Generator().manual_seed(1)
    )
    whole = model.encode(audio, 6.0)
    for block, workers in ((48000, 1), (12345, 2)):
        streamed = model.encode_stream(audio.split(block, dim=-1), 6.0, workers=workers)
        assert streamed.scales == whole.scales
        assert all(torch.equal(a, b) for a, b in zip(whole.codes, streamed.codes))
