"""Training an entropy-coding LM on codes: it learns their statistics, exports, loads, and codes exactly."""

from __future__ import annotations

import torch

from codec.ecdc import decode_bytes, encode_bytes
from codec.models.encodec import EncodedAudio
from codec.models.lm import load_lm_state
from codec.specs import get_spec
from codec.training.export import export_lm
from codec.training.lm import bits_per_frame, train_lm

TINY_LM = {"dim": 32, "num_layers": 1, "num_heads": 2, "hidden_scale": 2.0}


def _predictable_codes(frames: int, seed: int) -> torch.Tensor:
    """Codes with structure an LM can learn: each codebook repeats a short random cycle."""
    generator = torch.Generator().manual_seed(seed)
    cycles = torch.randint(0, 1024, (16, 5), generator=generator)
    return cycles[:, torch.arange(frames) % 5]


def test_lm_learns_exports_loads_and_codes_exactly(tmp_path):
    spec = get_spec("ecdc_small_24khz")
    codes = [_predictable_codes(400, 0)]
    lm = train_lm(spec, codes, seconds=0, architecture=TINY_LM)  # untrained: the starting point
    before = bits_per_frame(lm, codes[0], 8)
    lm = train_lm(
        spec,
        codes,
        seconds=20,
        architecture=TINY_LM,
        learning_rate=1e-2,
        batch_size=4,
        warmup_steps=5,
        frames=32,
    )
    after = bits_per_frame(lm, codes[0], 8)
    assert after < 0.5 * before  # 80 bits/frame uncoded; the cycle is almost free once learnt

    path = export_lm(lm, spec.name, tmp_path / "lm.safetensors")
    loaded = load_lm_state(path, spec)
    assert loaded.config["dim"] == TINY_LM["dim"]
    encoded = EncodedAudio(spec.name, 6.0, 300 * spec.hop_length, [codes[0][:8, :300]])
    with_lm = encode_bytes(encoded, lm=loaded)
    without = encode_bytes(encoded)
    assert len(with_lm) < 0.5 * len(without)
    back = decode_bytes(with_lm, lm_loader=lambda name: loaded)
    assert torch.equal(back.codes[0], encoded.codes[0])
