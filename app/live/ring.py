"""A fixed-size ring of float32 frames shared by the audio callback and the worker thread."""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    """[frames, channels] float32 FIFO of fixed capacity; every method is thread-safe and never blocks long.

    The layout is sounddevice's (`indata` / `outdata` are [frames, channels]), so the callback copies whole
    blocks with no reshaping. Writes beyond the capacity are dropped and counted by the caller.
    """

    def __init__(self, capacity: int, channels: int) -> None:
        if capacity <= 0 or channels <= 0:
            raise ValueError("A ring buffer needs a positive capacity and channel count.")
        self._data = np.zeros((capacity, channels), np.float32)
        self._lock = threading.Lock()
        self._start = 0
        self._count = 0
        #: Frames ever written, and ever read or discarded: a frame's position in the whole stream.
        self.written = 0
        self.read_total = 0

    @property
    def capacity(self) -> int:
        return self._data.shape[0]

    @property
    def channels(self) -> int:
        return self._data.shape[1]

    @property
    def available(self) -> int:
        with self._lock:
            return self._count

    def write(self, block: np.ndarray) -> int:
        """Append as much of `block` [n, channels] as fits; returns the frames written."""
        with self._lock:
            n = min(block.shape[0], self.capacity - self._count)
            end = (self._start + self._count) % self.capacity
            first = min(n, self.capacity - end)
            self._data[end : end + first] = block[:first]
            self._data[: n - first] = block[first:n]
            self._count += n
            self.written += n
            return n

    def read_into(self, out: np.ndarray) -> int:
        """Fill `out` [n, channels] from the oldest frames; returns how many were there (the rest is untouched)."""
        with self._lock:
            n = min(out.shape[0], self._count)
            first = min(n, self.capacity - self._start)
            out[:first] = self._data[self._start : self._start + first]
            out[first:n] = self._data[: n - first]
            self._start = (self._start + n) % self.capacity
            self._count -= n
            self.read_total += n
            return n

    def read(self, max_frames: int | None = None) -> np.ndarray:
        """The oldest frames (all of them, or at most `max_frames`) as a new array."""
        with self._lock:
            n = self._count if max_frames is None else min(max_frames, self._count)
        out = np.empty((n, self.channels), np.float32)
        got = self.read_into(out)
        return out[:got]

    def discard(self, frames: int) -> int:
        """Drop up to `frames` of the oldest frames; returns how many were dropped."""
        with self._lock:
            n = min(frames, self._count)
            self._start = (self._start + n) % self.capacity
            self._count -= n
            self.read_total += n
            return n

    def clear(self) -> None:
        with self._lock:
            self._start = self._count = 0
