"""A stand-in for the sounddevice module: a duplex stream whose callback a thread calls at real-time pace,
feeding a known signal and keeping what the engine played. Tests of the engine and view run without audio."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np


class FakeStream:
    def __init__(self, backend, samplerate, blocksize, device, channels, dtype, latency, callback):
        self.backend = backend
        self.samplerate, self.blocksize, self.device = samplerate, blocksize, device
        self.channels, self.callback = channels, callback
        self.latency = (0.01, 0.02)
        self.output: list[np.ndarray] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        backend.streams.append(self)

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        signal = self.backend.signal
        position, period = 0, self.blocksize / self.samplerate
        next_time = time.monotonic()
        while not self._stop.is_set():
            block = np.zeros((self.blocksize, self.channels), np.float32)
            chunk = signal[position : position + self.blocksize]
            block[: chunk.shape[0], 0] = chunk
            position += self.blocksize
            if position >= signal.shape[0] + self.backend.tail:
                self.backend.finished.set()
            out = np.empty_like(block)
            when = SimpleNamespace(inputBufferAdcTime=0.0, outputBufferDacTime=0.0)
            self.callback(block, out, self.blocksize, when, None)
            self.output.append(out.copy())
            if self.backend.lockstep is not None:  # a device that waits for the worker: exact, not timed
                fed = position
                while not self._stop.is_set() and not self.backend.lockstep(fed):
                    time.sleep(0.001)
                continue
            next_time += period / self.backend.speed
            delay = next_time - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def close(self):
        self.stop()

    @property
    def played(self) -> np.ndarray:
        return np.concatenate(self.output)[:, 0] if self.output else np.zeros(0, np.float32)


class FakeBackend:
    """Two devices (a microphone, a speaker); `rates` are the sample rates they accept."""

    def __init__(self, signal=None, rates=(24_000, 48_000), speed=1.0, tail=0, inputs=True):
        self.signal = np.zeros(0, np.float32) if signal is None else np.asarray(signal, np.float32)
        self.rates, self.speed, self.tail, self.inputs = set(rates), speed, tail, inputs
        self.streams: list[FakeStream] = []
        self.finished = threading.Event()
        #: `lockstep(frames_fed) -> bool`: when set, each callback waits until it returns True.
        self.lockstep = None
        self.default = SimpleNamespace(device=(0 if inputs else -1, 1))

    def query_devices(self, device=None, kind=None):
        devices = [
            {"index": 1, "name": "Speaker", "hostapi": 0, "max_input_channels": 0, "max_output_channels": 2,
             "default_samplerate": 48_000.0},
        ]  # fmt: skip
        if self.inputs:
            devices.insert(0, {"index": 0, "name": "Microphone", "hostapi": 0, "max_input_channels": 1,
                               "max_output_channels": 0, "default_samplerate": 48_000.0})  # fmt: skip
        if kind is not None:
            return devices[0]
        return devices

    def query_hostapis(self):
        return [{"name": "Fake"}]

    def check_input_settings(self, device=None, channels=None, dtype=None, samplerate=None):
        if samplerate not in self.rates:
            raise ValueError("Invalid sample rate")

    check_output_settings = check_input_settings

    def Stream(self, **kwargs):  # noqa: N802 - sounddevice's name
        return FakeStream(self, **kwargs)
