"""Input and output devices for the Live view, and why there are none (no PortAudio, no device)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from app.player import OutputDevice, load_sounddevice, restart_portaudio

#: The device entry the list shows; `OutputDevice` is the player's (index, name, host API, default) record.
Device = OutputDevice


def list_devices(sd: Any, kind: str) -> tuple[list[Device], str]:
    """`kind` "input" or "output": the devices that can do it, or an empty list and why not."""
    key = f"max_{kind}_channels"
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default = sd.default.device
        default_index = (
            default[0 if kind == "input" else 1] if isinstance(default, (tuple, list)) else default
        )
    except Exception as exc:  # noqa: BLE001 - PortAudio reports any failure; all mean "no device"
        return [], f"Audio devices could not be listed ({exc})."
    found = [
        Device(
            index=int(d["index"]) if "index" in d else i,
            name=str(d["name"]),
            hostapi=str(hostapis[d["hostapi"]]["name"]) if d.get("hostapi") is not None else "",
            default=(i == default_index),
        )
        for i, d in enumerate(devices)
        if d.get(key, 0) > 0
    ]
    if not found:
        return [], f"No audio {kind} device was found."
    return found, ""


def load_backend() -> tuple[ModuleType | None, str]:
    """The sounddevice module, or None and the reason Live cannot run."""
    sd, reason = load_sounddevice()
    if sd is None:
        return None, reason.replace("Playback unavailable", "Live unavailable")
    return sd, ""


def rescan(sd: Any) -> None:
    """PortAudio sees only devices present when it started: restart it (closes every open stream)."""
    restart_portaudio(sd)  # a fake or odd backend keeps listing what it has
