"""The Live pipeline end to end through a private PulseAudio server (used by the e2e test and bench/bench_realtime.py).

Two null sinks: `livein`, which `paplay` plays the test file into and whose monitor is the pipeline's input, and
`liveout`, the pipeline's output, whose monitor `parecord` records (the input monitor is recorded too, by a
second `parecord` started at the same moment, for an outside view of the latency). PortAudio reaches the
server through ALSA's `pulse` device, which follows the server's default source and sink.

The streams of ALSA's pulse plugin take a moment (up to seconds on a busy machine) to settle, so the file is
played only once the pipeline has run at real-time pace for a while, and the counters are read before and
after the file: what the report counts is what happened while the file played.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from app.audio_devices import list_devices
from app.live.pipeline import LiveConfig, LivePipeline, LiveStats
from tests.helpers.pulse import PulseServer, forget_devices, wait_for


class NoPulseDevice(RuntimeError):
    """PortAudio does not list ALSA's `pulse` device (libasound2-plugins missing)."""


@dataclass
class LiveRun:
    rate: int
    original: np.ndarray  # what the pipeline received (its own float wav)
    recorded_in: np.ndarray  # livein.monitor
    recorded_out: np.ndarray  # liveout.monitor
    before: LiveStats  # counters just before the file started
    after: LiveStats  # and once it had ended

    @property
    def underruns(self) -> int:
        return self.after.underruns - self.before.underruns

    @property
    def overruns(self) -> int:
        return self.after.overruns - self.before.overruns

    @property
    def host_xruns(self) -> int:
        return self.after.host_xruns - self.before.host_xruns

    @property
    def dropped(self) -> int:
        return self.after.dropped - self.before.dropped


