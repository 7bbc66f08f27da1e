"""Human-readable sizes and durations: the one way the CLI, the API's messages and the app write them.

No Qt and no heavy imports, so the GUI, `ecdc` and the weights code share it. Sizes are decimal (SI):
1 kB = 1000 B, as file managers and download sites show them. The examples below run as tests
(`tests/codec/test_units.py`).
"""

from __future__ import annotations

NONE_TEXT = "—"  # what a size or duration that is not known yet reads as
_BYTE_UNITS = ("kB", "MB", "GB")


def format_bytes(count: float | None) -> str:
    """A byte count with three significant figures at most, in B, kB, MB or GB.

    >>> [format_bytes(n) for n in (None, 0, 999, 1000, 12_345, 999_999, 123_456_789, 5 * 10**12)]
    ['—', '0 B', '999 B', '1.0 kB', '12.3 kB', '1.0 MB', '123 MB', '5000 GB']
    """
    if count is None:
        return NONE_TEXT
    if count < 1000:
        return f"{count:.0f} B"
    value = float(count)
    for unit in _BYTE_UNITS:
        value /= 1000
        # Rounded as printed, so 999 999 B reads "1.0 MB", never "1000 kB".
        text = f"{value:.1f}" if round(value, 1) < 100 else f"{value:.0f}"
        if float(text) < 1000 or unit == _BYTE_UNITS[-1]:
            return f"{text} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: float | None, decimals: int = 1) -> str:
    """A length of audio or of work: seconds under a minute (`decimals` places), else m:ss or h:mm:ss.

    >>> [format_duration(s) for s in (None, 0.44, 59.9, 61, 3725)]
    ['—', '0.4 s', '59.9 s', '1:01', '1:02:05']
    >>> format_duration(0.4, decimals=2), format_duration(-1.0)
    ('0.40 s', '0.0 s')
    """
    if seconds is None:
        return NONE_TEXT
    seconds = max(0.0, seconds)
    if round(seconds, decimals) < 60:
        return f"{seconds:.{decimals}f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_clock(seconds: float) -> str:
    """A playback position to the millisecond, as m:ss.fff (minutes keep counting past an hour).

    >>> [format_clock(s) for s in (0, 0.25, 61.5, -3, 3725.0)]
    ['0:00.000', '0:00.250', '1:01.500', '0:00.000', '62:05.000']
    """
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{rest:06.3f}"
