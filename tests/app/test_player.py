"""The playback mixer driven block by block (no device), and the Player around it with a fake backend.

Sources are two-channel: channel 0 holds the sample index (the same in every version), channel 1 the
version's number. So channel 0 of the output is the playback position whenever the gains sum to 1, and
channel 1 traces the crossfade.
"""

import importlib.abc
import sys

import numpy as np
import pytest

from app.audio_devices import PORTAUDIO_RESTART, load_sounddevice, restart_portaudio
from app.player import MAX_CROSSFADE_S, PlaybackMixer, Player, list_output_devices

SR = 8000
LENGTH = 8000


def versions(count=2, length=LENGTH):
    index = np.arange(length, dtype=np.float32)
    return [np.stack([index, np.full(length, float(v), np.float32)]) for v in range(count)]


def render(mixer, frames):
    out = np.full((frames, mixer.channels), np.nan, np.float32)
    mixer.render(out)
    return out


@pytest.fixture
def mixer():
    return PlaybackMixer(versions(3), SR)


def test_crossfade_is_short(mixer):
    assert mixer.fade_length == round(0.005 * SR)
    assert mixer.fade_length <= MAX_CROSSFADE_S * SR
    with pytest.raises(ValueError):
        PlaybackMixer(versions(), SR, crossfade_s=0.02)


def test_idle_mixer_outputs_silence(mixer):
    assert np.all(render(mixer, 64) == 0)
    assert mixer.idle and mixer.position == 0


