"""Where models run: `cpu` by default, `cuda` or `mps` when present, `auto` for the best available."""

from __future__ import annotations

import torch

from codec.errors import CodecError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if _mps_available():
        devices.append("mps")
    return devices


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """Turn a user's device choice into a torch.device, refusing one this machine lacks."""
    if isinstance(device, torch.device):
        return device
    choice = device.lower()
    if choice == "auto":
        return torch.device(available_devices()[-1] if len(available_devices()) > 1 else "cpu")
    base = choice.split(":")[0]
    if base not in DEVICE_CHOICES:
        raise CodecError(f"Unknown device {device!r}; choose one of {', '.join(DEVICE_CHOICES)}.")
    if base not in available_devices():
        raise CodecError(
            f"Device {device!r} is not available here; available: {', '.join(available_devices())}."
        )
    return torch.device(choice)
