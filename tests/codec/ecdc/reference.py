"""Bridges to the reference `encodec.compress` for byte-compatibility tests.

The reference compresses from a model and a waveform and decompresses to a waveform, loading pretrained
weights on the way. These helpers hand it precomputed codes and our random-weights LM instead, and capture
the codes its decoder produces.
"""

from __future__ import annotations

import io
import math
import sys
import types

import torch

from codec.models.encodec import EncodedAudio
from codec.models.lm import LanguageModel
from codec.specs import get_spec
from tests.oracles import import_reference_encodec


def _compress_module() -> types.ModuleType:
    # `encodec.compress` is shadowed by the package's `compress` function; take the module itself.
    import_reference_encodec()
    return sys.modules["encodec.compress"]


def reference_lm(lm: LanguageModel) -> torch.nn.Module:
    """The reference `LMModel` holding `lm`'s weights."""
    encodec = import_reference_encodec()
    config = lm.config
    ref = encodec.model.LMModel(
        config["n_q"],
        config["card"],
        dim=config["dim"],
        num_layers=config["num_layers"],
        num_heads=config["num_heads"],
        hidden_scale=config["hidden_scale"],
        past_context=config["past_context"],
    )
    ref.load_state_dict(lm.state_dict())
    return ref.eval()


def _stub_model(name: str, frames: list | None, lm: torch.nn.Module | None, captured: list) -> object:
    spec = get_spec(name)
    model = types.SimpleNamespace(
        name=name,
        sample_rate=spec.sample_rate,
        frame_rate=spec.frame_rate,
        channels=spec.channels,
        normalize=spec.normalize,
        segment_length=spec.segment_length,
        segment_stride=spec.segment_stride,
        bits_per_codebook=spec.bits_per_codebook,
    )
    model.encode = lambda wav: frames
    model.get_lm_model = lambda: lm
    model.to = lambda device: model

    def decode(decoded_frames: list) -> torch.Tensor:
        captured.extend(decoded_frames)
        return torch.zeros(1, spec.channels, 1)

    model.decode = decode
    return model


def reference_compress(encoded: EncodedAudio, lm: LanguageModel | None = None) -> bytes:
    """The bytes `encodec.compress.compress_to_file` writes for `encoded`'s codes."""
    scales = encoded.scales or [None] * len(encoded.codes)
    frames = [
        (codes[None].clone(), None if scale is None else torch.tensor([scale], dtype=torch.float32))
        for codes, scale in zip(encoded.codes, scales)
    ]
    ref_lm = reference_lm(lm) if lm is not None else None
    model = _stub_model(encoded.model, frames, ref_lm, [])
    wav = torch.zeros(get_spec(encoded.model).channels, encoded.length)
    fo = io.BytesIO()
    _compress_module().compress_to_file(model, wav, fo, use_lm=lm is not None)
    return fo.getvalue()


def reference_decompress(data: bytes, lm: LanguageModel | None, monkeypatch) -> tuple[list, list]:
    """Codes [K, T] and scales the reference decoder reads from `data`."""
    compress = _compress_module()
    captured: list = []
    ref_lm = reference_lm(lm) if lm is not None else None
    for name in ("encodec_24khz", "encodec_48khz"):
        monkeypatch.setitem(
            compress.MODELS, name, lambda name=name: _stub_model(name, None, ref_lm, captured)
        )
    compress.decompress(data)
    codes = [frame[0] for frame, _ in captured]
    scales = [None if scale is None else float(scale.item()) for _, scale in captured]
    return codes, scales


def reference_frame_count_is_wrong(name: str, segment_length: int) -> bool:
    """Whether 0.1.1's float frame count (upstream issue #35) exceeds the true count for this segment."""
    spec = get_spec(name)
    float_count = int(math.ceil(segment_length / spec.sample_rate * spec.frame_rate))
    return float_count != spec.frames_for_length(segment_length)
