"""The `.ecdc` container of Meta's `encodec` 0.1.1 (byte-compatible), plus our `encodec_32khz` extension.

`write_ecdc` / `encode_bytes` turn `EncodedAudio` into a file, optionally entropy-coded with the language
model; `read_ecdc` / `decode_bytes` turn any byte string back into `EncodedAudio` or raise one
`EcdcFormatError`; `read_header` reads only the header. The format is described in docs/FORMAT.md.

Reading a header needs no torch: the container's names (which do) are imported on first use, so
`ecdc info` and the GUI's file probing start in a fraction of a second.
"""

from __future__ import annotations

import importlib
from typing import Any

from codec.ecdc.header import EcdcHeader, read_header

_LAZY = {name: "codec.ecdc.container" for name in ("decode_bytes", "encode_bytes", "read_ecdc", "write_ecdc")}

__all__ = ["EcdcHeader", "decode_bytes", "encode_bytes", "read_ecdc", "read_header", "write_ecdc"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codec.ecdc' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
