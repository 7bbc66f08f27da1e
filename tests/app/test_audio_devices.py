"""The one device-list helper shared by the player, the compare transport and Live."""

from __future__ import annotations

from types import SimpleNamespace

from app.audio_devices import AudioDevice, given_or_loaded, list_devices
from app.player import list_output_devices


def backend(devices, default=(0, 1)):
    return SimpleNamespace(
        query_devices=lambda: devices,
        query_hostapis=lambda: [{"name": "ALSA"}],
        default=SimpleNamespace(device=default),
    )


MIC = {"name": "mic", "hostapi": 0, "max_input_channels": 1, "max_output_channels": 0}
SPEAKERS = {"name": "speakers", "hostapi": 0, "max_input_channels": 0, "max_output_channels": 2}


def test_inputs_and_outputs_come_from_one_list_with_their_defaults():
    sd = backend([MIC, SPEAKERS])
    assert list_devices(sd, "input") == ([AudioDevice(0, "mic", "ALSA", True)], "")
    assert list_devices(sd, "output") == ([AudioDevice(1, "speakers", "ALSA", True)], "")
    assert list_devices(backend([SPEAKERS]), "input") == ([], "No audio input device was found.")


def test_the_player_says_why_playback_is_unavailable_in_its_own_words():
    assert list_output_devices(backend([MIC])) == (
        [],
        "Playback unavailable: no audio output device was found.",
    )

    def broken():
        raise RuntimeError("PortAudio not initialized")

    sd = SimpleNamespace(query_devices=broken)
    assert list_devices(sd, "input") == ([], "Audio devices could not be listed (PortAudio not initialized).")
    assert list_output_devices(sd)[1] == (
        "Playback unavailable: audio devices could not be listed (PortAudio not initialized)."
    )


def test_an_injected_backend_is_used_as_is():
    fake = object()
    assert given_or_loaded(fake, lambda: (None, "never asked")) == (fake, "")
    assert given_or_loaded(None, lambda: (None, "no PortAudio")) == (None, "no PortAudio")
