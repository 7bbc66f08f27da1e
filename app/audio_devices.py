"""sounddevice and its devices, for the player, the compare transport and the Live view: loading it (or why
not), listing the devices that can record or play, and restarting PortAudio to see new ones. No Qt."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

log = logging.getLogger(__name__)

# sounddevice has no public call that re-reads the device list: PortAudio fixes it at Pa_Initialize.
# Its maintainer's advice is to restart PortAudio through these two private functions
# (spatialaudio/python-sounddevice#125, #47; PortAudio's hot-plug work is PortAudio/portaudio#11).
# tests/app/test_player.py fails if a sounddevice release renames them.
PORTAUDIO_RESTART = ("_terminate", "_initialize")


def restart_portaudio(sd: ModuleType) -> bool:
    """Restart PortAudio so that devices plugged in (or servers started) since it loaded are listed;
    closes every open stream. False when `sd` lacks the private functions (a fake, or a renamed API)."""
    terminate, initialize = (getattr(sd, name, None) for name in PORTAUDIO_RESTART)
    if terminate is None or initialize is None:
        log.warning(
            "sounddevice %s cannot restart PortAudio; the device list stays as it was",
            getattr(sd, "__version__", "?"),
        )
        return False
    try:
        terminate()
        initialize()
    except Exception as exc:  # noqa: BLE001 - PortAudio errors: keep the devices it still lists
        log.warning("restarting PortAudio failed: %s", exc)
        return False
    return True


@dataclass(frozen=True)
class AudioDevice:
    """One entry of PortAudio's device list: its index, name, host API and whether it is the default."""

    index: int
    name: str
    hostapi: str
    default: bool

    @property
    def label(self) -> str:
        return f"{self.name} ({self.hostapi})" + (" - default" if self.default else "")


def load_sounddevice() -> tuple[ModuleType | None, str]:
    """The sounddevice module, or None and why it cannot be used (no PortAudio, package missing)."""
    try:
        import sounddevice  # noqa: PLC0415 - optional: the app runs without audio output
    except OSError as exc:
        return None, f"Playback unavailable: the PortAudio library could not be loaded ({exc})."
    except ImportError:
        return None, "Playback unavailable: the sounddevice package is not installed."
    return sounddevice, ""


def given_or_loaded(
    backend: Any, load: Callable[[], tuple[ModuleType | None, str]] = load_sounddevice
) -> tuple[Any, str]:
    """The backend a caller passed in (tests pass fakes) with no reason, else what `load()` finds and why
    it found nothing."""
    if backend is not None:
        return backend, ""
    return load()


def list_devices(sd: Any, kind: Literal["input", "output"]) -> tuple[list[AudioDevice], str]:
    """The devices that can record (`kind` "input") or play ("output"), or an empty list and why not."""
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
        AudioDevice(
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
