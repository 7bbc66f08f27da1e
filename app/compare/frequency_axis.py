"""A frequency axis for spectrograms drawn on a linear, log or mel scale.

The image rows are evenly spaced in the scale's own units (Hz, log10 Hz or mel), so the view's y coordinate
is in those units; this axis places its ticks at round frequencies and labels them in Hz / kHz.
"""

from __future__ import annotations

import pyqtgraph as pg

from codec.spectrogram import FrequencyScale, from_scale, to_scale

#: Candidate tick frequencies for the non-linear scales, in order of preference: powers of ten first, then
#: 2 and 5 times them, then the rest; a tier's ticks are added where they leave room.
_TIERS = [
    [m * 10**e for e in range(1, 6) for m in multipliers]
    for multipliers in ((1,), (2, 5), (3,), (1.5, 4, 7), (1.2, 2.5, 6, 8))
]
_MIN_TICK_GAP_PX = 26


def format_hz(hz: float) -> str:
    """ "440", "1k", "2.5k", "20k"."""
    if abs(hz) >= 1000:
        return f"{hz / 1000:.3g}k"
    return f"{hz:.3g}" if abs(hz) >= 1 else "0"


class FrequencyAxis(pg.AxisItem):
    """Left axis of a spectrogram plot whose y coordinate is `to_scale(Hz, scale)`."""

    def __init__(self, orientation: str = "left", **kwargs: object) -> None:
        super().__init__(orientation, **kwargs)
        self.freq_scale: FrequencyScale = "linear"
        self.enableAutoSIPrefix(False)
        self.setLabel("Frequency", units="Hz")
        self.setWidth(62)  # the same for every plot, so stacked plots line up in time

    def set_scale(self, scale: FrequencyScale) -> None:
        self.freq_scale = scale
        self.picture = None  # pyqtgraph redraws an axis whose picture is cleared
        self.update()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N802, N803 - pyqtgraph API
        if self.freq_scale == "linear" or maxVal <= minVal or size <= 0:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = float(from_scale(minVal, self.freq_scale)), float(from_scale(maxVal, self.freq_scale))
        chosen: list[float] = []
        for tier in _TIERS:
            for hz in tier:
                if not lo <= hz <= hi:
                    continue
                value = float(to_scale(hz, self.freq_scale))
                px = (value - minVal) / (maxVal - minVal) * size
                if all(abs(px - (c - minVal) / (maxVal - minVal) * size) >= _MIN_TICK_GAP_PX for c in chosen):
                    chosen.append(value)
        return [(1.0, sorted(chosen))]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        return [format_hz(float(from_scale(v, self.freq_scale))) for v in values]
