"""The settings strip and its bandwidth slider: snapping to each model's bandwidths, the LM toggle, and the
settings that persist between runs."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.bandwidth_slider import BandwidthSlider
from app.queue_controller import CompressSettings
from app.settings import AppSettings, OverwritePolicy, default_model, snap_bandwidth
from app.settings_strip import SettingsStrip
from codec.specs import MODELS


@pytest.mark.parametrize("name", list(MODELS))
def test_every_slider_stop_is_a_valid_bandwidth(qtbot, name):
    spec = MODELS[name]
    slider = BandwidthSlider(spec)
    qtbot.addWidget(slider)
    seen = []
    for position in range(slider.slider.minimum(), slider.slider.maximum() + 1):
        slider.slider.setValue(position)
        seen.append(slider.bandwidth())
        assert slider.value_label.text() == f"{slider.bandwidth():g} kbps"
    assert tuple(seen) == spec.bandwidths
    assert slider.slider.isEnabled() == (len(spec.bandwidths) > 1)


def test_slider_snaps_requests_and_keeps_the_nearest_bandwidth_across_models(qtbot):
    slider = BandwidthSlider(MODELS["encodec_24khz"], 6.0)
    qtbot.addWidget(slider)
    emitted: list[float] = []
    slider.bandwidth_changed.connect(emitted.append)
    slider.set_bandwidth(5.0)
    assert slider.bandwidth() == 6.0 and emitted == []  # 5 snaps to 6: no change
    slider.set_bandwidth(20.0)
    assert slider.bandwidth() == 24.0 and emitted == [24.0]
    slider.slider.keyboardGrabber()
    qtbot.keyClick(slider.slider, Qt.Key.Key_Left)
    assert slider.bandwidth() == 12.0
    slider.set_model(MODELS["encodec_48khz"])
    assert slider.bandwidth() == 12.0  # 48 kHz offers 12 too
    slider.set_model(MODELS["encodec_24khz"], 1.5)
    slider.set_model(MODELS["encodec_48khz"])
    assert slider.bandwidth() == 3.0  # 48 kHz's lowest, nearest to 1.5
    slider.set_model(MODELS["encodec_32khz"])
    assert slider.bandwidth() == 2.2 and not slider.slider.isEnabled()
    assert emitted[-1] == 2.2


def test_snap_bandwidth_picks_the_nearest_valid_value():
    spec = MODELS["encodec_24khz"]
    assert [snap_bandwidth(spec, b) for b in (0, 2.0, 2.3, 4.5, 9.0, 100, float("nan"))] == [
        1.5,
        1.5,
        3.0,
        3.0,  # a tie between 3 and 6 goes to the lower one
        6.0,
        24.0,
        1.5,
    ]


def test_lm_toggle_follows_the_model(qtbot):
    strip = SettingsStrip("encodec_24khz", 6.0, True, None, OverwritePolicy.UNIQUE)
    qtbot.addWidget(strip)
    assert strip.lm_check.isEnabled() and strip.use_lm()
    assert "25 %" in strip.lm_check.toolTip()
    strip.model_combo.setCurrentIndex(list(MODELS).index("encodec_32khz"))
    assert not strip.lm_check.isEnabled() and not strip.use_lm()
    assert strip.bandwidth() == 2.2
    strip.model_combo.setCurrentIndex(list(MODELS).index("encodec_48khz"))
    assert strip.lm_check.isEnabled() and strip.use_lm()  # the wish is remembered
    assert strip.compress_settings() == CompressSettings("encodec_48khz", 3.0, True)


def test_show_settings_does_not_emit(qtbot):
    strip = SettingsStrip("encodec_24khz", 6.0, False, None, OverwritePolicy.UNIQUE)
    qtbot.addWidget(strip)
    with qtbot.assertNotEmitted(strip.compress_settings_changed):
        strip.show_settings(CompressSettings("encodec_48khz", 24.0, True))
    assert strip.compress_settings() == CompressSettings("encodec_48khz", 24.0, True)
    assert strip.bandwidth_slider.value_label.text() == "24 kbps"


def test_settings_round_trip_and_fall_back_on_junk(tmp_path):
    path = tmp_path / "s.ini"
    first = AppSettings.from_file(path)
    first.model = "encodec_48khz"
    first.set_bandwidth("encodec_48khz", 12.0)
    first.set_bandwidth("encodec_24khz", 3.0)
    first.use_lm = True
    first.output_dir = tmp_path / "out"
    first.overwrite = OverwritePolicy.ASK
    first.sync()
    second = AppSettings.from_file(path)
    assert second.model == "encodec_48khz"
    assert second.bandwidth("encodec_48khz") == 12.0 and second.bandwidth("encodec_24khz") == 3.0
    assert second.bandwidth("encodec_32khz") == 2.2
    assert second.use_lm is True and second.output_dir == tmp_path / "out"
    assert second.overwrite is OverwritePolicy.ASK

    path.write_text(
        "[compress]\nmodel=encodec_99khz\nbandwidth\\encodec_24khz=lots\n[output]\noverwrite=maybe\n"
    )
    junk = AppSettings.from_file(path)
    assert junk.model == default_model() and junk.bandwidth("encodec_24khz") == 6.0
    assert junk.overwrite is OverwritePolicy.UNIQUE and junk.output_dir is None


def test_main_window_remembers_model_bandwidth_output_and_geometry(
    qtbot, make_window, app_settings, tmp_path
):
    window = make_window()
    strip = window.strip
    strip.model_combo.setCurrentIndex(list(MODELS).index("encodec_48khz"))
    strip.bandwidth_slider.set_bandwidth(24.0)
    strip.set_output_dir(tmp_path / "encoded")
    strip.set_overwrite(OverwritePolicy.NEVER)
    window.resize(790, 503)  # within the offscreen screen (800 x 600)
    window.close()

    again = make_window(AppSettings.from_file(tmp_path / "settings.ini"))
    assert again.strip.compress_settings() == CompressSettings("encodec_48khz", 24.0, False)
    assert again.strip.output_dir() == tmp_path / "encoded"
    assert again.strip.output_edit.text() == str(tmp_path / "encoded")
    assert again.strip.overwrite() is OverwritePolicy.NEVER
    assert again.queue.overwrite is OverwritePolicy.NEVER and again.queue.output_dir == tmp_path / "encoded"
    assert (again.width(), again.height()) == (790, 503)
