"""Spectrograms of the original and one decoded version (and optionally their difference), one colour bar.

The plots share time and frequency axes (zoom and pan one, the others follow), a playhead line, and a loop
region: click to seek, left-drag to select a region (Shift+drag or middle-drag pans, the wheel zooms). The
view only draws: images are computed elsewhere (off the UI thread) and handed over with `set_image`.

    view = SpectrogramView()
    view.set_image("original", db, edges, 0.0, duration)   # db: [frames, rows], edges: row edges in scale units
    view.seek_requested.connect(player.seek_seconds)
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QGridLayout, QWidget

from app.compare.frequency_axis import FrequencyAxis
from app.compare.viewbox import SelectViewBox
from codec.spectrogram import FrequencyScale

Slot = Literal["original", "version", "difference"]
SLOTS: tuple[Slot, ...] = ("original", "version", "difference")
Layout = Literal["stacked", "side"]

DEFAULT_LEVELS = (-100.0, -10.0)
BACKGROUND = "#1b1b1f"
PLAYHEAD_PEN = pg.mkPen("#3ee6ff", width=1.5)
REGION_BRUSH = pg.mkBrush(255, 255, 255, 40)


class SpectrogramView(QWidget):
    """Up to three linked spectrogram plots (one `PlotWidget` each) and a shared, draggable dB colour bar."""

    seek_requested = Signal(float)  # seconds
    loop_region_changed = Signal(float, float)  # seconds, when a selection or an edit of it finishes
    levels_changed = Signal(float, float)  # dB floor and ceiling, after the colour bar is dragged

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout: Layout = "stacked"
        self._show_difference = False
        self._duration = 0.0
        self._syncing = False
        self._loop: tuple[float, float] | None = None
        self._scale: FrequencyScale = "linear"
        self._y_span: tuple[float, float] | None = None
        self.levels = DEFAULT_LEVELS
        self.widgets: dict[Slot, pg.PlotWidget] = {}
        self.plots: dict[Slot, pg.PlotItem] = {}
        self.images: dict[Slot, pg.ImageItem] = {}
        self.playheads: dict[Slot, pg.InfiniteLine] = {}
        self.regions: dict[Slot, pg.LinearRegionItem] = {}
        for slot in SLOTS:
            box = SelectViewBox()
            box.clicked.connect(self._clicked)
            box.range_dragged.connect(self._dragged)
            widget = pg.PlotWidget(viewBox=box, axisItems={"left": FrequencyAxis()}, background=BACKGROUND)
            plot = widget.getPlotItem()
            plot.setLabel("bottom", "Time", units="s")
            plot.hideButtons()
            plot.setMenuEnabled(False)
            image = pg.ImageItem(axisOrder="col-major")
            image.setAutoDownsample(True)
            plot.addItem(image)
            head = pg.InfiniteLine(0.0, angle=90, movable=False, pen=PLAYHEAD_PEN)
            head.setZValue(20)
            plot.addItem(head)
            region = pg.LinearRegionItem(orientation="vertical", brush=REGION_BRUSH)
            region.setZValue(10)
            region.hide()
            region.sigRegionChanged.connect(partial(self._region_moved, slot))
            region.sigRegionChangeFinished.connect(self._region_finished)
            plot.addItem(region)
            self.widgets[slot], self.plots[slot], self.images[slot] = widget, plot, image
            self.playheads[slot], self.regions[slot] = head, region
        for slot in SLOTS[1:]:
            self.plots[slot].setXLink(self.plots["original"])
            self.plots[slot].setYLink(self.plots["original"])
        self.set_title("original", "Original")
        self.set_title("version", "Version")
        self.set_title("difference", "Difference")
        self.colorbar = pg.ColorBarItem(
            values=self.levels, colorMap=pg.colormap.get("inferno"), label="dB", interactive=True, width=16
        )
        self.colorbar.setImageItem(list(self.images.values()))
        self.colorbar.sigLevelsChangeFinished.connect(self._colorbar_moved)
        self.colorbar_widget = pg.GraphicsLayoutWidget()
        self.colorbar_widget.setBackground(BACKGROUND)
        self.colorbar_widget.ci.addItem(self.colorbar)
        self.colorbar_widget.setFixedWidth(72)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor(BACKGROUND))
        self.setPalette(palette)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(0)
        self._arrange()

    # -- layout ------------------------------------------------------------------------------------

    @property
    def layout_mode(self) -> Layout:
        return self._layout

    @property
    def difference_visible(self) -> bool:
        return self._show_difference

    def visible_slots(self) -> list[Slot]:
        return ["original", "version"] + (["difference"] if self._show_difference else [])

    def set_layout_mode(self, mode: Layout) -> None:
        """ "stacked" (one above the other) or "side" (side by side)."""
        if mode not in ("stacked", "side"):
            raise ValueError("layout is 'stacked' or 'side'.")
        self._layout = mode
        self._arrange()

    def set_difference_visible(self, visible: bool) -> None:
        self._show_difference = bool(visible)
        self._arrange()

    def _arrange(self) -> None:
        for widget in [*self.widgets.values(), self.colorbar_widget]:
            self._grid.removeWidget(widget)
        slots = self.visible_slots()
        for index, slot in enumerate(slots):
            row, col = (index, 0) if self._layout == "stacked" else (0, index)
            self._grid.addWidget(self.widgets[slot], row, col)
            self.widgets[slot].show()
        self.widgets["difference"].setVisible(self._show_difference)
        for slot in SLOTS:  # one "Time" label under the stack, one under each plot side by side
            last = slot == slots[-1] or self._layout == "side"
            self.plots[slot].setLabel("bottom", "Time" if last else None, units="s" if last else None)
        if self._layout == "stacked":
            self._grid.addWidget(self.colorbar_widget, 0, 1, len(slots), 1)
        else:
            self._grid.addWidget(self.colorbar_widget, 0, len(slots))
        stacked = self._layout == "stacked"
        for i in range(len(SLOTS) + 1):
            self._grid.setRowStretch(i, int(i < len(slots)) if stacked else int(i == 0))
            self._grid.setColumnStretch(i, int(i == 0) if stacked else int(i < len(slots)))

    # -- content -----------------------------------------------------------------------------------

    def set_title(self, slot: Slot, title: str) -> None:
        self.plots[slot].setTitle(title, color="#dddddd", size="10pt")

    def title(self, slot: Slot) -> str:
        return self.plots[slot].titleLabel.text

    @property
    def scale(self) -> FrequencyScale:
        return self._scale

    def set_scale(self, scale: FrequencyScale) -> None:
        """Switch the frequency axes; the images for `scale` must follow through `set_image`."""
        self._scale = scale
        self._y_span = None
        for plot in self.plots.values():
            plot.getAxis("left").set_scale(scale)

    def set_image(self, slot: Slot, db: np.ndarray, edges: np.ndarray, x0: float, x1: float) -> None:
        """Show `db` [frames, rows] spanning time x0..x1 (s) and rows between `edges[0]`..`edges[-1]`."""
        image = self.images[slot]
        image.setImage(np.asarray(db, dtype=np.float32), autoLevels=False, levels=self.levels)
        y0, y1 = float(edges[0]), float(edges[-1])
        image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self._duration = max(self._duration, x1)
        box = self.plots[slot].getViewBox()
        box.setLimits(xMin=x0, xMax=x1, yMin=y0, yMax=y1)
        if self._y_span != (y0, y1):
            self._y_span = (y0, y1)
            self.plots["original"].setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def clear_image(self, slot: Slot) -> None:
        self.images[slot].clear()

    def has_image(self, slot: Slot) -> bool:
        return self.images[slot].image is not None

    def set_levels(self, floor: float, ceiling: float) -> None:
        """dB range of the colour map (the same for every plot)."""
        if ceiling <= floor:
            return
        self.levels = (float(floor), float(ceiling))
        self.colorbar.setLevels(self.levels)

    def _colorbar_moved(self, bar: pg.ColorBarItem) -> None:
        low, high = bar.levels()
        self.levels = (float(low), float(high))
        self.levels_changed.emit(*self.levels)

    # -- playhead, seeking and the loop region -----------------------------------------------------

    @property
    def duration(self) -> float:
        return self._duration

    def set_duration(self, seconds: float) -> None:
        self._duration = float(seconds)

    def set_playhead(self, seconds: float) -> None:
        for line in self.playheads.values():
            line.setValue(seconds)

    def playhead(self) -> float:
        return float(self.playheads["original"].value())

    def _clamp(self, seconds: float) -> float:
        return float(np.clip(seconds, 0.0, self._duration)) if self._duration else max(0.0, seconds)

    def _clicked(self, x: float) -> None:
        self.seek_requested.emit(self._clamp(x))

    def _dragged(self, x0: float, x1: float, finished: bool) -> None:
        self.set_loop_region(self._clamp(x0), self._clamp(x1))
        if finished:
            self._region_finished()

    def loop_region(self) -> tuple[float, float] | None:
        """The selected region (seconds), or None."""
        return self._loop

    def set_loop_region(self, start: float, end: float) -> None:
        self._loop = (float(min(start, end)), float(max(start, end)))
        self._syncing = True
        try:
            for region in self.regions.values():
                region.setRegion((start, end))
                region.show()
        finally:
            self._syncing = False

    def clear_loop_region(self) -> None:
        self._loop = None
        for region in self.regions.values():
            region.hide()

    def _region_moved(self, slot: Slot, *_: object) -> None:
        if self._syncing:
            return
        self.set_loop_region(*self.regions[slot].getRegion())

    def _region_finished(self, *_: object) -> None:
        region = self.loop_region()
        if region is not None and not self._syncing:
            self.loop_region_changed.emit(*region)
