"""ECDC Studio's engine: EnCodec models, the `.ecdc` bitstream, weights, audio I/O and jobs.

Importing `codec` is cheap: torch is imported only when a name that needs it is first used, so the
GUI can show its window before paying for torch. See docs/ARCHITECTURE.md for the module map.
"""

from __future__ import annotations

import importlib
from typing import Any

from codec.errors import (
    AudioFormatError,
    Cancelled,
    CheckpointError,
    CodecError,
    EcdcFormatError,
    UnknownModelError,
    UnsupportedBandwidthError,
    WeightsError,
    WeightsMissing,
)
from codec.progress import CancelToken, ProgressCallback
from codec.specs import MODELS, ModelSpec, get_spec

# Public names that need torch (or heavier modules), resolved on first use.
_LAZY = {
    "EncodecModel": "codec.models.encodec",
    "EncodedAudio": "codec.models.encodec",
    "NotStreamableError": "codec.realtime",
    "StreamingDecoder": "codec.realtime",
    "StreamingEncoder": "codec.realtime",
    "load_model": "codec.api",
    "load_lm": "codec.api",
    "resolve_device": "codec.device",
    "encode_batch": "codec.batch",
    "decode_batch": "codec.batch",
}

__all__ = [
    "MODELS",
    "AudioFormatError",
    "CancelToken",
    "Cancelled",
    "CheckpointError",
    "CodecError",
    "EcdcFormatError",
    "ModelSpec",
    "ProgressCallback",
    "UnknownModelError",
    "UnsupportedBandwidthError",
    "WeightsError",
    "WeightsMissing",
    "get_spec",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codec' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
