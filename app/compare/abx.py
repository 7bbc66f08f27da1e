"""Blind ABX sessions: which of A and B is X, N times; the score and its one-sided binomial p-value.

Plain Python (no Qt): `app/compare/abx_dialog.py` drives it and tests script listeners against it.

    session = AbxSession("Original", "6 kbps", trials=16, seed=7)
    while not session.finished:
        session.listen("X")                 # any of "A", "B", "X", as often as wanted
        session.answer("A")                 # the listener's guess of what X is
    session.correct, session.p_value        # e.g. 14, 0.0021
    session.write_csv(path); session.write_json(path)

A p-value under 0.05 means a listener who could not hear any difference would have scored this well less
than one time in twenty by guessing.
"""

from __future__ import annotations

import csv
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

Choice = Literal["A", "B"]
Listen = Literal["A", "B", "X"]

DEFAULT_TRIALS = 16
SIGNIFICANCE = 0.05


def binomial_p_value(correct: int, trials: int, p: float = 0.5) -> float:
    """P(at least `correct` successes in `trials` guesses with success chance `p`): one-sided."""
    if not 0 <= correct <= trials:
        raise ValueError("correct must be between 0 and trials.")
    return min(
        1.0, sum(math.comb(trials, k) * p**k * (1 - p) ** (trials - k) for k in range(correct, trials + 1))
    )


def correct_needed(trials: int, alpha: float = SIGNIFICANCE) -> int | None:
    """Fewest correct answers out of `trials` whose p-value is below `alpha` (None: not reachable)."""
    for k in range(trials + 1):
        if binomial_p_value(k, trials) < alpha:
            return k
    return None


@dataclass
class AbxTrial:
    number: int  # 1-based
    x_is: Choice
    answer: Choice | None = None
    listens: dict[str, int] = field(default_factory=lambda: {"A": 0, "B": 0, "X": 0})
    seconds: float | None = None  # from the trial's start to its answer

    @property
    def correct(self) -> bool | None:
        return None if self.answer is None else self.answer == self.x_is


class AbxSession:
    """`trials` ABX trials between versions labelled `label_a` and `label_b`; X drawn with `seed`."""

    def __init__(
        self, label_a: str, label_b: str, trials: int = DEFAULT_TRIALS, seed: int | None = None
    ) -> None:
        if trials < 1:
            raise ValueError("an ABX session needs at least one trial.")
        self.label_a = label_a
        self.label_b = label_b
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        rng = random.Random(self.seed)
        self.trials = [AbxTrial(i + 1, rng.choice(("A", "B"))) for i in range(trials)]
        self._index = 0
        self._started = time.monotonic()

    # -- progress ---------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self.trials)

    @property
    def finished(self) -> bool:
        return self._index >= len(self.trials)

    @property
    def current(self) -> AbxTrial | None:
        return None if self.finished else self.trials[self._index]

    @property
    def answered(self) -> int:
        return self._index

    def x_is(self) -> Choice:
        """What X is in the current trial (for playback; never shown to the listener before the end)."""
        trial = self.current
        if trial is None:
            raise RuntimeError("the session is finished.")
        return trial.x_is

    def resolve(self, listen: Listen) -> Choice:
        """The version to play for the listener's A, B or X in the current trial."""
        return self.x_is() if listen == "X" else listen

    def listen(self, which: Listen) -> Choice:
        """Note that the listener played `which`; returns the version that must play."""
        trial = self.current
        if trial is None:
            raise RuntimeError("the session is finished.")
        if which not in ("A", "B", "X"):
            raise ValueError("listen to A, B or X.")
        trial.listens[which] += 1
        return self.resolve(which)

    def answer(self, choice: Choice) -> bool:
        """Record the listener's answer to the current trial and move on; returns whether it was right."""
        trial = self.current
        if trial is None:
            raise RuntimeError("the session is finished.")
        if choice not in ("A", "B"):
            raise ValueError("answer A or B.")
        trial.answer = choice
        now = time.monotonic()
        trial.seconds = round(now - self._started, 3)
        self._started = now
        self._index += 1
        return choice == trial.x_is

    # -- score ------------------------------------------------------------------------------------

    @property
    def correct(self) -> int:
        return sum(1 for t in self.trials if t.correct)

    @property
    def p_value(self) -> float:
        """One-sided binomial p-value of the answers so far (1.0 before any)."""
        return binomial_p_value(self.correct, self.answered) if self.answered else 1.0

    @property
    def significant(self) -> bool:
        return self.answered > 0 and self.p_value < SIGNIFICANCE

    def verdict(self) -> str:
        """One sentence on the result so far."""
        score = f"{self.correct} of {self.answered} correct, p = {self.p_value:.4f}"
        if not self.answered:
            return "No answers yet."
        if self.significant:
            return f"{score}: the difference was heard (less than a 1 in 20 chance of guessing this well)."
        return f"{score}: not distinguishable from guessing."

    # -- export -----------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "a": self.label_a,
            "b": self.label_b,
            "trials": self.total,
            "answered": self.answered,
            "correct": self.correct,
            "p_value": self.p_value,
            "significant": self.significant,
            "seed": self.seed,
            "results": [{**asdict(t), "correct": t.correct} for t in self.trials],
        }

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def write_csv(self, path: str | Path) -> None:
        """One row per trial, then a summary row (trial "total")."""
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(
                [
                    "trial",
                    "a",
                    "b",
                    "x_is",
                    "answer",
                    "correct",
                    "listens_a",
                    "listens_b",
                    "listens_x",
                    "seconds",
                ]
            )
            for t in self.trials:
                writer.writerow(
                    [
                        t.number,
                        self.label_a,
                        self.label_b,
                        t.x_is,
                        t.answer or "",
                        "" if t.correct is None else int(t.correct),
                        t.listens["A"],
                        t.listens["B"],
                        t.listens["X"],
                        "" if t.seconds is None else t.seconds,
                    ]
                )
            writer.writerow(["total", self.label_a, self.label_b, "", "", self.correct, "", "", "", ""])
            writer.writerow(["p_value", f"{self.p_value:.6g}", "", "", "", "", "", "", "", ""])