def _steady(pipeline: LivePipeline, seconds: float = 1.0, timeout: float = 20.0) -> bool:
    """Wait until the input has advanced at real-time pace (within 10 %) over `seconds`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        start_audio, start = pipeline.stats().seconds, time.monotonic()
        time.sleep(seconds)
        if (
            pipeline.stats().seconds - start_audio >= 0.9 * (time.monotonic() - start)
            and pipeline.stats().latency_s
        ):
            return True
    return False


def run_live(
    sd: object,
    model: object,
    signal: np.ndarray,
    workdir: Path,
    *,
    bandwidth: float = 6.0,
    buffer_s: float = 0.08,
    switch_to_original_s: float | None = None,
) -> LiveRun:
    """Play `signal` (mono float32 at the model rate) through the Live pipeline over a private server.

    `switch_to_original_s`: seconds into the file at which to switch the monitor to A (the original, delayed
    by the codec's latency), whose aligned copy gives an unambiguous outside measure of the latency.
    """
    rate = model.spec.sample_rate  # type: ignore[attr-defined]
    source = workdir / "source.wav"
    sf.write(source, signal, rate, subtype="FLOAT")
    with PulseServer({"livein": (rate, 1), "liveout": (rate, 1)}, sample_format="float32le") as server:
        try:
            server.pactl("set-default-source", "livein.monitor")
            server.pactl("set-default-sink", "liveout")
            forget_devices(sd)  # PortAudio must rescan to see the server started after it loaded
            if not any(d.name == "pulse" for d in list_devices(sd, "input")[0]):
                raise NoPulseDevice(
                    f"PortAudio does not list the 'pulse' device: {list_devices(sd, 'input')}"
                )
            rec_in, rec_out = workdir / "in.wav", workdir / "out.wav"
            recorders = [
                server.record("livein.monitor", rec_in, rate),
                server.record("liveout.monitor", rec_out, rate),
            ]
            try:
                assert wait_for(lambda: rec_out.exists() and rec_out.stat().st_size > 4 * rate // 5, 10)
                pipeline = LivePipeline(model, sd)  # type: ignore[arg-type]
                config = LiveConfig(
                    "pulse", "pulse", bandwidth, buffer_s, record_wav=workdir / "original.wav"
                )
                pipeline.start(config)
                try:
                    if not _steady(pipeline):
                        raise RuntimeError(
                            f"the audio streams never reached real-time pace: {pipeline.stats()}"
                        )
                    before = pipeline.stats()
                    player = server.play("livein", source)
                    if switch_to_original_s is not None:
                        time.sleep(switch_to_original_s)
                        pipeline.set_monitor_codec(False)
                    player.wait(timeout=signal.size / rate + 30)
                    time.sleep(0.5 + (before.latency_s or 0.0))  # the last samples reach the output
                    after = pipeline.stats()
                finally:
                    pipeline.stop()
            finally:
                for recorder in recorders:
                    server.stop_recording(recorder)
        finally:
            forget_devices(sd)
    original, _ = sf.read(workdir / "original.wav", dtype="float32")
    recorded_in, _ = sf.read(rec_in, dtype="float32")
    recorded_out, _ = sf.read(rec_out, dtype="float32")
    return LiveRun(rate, original, recorded_in.reshape(-1), recorded_out.reshape(-1), before, after)


def find_lag(recording: np.ndarray, reference: np.ndarray) -> int:
    """The shift `lag` that best lines `recording[lag + i]` up with `reference[i]` (FFT cross-correlation)."""
    size = 1 << int(np.ceil(np.log2(recording.size + reference.size)))
    spectrum = np.fft.rfft(recording, size) * np.conj(np.fft.rfft(reference, size))
    correlation = np.fft.irfft(spectrum, size)
    lag = int(np.argmax(correlation))
    return lag if lag < size - reference.size else lag - size


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(a.size, b.size)
    a, b = a[:n].astype(np.float64), b[:n].astype(np.float64)
    denominator = np.sqrt(np.dot(a, a) * np.dot(b, b))
    return float(np.dot(a, b) / denominator) if denominator else 0.0


def snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    noise = float(np.sum((reference.astype(np.float64) - other) ** 2))
    power = float(np.sum(reference.astype(np.float64) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(power / noise)


def window_snrs(
    recording: np.ndarray, reference: np.ndarray, lag: int, window: int, search: int
) -> list[float]:
    """The best SNR (dB) of each window of `reference` found in `recording` within `search` of `lag` + its start.

    Sample values, not correlation: the random-weights model's output is nearly periodic at the hop, so only
    the exact waveform tells the right frame from its neighbours. A gap (under-run) costs the windows it hits.
    """
    results = []
    for start in range(0, reference.size - window + 1, window):
        piece = reference[start : start + window].astype(np.float64)
        low = max(0, lag + start - search)
        segment = recording[low : lag + start + window + search].astype(np.float64)
        if segment.size < window:
            results.append(-np.inf)
            continue
        # |segment[k:k+w] - piece|^2 for every k at once: sliding energy - 2 * cross-correlation + |piece|^2
        size = 1 << int(np.ceil(np.log2(segment.size + window)))
        cross = np.fft.irfft(np.fft.rfft(segment, size) * np.conj(np.fft.rfft(piece, size)), size)
        count = segment.size - window + 1
        energy = np.convolve(segment**2, np.ones(window), "valid")[:count]
        error = np.maximum(energy - 2 * cross[:count] + np.dot(piece, piece), 1e-30)
        results.append(float(10 * np.log10(np.dot(piece, piece) / error.min())))
    return results


def original_windows(
    recording: np.ndarray, signal: np.ndarray, start: int, window: int
) -> list[tuple[int, float]]:
    """(lag, correlation) of each window of `signal` from `start` on, found anywhere in `recording`.

    After the switch to A the output is the original itself, so each window's lag is where the output then
    was; a gap moves it, and a window that straddles one scores low.
    """
    results = []
    for at in range(start, signal.size - window + 1, window):
        piece = signal[at : at + window]
        lag = find_lag(recording, piece) - at
        results.append((lag, correlation(recording[max(0, lag + at) : lag + at + window], piece)))
    return results


def outside_latency(
    run: LiveRun, signal: np.ndarray, switch_s: float
) -> tuple[float | None, list[tuple[int, float]]]:
    """Seconds from the input monitor to the output monitor, from the last clean window after the switch to A.

    None when no window after the switch is clean. The two recorders start within a few milliseconds.
    """
    windows = original_windows(run.recorded_out, signal, int((switch_s + 0.5) * run.rate), run.rate // 5)
    good = [lag for lag, score in windows if score > 0.99]
    if not good:
        return None, windows
    in_lag = find_lag(run.recorded_in, signal[: run.rate])
    return (good[-1] - in_lag) / run.rate, windows
