"""Fixed-width code packing of `.ecdc` files without the language model, vectorised with numpy.

Same bytes as the reference `BitPacker`: each value `bits` wide, least significant bit first, values in
time-major order (every codebook of frame 0, then frame 1, ...), the segment padded with zero bits to a byte.
"""

from __future__ import annotations

import numpy as np

# Frames packed per step: a multiple of 8, so every step but the last ends on a byte boundary and the
# bytes equal one-shot packing, while temporaries (a byte per bit) stay bounded for hour-long files.
CHUNK_FRAMES = 4096


def packed_size(count: int, bits: int) -> int:
    """Bytes that `count` values of `bits` bits take once packed and flushed."""
    return -(-count * bits // 8)


def pack(codes: np.ndarray, bits: int) -> bytes:
    """Pack codes [K, T] (each < 2**bits) time-major."""
    frames = codes.shape[-1]
    return b"".join(
        _pack_chunk(codes[:, start : start + CHUNK_FRAMES], bits)
        for start in range(0, max(frames, 1), CHUNK_FRAMES)
    )


def _pack_chunk(codes: np.ndarray, bits: int) -> bytes:
    values = np.ascontiguousarray(codes.T).reshape(-1).astype(np.uint32)
    shifts = np.arange(bits, dtype=np.uint32)
    bit_matrix = ((values[:, None] >> shifts) & 1).astype(np.uint8)
    return np.packbits(bit_matrix.reshape(-1), bitorder="little").tobytes()


def unpack(data: bytes | memoryview, bits: int, num_codebooks: int, frames: int) -> np.ndarray:
    """Codes [K, T] (int64) from exactly `packed_size(K * T, bits)` bytes."""
    raw = np.frombuffer(data, dtype=np.uint8)
    out = np.empty((num_codebooks, frames), dtype=np.int64)
    weights = np.left_shift(1, np.arange(bits, dtype=np.int64))
    chunk_bytes = CHUNK_FRAMES * num_codebooks * bits // 8
    for index, start in enumerate(range(0, frames, CHUNK_FRAMES)):
        n = min(CHUNK_FRAMES, frames - start)
        count = n * num_codebooks
        piece = raw[index * chunk_bytes : index * chunk_bytes + packed_size(count, bits)]
        bit_matrix = np.unpackbits(piece, bitorder="little")[: count * bits].reshape(count, bits)
        out[:, start : start + n] = (bit_matrix @ weights).reshape(n, num_codebooks).T
    return out
