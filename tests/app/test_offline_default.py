"""First run without Meta's weights: the bundled model is the default, compresses, and says so calmly."""

from __future__ import annotations

from codec.ecdc import read_header
from tests.app.test_main_window import TIMEOUT_MS, drop, wait_probed


def test_offline_first_run_compresses_with_the_bundled_model(
    qtbot, make_window, models_dir, make_audio, tmp_path
):
    window = make_window()
    strip = window.strip
    assert strip.model_name() == "ecdc_small_24khz"
    assert strip.model_note.isVisible() and strip.get_models_button.isVisible()
    assert "offline" in strip.model_note.text()
    src = make_audio("voice.wav", sample_rate=16_000, seconds=0.5)
    drop(window.drop_area, [src])
    wait_probed(qtbot, window, 1)
    with qtbot.waitSignal(window.queue.queue_finished, timeout=TIMEOUT_MS):
        assert window.compress() == 1
    assert window.weights_dialog is None  # nothing had to be downloaded, nothing was asked
    header = read_header(src.with_suffix(".ecdc"))
    assert header.model == "ecdc_small_24khz"


def test_get_metas_models_opens_the_models_window(qtbot, make_window, models_dir):
    window = make_window()
    window.strip.get_models_button.click()
    assert window.models_dialog is not None and window.models_dialog.isVisible()


def test_installed_official_weights_are_the_default_and_the_note_hides(
    qtbot, make_window, install_random_model
):
    install_random_model("encodec_24khz")
    window = make_window()
    assert window.strip.model_name() == "encodec_24khz"
    assert not window.strip.model_note.isVisible()
    index = window.strip.model_combo.findData("ecdc_small_24khz")
    window.strip.model_combo.setCurrentIndex(index)  # the bundled model stays one pick away
    assert window.strip.model_note.isVisible()