def test_play_fades_in_then_reads_the_selected_version(mixer):
    mixer.play()
    out = render(mixer, 512)
    fade = mixer.fade_length
    gains = out[1:fade, 0] / np.arange(1, fade)
    assert np.all(np.diff(gains) > 0) and gains[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(out[fade:, 0], np.arange(fade, 512))
    assert np.all(out[:, 1] == 0)
    assert mixer.position == 512


def test_switch_keeps_the_sample_position_and_crossfades(mixer):
    mixer.play()
    render(mixer, 1000)
    mixer.select(1)
    out = render(mixer, 1000)
    np.testing.assert_allclose(out[:, 0], np.arange(1000, 2000), rtol=1e-6)  # no jump, no gap
    mix = out[:, 1]
    fading = np.count_nonzero((mix > 0) & (mix < 1))
    assert fading == mixer.fade_length - 1  # then fully on the new version
    assert np.all(np.diff(mix) >= 0) and np.all(mix[mixer.fade_length - 1 :] == 1.0)
    assert mixer.position == 2000 and mixer.selected == 1


def test_switch_inside_a_block_boundary_sequence_is_seamless(mixer):
    mixer.play()
    outputs = []
    for step, choice in enumerate([1, 2, 0, 2, 1, 1, 0]):
        outputs.append(render(mixer, 333 + step))
        mixer.select(choice)
    out = np.concatenate(outputs + [render(mixer, 300)])
    fade = mixer.fade_length
    np.testing.assert_allclose(out[fade:, 0], np.arange(fade, out.shape[0]), rtol=1e-6)
    assert out[-1, 1] == 0.0


def test_switching_back_within_the_fade_reverses_it(mixer):
    mixer.play()
    render(mixer, 100)
    mixer.select(1)
    render(mixer, 10)  # B part-way in
    mixer.select(0)
    out = render(mixer, 200)
    np.testing.assert_allclose(out[:, 0], np.arange(110, 310), rtol=1e-6)
    assert out[0, 1] < 10 / mixer.fade_length + 1e-6  # B only falls from where it was
    assert np.all(out[mixer.fade_length :, 1] == 0)


def test_seek_while_playing_crossfades_to_the_new_place(mixer):
    mixer.play()
    render(mixer, 500)
    mixer.seek(4000)
    out = render(mixer, 500)
    fade = mixer.fade_length
    np.testing.assert_allclose(out[fade:, 0], np.arange(4000 + fade, 4500))
    assert mixer.position == 4500


def test_loop_wraps_with_a_crossfade(mixer):
    mixer.set_loop(1000, 2000)
    mixer.set_loop_enabled(True)
    mixer.seek(1500)
    mixer.play()
    out = render(mixer, 2000)  # 500 to the loop end, a full loop, then 500 more
    fade = mixer.fade_length
    np.testing.assert_allclose(out[fade:500, 0], np.arange(1500 + fade, 2000))
    np.testing.assert_allclose(out[500 + fade : 1500, 0], np.arange(1000 + fade, 2000))
    np.testing.assert_allclose(out[1500 + fade :, 0], np.arange(1000 + fade, 1500))
    assert mixer.position == 1500
    mixer.set_loop_enabled(False)
    render(mixer, 1000)
    assert mixer.position == 2500  # plays on past the old loop end


def test_loop_shorter_than_two_fades_is_ignored(mixer):
    mixer.set_loop(100, 100 + mixer.fade_length)
    assert mixer.loop is None


def test_end_of_stream_outputs_silence_and_reports_finished_once(mixer):
    mixer.seek(LENGTH - 300)
    mixer.play()
    out = render(mixer, 1000)
    fade = mixer.fade_length
    np.testing.assert_allclose(out[fade:300, 0], np.arange(LENGTH - 300 + fade, LENGTH))
    assert np.all(out[300:] == 0)
    assert not mixer.playing and mixer.idle
    assert mixer.take_finished() and not mixer.take_finished()
    assert np.all(render(mixer, 100) == 0)
    mixer.play()  # from the top again
    assert mixer.position == 0 and mixer.playing


def test_pause_fades_out_and_resumes_where_it_paused(mixer):
    mixer.play()
    render(mixer, 1000)
    mixer.pause()
    out = render(mixer, 200)
    fade = mixer.fade_length
    assert np.all(np.diff(out[:fade, 0] / np.arange(1000, 1000 + fade)) < 0)
    assert np.all(out[fade:] == 0) and mixer.idle
    assert not mixer.take_finished()
    mixer.play()
    out = render(mixer, 200)
    np.testing.assert_allclose(out[fade:, 0], np.arange(1000 + fade, 1200))


def test_sources_must_be_aligned(mixer):
    with pytest.raises(ValueError):
        PlaybackMixer([np.zeros((1, 100)), np.zeros((1, 99))], SR)
    with pytest.raises(IndexError):
        mixer.select(3)


def test_replacing_sources_keeps_position_and_playback(mixer):
    mixer.play()
    render(mixer, 1000)
    mixer.set_sources(versions(5))
    mixer.select(4)
    out = render(mixer, 500)
    np.testing.assert_allclose(out[:, 0], np.arange(1000, 1500), rtol=1e-6)
    assert out[-1, 1] == 4.0


# -- the Player with a fake sounddevice -------------------------------------------------------------


class FakeStream:
    def __init__(self, backend, **kwargs):
        self.kwargs = kwargs
        self.callback = kwargs["callback"]
        self.active = False
        self.stopped = True
        self.starts = 0
        backend.streams.append(self)

    def start(self):
        self.active, self.stopped = True, False
        self.starts += 1

    def stop(self):
        self.active, self.stopped = False, True

    def abort(self):
        self.stop()

    def close(self):
        pass

    def pull(self, frames):
        """What PortAudio does: ask the callback for a block."""
        out = np.full((frames, self.kwargs["channels"]), np.nan, np.float32)
        self.callback(out, frames, None, None)
        return out


class FakeBackend:
    def __init__(self, devices=None):
        self.streams = []
        self.devices = (
            devices
            if devices is not None
            else [
                {"name": "mic", "hostapi": 0, "max_output_channels": 0},
                {"name": "pulse", "hostapi": 0, "max_output_channels": 32},
            ]
        )
        self.default = type("D", (), {"device": (0, 1)})()

    def query_devices(self):
        return self.devices

    def query_hostapis(self):
        return [{"name": "ALSA"}]

    def OutputStream(self, **kwargs):  # noqa: N802 - sounddevice's name
        return FakeStream(self, **kwargs)


def test_player_switches_without_reopening_or_restarting_the_stream(qtbot):
    backend = FakeBackend()
    player = Player(backend=backend)
    assert player.available and [d.name for d in player.devices] == ["pulse"]
    assert player.devices[0].default
    player.set_sources(versions(2), SR)
    player.set_device("pulse")
    player.play()
    (stream,) = backend.streams
    assert stream.kwargs["samplerate"] == SR and stream.kwargs["channels"] == 2
    assert stream.kwargs["device"] == "pulse"
    stream.pull(1000)
    with qtbot.waitSignal(player.selection_changed) as blocker:
        player.select(1)
    assert blocker.args == [1]
    out = stream.pull(1000)
    np.testing.assert_allclose(out[:, 0], np.arange(1000, 2000), rtol=1e-6)
    assert len(backend.streams) == 1 and stream.starts == 1 and stream.active


def test_player_signals_the_end_and_stops_the_idle_stream(qtbot):
    backend = FakeBackend()
    player = Player(backend=backend, idle_stop_s=0.0)
    player.set_sources(versions(2, length=2000), SR)
    player.play()
    stream = backend.streams[0]
    stream.pull(1500)
    out = stream.pull(1500)  # the last 500 samples, then silence
    np.testing.assert_allclose(out[:500, 0], np.arange(1500, 2000))
    assert np.all(out[500:] == 0) and stream.active
    assert np.all(stream.pull(256) == 0)  # the stream runs on, silent, until the UI thread stops it
    with qtbot.waitSignal(player.finished):
        player.poll()
    assert not player.playing and not stream.active  # idle: stopped from the UI thread
    player.play()  # plays again from the start on the same stream
    assert stream.starts == 2 and stream.active and player.position == 0


def test_pause_keeps_the_stream_until_it_has_been_idle_for_a_while(qtbot):
    backend = FakeBackend()
    player = Player(backend=backend, idle_stop_s=3600.0)
    player.set_sources(versions(1), SR)
    player.play()
    stream = backend.streams[0]
    stream.pull(500)
    player.pause()
    stream.pull(500)  # the fade-out, then silence
    player.poll()
    assert stream.active  # paused, not stopped: playing again is instant
    player.play()
    out = stream.pull(500)
    fade = player.mixer.fade_length
    np.testing.assert_allclose(out[fade:, 0], np.arange(500 + fade, 1000))
    assert stream.starts == 1


def test_player_without_portaudio_disables_playback(qtbot, monkeypatch):
    class NoPortAudio(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "sounddevice":
                raise OSError("PortAudio library not found")
            return None

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPortAudio(), *sys.meta_path])
    module, reason = load_sounddevice()
    assert module is None and "PortAudio" in reason
    player = Player()
    assert not player.available and "PortAudio" in player.unavailable_reason
    player.set_sources(versions(1), SR)
    with qtbot.waitSignal(player.error_occurred):
        player.play()
    assert not player.playing


