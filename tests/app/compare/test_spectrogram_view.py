"""SpectrogramView on its own: layouts, linked axes, the region on every plot, panning, frequency ticks."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.compare.frequency_axis import FrequencyAxis, format_hz
from app.compare.spectrogram_view import SpectrogramView
from codec.spectrogram import compute_spectrogram, to_scale

SR = 16_000


@pytest.fixture
def view(qtbot):
    view = SpectrogramView()
    qtbot.addWidget(view)
    view.resize(800, 600)
    t = np.arange(SR) / SR
    spec = compute_spectrogram((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), SR, n_fft=512)
    db, edges = spec.image("linear")
    for slot in ("original", "version", "difference"):
        view.set_image(slot, db, edges, 0.0, spec.duration)
    view.show()
    qtbot.waitExposed(view)
    return view


def point(view, slot, seconds, hz=4000.0):
    box = view.plots[slot].getViewBox()
    return view.widgets[slot].mapFromScene(box.mapViewToScene(QPointF(seconds, hz)))


def test_layouts_and_difference(view, qtbot):
    assert not view.widgets["difference"].isVisible()
    original, version = view.widgets["original"], view.widgets["version"]
    assert version.y() > original.y() and version.x() == original.x()  # stacked
    view.set_layout_mode("side")
    qtbot.wait(10)
    assert version.x() > original.x() and version.y() == original.y()
    view.set_difference_visible(True)
    qtbot.wait(10)
    assert view.widgets["difference"].isVisible()
    assert view.widgets["difference"].x() > version.x()
    with pytest.raises(ValueError):
        view.set_layout_mode("diagonal")


@pytest.mark.parametrize("layout", ["stacked", "side"])
def test_zoom_and_pan_are_linked(view, qtbot, layout):
    view.set_layout_mode(layout)
    view.set_difference_visible(True)
    qtbot.wait(10)
    view.plots["version"].setXRange(0.2, 0.4, padding=0)
    view.plots["version"].setYRange(500, 1500, padding=0)
    for slot in ("original", "difference"):
        (x0, x1), (y0, y1) = view.plots[slot].getViewBox().viewRange()
        assert (x0, x1) == pytest.approx((0.2, 0.4)) and (y0, y1) == pytest.approx((500, 1500))


def test_shift_drag_pans_instead_of_selecting(view, qtbot):
    view.plots["original"].setXRange(0.2, 0.6, padding=0)
    before = view.plots["original"].getViewBox().viewRange()[0]
    viewport = view.widgets["original"].viewport()
    start, end = point(view, "original", 0.5), point(view, "original", 0.3)
    drag(viewport, start, end, Qt.KeyboardModifier.ShiftModifier)
    after = view.plots["original"].getViewBox().viewRange()[0]
    assert view.loop_region() is None
    assert after[0] == pytest.approx(before[0] + 0.2, abs=0.02)  # dragged left by 0.2 s: the view moved right


def drag(widget, start, end, modifiers=Qt.KeyboardModifier.NoModifier):
    """A left-button drag with `modifiers` held throughout (QTest's moves carry no modifiers)."""
    left = Qt.MouseButton.LeftButton

    def send(kind, pos, button, buttons):
        QApplication.sendEvent(
            widget,
            QMouseEvent(kind, QPointF(pos), widget.mapToGlobal(QPointF(pos)), button, buttons, modifiers),
        )

    send(QEvent.Type.MouseButtonPress, start, left, left)
    for step in range(1, 11):
        send(QEvent.Type.MouseMove, start + (end - start) * step / 10, Qt.MouseButton.NoButton, left)
    send(QEvent.Type.MouseButtonRelease, end, left, Qt.MouseButton.NoButton)


def test_plain_drag_selects_a_region_on_every_plot(view):
    changes = []
    view.loop_region_changed.connect(lambda a, b: changes.append((a, b)))
    drag(view.widgets["version"].viewport(), point(view, "version", 0.25), point(view, "version", 0.75))
    assert len(changes) == 1 and changes[0] == pytest.approx((0.25, 0.75), abs=0.01)
    for slot in ("original", "version"):
        assert view.regions[slot].getRegion() == pytest.approx(changes[0])


def test_editing_the_region_on_one_plot_moves_it_on_all(view, qtbot):
    changes = []
    view.loop_region_changed.connect(lambda a, b: changes.append((a, b)))
    view.set_loop_region(0.2, 0.5)
    view.regions["version"].setRegion((0.3, 0.7))
    view.regions["version"].sigRegionChangeFinished.emit(view.regions["version"])
    assert view.regions["original"].getRegion() == pytest.approx((0.3, 0.7))
    assert view.loop_region() == pytest.approx((0.3, 0.7))
    assert changes[-1] == pytest.approx((0.3, 0.7))
    view.clear_loop_region()
    assert view.loop_region() is None and not view.regions["original"].isVisible()


def test_click_outside_the_audio_is_clamped(view, qtbot):
    seeks = []
    view.seek_requested.connect(seeks.append)
    view.plots["original"].getViewBox().setLimits(xMin=None, xMax=None)
    view.plots["original"].setXRange(0.5, 1.5, padding=0)
    qtbot.mouseClick(
        view.widgets["original"].viewport(), Qt.MouseButton.LeftButton, pos=point(view, "original", 1.3)
    )
    assert seeks == [pytest.approx(view.duration)]


def test_levels_apply_to_every_image(view):
    view.set_levels(-70, -20)
    for image in view.images.values():
        assert tuple(image.getLevels()) == (-70, -20)
    view.set_levels(-20, -70)  # refused: floor above ceiling
    assert view.levels == (-70, -20)
    seen = []
    view.levels_changed.connect(lambda a, b: seen.append((a, b)))
    view.colorbar.setLevels((-90, -30))
    view.colorbar.sigLevelsChangeFinished.emit(view.colorbar)
    assert seen == [(-90, -30)] and view.levels == (-90, -30)


@pytest.mark.parametrize("scale", ["log", "mel"])
def test_frequency_ticks_sit_on_round_frequencies(qtbot, scale):
    axis = FrequencyAxis()
    axis.set_scale(scale)
    lo, hi = to_scale(20.0, scale), to_scale(8000.0, scale)
    ((_, values),) = axis.tickValues(float(lo), float(hi), 400)
    labels = axis.tickStrings(values, 1.0, 1.0)
    assert len(values) >= 4 and values == sorted(values)
    assert {"100", "500", "1k", "2k", "5k"} <= set(labels)
    assert all(label.rstrip("k").replace(".", "").isdigit() for label in labels)
    pixels = (np.array(values) - lo) / (hi - lo) * 400
    assert np.all(np.diff(pixels) >= 26)


def test_format_hz():
    assert [format_hz(v) for v in (0, 50, 440, 1000, 2500, 20000)] == ["0", "50", "440", "1k", "2.5k", "20k"]
