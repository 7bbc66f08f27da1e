"""Missing weights: the queue pauses and asks; downloading from a local HTTP server or importing a file
lets it finish, declining fails only the items that needed them. And the Models window."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from app.models_dialog import ModelsDialog
from app.queue_model import ItemState
from app.weights_dialog import WeightsDialog
from tests.helpers.http_server import CheckpointServer, trust

OFFICIAL_24 = "encodec_24khz-d7cc33bc.th"


def link(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
    return dst


@pytest.fixture
def queued_window(qtbot, make_window, models_dir, make_audio, tmp_path):
    """A window with one file queued for compression with Meta's 24 kHz model, whose weights are not
    installed: choosing a missing official model still asks before downloading, so the dialog is open."""
    window = make_window()
    window.strip.model_combo.setCurrentIndex(window.strip.model_combo.findData("encodec_24khz"))
    src = make_audio("speech.wav", seconds=0.4, folder=tmp_path / "in")
    window.add_paths([src])
    qtbot.waitUntil(lambda: window.queue.compressible_ids() != [], timeout=10_000)
    window.compress()
    qtbot.waitUntil(
        lambda: window.weights_dialog is not None and window.weights_dialog.isVisible(), timeout=60_000
    )
    assert window.queue.paused
    assert window.queue_model.items()[0].state is ItemState.QUEUED
    return window


def test_download_from_a_mirror_installs_the_weights_and_the_queue_finishes(
    qtbot, queued_window, random_checkpoint, models_dir, tmp_path, monkeypatch
):
    served = link(random_checkpoint("encodec_24khz"), tmp_path / "www-src" / OFFICIAL_24)
    trust(monkeypatch, served)
    dialog: WeightsDialog = queued_window.weights_dialog
    assert dialog.entry.name == "encodec_24khz"
    assert not dialog.progress_bar.isVisible()
    with CheckpointServer(tmp_path / "www") as server:
        server.publish_official(served)
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        with qtbot.waitSignal(queued_window.queue.queue_finished, timeout=120_000):
            dialog.download_button.click()
            assert dialog.progress_bar.isVisible() and not dialog.download_button.isEnabled()
        assert server.requests_for(OFFICIAL_24)
    assert (models_dir / OFFICIAL_24).read_bytes() == served.read_bytes()
    assert queued_window.weights_dialog is None and not dialog.isVisible()
    item = queued_window.queue_model.items()[0]
    assert item.state is ItemState.DONE and item.output_path.is_file()


def test_a_failed_download_says_why_and_keeps_the_dialog_open(qtbot, queued_window, tmp_path, monkeypatch):
    dialog: WeightsDialog = queued_window.weights_dialog
    with CheckpointServer(tmp_path / "www") as server:  # serves nothing: 404
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        dialog.download_button.click()
        qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)
    assert dialog.isVisible() and dialog.download_button.isEnabled()
    assert dialog.status_label.text()
    assert queued_window.queue.paused


def test_importing_a_local_checkpoint_lets_the_queue_continue(
    qtbot, queued_window, random_checkpoint, models_dir, tmp_path
):
    local = link(random_checkpoint("encodec_24khz"), tmp_path / "downloads" / "my encodec copy.th")
    dialog: WeightsDialog = queued_window.weights_dialog
    with qtbot.waitSignal(queued_window.queue.queue_finished, timeout=120_000):
        dialog.import_file(local)
    assert (models_dir / OFFICIAL_24).is_file()
    assert queued_window.queue_model.items()[0].state is ItemState.DONE


def test_declining_fails_the_waiting_items_with_the_reason(qtbot, queued_window):
    dialog: WeightsDialog = queued_window.weights_dialog
    with qtbot.waitSignal(queued_window.queue.queue_finished, timeout=10_000):
        dialog.cancel_button.click()
    item = queued_window.queue_model.items()[0]
    assert item.state is ItemState.FAILED
    assert "not installed" in item.message
    assert not queued_window.queue.paused


def test_models_window_lists_installed_weights_and_removes_them(qtbot, install_random_model, models_dir):
    from app.tasks import TaskRunner

    installed = install_random_model("encodec_24khz")
    dialog = ModelsDialog(TaskRunner(synchronous=True))
    qtbot.addWidget(dialog)
    dialog.show()
    rows = {dialog.table.item(r, 0).text(): r for r in range(dialog.table.rowCount())}
    assert {"encodec_24khz", "encodec_48khz", "encodec_32khz", "encodec_lm_24khz"} <= set(rows)
    row = rows["encodec_24khz"]
    assert dialog.table.item(row, 2).text() == "Installed"
    assert dialog.table.item(row, 4).text() == str(installed)
    assert dialog.table.item(row, 3).text().endswith("MB")
    assert dialog.table.item(rows["encodec_48khz"], 2).text() == "Not installed"
    assert str(models_dir) in dialog.folder_label.text()

    dialog.select("encodec_48khz")
    assert dialog.download_button.isEnabled() and not dialog.remove_button.isEnabled()
    dialog.select("encodec_24khz")
    assert dialog.remove_button.isEnabled() and not dialog.download_button.isEnabled()
    dialog.remove("encodec_24khz")
    assert not installed.exists()
    assert dialog.table.item(rows["encodec_24khz"], 2).text() == "Not installed"


def test_models_window_imports_a_file(qtbot, random_checkpoint, models_dir, tmp_path):
    from app.tasks import TaskRunner

    dialog = ModelsDialog(TaskRunner(synchronous=True))
    qtbot.addWidget(dialog)
    dialog.import_file(link(random_checkpoint("encodec_24khz"), tmp_path / "x.th"))
    assert dialog.status_label.text() == "Imported x.th as encodec_24khz."
    assert (models_dir / OFFICIAL_24).is_file()
    bad = tmp_path / "notes.th"
    bad.write_text("not a checkpoint")
    dialog.import_file(bad)
    assert "notes.th" in dialog.status_label.text() and "Imported" not in dialog.status_label.text()


def test_lm_weights_are_asked_for_and_lm_coding_works_once_imported(
    qtbot, make_window, install_random_model, models_dir, make_audio, tmp_path
):
    from codec.jobs import ModelPool, decode_file, probe
    from tests.helpers.http_server import make_official_checkpoint

    install_random_model("encodec_24khz")
    window = make_window()
    window.strip.lm_check.setChecked(True)
    src = make_audio("lm.wav", seconds=0.3, folder=tmp_path / "in")
    window.add_paths([src])
    qtbot.waitUntil(lambda: window.queue.compressible_ids() != [], timeout=10_000)
    assert window.queue_model.items()[0].use_lm
    window.compress()
    qtbot.waitUntil(lambda: window.weights_dialog is not None, timeout=60_000)
    dialog = window.weights_dialog
    assert dialog.entry.name == "encodec_lm_24khz"

    made = make_official_checkpoint("encodec_lm_24khz", tmp_path / "lm")
    local = made.rename(made.with_name("language model.th"))  # a hash in the name would be checked
    with qtbot.waitSignal(window.queue.queue_finished, timeout=120_000):
        dialog.import_file(local)
    item = window.queue_model.items()[0]
    assert item.state is ItemState.DONE, item.message
    assert probe(item.output_path).header.use_lm
    audio, rate = decode_file(item.output_path, pool=ModelPool())
    assert rate == 24_000 and audio.shape == (1, round(0.3 * 24_000))
