"""A stand-in for the sounddevice module: an input and an output stream whose callbacks one thread calls at
real-time pace (or in lockstep with the worker), feeding a known signal and keeping what the pipeline played.
Tests of the pipeline and the view run without audio hardware."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np


class FakeStream:
    def __init__(self, backend, kind, samplerate, blocksize, device, channels, dtype, latency, callback):
        self.backend, self.kind = backend, kind
        self.samplerate, self.blocksize, self.device = samplerate, blocksize, device
        self.channels, self.callback = channels, callback
        self.latency = 0.01 if kind == "input" else 0.02
        self.started = False
        self.stopped = threading.Event()
        backend.streams[kind] = self

    def start(self):
        self.started = True
        if self.kind == "output":
            self.backend.start_clock()

    def stop(self):
        self.stopped.set()
        self.backend.stop_clock()

    def close(self):
        self.stop()


class FakeBackend:
    """Two devices (a microphone, a speaker); `rates` are the sample rates they accept."""

    def __init__(self, signal=None, rates=(24_000, 48_000), speed=1.0, tail=0, inputs=True):
        self.signal = np.zeros(0, np.float32) if signal is None else np.asarray(signal, np.float32)
        self.rates, self.speed, self.tail, self.inputs = set(rates), speed, tail, inputs
        self.streams: dict[str, FakeStream] = {}
        self.output: list[np.ndarray] = []
        self.finished = threading.Event()
        self.default = SimpleNamespace(device=(0 if inputs else -1, 1))
        #: `lockstep(frames_fed) -> bool`: when set, each block waits until it returns True.
        self.lockstep = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- the sounddevice API the pipeline uses -----------------------------------------------------------

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

    def InputStream(self, **kwargs):  # noqa: N802 - sounddevice's name
        return FakeStream(self, "input", **kwargs)

    def OutputStream(self, **kwargs):  # noqa: N802
        return FakeStream(self, "output", **kwargs)

    # -- the device clock ----------------------------------------------------------------------------

    @property
    def played(self) -> np.ndarray:
        return np.concatenate(self.output)[:, 0] if self.output else np.zeros(0, np.float32)

    def start_clock(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop_clock(self):
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self):
        source, sink = self.streams["input"], self.streams["output"]
        size, position = source.blocksize, 0
        next_time = time.monotonic()
        while not self._stop.is_set():
            block = np.zeros((size, source.channels), np.float32)
            chunk = self.signal[position : position + size]
            block[: chunk.shape[0], 0] = chunk
            position += size
            if position >= self.signal.shape[0] + self.tail:
                self.finished.set()
            none = SimpleNamespace(inputBufferAdcTime=0.0, outputBufferDacTime=0.0)
            source.callback(block, size, none, None)
            out = np.empty((size, sink.channels), np.float32)
            sink.callback(out, size, none, None)
            self.output.append(out)
            if self.lockstep is not None:  # a device that waits for the worker: exact, not timed
                while not self._stop.is_set() and not self.lockstep(position):
                    time.sleep(0.001)
                continue
            next_time += size / source.samplerate / self.speed
            delay = next_time - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def worker_settled(pipeline):
    """A `lockstep` for `pipeline`: every frame fed is processed, or waits for the worker's next step to fill."""

    def settled(fed: int) -> bool:
        if pipeline is None:
            return False
        pending = pipeline._in_ring.available
        return pipeline.processed + pending >= fed and pending < pipeline._step

    return settled
