"""The Live window with a fake audio backend: device lists, Start/Stop, live bitrate and A/B, recording, and
what it says when there is no PortAudio or no input device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.live import view as live_view
from app.live.view import LiveWindow, live_spec
from app.tasks import TaskRunner
from codec.ecdc import read_ecdc
from codec.specs import get_spec
from tests.app.live.conftest import chirp_signal
from tests.app.live.fake_backend import FakeBackend, worker_settled

SPEC = get_spec("encodec_24khz")


@pytest.fixture
def make_live(qtbot, live_model, tmp_path):
    windows = []

    def make(backend=None, **kwargs):
        window = LiveWindow(
            SPEC,
            TaskRunner(synchronous=True),
            lambda: live_model,
            backend=backend,
            record_folder=tmp_path,
            **kwargs,
        )
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


def test_lists_input_and_output_devices(make_live):
    window = make_live(FakeBackend())
    assert [d.name for d in window.input_devices] == ["Microphone"]
    assert [d.name for d in window.output_devices] == ["Speaker"]
    assert window.input_combo.currentText().startswith("Microphone (Fake) - default")
    assert window.start_button.isEnabled() and not window.stop_button.isEnabled()
    assert window.status_label.text() == ""


def test_without_portaudio_the_view_says_why_and_disables_start(make_live, monkeypatch):
    reason = "Live unavailable: the PortAudio library could not be loaded (libportaudio.so.2: not found)."
    monkeypatch.setattr(live_view, "load_backend", lambda: (None, reason))
    window = make_live(None)
    assert window.status_label.text() == reason
    assert not window.start_button.isEnabled() and not window.refresh_button.isEnabled()
    assert window.input_combo.count() == 0 and not window.input_combo.isEnabled()
    window.start()  # a no-op, not a crash
    assert window.pipeline is None


def test_without_an_input_device_the_view_says_so(make_live):
    window = make_live(FakeBackend(inputs=False))
    assert window.status_label.text() == "No audio input device was found."
    assert not window.start_button.isEnabled()


def test_live_session_switches_bitrate_and_a_b_and_records(make_live, qtbot, live_model, tmp_path):
    signal = chirp_signal(2.0)
    backend = FakeBackend(signal, tail=4000)
    window = make_live(backend)
    backend.lockstep = lambda fed: window.pipeline is not None and worker_settled(window.pipeline)(fed)
    window.record_ecdc.setChecked(True)
    window.record_wav.setChecked(True)
    window.bandwidth_slider.set_bandwidth(6.0)
    with qtbot.waitSignal(window.started, timeout=20_000):
        window.start_button.click()
    assert window.running and window.stop_button.isEnabled() and not window.start_button.isEnabled()
    assert not window.input_combo.isEnabled()  # devices are fixed while running
    pipeline = window.pipeline
    qtbot.waitUntil(lambda: pipeline.processed > 16_000, timeout=20_000)
    window.bandwidth_slider.set_bandwidth(24.0)  # live, no restart
    qtbot.waitUntil(lambda: pipeline._processor.bandwidth == 24.0, timeout=5000)
    assert pipeline._processor._live_codebooks == 32 and pipeline.running
    window.a_button.click()
    qtbot.waitUntil(lambda: not pipeline._processor.monitor_codec, timeout=5000)
    qtbot.waitUntil(backend.finished.is_set, timeout=30_000)
    window.poll()
    assert window.latency_label.text().endswith("ms (measured)")
    assert window.xrun_label.text().startswith("0 / 0")
    with qtbot.waitSignal(window.stopped, timeout=20_000) as stopped:
        window.stop_button.click()
    result = stopped.args[0]
    assert not window.running and window.start_button.isEnabled()
    assert "Wrote" in window.status_label.text()
    # The take is at the bitrate set at Start, and its codes are the file path's for the recorded original.
    import soundfile as sf

    original, _ = sf.read(result.wav, dtype="float32")
    encoded = read_ecdc(result.ecdc)
    assert encoded.bandwidth == 6.0 and result.ecdc.parent == tmp_path
    assert torch.equal(encoded.codes[0], live_model.encode(torch.from_numpy(original)[None], 6.0).codes[0])
    # After the A switch the device played the original itself, delayed by the codec's latency.
    played = backend.played
    tail = signal[-6000:-1000]
    match = [i for i in range(played.size - tail.size) if played[i] == tail[0] and np.array_equal(played[i : i + tail.size], tail)]  # fmt: skip
    assert match, "the original was not heard after switching to A"


def test_closing_a_running_window_stops_the_devices(make_live, qtbot):
    backend = FakeBackend(chirp_signal(5.0))
    window = make_live(backend)
    with qtbot.waitSignal(window.started, timeout=20_000):
        window.start()
    pipeline = window.pipeline
    window.close()
    assert not pipeline.running and backend.streams["output"].stopped.is_set()


def test_live_uses_a_streaming_model():
    assert live_spec("encodec_24khz").name == "encodec_24khz"
    assert live_spec("encodec_48khz").name == "encodec_24khz"  # not causal: Live falls back to 24 kHz
    assert live_spec("ecdc_small_24khz").name == "ecdc_small_24khz"


def test_main_window_opens_live_from_the_tools_menu(make_window, monkeypatch):
    monkeypatch.setattr(live_view, "load_backend", lambda: (FakeBackend(), ""))
    window = make_window()
    tools = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Tools")
    assert window.main_actions.live in tools.actions()
    window.main_actions.live.trigger()
    live = window.live_window
    # Offline (no Meta weights here), the strip's model is the bundled one, which streams too.
    assert window.strip.model_name() == "ecdc_small_24khz"
    assert isinstance(live, LiveWindow) and live.isVisible() and live.spec.name == "ecdc_small_24khz"
    window.main_actions.live.trigger()  # a second time raises the same window
    assert window.live_window is live
    live.close()
