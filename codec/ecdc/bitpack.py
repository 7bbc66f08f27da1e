"""Fixed-width code packing of `.ecdc` files without the language model, vectorised with numpy.

Same bytes as the reference `BitPacker`: each value `bits` wide, least significant bit first, values in
time-major order (every codebook of frame 0, then frame 1, ...), the segment padded with zero bits to a byte.
"""

from __future__ import annotations

import numpy as np


def packed_size(count: int, bits: int) -> int:
    """Bytes that `count` values of `bits` bits take once packed and flushed."""
    return -(-count * bits // 8)


def pack(codes: np.ndarray, bits: int) -> bytes:
    """Pack codes [K, T] (each < 2**bits) time-major."""
    values = np.ascontiguousarray(codes.T).reshape(-1).astype(np.uint32)
    shifts = np.arange(bits, dtype=np.uint32)
    bit_matrix = ((values[:, None] >> shifts) & 1).astype(np.uint8)
    return np.packbits(bit_matrix.reshape(-1), bitorder="little").tobytes()


def unpack(data: bytes | memoryview, bits: int, num_codebooks: int, frames: int) -> np.ndarray:
    """Codes [K, T] (int64) from exactly `packed_size(K * T, bits)` bytes."""
    count = num_codebooks * frames
    raw = np.frombuffer(data, dtype=np.uint8)
    bit_matrix = np.unpackbits(raw, bitorder="little")[: count * bits].reshape(count, bits)
    values = (bit_matrix.astype(np.int64) << np.arange(bits, dtype=np.int64)).sum(axis=1)
    return values.reshape(frames, num_codebooks).T.copy()
