"""The compare view with a random-weights model: ladder, spectrograms, keys, seeking and looping.

Tasks run synchronously (each job finishes inside `run`), except in the test that checks the work really
happens off the UI thread. Playback goes to a fake sounddevice (tests/app/test_player.py)."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from app.compare.window import CompareWindow
from app.player import Player
from app.tasks import TaskRunner
from codec.ladder import LadderCache
from tests.app.test_player import FakeBackend

SR = 22_050
SECONDS = 0.6


@pytest.fixture(scope="module", autouse=True)
def torch_threads_like_the_app():
    """The app runs models on every core but one (`app.codec_bridge.worker_torch_threads`); so do these tests,
    which also keeps them fast on a busy two-core machine."""
    import torch

    from app.codec_bridge import worker_torch_threads

    previous = torch.get_num_threads()
    torch.set_num_threads(worker_torch_threads())
    yield
    torch.set_num_threads(previous)


class RandomPool:
    """What `ModelPool.model` gives, with random weights; records the threads it was asked from."""

    def __init__(self, random_model):
        self.random_model = random_model
        self.threads: list[threading.Thread] = []

    def model(self, name, progress=None, cancel=None):
        self.threads.append(threading.current_thread())
        return self.random_model(name)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    import soundfile as sf

    from tests.conftest import signal

    path = tmp_path_factory.mktemp("compare") / "song.wav"
    sf.write(path, signal(SR, 2, SECONDS).T, SR)
    return path


@pytest.fixture(scope="module")
def shared_cache():
    """Rungs shared by the tests of this module: the ladder is encoded once, as in one app session."""
    return LadderCache()


@pytest.fixture
def pool(random_model):
    return RandomPool(random_model)


@pytest.fixture
def open_window(qtbot, source, pool, shared_cache):
    windows = []

    def make(*, backend=None, runner=None, cache=None):
        runner = runner or TaskRunner(synchronous=True)
        player = Player(backend=backend if backend is not None else FakeBackend())
        cache = cache if cache is not None else shared_cache
        window = CompareWindow(source, runner, pool, "encodec_24khz", player=player, cache=cache)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append((window, runner))
        return window

    yield make
    for window, runner in windows:
        window.close()
        runner.wait(30_000)


@pytest.fixture
def window(open_window):
    return open_window()


def encode(window, qtbot, bandwidths=(1.5, 6.0)):
    window.set_checked_bandwidths(list(bandwidths))
    qtbot.mouseClick(window.encode_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: window.session.version_count() == 1 + len(bandwidths) and window.encode_button.isEnabled()
    )


def test_opens_with_the_original_and_its_spectrogram(window):
    assert window.session.loaded and window.session.audio.shape == (2, int(SR * SECONDS))
    assert window.table.rowCount() == 1 and window.table.text(0, 0) == "O"
    assert "22.05 kHz stereo" in window.table.text(0, 1)
    assert window.view.has_image("original") and not window.view.has_image("version")
    assert window.player.mixer.source_count == 1 and window.player.sample_rate == SR
    assert window.transport.play_button.isEnabled() and not window.transport.abx_button.isEnabled()


def test_ladder_fills_the_table_player_and_spectrogram(window, qtbot):
    encode(window, qtbot)
    rungs = window.session.rungs
    assert [r.bandwidth for r in rungs] == [1.5, 6.0]
    assert window.table.rowCount() == 3
    for row, rung in enumerate(rungs, start=1):
        assert window.table.text(row, 0) == str(row)
        assert window.table.text(row, 1) == rung.label
        assert window.table.text(row, 2) == str(rung.num_codebooks)
        assert window.table.text(row, 4) == f"{rung.bitrate_kbps:.2f} kbps"
        assert window.table.text(row, 5) == f"{rung.si_sdr:.1f} dB"
        assert window.table.text(row, 6) == f"{rung.log_mel_distance:.1f} dB"
    assert window.player.mixer.source_count == 3
    assert window.view.has_image("version") and window.view.title("version") == "1.5 kbps"
    assert window.transport.abx_button.isEnabled()
    assert window.progress.isHidden()  # shown only while encoding


def test_ladder_results_are_cached_for_the_session(open_window, pool, qtbot):
    cache = LadderCache()
    first = open_window(cache=cache)
    encode(first, qtbot)
    asked = len(pool.threads)
    second = open_window(cache=cache)  # all checked bandwidths cached: shown at once, nothing encoded
    second.set_checked_bandwidths([1.5, 6.0])
    second.encode_ladder()
    assert second.session.version_count() == 3
    assert second.session.rungs[0] is first.session.rungs[0]
    assert len(cache) == 2
    assert len(pool.threads) - asked <= 1  # at most the model lookup; no new rung was made


def test_keys_switch_versions_seek_and_play(window, qtbot):
    encode(window, qtbot)
    qtbot.keyClick(window, Qt.Key.Key_2)
    assert window.player.selected == 2 and window.table.current_version() == 2
    assert window.view.title("version") == "6 kbps"
    qtbot.keyClick(window, Qt.Key.Key_O)
    assert window.player.selected == 0 and window.table.current_version() == 0
    assert window.view.title("version") == "6 kbps"  # the spectrogram keeps the last encoded version
    qtbot.keyClick(window, Qt.Key.Key_9)  # no version 9: nothing happens
    assert window.player.selected == 0
    length = window.player.length
    window.player.seek(100)
    qtbot.keyClick(window, Qt.Key.Key_Right)  # +1 s, past the end of this 0.6 s file
    assert window.player.position == length
    window.player.seek(length - 100)
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert window.player.position == max(0, length - 100 - SR)
    window.player.seek(length)
    qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)  # -5 s
    assert window.player.position == 0
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.player.playing and window.transport.play_button.text() == "Pause"
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.player.playing and window.transport.play_button.text() == "Play"


def test_clicking_a_row_selects_the_version(window, qtbot):
    encode(window, qtbot)
    rect = window.table.visualRect(window.table.model().index(2, 1))
    qtbot.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.player.selected == 2 and window.view.title("version") == "6 kbps"


def plot_point(window, slot, seconds):
    """Widget coordinates of time `seconds` in the middle of a spectrogram plot."""
    widget = window.view.widgets[slot]
    box = window.view.plots[slot].getViewBox()
    (y0, y1) = box.viewRange()[1]
    scene = box.mapViewToScene(QPointF(seconds, (y0 + y1) / 2))
    return widget.mapFromScene(scene)


def test_click_seeks_and_drag_selects_a_loop(window, qtbot):
    encode(window, qtbot)
    view = window.view.widgets["version"]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=plot_point(window, "version", 0.3))
    seconds_per_pixel = SECONDS / window.view.plots["version"].getViewBox().width()
    assert window.player.position / SR == pytest.approx(0.3, abs=2 * seconds_per_pixel)

    start, end = plot_point(window, "original", 0.1), plot_point(window, "original", 0.4)
    viewport = window.view.widgets["original"].viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 11):
        qtbot.mouseMove(viewport, start + (end - start) * step / 10)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    region = window.view.loop_region()
    assert region == pytest.approx((0.1, 0.4), abs=2 * seconds_per_pixel)
    for slot in ("original", "version", "difference"):  # shown on every plot
        assert window.view.regions[slot].getRegion() == pytest.approx(region)

    qtbot.keyClick(window, Qt.Key.Key_L)
    mixer = window.player.mixer
    assert window.looping and mixer.loop_enabled
    assert mixer.loop == (round(region[0] * SR), round(region[1] * SR))
    assert region[0] <= window.player.position / SR < region[1]  # jumped into the loop
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.view.loop_region() is None and not mixer.loop_enabled and not window.looping


def test_loop_key_without_a_region_explains(window, qtbot):
    qtbot.keyClick(window, Qt.Key.Key_L)
    assert not window.looping and "Drag" in window.statusBar().currentMessage()


def test_playhead_follows_playback(window, qtbot):
    window.player.play()
    stream = window.player._stream
    stream.pull(SR // 4)
    window.player.poll()
    assert window.view.playhead() == pytest.approx((SR // 4) / SR)
    assert window.transport.time_label.text().startswith("0:00.250")


def test_scale_difference_layout_and_levels(window, qtbot):
    encode(window, qtbot)
    window.controls.set_scale("mel")
    assert window.view.scale == "mel"
    for slot in ("original", "version"):
        assert window.view.images[slot].image.shape[1] == 320  # mel rows
        assert window.view.plots[slot].getAxis("left").freq_scale == "mel"
    qtbot.mouseClick(window.controls.difference, Qt.MouseButton.LeftButton)
    assert window.view.difference_visible and window.view.has_image("difference")
    assert window.view.title("difference").startswith("Difference (1.5 kbps")
    window.controls.set_layout_mode("side")
    assert window.view.layout_mode == "side"
    window.controls.floor.setValue(-80)
    assert window.view.levels == (-80.0, -10.0)
    assert tuple(window.view.colorbar.levels()) == (-80.0, -10.0)
    # The version's image really is its spectrogram: quieter than the original where the codec lost energy.
    original = window.view.images["original"].image
    assert original.shape == window.view.images["version"].image.shape


def test_without_audio_output_playback_is_disabled_with_the_reason(open_window, qtbot):
    window = open_window(backend=FakeBackend(devices=[]))
    encode(window, qtbot)
    transport = window.transport
    assert not transport.play_button.isEnabled() and not transport.abx_button.isEnabled()
    assert transport.reason_label.isVisibleTo(window)
    assert "no audio output device" in transport.reason_label.text()
    qtbot.keyClick(window, Qt.Key.Key_Space)  # nothing crashes, nothing plays
    assert not window.player.playing
    qtbot.keyClick(window, Qt.Key.Key_1)  # choosing versions still updates the view
    assert window.view.title("version") == "1.5 kbps"


def test_work_runs_off_the_ui_thread(open_window, pool, qtbot):
    runner = TaskRunner()
    window = open_window(runner=runner, cache=LadderCache())
    qtbot.waitUntil(lambda: window.session.loaded, timeout=10_000)
    window.set_checked_bandwidths([1.5])
    window.encode_ladder()
    assert not window.encode_button.isEnabled()  # running
    qtbot.waitUntil(lambda: window.session.version_count() == 2, timeout=60_000)
    qtbot.waitUntil(lambda: window.view.has_image("version"), timeout=10_000)
    assert pool.threads and all(t is not threading.main_thread() for t in pool.threads)
    assert np.isfinite(window.session.rungs[0].log_mel_distance)


def test_cancel_leaves_the_window_usable(open_window, qtbot):
    runner = TaskRunner()
    window = open_window(runner=runner, cache=LadderCache())
    qtbot.waitUntil(lambda: window.session.loaded, timeout=10_000)
    window.set_checked_bandwidths([1.5, 3.0, 6.0, 12.0, 24.0])
    window.encode_ladder()
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.encode_button.isEnabled(), timeout=60_000)
    assert window.session.version_count() in (1, 6)  # cancelled, or it had already finished
    if window.session.version_count() == 1:
        assert "cancelled" in window.statusBar().currentMessage()


def test_blind_abx_hides_what_plays(window, qtbot):
    encode(window, qtbot)
    qtbot.keyClick(window, Qt.Key.Key_2)
    dialog = window.open_abx()
    assert dialog is not None and dialog.combo_a.currentData() == 0 and dialog.combo_b.currentData() == 2
    dialog.trials_box.setValue(5)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert window.blind and not window.table.isEnabled()
    qtbot.mouseClick(dialog.listen_buttons["X"], Qt.MouseButton.LeftButton)
    assert not window.table.selectionModel().selectedRows()  # the table does not reveal X
    window.select_version(1)  # the window cannot switch versions behind the test's back
    assert window.player.selected in (0, 2)
    for _ in range(5):
        qtbot.mouseClick(dialog.answer_a, Qt.MouseButton.LeftButton)
    assert not window.blind and window.table.isEnabled()
    assert window.table.current_version() == window.player.selected
    dialog.accept()


def test_without_portaudio_the_window_still_works(qtbot, monkeypatch, source, pool, shared_cache):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # `import sounddevice` fails
    runner = TaskRunner(synchronous=True)
    window = CompareWindow(source, runner, pool, "encodec_24khz", cache=shared_cache)  # its own Player
    qtbot.addWidget(window)
    window.show()
    assert not window.player.available
    assert not window.transport.play_button.isEnabled()
    assert "sounddevice" in window.transport.reason_label.text()
    encode(window, qtbot)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.player.playing and window.view.has_image("version")
    window.close()


def test_output_device_picker(window, qtbot):
    combo = window.transport.device_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["System default", "pulse (ALSA) - default"]
    combo.setCurrentIndex(1)
    combo.activated.emit(1)  # what a user's pick emits
    assert window.player.device == 1
    window.player.play()
    assert window.player._stream.kwargs["device"] == 1
    window.set_output_device(None)  # switching reopens the stream on the new device
    assert window.player._stream.kwargs["device"] is None and window.player.playing
    assert combo.currentIndex() == 0


def test_a_long_file_is_compared_with_its_versions_on_disk(open_window, qtbot, monkeypatch):
    # Past ON_DISK_SECONDS the original and every rung are memory-mapped spool files (bounded memory);
    # the window works the same. bench/bench_compare_memory.py measures it on a 30-minute file.
    monkeypatch.setattr("app.compare.session.ON_DISK_SECONDS", 0.5)
    window = open_window(cache=LadderCache())
    assert window.session.on_disk and isinstance(window.session.audio, np.memmap)
    encode(window, qtbot, bandwidths=(6.0,))
    rung = window.session.rungs[0]
    assert isinstance(rung.audio, np.memmap) and rung.audio.shape == window.session.audio.shape
    assert window.player.mixer.source_count == 2
    window.session.request_image(1, "difference", "mel")
    qtbot.waitUntil(lambda: (1, "difference") in window.session._spectrograms)


def test_opus_versions_stand_beside_the_rungs(window, qtbot):
    from codec.baselines import opus_available

    if not opus_available():
        assert not window.opus_box.isEnabled() and "opus-tools" in window.opus_box.toolTip()
        pytest.skip("opus-tools is not installed")
    window.opus_box.setChecked(True)
    window.set_checked_bandwidths([1.5, 6.0])
    qtbot.mouseClick(window.encode_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.version_count() == 4 and window.encode_button.isEnabled())
    opus = window.session.rungs[-1]
    assert opus.label == "Opus 6 kbps" and window.table.text(3, 1) == "Opus 6 kbps"  # none at 1.5: below Opus
    assert window.table.text(3, 2) == ""  # no codebooks
    assert opus.audio.shape == window.session.audio.shape  # sample-aligned for A/B and ABX
    assert opus.bitrate_kbps > 0 and np.isfinite(opus.si_sdr)
    assert window.player.mixer.source_count == 4
