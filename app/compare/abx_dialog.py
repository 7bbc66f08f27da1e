"""Blind ABX test between two versions, played through the compare view's player.

Set-up page (versions A and B, number of trials, optional seed), then one page per trial where the listener
switches freely among A, B and X (keys A, B, X; Space plays or pauses) and answers "X is A" or "X is B",
then the score, the one-sided binomial p-value and export to CSV or JSON. While a session runs the dialog
says `blind_changed(True)`: whoever shows the player's selection must hide it until `blind_changed(False)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.compare.abx import DEFAULT_TRIALS, AbxSession, correct_needed
from app.player import Player


class AbxDialog(QDialog):
    """Runs `AbxSession`s; `player` plays version indices given by `labels` (index = version number)."""

    blind_changed = Signal(bool)
    session_finished = Signal(object)  # AbxSession

    def __init__(
        self,
        player: Player,
        labels: Sequence[str],
        parent: QWidget | None = None,
        *,
        version_a: int = 0,
        version_b: int = 1,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Blind ABX test")
        self.player = player
        self.labels = list(labels)
        self.session: AbxSession | None = None
        self.indices: dict[str, int] = {}
        self._listening = "A"
        self.pages = QStackedWidget()
        self.pages.addWidget(self._setup_page(version_a, version_b))
        self.pages.addWidget(self._trial_page())
        self.pages.addWidget(self._result_page())
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        for key, slot in (
            ("A", lambda: self.listen("A")),
            ("B", lambda: self.listen("B")),
            ("X", lambda: self.listen("X")),
            ("Space", self.player.toggle),
        ):
            QShortcut(QKeySequence(key), self, activated=slot)

    # -- pages ------------------------------------------------------------------------------------

    def _setup_page(self, version_a: int, version_b: int) -> QWidget:
        page = QWidget()
        self.combo_a, self.combo_b = QComboBox(), QComboBox()
        for combo, index in ((self.combo_a, version_a), (self.combo_b, version_b)):
            for i, label in enumerate(self.labels):
                combo.addItem(label, i)
            combo.setCurrentIndex(min(index, len(self.labels) - 1))
            combo.currentIndexChanged.connect(self._check_setup)
        self.trials_box = QSpinBox()
        self.trials_box.setRange(1, 100)
        self.trials_box.setValue(DEFAULT_TRIALS)
        self.trials_box.valueChanged.connect(self._check_setup)
        self.seed_edit = QLineEdit()
        self.seed_edit.setPlaceholderText("random")
        self.seed_edit.setToolTip("Fix the seed to repeat the same sequence of X")
        self.seed_edit.textChanged.connect(self._check_setup)
        self.setup_hint = QLabel()
        self.setup_hint.setWordWrap(True)
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        form = QFormLayout(page)
        form.addRow("Version A", self.combo_a)
        form.addRow("Version B", self.combo_b)
        form.addRow("Trials", self.trials_box)
        form.addRow("Seed", self.seed_edit)
        form.addRow(self.setup_hint)
        form.addRow(self.start_button)
        self._check_setup()
        return page

    def _trial_page(self) -> QWidget:
        page = QWidget()
        self.trial_label = QLabel()
        self.trial_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.listen_group = QButtonGroup(self)
        self.listen_buttons: dict[str, QPushButton] = {}
        listen_row = QHBoxLayout()
        for name in ("A", "B", "X"):
            button = QPushButton(name)
            button.setCheckable(True)
            button.setMinimumHeight(48)
            button.setToolTip(f"Listen to {name} (key {name})")
            button.clicked.connect(lambda _=False, n=name: self.listen(n))
            self.listen_group.addButton(button)
            self.listen_buttons[name] = button
            listen_row.addWidget(button)
        self.play_button = QPushButton("Play / Pause (Space)")
        self.play_button.clicked.connect(self.player.toggle)
        self.answer_a = QPushButton("X is A")
        self.answer_b = QPushButton("X is B")
        self.answer_a.clicked.connect(lambda: self.answer("A"))
        self.answer_b.clicked.connect(lambda: self.answer("B"))
        answer_row = QHBoxLayout()
        answer_row.addWidget(self.answer_a)
        answer_row.addWidget(self.answer_b)
        self.abort_button = QPushButton("Stop test")
        self.abort_button.clicked.connect(self.stop)
        for button in (*self.listen_buttons.values(), self.play_button, self.answer_a, self.answer_b):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(page)
        layout.addWidget(self.trial_label)
        layout.addLayout(listen_row)
        layout.addWidget(self.play_button)
        layout.addLayout(answer_row)
        layout.addWidget(self.abort_button, 0, Qt.AlignmentFlag.AlignRight)
        return page

    def _result_page(self) -> QWidget:
        page = QWidget()
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        export_csv = QPushButton("Export CSV…")
        export_json = QPushButton("Export JSON…")
        again = QPushButton("New test")
        close = QPushButton("Close")
        export_csv.clicked.connect(lambda: self._export("csv"))
        export_json.clicked.connect(lambda: self._export("json"))
        again.clicked.connect(lambda: self.pages.setCurrentIndex(0))
        close.clicked.connect(self.accept)
        row = QHBoxLayout()
        for button in (export_csv, export_json, again, close):
            row.addWidget(button)
        layout = QVBoxLayout(page)
        layout.addWidget(self.result_label, 1)
        layout.addLayout(row)
        return page

    # -- set-up -----------------------------------------------------------------------------------

    def seed(self) -> int | None:
        text = self.seed_edit.text().strip()
        return int(text) if text.isdigit() else None

    def _check_setup(self) -> None:
        same = self.combo_a.currentData() == self.combo_b.currentData()
        bad_seed = bool(self.seed_edit.text().strip()) and self.seed() is None
        needed = correct_needed(self.trials_box.value())
        if same:
            hint = "Choose two different versions."
        elif bad_seed:
            hint = "The seed is a whole number (or empty for a random one)."
        elif needed is None:
            hint = "Too few trials: no score could show a difference (p < 0.05). Use at least 5."
        else:
            hint = f"{needed} of {self.trials_box.value()} right would show a difference (p < 0.05)."
        self.setup_hint.setText(hint)
        self.start_button.setEnabled(not same and not bad_seed and len(self.labels) > 1)

    # -- the test ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin a session with the set-up page's choices."""
        a, b = self.combo_a.currentData(), self.combo_b.currentData()
        self.indices = {"A": a, "B": b}
        self.session = AbxSession(self.labels[a], self.labels[b], self.trials_box.value(), self.seed())
        self.blind_changed.emit(True)
        self.pages.setCurrentIndex(1)
        self._show_trial()
        self.listen("A")

    def listen(self, which: str) -> None:
        """Switch playback to A, B or X of the current trial."""
        if self.session is None or self.session.finished or self.pages.currentIndex() != 1:
            return
        choice = self.session.listen(which)
        self._listening = which
        self.listen_buttons[which].setChecked(True)
        self.player.select(self.indices[choice])

    def answer(self, choice: str) -> None:
        """Record "X is `choice`" and move to the next trial (or the result)."""
        if self.session is None or self.session.finished:
            return
        self.session.answer(choice)
        if self.session.finished:
            self._finish()
            return
        self._show_trial()
        # Keep listening to the same button; X may now be the other version.
        self.player.select(self.indices[self.session.resolve(self._listening)])

    def stop(self) -> None:
        """Abandon the session (the result page shows the answers so far)."""
        if self.session is not None and not self.session.finished:
            self._finish()

    def _show_trial(self) -> None:
        session = self.session
        assert session is not None
        self.trial_label.setText(
            f"<b>Trial {session.answered + 1} of {session.total}</b><br>"
            f"A = {session.label_a}, B = {session.label_b}. Which one is X?"
        )

    def _finish(self) -> None:
        session = self.session
        assert session is not None
        self.player.pause()
        self.blind_changed.emit(False)
        rows = "".join(
            f"<tr><td>{t.number}</td><td>{t.x_is}</td><td>{t.answer or '—'}</td>"
            f"<td>{'✓' if t.correct else '✗' if t.correct is False else ''}</td></tr>"
            for t in session.trials
        )
        self.result_label.setText(
            f"<p><b>{session.correct} of {session.answered} correct</b> "
            f"(A = {session.label_a}, B = {session.label_b})<br>"
            f"p-value (one-sided binomial): <b>{session.p_value:.4g}</b></p><p>{session.verdict()}</p>"
            f"<table cellspacing=4><tr><th>Trial</th><th>X was</th><th>Answer</th><th></th></tr>{rows}</table>"
        )
        self.pages.setCurrentIndex(2)
        self.session_finished.emit(session)

    # -- export -----------------------------------------------------------------------------------

    def export(self, path: str | Path) -> Path:
        """Write the session's results; the format follows the extension (.csv or .json)."""
        if self.session is None:
            raise RuntimeError("no session to export.")
        path = Path(path)
        if path.suffix.lower() == ".json":
            self.session.write_json(path)
        else:
            self.session.write_csv(path)
        return path

    def _export(self, kind: str) -> None:
        name = f"abx-results.{kind}"
        path, _ = QFileDialog.getSaveFileName(self, "Export ABX results", name, f"{kind.upper()} (*.{kind})")
        if path:
            if not path.lower().endswith(f".{kind}"):
                path += f".{kind}"
            self.export(path)

    def done(self, result: int) -> None:
        if self.session is not None and not self.session.finished:
            self.blind_changed.emit(False)
        self.player.pause()
        super().done(result)