def test_player_without_the_package_or_devices(qtbot, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    assert "not installed" in Player().unavailable_reason

    class Broken(FakeBackend):
        def query_devices(self):
            raise RuntimeError("Error querying device -1")

    assert "could not be listed" in Player(backend=Broken()).unavailable_reason
    assert list_output_devices(FakeBackend(devices=[]))[1].endswith("no audio output device was found.")
    assert not Player(backend=FakeBackend(devices=[])).available


def test_player_reports_a_stream_that_will_not_open(qtbot):
    class Refuses(FakeBackend):
        def OutputStream(self, **kwargs):  # noqa: N802
            raise RuntimeError("Invalid sample rate")

    player = Player(backend=Refuses())
    player.set_sources(versions(1), SR)
    with qtbot.waitSignal(player.error_occurred) as blocker:
        player.play()
    assert "Invalid sample rate" in blocker.args[0]
    assert not player.playing


def test_portaudio_restart_uses_functions_the_installed_sounddevice_still_has():
    # The device list is re-read through two private sounddevice functions (there is no public way);
    # this fails as soon as a sounddevice release renames or drops them.
    sd, reason = load_sounddevice()
    if sd is None:
        pytest.skip(reason)
    for name in PORTAUDIO_RESTART:
        assert callable(getattr(sd, name, None)), f"sounddevice {sd.__version__} has no {name}()"
    assert restart_portaudio(sd)
    assert isinstance(sd.query_devices(), sd.DeviceList)  # PortAudio is usable again afterwards


def test_portaudio_restart_without_the_private_functions_keeps_the_list(qtbot):
    backend = FakeBackend()
    assert not restart_portaudio(backend)  # a backend without them: nothing restarted, no error
    player = Player(backend=backend)
    assert [d.name for d in player.refresh_devices()] == [d.name for d in player.devices]
