"""Sample-accurate A/B playback: one output stream that reads whichever version is selected.

All versions are aligned to the original (same rate, channels and length), so the stream callback reads the
selected version at the current sample position. Switching starts a new "voice" on the new version at the
very same position and fades the old voice out over a short crossfade (5 ms): no gap, no click, and the
stream is never restarted. Seeks and loop wraps crossfade the same way.

`PlaybackMixer` is the callback's state and has no Qt and no sounddevice in it: tests call `render` directly.
`Player` wraps it in a sounddevice `OutputStream` and reports position, state and the end of playback with
Qt signals, polled from the UI thread (the audio thread never touches Qt). The stream outputs silence while
nothing plays and is stopped from the UI thread once idle for a moment, so pausing and playing again is
instant and never waits on the host draining a stream.

    player = Player()
    if player.available:
        player.set_sources([original, decoded_6k, decoded_24k], 44_100)
        player.play(); player.select(2)   # switches at the same sample
    else:
        label.setText(player.unavailable_reason)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from time import monotonic
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.audio_devices import AudioDevice, given_or_loaded, list_devices, load_sounddevice, restart_portaudio

#: Crossfade applied on every switch, seek, loop wrap, start and pause.
CROSSFADE_S = 0.005
#: Upper bound the spec allows for the crossfade.
MAX_CROSSFADE_S = 0.010
#: Most voices mixed at once; older fading voices are dropped beyond this (only with frantic switching).
MAX_VOICES = 4

log = logging.getLogger(__name__)


@dataclass
class _Voice:
    source: int
    pos: int
    gain: float
    target: float


class PlaybackMixer:
    """Mixes aligned sources into output blocks; thread-safe between the UI thread and the audio thread.

    `sources` are float32 `[C, T]` arrays, all the same shape; index 0 is conventionally the original.
    """

    def __init__(
        self, sources: Sequence[np.ndarray], sample_rate: int, crossfade_s: float = CROSSFADE_S
    ) -> None:
        if not 0 < crossfade_s <= MAX_CROSSFADE_S:
            raise ValueError(f"crossfade must be in (0, {MAX_CROSSFADE_S * 1000:g} ms].")
        self._lock = threading.RLock()
        self.sample_rate = int(sample_rate)
        self.fade_length = max(1, round(crossfade_s * sample_rate))
        self._voices: list[_Voice] = []
        self._sources: list[np.ndarray] = []
        self._length = 0
        self._channels = 1
        self._selected = 0
        self._position = 0
        self._playing = False
        self._finished = False
        self._loop: tuple[int, int] | None = None
        self._loop_enabled = False
        self.set_sources(sources)

    # -- configuration (UI thread) ------------------------------------------------------------------

    def set_sources(self, sources: Sequence[np.ndarray]) -> None:
        """Replace the versions, keeping position and selection (clamped); playing voices restart on them."""
        if not sources:
            raise ValueError("at least one source is needed.")
        # Kept as given ([C, T], no copy when already float32): long files in several versions are big.
        arrays = [np.asarray(s, dtype=np.float32).reshape(len(s), -1) for s in sources]
        shape = arrays[0].shape
        if any(a.shape != shape for a in arrays):
            raise ValueError("all sources must have the same channels and length; align them first.")
        with self._lock:
            position = self.position
            same_length = self._length == shape[1]
            self._sources = arrays
            self._channels, self._length = shape
            self._selected = min(self._selected, len(arrays) - 1)
            self._position = min(position, self._length)
            if self._loop is not None:
                self._loop = self._clamp_loop(*self._loop)
            if not same_length:
                self._voices = [_Voice(self._selected, self._position, 1.0, 1.0)] if self._playing else []
            else:
                self._voices = [v for v in self._voices if v.source < len(arrays)]
                if self._playing and (not self._voices or self._voices[-1].source != self._selected):
                    self._start_voice(self._selected, position)

    @property
    def length(self) -> int:
        return self._length

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def source_count(self) -> int:
        return len(self._sources)

    @property
    def selected(self) -> int:
        return self._selected

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def position(self) -> int:
        """Current sample position (of the newest voice while playing)."""
        with self._lock:
            if self._playing and self._voices:
                return self._voices[-1].pos
            return self._position

    @property
    def idle(self) -> bool:
        """Not playing and every fade has finished: the output is silence."""
        with self._lock:
            return not self._playing and not self._voices

    @property
    def loop(self) -> tuple[int, int] | None:
        return self._loop

    @property
    def loop_enabled(self) -> bool:
        return self._loop_enabled and self._loop is not None

    def take_finished(self) -> bool:
        """True once after playback ran off the end (not after a pause)."""
        with self._lock:
            finished, self._finished = self._finished, False
            return finished

    def _clamp_loop(self, start: int, end: int) -> tuple[int, int] | None:
        start, end = sorted((max(0, min(int(start), self._length)), max(0, min(int(end), self._length))))
        return (start, end) if end - start >= 2 * self.fade_length else None

    # -- transport (UI thread) ----------------------------------------------------------------------

    def play(self) -> None:
        with self._lock:
            if self._playing:
                return
            if self._position >= self._length:
                self._position = self._loop[0] if self.loop_enabled else 0
            self._finished = False
            self._playing = True
            self._start_voice(self._selected, self._position)

    def pause(self) -> None:
        with self._lock:
            if not self._playing:
                return
            self._position = self.position
            self._playing = False
            for voice in self._voices:
                voice.target = 0.0

    def select(self, index: int) -> int:
        """Play `index` from the current sample on, crossfading from whatever plays now.

        Returns the sample position at which the switch takes effect.
        """
        with self._lock:
            if not 0 <= index < len(self._sources):
                raise IndexError(f"no source {index}")
            position = self.position
            if index != self._selected:
                self._selected = index
                if self._playing:
                    self._start_voice(index, position)
            return position

    def seek(self, frame: int) -> None:
        with self._lock:
            frame = max(0, min(int(frame), self._length))
            self._finished = False
            if self._playing:
                self._start_voice(self._selected, frame)
            else:
                self._position = frame

    def set_loop(self, start: int | None, end: int | None = None) -> None:
        """Set the loop region in samples (None clears it). Regions shorter than two fades are ignored."""
        with self._lock:
            self._loop = None if start is None or end is None else self._clamp_loop(start, end)

    def set_loop_enabled(self, enabled: bool) -> None:
        with self._lock:
            self._loop_enabled = bool(enabled)

    def _start_voice(self, source: int, pos: int) -> None:
        """Fade every voice out except a (new or matching) voice on `source` at `pos`, which fades in."""
        keep = None
        for voice in self._voices:
            if voice.source == source and voice.pos == pos:
                keep = voice
            voice.target = 0.0
        if keep is None:
            keep = _Voice(source, pos, 0.0, 1.0)
        else:
            self._voices.remove(keep)
            keep.target = 1.0
        self._voices.append(keep)
        if len(self._voices) > MAX_VOICES:
            del self._voices[: len(self._voices) - MAX_VOICES]

    # -- the audio callback -------------------------------------------------------------------------

    def render(self, out: np.ndarray) -> None:
        """Fill `out` `[frames, channels]` with the next block (silence when idle)."""
        out.fill(0.0)
        with self._lock:
            if not self._voices or out.shape[1] != self._channels:
                return
            frames = out.shape[0]
            written = 0
            while written < frames and self._voices:
                main = self._voices[-1]
                if self._playing:
                    boundary = self._length
                    if self.loop_enabled and main.pos <= self._loop[1]:
                        boundary = self._loop[1]
                    if main.pos >= boundary:
                        if boundary < self._length:  # loop end: wrap with a crossfade
                            self._start_voice(self._selected, self._loop[0])
                            continue
                        self._finish()
                        continue
                    chunk = min(frames - written, boundary - main.pos)
                else:
                    chunk = frames - written
                self._mix(out[written : written + chunk], chunk)
                written += chunk

    def _finish(self) -> None:
        """The newest voice ran off the end: stop, fading out anything still sounding."""
        self._playing = False
        self._finished = True
        self._position = self._length
        self._voices = [v for v in self._voices[:-1] if v.gain > 0.0]
        for voice in self._voices:
            voice.target = 0.0

    def _mix(self, out: np.ndarray, chunk: int) -> None:
        """Add `chunk` samples of every voice into `out`, ramping gains toward their targets."""
        ramp = None
        for voice in self._voices:
            start = voice.pos
            n = max(0, min(start + chunk, self._length) - start)
            samples = self._sources[voice.source][:, start : start + n].T
            if voice.gain == voice.target:
                if voice.gain > 0.0 and n:
                    out[:n] += samples if voice.gain == 1.0 else samples * voice.gain
            else:
                if ramp is None:
                    ramp = np.arange(1, chunk + 1, dtype=np.float32) / self.fade_length
                direction = 1.0 if voice.target > voice.gain else -1.0
                gains = np.clip(voice.gain + direction * ramp, 0.0, 1.0)
                if n:
                    out[:n] += samples * gains[:n, None]
                voice.gain = float(gains[-1])
            voice.pos += chunk
        self._voices = [v for v in self._voices if v.gain > 0.0 or v.target > 0.0]


# -- the audio backend -------------------------------------------------------------------------------


def list_output_devices(sd: Any) -> tuple[list[AudioDevice], str]:
    """Devices that can play, or an empty list and why not (as the reason playback is unavailable)."""
    devices, reason = list_devices(sd, "output")
    return devices, reason and f"Playback unavailable: {reason[0].lower()}{reason[1:]}"


class Player(QObject):
    """A sounddevice output stream around a `PlaybackMixer`, with Qt signals for the UI.

    Never raises for a missing audio stack: `available` is False and `unavailable_reason` says why.
    """

    position_changed = Signal(int)  # sample
    playing_changed = Signal(bool)
    selection_changed = Signal(int)
    finished = Signal()
    availability_changed = Signal(bool, str)
    error_occurred = Signal(str)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        backend: Any = None,
        crossfade_s: float = CROSSFADE_S,
        latency: float | str = 0.08,
        poll_ms: int = 30,
        idle_stop_s: float = 2.0,
    ) -> None:
        super().__init__(parent)
        self._idle_stop_s = idle_stop_s
        self._idle_since: float | None = None
        self._crossfade_s = crossfade_s
        self._latency = latency
        self._mixer: PlaybackMixer | None = None
        self._stream: Any = None
        self._device: int | str | None = None
        self._last_position = -1
        self._was_playing = False
        self._sd, self._reason = given_or_loaded(backend, load_sounddevice)
        self._devices: list[AudioDevice] = []
        if self._sd is not None:
            self._devices, self._reason = list_output_devices(self._sd)
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.poll)

    # -- availability and devices ---------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return not self._reason

    @property
    def unavailable_reason(self) -> str:
        return self._reason

    @property
    def devices(self) -> list[AudioDevice]:
        return list(self._devices)

    @property
    def device(self) -> int | str | None:
        return self._device

    def refresh_devices(self) -> list[AudioDevice]:
        """Re-scan devices (PortAudio only sees devices present when it started, so restart it)."""
        if self._sd is None:
            return []
        self._close_stream()
        restart_portaudio(self._sd)
        was = self.available
        self._devices, self._reason = list_output_devices(self._sd)
        if was != self.available or not self.available:
            self.availability_changed.emit(self.available, self._reason)
        return self.devices

    def set_device(self, device: int | str | None) -> None:
        """Use `device` (index, name such as "pulse", or None for the default); reopens the stream."""
        if device == self._device:
            return
        playing = self.playing
        self._close_stream()
        self._device = device
        if playing:
            self._ensure_stream()

    # -- sources and transport ------------------------------------------------------------------------

    @property
    def mixer(self) -> PlaybackMixer | None:
        return self._mixer

    @property
    def sample_rate(self) -> int:
        return self._mixer.sample_rate if self._mixer else 0

    @property
    def length(self) -> int:
        return self._mixer.length if self._mixer else 0

    @property
    def position(self) -> int:
        return self._mixer.position if self._mixer else 0

    @property
    def playing(self) -> bool:
        return bool(self._mixer and self._mixer.playing)

    @property
    def selected(self) -> int:
        return self._mixer.selected if self._mixer else 0

    def set_sources(self, sources: Sequence[np.ndarray], sample_rate: int) -> None:
        """Versions to switch between, all `[C, T]` at `sample_rate` (index 0: the original)."""
        sources = list(sources)
        if self._mixer is not None and self._mixer.sample_rate == sample_rate:
            shape_changed = self._mixer.channels != np.shape(sources[0])[0]
            self._mixer.set_sources(sources)
            if shape_changed:
                self._close_stream()
                if self._mixer.playing:
                    self._ensure_stream()
        else:
            self._close_stream()
            old = self._mixer
            self._mixer = PlaybackMixer(sources, sample_rate, self._crossfade_s)
            if old is not None:
                self._mixer.select(min(old.selected, self._mixer.source_count - 1))
                self._mixer.seek(round(old.position * sample_rate / old.sample_rate))
        self.poll()

    def play(self) -> None:
        if self._mixer is None:
            return
        if not self.available:
            self.error_occurred.emit(self._reason)
            return
        self._mixer.play()
        if self._ensure_stream():
            self._timer.start()
        self.poll()

    def pause(self) -> None:
        if self._mixer is not None:
            self._mixer.pause()
        self.poll()

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def select(self, index: int) -> int:
        """Switch to version `index`; returns the sample at which the switch takes effect (-1: no such version)."""
        if self._mixer is None or not 0 <= index < self._mixer.source_count:
            return -1
        changed = index != self._mixer.selected
        position = self._mixer.select(index)
        if changed:
            self.selection_changed.emit(index)
        return position

    def seek(self, frame: int) -> None:
        if self._mixer is not None:
            self._mixer.seek(frame)
            self.poll()

    def seek_seconds(self, seconds: float) -> None:
        if self._mixer is not None:
            self.seek(round(seconds * self._mixer.sample_rate))

    def set_loop(self, start: int | None, end: int | None = None) -> None:
        if self._mixer is not None:
            self._mixer.set_loop(start, end)

    def set_loop_enabled(self, enabled: bool) -> None:
        if self._mixer is not None:
            self._mixer.set_loop_enabled(enabled)

    def close(self) -> None:
        """Stop and release the stream (call when the window closes)."""
        if self._mixer is not None:
            self._mixer.pause()
        self._close_stream()
        self._timer.stop()

    # -- stream handling ------------------------------------------------------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        """PortAudio's callback (audio thread): render the next block; silence when nothing plays.

        It never stops the stream itself (a stream stopped from its callback drains for a host-dependent
        time, during which a new `play` would go unheard); the UI thread stops an idle stream in `poll`.
        """
        mixer = self._mixer
        if mixer is None or outdata.shape[1] != mixer.channels:
            outdata.fill(0.0)
            return
        mixer.render(outdata)

    def _ensure_stream(self) -> bool:
        """Open (once) and start the stream; False with `error_occurred` if that fails."""
        if self._sd is None or self._mixer is None:
            return False
        try:
            if self._stream is None:
                self._stream = self._sd.OutputStream(
                    samplerate=self._mixer.sample_rate,
                    channels=self._mixer.channels,
                    dtype="float32",
                    device=self._device,
                    latency=self._latency,
                    callback=self._callback,
                )
            if not self._stream.active:
                if not self._stream.stopped:
                    self._stream.abort()  # a stream that ended on its own must be stopped before a start
                self._stream.start()
            self._idle_since = None
        except Exception as exc:  # noqa: BLE001 - any PortAudio failure becomes a message, not a crash
            self._close_stream()
            self._mixer.pause()
            self.error_occurred.emit(f"Could not start playback: {exc}")
            return False
        return True

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken stream must not raise
                pass

    def poll(self) -> None:
        """Publish position / state changes and the end of playback; stop a stream idle for `idle_stop_s`.

        Runs on a UI timer while a stream is open.
        """
        mixer = self._mixer
        if mixer is None:
            return
        position = mixer.position
        if position != self._last_position:
            self._last_position = position
            self.position_changed.emit(position)
        playing = mixer.playing
        if playing and self._stream is not None and not self._stream.active:
            self._ensure_stream()  # the host stopped it (e.g. a device error): start it again
        if playing != self._was_playing:
            self._was_playing = playing
            self.playing_changed.emit(playing)
        if mixer.take_finished():
            self.finished.emit()
        if playing or not mixer.idle:
            self._idle_since = None
            return
        now = monotonic()
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since >= self._idle_stop_s:
            self._stop_stream()
            self._timer.stop()

    def _stop_stream(self) -> None:
        """Stop (not close) the stream: what is left in its buffers is silence by now."""
        if self._stream is not None and self._stream.active:
            try:
                self._stream.abort()
            except Exception:  # noqa: BLE001 - a broken stream is reopened by the next play
                self._close_stream()
