"""What the Live view needs of sounddevice besides `app.audio_devices.list_devices`: the module, with the
reason Live cannot run, and a rescan for devices plugged in since PortAudio started."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from app.audio_devices import load_sounddevice, restart_portaudio


def load_backend() -> tuple[ModuleType | None, str]:
    """The sounddevice module, or None and the reason Live cannot run."""
    sd, reason = load_sounddevice()
    if sd is None:
        return None, reason.replace("Playback unavailable", "Live unavailable")
    return sd, ""


def rescan(sd: Any) -> None:
    """PortAudio sees only devices present when it started: restart it (closes every open stream)."""
    restart_portaudio(sd)  # a fake or odd backend keeps listing what it has
