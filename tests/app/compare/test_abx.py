"""ABX session logic: X drawn with a seed, scoring, the one-sided binomial p-value, export."""

import csv
import json
import math
import random

import pytest

from app.compare.abx import AbxSession, binomial_p_value, correct_needed


def test_binomial_p_value_known_values():
    assert binomial_p_value(0, 16) == 1.0
    assert binomial_p_value(16, 16) == pytest.approx(0.5**16)
    assert binomial_p_value(12, 16) == pytest.approx(sum(math.comb(16, k) for k in range(12, 17)) / 2**16)
    assert binomial_p_value(12, 16) == pytest.approx(0.0384, abs=1e-4)
    assert binomial_p_value(11, 16) == pytest.approx(0.1051, abs=1e-4)
    with pytest.raises(ValueError):
        binomial_p_value(17, 16)


def test_correct_needed():
    assert correct_needed(16) == 12
    assert correct_needed(4) is None  # even 4 of 4 has p = 1/16
    assert correct_needed(5) == 5


def test_x_sequence_is_reproducible_with_a_seed_and_roughly_balanced():
    first = [t.x_is for t in AbxSession("a", "b", 200, seed=3).trials]
    assert first == [t.x_is for t in AbxSession("a", "b", 200, seed=3).trials]
    assert first != [t.x_is for t in AbxSession("a", "b", 200, seed=4).trials]
    assert 70 < first.count("A") < 130


def run(session, listener):
    while not session.finished:
        session.listen("X")
        session.answer(listener(session))


def test_a_listener_who_always_hears_it_is_significant():
    session = AbxSession("Original", "1.5 kbps", 16, seed=1)
    run(session, lambda s: s.x_is())
    assert session.correct == 16 and session.p_value == pytest.approx(2**-16)
    assert session.significant and "heard" in session.verdict()


def test_a_guessing_listener_is_not_significant():
    rng = random.Random(1234)
    session = AbxSession("Original", "24 kbps", 16, seed=5)
    run(session, lambda s: rng.choice("AB"))
    assert session.p_value >= 0.05 and not session.significant
    assert "guessing" in session.verdict()


def test_perfect_listener_needs_enough_trials():
    short = AbxSession("a", "b", 4, seed=0)
    run(short, lambda s: s.x_is())
    assert not short.significant  # 4/4: p = 0.0625
    five = AbxSession("a", "b", 5, seed=0)
    run(five, lambda s: s.x_is())
    assert five.significant


def test_listens_are_counted_and_resolve_to_versions():
    session = AbxSession("a", "b", 2, seed=9)
    assert session.listen("A") == "A" and session.listen("B") == "B"
    assert session.listen("X") == session.x_is()
    assert session.current.listens == {"A": 1, "B": 1, "X": 1}
    with pytest.raises(ValueError):
        session.answer("X")
    session.answer("A")
    session.answer("B")
    assert session.finished and session.current is None
    with pytest.raises(RuntimeError):
        session.answer("A")


def test_export_csv_and_json(tmp_path):
    session = AbxSession("Original", "6 kbps", 3, seed=2)
    run(session, lambda s: "A")
    session.write_json(tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["a"] == "Original" and data["b"] == "6 kbps" and data["trials"] == 3 and data["seed"] == 2
    assert data["correct"] == session.correct and data["p_value"] == pytest.approx(session.p_value)
    assert [r["x_is"] for r in data["results"]] == [t.x_is for t in session.trials]
    assert all(r["answer"] == "A" for r in data["results"])
    session.write_csv(tmp_path / "r.csv")
    rows = list(csv.reader(open(tmp_path / "r.csv", newline="")))
    assert rows[0][:6] == ["trial", "a", "b", "x_is", "answer", "correct"]
    assert [r[3] for r in rows[1:4]] == [t.x_is for t in session.trials]
    assert rows[4][0] == "total" and int(rows[4][5]) == session.correct
    assert rows[5][0] == "p_value" and float(rows[5][1]) == pytest.approx(session.p_value, rel=1e-5)
