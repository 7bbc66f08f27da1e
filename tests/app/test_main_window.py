"""The main window end to end, with a random-weights 24 kHz model installed in a temporary models folder:
real drops, real compression on the worker thread, outputs decoded back with the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.file_collect import mime_for_paths
from app.main import create_window, parse_args
from app.queue_controller import ItemAction
from app.queue_model import Column, ItemKind, ItemState
from codec.jobs import ModelPool, compress_file, decode_file

TIMEOUT_MS = 120_000


def drop(widget: QWidget, paths: list[Path]) -> None:
    """Drag `paths` onto `widget` the way a file manager does: enter, then drop, with URL mime data."""
    mime = mime_for_paths(paths)
    center = widget.rect().center()
    enter = QDragEnterEvent(
        center, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    event = QDropEvent(
        QPointF(center),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)
    assert event.isAccepted()


def wait_probed(qtbot, window, count: int) -> None:
    qtbot.waitUntil(
        lambda: (
            len(window.queue_model.items()) == count
            and all(i.state is not ItemState.PROBING for i in window.queue_model.items())
        ),
        timeout=10_000,
    )


def cell(window, row: int, column: Column) -> str:
    return window.queue_model.index(row, int(column)).data()


@pytest.fixture
def window(make_window, install_random_model):
    install_random_model("encodec_24khz")
    return make_window()


def test_dropped_files_and_folders_are_compressed_and_decode(qtbot, window, make_audio, tmp_path):
    music = tmp_path / "music"
    single = make_audio("single.wav", seconds=0.6, folder=tmp_path / "loose")
    make_audio("b.flac", sample_rate=44_100, channels=2, seconds=0.4, folder=music)
    make_audio("c.ogg", sample_rate=16_000, seconds=0.5, folder=music / "deeper")
    (music / "notes.txt").write_text("not audio")
    (music / ".hidden.wav").write_bytes(b"junk")

    drop(window.drop_area, [single])
    drop(window.drop_area, [music, single])  # the folder, recursively; `single` again is a duplicate
    wait_probed(qtbot, window, 3)
    assert [i.path.name for i in window.queue_model.items()] == ["single.wav", "b.flac", "c.ogg"]
    assert "1 already in the queue" in window.statusBar().currentMessage()
    assert cell(window, 1, Column.DURATION) == "0.4 s"
    assert cell(window, 0, Column.SIZE).startswith(
        f"{(tmp_path / 'loose' / 'single.wav').stat().st_size / 1000:.1f} kB → ≈"
    )

    with qtbot.waitSignal(window.queue.queue_finished, timeout=TIMEOUT_MS):
        assert window.compress() == 3
    items = window.queue_model.items()
    assert [i.state for i in items] == [ItemState.DONE] * 3, [i.message for i in items]
    pool = ModelPool()
    for item, seconds in zip(items, (0.6, 0.4, 0.5)):
        assert item.output_path == item.path.with_suffix(".ecdc")
        assert item.output_bytes == item.output_path.stat().st_size
        assert (
            abs(item.estimated_bytes - item.output_bytes) <= 0.02 * item.output_bytes + 8
        )  # the live estimate
        audio, rate = decode_file(item.output_path, pool=pool)
        assert rate == 24_000 and audio.shape == (1, round(seconds * 24_000))
        assert np.isfinite(audio).all()
    row_text = [cell(window, 2, c) for c in Column]
    assert row_text[Column.STATUS].startswith("Done in ")
    assert "→" in row_text[Column.SIZE] and row_text[Column.RATIO].endswith(":1")
    assert "3 done" in window.summary_label.text()


def test_bad_files_show_their_error_and_the_queue_finishes(qtbot, window, make_audio, tmp_path):
    folder = tmp_path / "mixed"
    good = make_audio("good.wav", seconds=0.5, folder=folder)
    (folder / "garbage.wav").write_text("this is a text file, not a RIFF/WAVE file\n" * 20)
    (folder / "corrupt.ecdc").write_bytes(b"ECDC" + bytes(range(256)) * 3)
    later = make_audio("later.flac", seconds=0.3, folder=folder)

    drop(window.drop_area, [folder])
    wait_probed(qtbot, window, 4)
    by_name = {i.path.name: i for i in window.queue_model.items()}
    assert by_name["corrupt.ecdc"].state is ItemState.FAILED and by_name["corrupt.ecdc"].message
    assert by_name["garbage.wav"].state is ItemState.FAILED and by_name["garbage.wav"].message

    with qtbot.waitSignal(window.queue.queue_finished, timeout=TIMEOUT_MS):
        assert window.compress() == 2
    assert by_name["good.wav"].state is ItemState.DONE and by_name["later.flac"].state is ItemState.DONE
    assert good.with_suffix(".ecdc").is_file() and later.with_suffix(".ecdc").is_file()
    for name in ("corrupt.ecdc", "garbage.wav"):
        row = window.queue_model.row_of(by_name[name].id)
        status = cell(window, row, Column.STATUS)
        assert status.startswith("Error: ") and by_name[name].message in status
    assert not (folder / "garbage.ecdc").exists()


def test_cancel_mid_job_leaves_no_partial_file(qtbot, window, make_audio, tmp_path):
    folder = tmp_path / "long"
    src = make_audio("long.wav", seconds=12.0, folder=folder)
    window.add_paths([src])
    wait_probed(qtbot, window, 1)
    item = window.queue_model.items()[0]
    window.compress()
    qtbot.waitUntil(lambda: item.state is ItemState.RUNNING and item.progress > 0, timeout=TIMEOUT_MS)
    window.table.selectRow(0)
    assert window.cancel_button.isEnabled()
    with qtbot.waitSignal(window.queue.item_cancelled, timeout=TIMEOUT_MS):
        window.cancel_button.click()
    assert item.state is ItemState.CANCELLED
    assert window.runner.wait(TIMEOUT_MS)
    assert sorted(p.name for p in folder.iterdir()) == ["long.wav"]  # no output, no temporary file
    assert window.compress_button.isEnabled()  # a cancelled item can be compressed again


def test_opened_ecdc_shows_metadata_exports_and_plays(qtbot, window, make_audio, tmp_path, monkeypatch):
    src = make_audio("voice.wav", seconds=0.8, folder=tmp_path / "in")
    ecdc = tmp_path / "in" / "voice.ecdc"
    compress_file(src, ecdc, pool=ModelPool(), model_name="encodec_24khz", bandwidth=3.0)
    window.add_paths([ecdc])
    wait_probed(qtbot, window, 1)
    item = window.queue_model.items()[0]
    assert item.kind is ItemKind.ECDC and item.state is ItemState.READY
    assert [cell(window, 0, c) for c in (Column.DURATION, Column.MODEL, Column.BANDWIDTH, Column.LM)] == [
        "0.8 s",
        "24 kHz mono",
        "3 kbps",
        "—",
    ]
    assert cell(window, 0, Column.SIZE) == f"{ecdc.stat().st_size} B"
    assert window.queue.start() == 0  # nothing to compress

    window.table.selectRow(0)
    assert window.main_actions.export_wav.isEnabled() and window.main_actions.play.isEnabled()
    assert not window.main_actions.compare.isEnabled()  # compare is for audio sources
    dst = tmp_path / "out" / "voice decoded.flac"
    dst.parent.mkdir()
    with qtbot.waitSignal(window.queue.action_finished, timeout=TIMEOUT_MS):
        window.queue.export_audio(item.id, dst)
    audio, rate = sf.read(dst, always_2d=True)
    assert rate == 24_000 and audio.shape == (round(0.8 * 24_000), 1)
    assert item.message == "Exported voice decoded.flac"

    assert window.main_actions.decode.isEnabled()
    with qtbot.waitSignal(window.queue.action_finished, timeout=TIMEOUT_MS):
        window.main_actions.decode.trigger()  # "Decode to WAV" beside the input
    assert (tmp_path / "in" / "voice.wav").exists() and (tmp_path / "in" / "voice (1).wav").is_file()

    played: list[tuple] = []
    monkeypatch.setattr(
        window,
        "play_audio",
        lambda audio, rate, title, item_id=None: played.append((audio.shape, rate, title)),
    )
    assert window.main_actions.play.isEnabled()
    with qtbot.waitSignal(window.queue.action_finished, timeout=TIMEOUT_MS):
        window.main_actions.play.trigger()
    assert played == [((1, round(0.8 * 24_000)), 24_000, "voice.ecdc")]


def test_truncated_ecdc_export_reports_the_error(qtbot, window, make_audio, tmp_path):
    src = make_audio("cut.wav", seconds=0.5, folder=tmp_path / "in")
    ecdc = tmp_path / "in" / "cut.ecdc"
    compress_file(src, ecdc, pool=ModelPool(), model_name="encodec_24khz", bandwidth=6.0)
    ecdc.write_bytes(ecdc.read_bytes()[:-200])
    window.add_paths([ecdc])
    wait_probed(qtbot, window, 1)
    item = window.queue_model.items()[0]
    with qtbot.waitSignal(window.queue.action_failed, timeout=TIMEOUT_MS) as blocker:
        window.queue.export_audio(item.id, tmp_path / "cut.wav")
    assert blocker.args[1] is ItemAction.EXPORT and blocker.args[2]
    assert not (tmp_path / "cut.wav").exists()
    assert blocker.args[2] in window.statusBar().currentMessage()


def test_command_line_files_are_queued(qtbot, make_audio, tmp_path, models_dir):
    a = make_audio("a.wav", folder=tmp_path / "cli")
    b = make_audio("b.flac", folder=tmp_path / "cli")
    window = create_window(parse_args([str(a), str(b), "--settings", str(tmp_path / "s.ini")]))
    window.confirm_close = lambda: True
    qtbot.addWidget(window)
    wait_probed(qtbot, window, 2)
    assert [i.path for i in window.queue_model.items()] == [a, b]
    window.close()


def test_closing_during_a_job_asks_then_cancels_and_waits(qtbot, window, make_audio, tmp_path):
    folder = tmp_path / "closing"
    src = make_audio("long.wav", seconds=12.0, folder=folder)
    window.add_paths([src])
    wait_probed(qtbot, window, 1)
    window.compress()
    item = window.queue_model.items()[0]
    qtbot.waitUntil(lambda: item.state is ItemState.RUNNING, timeout=TIMEOUT_MS)
    asked: list[bool] = []
    window.confirm_close = lambda: (asked.append(True), False)[1]
    window.close()
    assert asked and window.isVisible() and item.state is ItemState.RUNNING  # "No": keep going
    window.confirm_close = lambda: True
    window.close()
    assert not window.isVisible()
    assert window.runner.wait(0)  # the worker has already stopped
    assert sorted(p.name for p in folder.iterdir()) == ["long.wav"]


def test_context_menu_offers_the_item_actions(qtbot, window, make_audio, tmp_path):
    window.add_paths([make_audio("a.wav", folder=tmp_path / "ctx")])
    wait_probed(qtbot, window, 1)
    window.table.selectRow(0)
    window.table.context_menu_requested.emit(QPoint(10, 10))
    menu = window.context_menu
    assert menu is not None
    qtbot.waitUntil(menu.isVisible, timeout=5000)
    enabled = {a.text() for a in menu.actions() if a.text() and a.isEnabled()}
    assert {"&Play", "Co&mpare…", "Export as &WAV…", "Compress selected", "Show in &folder"} <= {
        a.text() for a in menu.actions()
    }
    assert "Compress selected" in enabled and "Export as &WAV…" not in enabled  # not compressed yet
    menu.close()


def test_compare_on_a_model_without_weights_asks_first_and_opens_once_they_are_installed(
    qtbot, make_window, install_random_model, make_audio, tmp_path, monkeypatch
):
    import app.compare.window
    from app.weights_dialog import WeightsDialog

    opened: list[tuple] = []

    class RecordingCompareWindow(QWidget):
        def __init__(self, source_path, runner, pool, model_name, parent=None):
            super().__init__(parent)
            opened.append((source_path, model_name))

    monkeypatch.setattr(app.compare.window, "CompareWindow", RecordingCompareWindow)
    window = make_window()  # no official weights installed
    src = make_audio("compare me.wav", folder=tmp_path / "cmp")
    window.compare_file(src, "encodec_24khz")
    dialog = window.weights_prompts.dialog
    assert dialog is not None and dialog.entry.name == "encodec_24khz"
    assert not opened and window.bridge.pool_if_loaded() is None  # nothing loaded, nothing downloaded

    install_random_model("encodec_24khz")  # as the dialog's download or import would
    dialog.done(WeightsDialog.DialogCode.Accepted)
    qtbot.waitUntil(lambda: bool(opened), timeout=60_000)
    assert opened == [(src, "encodec_24khz")]


def test_declining_the_weights_for_compare_opens_nothing(
    qtbot, make_window, make_audio, tmp_path, monkeypatch
):
    import app.compare.window
    from app.weights_dialog import WeightsDialog

    monkeypatch.setattr(app.compare.window, "CompareWindow", lambda *a, **k: pytest.fail("opened"))
    window = make_window()
    window.compare_file(make_audio("x.wav", folder=tmp_path / "cmp"), "encodec_24khz")
    window.weights_prompts.dialog.done(WeightsDialog.DialogCode.Rejected)
    qtbot.wait(50)
    assert window.weights_prompts.dialog is None and window._after_install == {}


def test_compare_opens_the_compare_window_with_the_shared_runner_and_pool(
    qtbot, window, make_audio, tmp_path, monkeypatch
):
    import app.compare.window
    from codec.jobs import ModelPool

    opened: list[tuple] = []

    class RecordingCompareWindow(QWidget):
        def __init__(self, source_path, runner, pool, model_name, parent=None):
            super().__init__(parent)
            opened.append((source_path, runner, pool, model_name, parent))

    monkeypatch.setattr(app.compare.window, "CompareWindow", RecordingCompareWindow)
    src = make_audio("compare me.wav", folder=tmp_path / "cmp")
    window.add_paths([src])
    wait_probed(qtbot, window, 1)
    window.table.selectRow(0)
    assert window.main_actions.compare.isEnabled()
    window.main_actions.compare.trigger()
    qtbot.waitUntil(lambda: bool(opened), timeout=60_000)
    source, runner, pool, model_name, parent = opened[0]
    assert (source, runner, model_name, parent) == (src, window.runner, "encodec_24khz", window)
    assert isinstance(pool, ModelPool) and pool is window.bridge.pool_if_loaded()
    assert window.compare_windows and window.compare_windows[0].isVisible()
