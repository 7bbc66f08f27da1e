"""The `.ecdc` container of Meta's `encodec` 0.1.1 (byte-compatible), plus our `encodec_32khz` extension.

`write_ecdc` / `encode_bytes` turn `EncodedAudio` into a file, optionally entropy-coded with the language
model; `read_ecdc` / `decode_bytes` turn any byte string back into `EncodedAudio` or raise one
`EcdcFormatError`; `read_header` reads only the header. The format is described in docs/FORMAT.md.
"""

from codec.ecdc.container import decode_bytes, encode_bytes, read_ecdc, write_ecdc
from codec.ecdc.header import EcdcHeader, read_header

__all__ = ["EcdcHeader", "decode_bytes", "encode_bytes", "read_ecdc", "read_header", "write_ecdc"]
