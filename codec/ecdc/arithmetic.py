"""The arithmetic coder of `encodec` 0.1.1, in exact integer arithmetic, and its quantized CDFs.

The reference computes interval bounds as `ceil(range_low * (delta / 2**24))` in floating point. With
range_low < 2**24 and delta < 2**25 the product is exact in a double, so the integer forms below
((range_low * delta + 2**24 - 1) >> 24 and (range_high * delta) >> 24) give the same numbers. The reference
emits one bit at a time, least significant bit first within a byte; here bits are collected most significant
bit first in whole runs and each byte's bit order is reversed once at the end, which yields the same bytes.
"""

from __future__ import annotations

import bisect

import numpy as np

from codec.errors import EcdcFormatError

TOTAL_RANGE_BITS = 24
ROUNDOFF = 1e-8
MIN_RANGE = 2

_TOTAL = 1 << TOTAL_RANGE_BITS
_ROUND_UP = _TOTAL - 1
# Bit reversal of every byte value: turns a most-significant-bit-first stream into the file's byte order.
REVERSE_BITS = bytes(int(f"{value:08b}"[::-1], 2) for value in range(256))


def quantized_cdfs(pdf: np.ndarray) -> np.ndarray:
    """Quantized CDFs [..., card] (int64, C-contiguous) of float32 probabilities [..., card], each row exactly
    as the reference's `build_stable_quantized_cdf(row, 24, roundoff=1e-8, min_range=2)` builds it.

    The reference's ops are elementwise float32 ops with float32 scalars (IEEE-exact, so numpy gives the
    same bits as torch, whole blocks at once) and an integer cumulative sum.
    """
    work = np.array(pdf, dtype=np.float32, order="C")  # a private copy, reused in place below
    card = work.shape[-1]
    roundoff = np.float32(ROUNDOFF)
    np.divide(work, roundoff, out=work)
    np.floor(work, out=work)
    np.multiply(work, roundoff, out=work)
    alpha = MIN_RANGE * card / _TOTAL
    np.multiply(work, np.float32((1 - alpha) * _TOTAL), out=work)
    np.floor(work, out=work)
    ranges = work.astype(np.int64)
    ranges += MIN_RANGE
    return np.cumsum(ranges, axis=-1, out=ranges)


class ArithmeticEncoder:
    """Encodes symbols given their CDF intervals; `finish` returns the segment's bytes."""

    def __init__(self) -> None:
        self.low = 0
        self.high = 0
        self.max_bit = -1
        self._pending = 0  # emitted bits not yet in `_out`, most significant first
        self._pending_bits = 0
        self._out = bytearray()

    def push(self, range_low: int, range_high: int) -> None:
        """Encode the symbol whose quantized interval is [range_low, range_high] (cdf[s-1], cdf[s] - 1)."""
        low, high, max_bit = self.low, self.high, self.max_bit
        delta = high - low + 1
        if delta < _TOTAL:
            shift = TOTAL_RANGE_BITS + 1 - delta.bit_length()
            low <<= shift
            high = (high << shift) | ((1 << shift) - 1)
            max_bit += shift
            delta <<= shift
        high = low + ((range_high * delta) >> TOTAL_RANGE_BITS)
        low = low + ((range_low * delta + _ROUND_UP) >> TOTAL_RANGE_BITS)
        # Leading bits low and high share can no longer change: emit them.
        keep = (low ^ high).bit_length()
        count = max_bit + 1 - keep
        if count > 0:
            self._emit(low >> keep, count)
            mask = (1 << keep) - 1
            low &= mask
            high &= mask
            max_bit = keep - 1
        self.low, self.high, self.max_bit = low, high, max_bit

    def push_many(self, range_lows: list[int], range_highs: list[int]) -> None:
        for range_low, range_high in zip(range_lows, range_highs):
            self.push(range_low, range_high)

    def _emit(self, bits: int, count: int) -> None:
        self._pending = (self._pending << count) | bits
        self._pending_bits += count
        if self._pending_bits >= 64:
            whole, rest = divmod(self._pending_bits, 8)
            self._out += (self._pending >> rest).to_bytes(whole, "big")
            self._pending &= (1 << rest) - 1
            self._pending_bits = rest

    def finish(self) -> bytes:
        """Emit the remaining bits of `low`, pad to a byte, and return the segment's bytes."""
        if self.max_bit >= 0:
            self._emit(self.low, self.max_bit + 1)
        pad = -self._pending_bits % 8
        self._emit(0, pad)
        whole = self._pending_bits // 8
        self._out += self._pending.to_bytes(whole, "big")
        self._pending = self._pending_bits = 0
        self.low = self.high = 0
        self.max_bit = -1
        return bytes(self._out).translate(REVERSE_BITS)


class ArithmeticDecoder:
    """Decodes symbols from `data` (bytes already bit-reversed with `REVERSE_BITS`) from bit `start_bit`."""

    def __init__(self, data: bytes, start_bit: int = 0) -> None:
        self._data = data
        self._total_bits = 8 * len(data)
        self.position = start_bit
        self.low = 0
        self.high = 0
        self.current = 0
        self.max_bit = -1

    def pull(self, cdf: memoryview, offset: int, card: int) -> int:
        """Decode one symbol whose quantized CDF is cdf[offset : offset + card]."""
        low, high, current = self.low, self.high, self.current
        delta = high - low + 1
        if delta < _TOTAL:
            shift = TOTAL_RANGE_BITS + 1 - delta.bit_length()
            current = (current << shift) | self._read(shift)
            low <<= shift
            high = (high << shift) | ((1 << shift) - 1)
            self.max_bit += shift
            delta <<= shift
        scaled = current - low
        # Symbol s covers [ceil(cdf[s-1] * delta / 2**24), floor((cdf[s] - 1) * delta / 2**24)] above low:
        # the last s with cdf[s-1] <= floor(scaled * 2**24 / delta), provided scaled is not in a gap.
        target = (scaled << TOTAL_RANGE_BITS) // delta
        symbol = bisect.bisect_right(cdf, target, offset, offset + card) - offset
        if symbol >= card or (scaled << TOTAL_RANGE_BITS) > (cdf[offset + symbol] - 1) * delta:
            raise EcdcFormatError("The .ecdc file is corrupt: its entropy-coded data is inconsistent.")
        range_low = cdf[offset + symbol - 1] if symbol else 0
        high = low + (((cdf[offset + symbol] - 1) * delta) >> TOTAL_RANGE_BITS)
        low = low + ((range_low * delta + _ROUND_UP) >> TOTAL_RANGE_BITS)
        keep = (low ^ high).bit_length()
        if self.max_bit + 1 > keep:
            mask = (1 << keep) - 1
            low &= mask
            high &= mask
            current &= mask
            self.max_bit = keep - 1
        self.low, self.high, self.current = low, high, current
        return symbol

    def _read(self, count: int) -> int:
        position = self.position
        end = position + count
        if end > self._total_bits:
            raise EcdcFormatError("The .ecdc file is truncated: its entropy-coded data ends early.")
        first = position >> 3
        last = (end + 7) >> 3
        chunk = int.from_bytes(self._data[first:last], "big")
        self.position = end
        return (chunk >> (8 * last - end)) & ((1 << count) - 1)

    @property
    def end_byte(self) -> int:
        """Index of the first byte after the bits consumed so far (segments end on a byte boundary)."""
        return (self.position + 7) >> 3
