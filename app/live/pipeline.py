"""The Live pipeline: an input and an output sounddevice stream, two ring buffers, a worker running `LiveProcessor`.

The audio callbacks only move buffers (the input stream's block into the input ring, the output ring into
the output stream's block) and count what went wrong: input ring full = over-run, output ring empty =
under-run, and PortAudio's own flags. Everything else, codec, resampling, recording and level meters, runs on
the worker thread. No Qt here: the view polls `stats()`.

Two streams rather than one duplex stream: the devices may belong to different hosts, and a duplex stream
moves input only at the output's pace, so a backlog at start (ALSA's pulse plugin starts slowly on a busy
machine) would stay as latency for good. Here the input drains at its own pace and the worker keeps the
output ring near its cushion, dropping the excess (counted) after a stall.

Latency on screen is measured, not assumed: every output sample is known to render one input sample (the
processor keeps them aligned), so each output callback knows which input sample it is playing and when that
sample was captured: PortAudio's ADC/DAC timestamps when the host gives them, else the callback times plus
the streams' reported latencies, plus the samples in flight in between.

The streams run at the model's rate when both devices accept it, otherwise at the input device's default rate
with soxr streaming resamplers on the worker (their few milliseconds are not in the measured figure).
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from app.live.processor import LiveProcessor
from app.live.ring import RingBuffer
from codec.errors import CodecError
from codec.fileio import atomic_write, check_output
from codec.models.encodec import EncodecModel

#: Seconds of input the input ring holds before it over-runs (a worker stalled this long has lost audio).
INPUT_RING_S = 2.0
#: The worker is "behind" when it needs this share of real time or more to process its input.
BEHIND_LOAD = 0.9
#: Above this load the worker takes one more frame per step, below the other one frame less.
STEP_UP_LOAD = 0.8
STEP_DOWN_LOAD = 0.4
#: Seconds over which the output ring's low point is watched for surplus latency.
SETTLE_S = 1.0
#: Recent under-runs within this many seconds keep the "cannot keep up" warning on.
BEHIND_HOLD_S = 3.0


class LiveError(CodecError):
    """A live session that cannot start or stop cleanly; the message is one sentence for the view."""


@dataclass(frozen=True)
class LiveConfig:
    input_device: int | str | None = None
    output_device: int | str | None = None
    bandwidth: float = 6.0
    #: Output cushion: what the worker may be late by before an under-run (adds to the latency).
    buffer_s: float = 0.04
    #: Frames per callback; None: one codec frame (hop) at the stream's rate.
    blocksize: int | None = None
    #: Most codec frames the worker processes per step when the machine is busy (each adds a frame of latency).
    max_step_frames: int = 4
    #: PortAudio's suggested device latency ("low", "high" or seconds).
    device_latency: float | str = "low"
    #: Record the codes of the take to this `.ecdc` (at `bandwidth` at Start), written atomically on Stop.
    record_ecdc: Path | None = None
    #: Record the original input to this float wav, made atomically on Stop.
    record_wav: Path | None = None
    monitor_codec: bool = True


@dataclass
class LiveStats:
    running: bool = False
    sample_rate: int = 0
    input_peak: float = 0.0
    output_peak: float = 0.0
    #: Measured end-to-end latency (median of the last second), None until output plays.
    latency_s: float | None = None
    underruns: int = 0
    overruns: int = 0
    host_xruns: int = 0
    #: Samples thrown away (output queued too long, or input the worker could not reach) to hold the latency.
    dropped: int = 0
    #: Processing time / audio time on the worker (smoothed); above 1 the machine cannot keep up.
    load: float = 0.0
    behind: bool = False
    #: Codec frames per worker step (more when the machine is busy).
    step_frames: int = 1
    seconds: float = 0.0
    error: str = ""


@dataclass
class LiveResult:
    ecdc: Path | None = None
    wav: Path | None = None
    seconds: float = 0.0
    stats: LiveStats = field(default_factory=LiveStats)


class _WavTake:
    """The original input, written as it comes to a temporary file that becomes `path` on `commit`."""

    def __init__(self, path: Path, sample_rate: int, channels: int) -> None:
        import soundfile as sf  # noqa: PLC0415

        self.path = path
        self._stack = contextlib.ExitStack()
        fo = self._stack.enter_context(atomic_write(path))
        self._file = self._stack.enter_context(
            sf.SoundFile(fo, "w", sample_rate, channels, "FLOAT", format="WAV")
        )

    def write(self, block: np.ndarray) -> None:
        self._file.write(block)

    def commit(self) -> None:
        self._stack.close()

    def discard(self) -> None:
        self._stack.__exit__(LiveError, LiveError("discarded"), None)


def _check_device_rate(sd: ModuleType, config: LiveConfig, rate: int, channels: int) -> bool:
    try:
        sd.check_input_settings(
            device=config.input_device, channels=channels, dtype="float32", samplerate=rate
        )
        sd.check_output_settings(
            device=config.output_device, channels=channels, dtype="float32", samplerate=rate
        )
    except Exception:  # noqa: BLE001 - PortAudio says no in many ways; all mean "not at this rate"
        return False
    return True


class LivePipeline:
    """Start/stop a live session of `model` between two devices of `backend` (the sounddevice module)."""

    def __init__(self, model: EncodecModel, backend: ModuleType) -> None:
        self.model = model
        self.spec = model.spec
        self._sd = backend
        self._lock = threading.Lock()
        self._input: Any = None
        self._output: Any = None
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._stats = LiveStats()
        self._running = False

    # -- controls (UI thread) -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def set_bandwidth(self, bandwidth: float) -> None:
        """Switch the bitrate you hear from the next frame on (checked here, applied by the worker)."""
        self.spec.check_bandwidth(bandwidth)
        self._bandwidth = bandwidth

    def set_monitor_codec(self, codec: bool) -> None:
        """B (codec) or A (original, delayed to line up with it); crossfades, never jumps in time."""
        self._monitor_codec = codec

    def stats(self) -> LiveStats:
        with self._lock:
            stats = LiveStats(**vars(self._stats))
        if self._running:
            stats.latency_s = statistics.median(self._latencies) if self._latencies else None
            recent = time.monotonic() - self._last_underrun < BEHIND_HOLD_S
            stats.behind = stats.load >= BEHIND_LOAD or recent or stats.overruns > 0
        return stats

    # -- session ------------------------------------------------------------------------------------

    def start(self, config: LiveConfig) -> None:
        """Open the devices and start; raises `LiveError` with the reason (nothing is left open then)."""
        if self._running:
            raise LiveError("Live is already running.")
        spec, sd = self.spec, self._sd
        spec.check_bandwidth(config.bandwidth)
        for path in (config.record_ecdc, config.record_wav):
            if path is not None:
                check_output(path)
        channels = spec.channels
        rate = spec.sample_rate
        if not _check_device_rate(sd, config, rate, channels):
            try:
                rate = int(sd.query_devices(config.input_device, "input")["default_samplerate"])
            except Exception as exc:  # noqa: BLE001
                raise LiveError(f"The input device cannot be used: {exc}") from None
            if not _check_device_rate(sd, config, rate, channels):
                raise LiveError(f"The devices do not accept {channels}-channel float audio at a common rate.")
        self._rate = rate
        self._resample_in = self._resample_out = None
        if rate != spec.sample_rate:
            import soxr  # noqa: PLC0415

            self._resample_in = soxr.ResampleStream(rate, spec.sample_rate, channels, dtype="float32")
            self._resample_out = soxr.ResampleStream(spec.sample_rate, rate, channels, dtype="float32")
        hop = max(1, round(spec.hop_length * rate / spec.sample_rate))
        self._hop = hop
        self._step = hop  # input samples the worker waits for (adapts between 1 and max_step_frames hops)
        self._cushion = max(0, round(config.buffer_s * rate))
        self._guard = self._cushion + (config.max_step_frames + 4) * max(hop, config.blocksize or hop)
        self._input_limit = self._guard  # input backlog beyond which the worker skips ahead
        self._in_ring = RingBuffer(int(INPUT_RING_S * rate), channels)
        self._out_ring = RingBuffer(int(INPUT_RING_S * rate) + self._cushion, channels)
        self._bandwidth = config.bandwidth
        self._monitor_codec = config.monitor_codec
        self._processor = LiveProcessor(
            self.model, config.bandwidth, config.bandwidth if config.record_ecdc is not None else None
        )
        self._config = config
        self._stats = LiveStats(running=True, sample_rate=rate)
        self._latencies: deque[float] = deque(maxlen=max(1, rate // hop))
        self._last_underrun = -1e9
        self._in_count = 0
        #: Input frames the worker has finished with (tests pace a fake device by it).
        self.processed = 0
        self._output_started = False
        self._lowest, self._lowest_since = 1 << 62, time.monotonic()
        self._out_offset = 0  # output ring frame n renders input frame n + offset
        self._input_skipped = 0
        self._input_latency = self._output_latency = 0.0
        self._in_mark: tuple[int, float | None, float] = (0, None, time.monotonic())
        self._wav: _WavTake | None = None
        self._stop.clear()
        try:
            if config.record_wav is not None:
                self._wav = _WavTake(config.record_wav, rate, channels)
            common = {"samplerate": rate, "blocksize": config.blocksize or hop, "channels": channels,
                      "dtype": "float32", "latency": config.device_latency}  # fmt: skip
            self._input = sd.InputStream(device=config.input_device, callback=self._input_callback, **common)
            self._output = sd.OutputStream(
                device=config.output_device, callback=self._output_callback, **common
            )
            self._input_latency = float(self._input.latency)
            self._output_latency = float(self._output.latency)
            self._worker = threading.Thread(target=self._work, name="live-worker", daemon=True)
            self._worker.start()
            self._running = True
            self._input.start()
            self._output.start()
        except Exception as exc:  # noqa: BLE001 - any PortAudio failure becomes one sentence
            self._teardown(commit=False)
            if isinstance(exc, LiveError):
                raise
            raise LiveError(f"Could not start the audio devices: {exc}") from None

    def stop(self) -> LiveResult:
        """Stop the devices and the worker, then write the recordings (atomically); returns what was written."""
        if not self._running:
            return LiveResult(stats=self.stats())
        stats = self.stats()
        result = self._teardown(commit=True)
        result.stats = stats
        stats.running = False
        return result

    def _teardown(self, commit: bool) -> LiveResult:
        streams, self._input, self._output = (self._input, self._output), None, None
        for stream in streams:
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.stop()
                with contextlib.suppress(Exception):
                    stream.close()
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        self._running = False
        with self._lock:
            self._stats.running = False
        result = LiveResult(seconds=self._processor.input_length / self.spec.sample_rate)
        wav, self._wav = self._wav, None
        if not commit:
            if wav is not None:
                wav.discard()
            return result
        errors = []
        take = self._processor.finish()
        if wav is not None:
            try:
                wav.commit()
                result.wav = wav.path
            except Exception as exc:  # noqa: BLE001
                errors.append(f"the wav could not be written ({exc})")
        if take is not None and self._config.record_ecdc is not None:
            from codec.ecdc import write_ecdc  # noqa: PLC0415

            try:
                with atomic_write(self._config.record_ecdc) as fo:
                    write_ecdc(fo, take.encoded)
                result.ecdc = self._config.record_ecdc
            except Exception as exc:  # noqa: BLE001
                errors.append(f"the .ecdc could not be written ({exc})")
        if errors:
            raise LiveError("Stopped, but " + " and ".join(errors) + ".")
        return result

    # -- audio thread -------------------------------------------------------------------------------

    def _input_callback(self, indata: np.ndarray, frames: int, when: Any, status: Any) -> None:
        if status and status.input_overflow:
            self._stats.host_xruns += 1
        if self._in_ring.write(indata) < frames:
            self._stats.overruns += 1
        self._in_count += frames
        adc = getattr(when, "inputBufferAdcTime", 0.0) or 0.0
        # (samples in so far, capture time of the next sample on PortAudio's clock or None, monotonic now)
        self._in_mark = (self._in_count, adc + frames / self._rate if adc > 0 else None, time.monotonic())
        self._wake.set()

    def _output_callback(self, outdata: np.ndarray, frames: int, when: Any, status: Any) -> None:
        if status and status.output_underflow:
            self._stats.host_xruns += 1
        if not self._output_started:
            outdata.fill(0.0)
            return
        playing = self._out_ring.read_total + self._out_offset  # input index of outdata[0]
        got = self._out_ring.read_into(outdata)
        if got < frames:
            outdata[got:] = 0.0
            self._stats.underruns += 1
            self._last_underrun = time.monotonic()
        count, adc_next, in_time = self._in_mark
        dac = getattr(when, "outputBufferDacTime", 0.0) or 0.0
        if dac > 0 and adc_next is not None:  # both ends on PortAudio's clock
            latency = dac - adc_next + (count - playing) / self._rate
        else:  # no timestamps from this host: callback times and the streams' reported latencies
            latency = time.monotonic() - in_time + self._input_latency + self._output_latency
            latency += (count - playing) / self._rate
        self._latencies.append(latency)

    # -- worker thread ------------------------------------------------------------------------------

    def _work(self) -> None:
        processor = self._processor
        while not self._stop.is_set():
            self._wake.wait(0.1)
            self._wake.clear()
            backlog = self._in_ring.available
            if backlog < self._step:
                continue
            if backlog > self._input_limit:
                # Even at the longest step the worker is slower than real time: skip input rather than let
                # the latency grow to the ring's size (the view says the machine cannot keep up).
                skipped = self._in_ring.discard(backlog - self._step)
                self._input_skipped += skipped
                if self._output_started:
                    self._out_offset += skipped  # output frames from here on render later input
                with self._lock:
                    self._stats.dropped += skipped
            block = self._in_ring.read()
            started = time.perf_counter()
            try:
                self._process(processor, block)
            except Exception as exc:  # noqa: BLE001 - shown in the view; the session stops there
                with self._lock:
                    self._stats.error = f"Live processing failed: {exc}"
                return
            elapsed = time.perf_counter() - started
            self.processed += block.shape[0]
            with self._lock:
                load = elapsed / (block.shape[0] / self._rate)
                self._stats.load = 0.9 * self._stats.load + 0.1 * load if self._stats.load else load
                self._stats.seconds = self._in_count / self._rate
                # Fewer, longer steps cost less per frame (the LSTM's and convolutions' fixed costs); a busy
                # machine trades a frame of latency per step for keeping up.
                frames = self._step // self._hop
                if self._stats.load > STEP_UP_LOAD and frames < self._config.max_step_frames:
                    self._step += self._hop
                elif self._stats.load < STEP_DOWN_LOAD and frames > 1:
                    self._step -= self._hop
                self._stats.step_frames = self._step // self._hop

    def _process(self, processor: LiveProcessor, block: np.ndarray) -> None:
        if self._wav is not None:
            self._wav.write(block)
        if processor.bandwidth != self._bandwidth:
            processor.bandwidth = self._bandwidth
        processor.monitor_codec = self._monitor_codec
        x = block if self._resample_in is None else self._resample_in.resample_chunk(block)
        out = processor.process(x)
        first = round((processor.output_index - out.shape[0]) * self._ratio)  # input index of out[0]
        if self._resample_out is not None and out.shape[0]:
            out = self._resample_out.resample_chunk(out)
        input_peak = float(np.abs(block).max(initial=0.0))
        output_peak = float(np.abs(out).max(initial=0.0))
        with self._lock:
            self._stats.input_peak = input_peak
            if out.shape[0]:
                self._stats.output_peak = output_peak
        if not out.shape[0]:
            return
        if not self._output_started:
            self._out_ring.write(np.zeros((self._cushion, out.shape[1]), np.float32))
            self._out_offset = first + self._input_skipped - self._out_ring.written
        lowest = self._out_ring.available  # just before this write: the ring's low point
        written = self._out_ring.write(out)
        if written < out.shape[0]:
            self._stats.overruns += 1
        self._output_started = True
        excess = self._out_ring.available - self._guard
        # An under-run delays everything after it for good, unless what it left queued is dropped: if the
        # ring never fell below the cushion (plus a step) for a whole second, that surplus is latency only.
        self._lowest = min(self._lowest, lowest)
        now = time.monotonic()
        if now - self._lowest_since >= SETTLE_S:
            surplus = self._lowest - self._cushion - self._step
            if surplus > self._hop:
                excess = max(excess, surplus)
            self._lowest, self._lowest_since = self._out_ring.capacity, now
        if excess > 0:  # the worker fell behind and caught up: play the newest, not ever later audio
            self._out_ring.discard(excess)
            with self._lock:
                self._stats.dropped += excess

    @property
    def _ratio(self) -> float:
        return self._rate / self.spec.sample_rate
