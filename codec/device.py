"""Where models run: `cpu` by default, `cuda` or `mps` when present, `auto` for the best available."""

from __future__ import annotations

import ctypes
import os
import sys

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


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_ALLOCATOR_TUNED: bool | None = None


def tune_cpu_allocator() -> bool:
    """Let glibc keep freed memory for reuse instead of handing it back to the kernel; True if applied.

    Every layer allocates activations of megabytes. By default glibc serves those with fresh mmap()s (or
    trims the heap after them), so each one is page-faulted and zeroed again by the kernel: measured 20 to
    30 % of the 48 kHz model's time on one core. With a 32 MB mmap threshold and no trimming, freed blocks
    are reused; memory stays at the working set's peak instead of shrinking between layers. Applied once per
    process (glibc only; ECDC_MALLOC_TUNING=0 turns it off). It helps any torch code in the process.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED is not None:
        return _ALLOCATOR_TUNED
    _ALLOCATOR_TUNED = False
    if os.environ.get("ECDC_MALLOC_TUNING", "1").strip() == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    applied = mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1
    applied = mallopt(_M_TRIM_THRESHOLD, 1024 * 1024 * 1024) == 1 and applied
    applied = mallopt(_M_TOP_PAD, 64 * 1024 * 1024) == 1 and applied
    _ALLOCATOR_TUNED = applied
    return applied
