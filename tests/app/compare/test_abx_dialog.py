"""The blind ABX dialog driven like a listener: scripted answers, keys, blind mode, export."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.compare.abx_dialog import AbxDialog
from app.player import Player
from tests.app.test_player import FakeBackend

SR = 8000
LABELS = ["Original", "1.5 kbps", "6 kbps"]


@pytest.fixture
def player(qtbot):
    player = Player(backend=FakeBackend())
    player.set_sources([np.full((1, SR), float(v), np.float32) for v in range(len(LABELS))], SR)
    yield player
    player.close()


@pytest.fixture
def dialog(qtbot, player):
    dialog = AbxDialog(player, LABELS, version_a=0, version_b=2)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def click(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def start(dialog, qtbot, trials=16, seed="7"):
    dialog.trials_box.setValue(trials)
    dialog.seed_edit.setText(seed)
    click(qtbot, dialog.start_button)
    assert dialog.pages.currentIndex() == 1


def run_listener(dialog, qtbot, decide):
    """Each trial: listen to X (and A), then answer what `decide(version_playing_for_X)` says."""
    while dialog.pages.currentIndex() == 1:
        click(qtbot, dialog.listen_buttons["X"])
        heard = dialog.player.selected
        click(qtbot, dialog.listen_buttons["A"])
        assert dialog.player.selected == dialog.indices["A"]
        answer = decide(heard)
        click(qtbot, dialog.answer_a if answer == "A" else dialog.answer_b)


def test_a_listener_who_hears_the_difference_reaches_significance(dialog, qtbot):
    start(dialog, qtbot)
    assert dialog.indices == {"A": 0, "B": 2}
    with qtbot.waitSignal(dialog.session_finished) as finished:
        run_listener(dialog, qtbot, lambda heard: "A" if heard == dialog.indices["A"] else "B")
    session = finished.args[0]
    assert session.correct == 16 and session.p_value < 0.05
    assert dialog.pages.currentIndex() == 2
    assert "16 of 16 correct" in dialog.result_label.text()
    assert "difference was heard" in dialog.result_label.text()


def test_a_guessing_listener_does_not(dialog, qtbot):
    rng = random.Random(2024)
    start(dialog, qtbot, seed="99")
    with qtbot.waitSignal(dialog.session_finished) as finished:
        run_listener(dialog, qtbot, lambda heard: rng.choice("AB"))
    session = finished.args[0]
    assert session.answered == 16 and session.p_value >= 0.05
    assert "not distinguishable from guessing" in dialog.result_label.text()


def test_a_perfect_listener_with_too_few_trials_is_not_significant(dialog, qtbot):
    dialog.trials_box.setValue(4)
    assert "Too few trials" in dialog.setup_hint.text()
    start(dialog, qtbot, trials=4)
    with qtbot.waitSignal(dialog.session_finished) as finished:
        run_listener(dialog, qtbot, lambda heard: "A" if heard == 0 else "B")
    assert finished.args[0].correct == 4 and finished.args[0].p_value == pytest.approx(1 / 16)


def test_keys_switch_among_a_b_and_x_and_space_plays(dialog, qtbot):
    start(dialog, qtbot)
    qtbot.keyClick(dialog, Qt.Key.Key_B)
    assert dialog.player.selected == 2 and dialog.listen_buttons["B"].isChecked()
    qtbot.keyClick(dialog, Qt.Key.Key_X)
    assert dialog.player.selected == dialog.indices[dialog.session.x_is()]
    assert dialog.session.current.listens == {"A": 1, "B": 1, "X": 1}
    qtbot.keyClick(dialog, Qt.Key.Key_Space)
    assert dialog.player.playing
    qtbot.keyClick(dialog, Qt.Key.Key_Space)
    assert not dialog.player.playing


def test_x_follows_the_new_trial_when_listening_to_x(dialog, qtbot):
    start(dialog, qtbot, seed="3")
    click(qtbot, dialog.listen_buttons["X"])
    for _ in range(6):
        click(qtbot, dialog.answer_a)
        assert dialog.player.selected == dialog.indices[dialog.session.x_is()]


def test_same_versions_cannot_start_and_seed_must_be_a_number(dialog):
    dialog.combo_b.setCurrentIndex(0)
    assert not dialog.start_button.isEnabled() and "different" in dialog.setup_hint.text()
    dialog.combo_b.setCurrentIndex(1)
    dialog.seed_edit.setText("abc")
    assert not dialog.start_button.isEnabled()
    dialog.seed_edit.setText("")
    assert dialog.start_button.isEnabled() and "12 of 16" in dialog.setup_hint.text()


def test_blind_mode_is_announced_and_export_writes_files(dialog, qtbot, tmp_path, monkeypatch):
    blind = []
    dialog.blind_changed.connect(blind.append)
    start(dialog, qtbot, trials=5, seed="1")
    assert blind == [True]
    run_listener(dialog, qtbot, lambda heard: "A")
    assert blind == [True, False]
    target = tmp_path / "abx"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    buttons = {b.text(): b for b in dialog.pages.widget(2).findChildren(type(dialog.start_button))}
    click(qtbot, buttons["Export JSON…"])
    click(qtbot, buttons["Export CSV…"])
    data = json.loads((tmp_path / "abx.json").read_text())
    assert data["trials"] == 5 and data["a"] == "Original" and data["b"] == "6 kbps" and data["seed"] == 1
    assert (tmp_path / "abx.csv").read_text().startswith("trial,a,b,x_is,answer,correct")


def test_stopping_early_shows_the_answers_so_far(dialog, qtbot):
    start(dialog, qtbot)
    click(qtbot, dialog.answer_b)
    click(qtbot, dialog.abort_button)
    assert dialog.pages.currentIndex() == 2 and dialog.session.answered == 1
