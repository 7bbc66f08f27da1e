"""End to end through a real audio server: the Player plays into a PulseAudio null sink and `parecord`
records the sink's monitor; what comes back must be what was played, including a switch of version mid-play.

The server is started by the test (XDG_RUNTIME_DIR in a temporary folder, so it touches nothing else) and
stopped by the pid in its pid file. See /work/shared/reference/AUDIO-SERVER.md.
"""

from __future__ import annotations

import signal
import subprocess

import numpy as np
import pytest
import soundfile as sf

from app.audio_devices import load_sounddevice
from app.player import PlaybackMixer, Player
from tests.helpers.pulse import PulseServer, PulseUnavailable, forget_devices, wait_for

pytestmark = pytest.mark.audio_server

SR = 48_000
SECONDS = 1.5
TONE_A, TONE_B = 440.0, 997.0  # incommensurate: only the true alignment lines both up


@pytest.fixture
def pulse_server():
    """A private PulseAudio server with a 48 kHz mono null sink `testsink`; yields the runtime dir."""
    sd, reason = load_sounddevice()
    if sd is None:
        pytest.skip(reason)
    try:
        server = PulseServer({"testsink": (SR, 1)}).__enter__()
    except PulseUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server.runtime
    finally:
        server.__exit__(None, None, None)  # the caller's environment back before PortAudio looks again
        forget_devices(sd)  # forget the server's devices for later tests


def tone(freq: float) -> np.ndarray:
    t = np.arange(int(SECONDS * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None]


def dominant_frequency(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / SR)[np.argmax(spectrum)])


def test_recorded_output_is_what_was_played_across_a_switch(qtbot, pulse_server, tmp_path):
    versions = [tone(TONE_A), tone(TONE_B)]
    player = Player(latency="high")
    player.refresh_devices()  # PortAudio must rescan to see the server started after it loaded
    if not any(d.name == "pulse" for d in player.devices):
        pytest.skip(
            f"PortAudio does not list the 'pulse' device: {player.unavailable_reason or player.devices}"
        )
    player.set_device("pulse")
    player.set_sources(versions, SR)

    rec_path = tmp_path / "rec.wav"
    recorder = subprocess.Popen(
        ["parecord", "--device=testsink.monitor", "--file-format=wav", f"--rate={SR}", "--channels=1",
         "--format=float32le", str(rec_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:

        def recording() -> bool:  # samples are reaching the file (a connected recorder may not be there yet)
            return rec_path.exists() and rec_path.stat().st_size > 4 * SR // 5

        assert wait_for(recording, 10), "parecord recorded nothing"
        player.play()
        qtbot.waitUntil(lambda: player.position > SR // 2, timeout=5000)
        switch_at = player.select(1)
        with qtbot.waitSignal(player.finished, timeout=10_000):
            pass
        qtbot.wait(300)  # let the last buffers reach the sink
    finally:
        player.close()
        recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(10)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait()

    recorded, rate = sf.read(rec_path, dtype="float32")
    assert rate == SR
    recorded = recorded.reshape(len(recorded), -1)[:, 0]

    # What the player should have produced: the same mixer, offline, switching at the same sample.
    mixer = PlaybackMixer(versions, SR)
    mixer.play()
    expected = np.zeros((versions[0].shape[1], 1), np.float32)
    mixer.render(expected[:switch_at])
    mixer.select(1)
    mixer.render(expected[switch_at:])
    expected = expected[:, 0]

    # Coarse alignment by the onset, then the exact lag by cross-correlation around it.
    loud = np.flatnonzero(np.abs(recorded) > 0.05)
    assert loud.size, f"nothing was recorded (peak {np.abs(recorded).max():.4f})"
    onset = int(loud[0]) - int(np.flatnonzero(np.abs(expected) > 0.05)[0])
    lags = np.arange(max(0, onset - 400), onset + 400)
    head = expected[: SR // 2 + switch_at]
    scores = [float(np.dot(recorded[lag : lag + head.size], head)) if lag + head.size <= recorded.size else -1
              for lag in lags]  # fmt: skip
    lag = int(lags[int(np.argmax(scores))])
    aligned = recorded[lag : lag + expected.size]
    assert aligned.size == expected.size, "the recording stopped before the end of playback"

    correlation = np.dot(aligned, expected) / np.sqrt(np.dot(aligned, aligned) * np.dot(expected, expected))
    assert correlation > 0.99
    assert np.abs(aligned).max() == pytest.approx(0.3, abs=0.02)
    # Both versions were heard, in order, and the switch landed on the sample the player reported.
    window = 4096
    assert dominant_frequency(aligned[switch_at - window - 500 : switch_at - 500]) == pytest.approx(
        TONE_A, abs=15
    )
    assert dominant_frequency(aligned[switch_at + 500 : switch_at + 500 + window]) == pytest.approx(
        TONE_B, abs=15
    )
    np.testing.assert_allclose(aligned[switch_at - 2000 : switch_at + 2000], expected[switch_at - 2000 : switch_at + 2000],
                               atol=2e-3)  # fmt: skip
    assert np.abs(recorded[lag + expected.size + 2000 :]).max(initial=0.0) < 1e-3  # silence after the end
