"""`encodec-studio --self-test` (app/self_test.py): the whole run from source in a fresh process, the step
runner's pass/fail contract, and the checks on decoded audio."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app import self_test
from app.self_test import SAMPLE_RATE, STEPS, SelfTestError, check_decoded, make_signal, run_self_test

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_self_test_passes_from_source_in_a_fresh_process(tmp_path: Path) -> None:
    # A clean process like the real command: no QT_QPA_PLATFORM (the self-test must choose offscreen
    # itself), an empty home, and a models folder variable that the self-test must override and restore.
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    env["ECDC_STUDIO_MODELS"] = str(tmp_path / "user-models")
    code = (
        "import os, sys\n"
        "from app.self_test import run_self_test\n"
        "status = run_self_test()\n"
        "print('platform', os.environ.get('QT_QPA_PLATFORM'))\n"
        "print('models', os.environ.get('ECDC_STUDIO_MODELS'))\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    step_lines = [line for line in lines if line.startswith("self-test ") and "/" in line.split()[1]]
    assert len(step_lines) == len(STEPS)
    for (name, _), line in zip(STEPS, step_lines):
        assert f" {name}: ok " in line, line
    assert lines[len(STEPS)].startswith(f"self-test: all {len(STEPS)} steps passed in ")
    assert "platform offscreen" in lines
    assert f"models {tmp_path / 'user-models'}" in lines  # put back after the run
    assert not (tmp_path / "user-models").exists()  # the user's models folder was never touched
    assert "shown on the 'offscreen' platform, 2 files queued, closed" in done.stdout
    assert "36000 frames at 24000 Hz" in done.stdout


def _fake_steps(record: list[str], fail_at: str | None) -> list:
    def make(name: str):
        def step(state: self_test._State) -> str:
            record.append(name)
            assert os.environ["ECDC_STUDIO_MODELS"] == str(state.work / "models")
            if name == fail_at:
                raise SelfTestError("the output was silent")
            return f"{name} detail"

        return (name, step)

    return [make(name) for name in ("first", "second", "third")]


def test_run_self_test_reports_each_step_and_returns_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    record: list[str] = []
    monkeypatch.setattr(self_test, "STEPS", _fake_steps(record, fail_at=None))
    monkeypatch.setenv("ECDC_STUDIO_MODELS", "/somewhere/else")
    out = io.StringIO()
    assert run_self_test(out) == 0
    lines = out.getvalue().splitlines()
    assert record == ["first", "second", "third"]
    assert [line.split(": ok")[0] for line in lines[:3]] == [
        "self-test 1/3 first",
        "self-test 2/3 second",
        "self-test 3/3 third",
    ]
    assert lines[0].endswith(": first detail")
    assert lines[3].startswith("self-test: all 3 steps passed")
    assert os.environ["ECDC_STUDIO_MODELS"] == "/somewhere/else"


def test_run_self_test_stops_at_the_failing_step_and_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    record: list[str] = []
    monkeypatch.setattr(self_test, "STEPS", _fake_steps(record, fail_at="second"))
    monkeypatch.delenv("ECDC_STUDIO_MODELS", raising=False)
    out = io.StringIO()
    assert run_self_test(out) == 1
    assert record == ["first", "second"]  # nothing runs after a failure
    lines = out.getvalue().splitlines()
    assert lines[1] == "self-test 2/3 second: FAILED: the output was silent"
    assert lines[-1] == "self-test: FAILED at step 'second'"
    assert "ECDC_STUDIO_MODELS" not in os.environ


def test_an_unexpected_exception_is_a_failure_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(state: self_test._State) -> str:
        raise ImportError("No module named 'sounddevice'")

    monkeypatch.setattr(self_test, "STEPS", [("audio libraries", broken)])
    out = io.StringIO()
    assert run_self_test(out) == 1
    assert "audio libraries: FAILED: No module named 'sounddevice'" in out.getvalue()


def test_run_self_test_chooses_offscreen_only_when_no_platform_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(self_test, "STEPS", [])
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    assert run_self_test(io.StringIO()) == 0
    assert os.environ["QT_QPA_PLATFORM"] == "offscreen"
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert run_self_test(io.StringIO()) == 0
    assert os.environ["QT_QPA_PLATFORM"] == "xcb"


def test_check_decoded_accepts_good_audio() -> None:
    audio = make_signal()
    assert check_decoded(audio, SAMPLE_RATE, len(audio), SAMPLE_RATE).startswith(f"{len(audio)} frames")
    stereo = np.stack([audio, audio], axis=1)
    assert check_decoded(stereo, 48_000, len(audio), 48_000)


@pytest.mark.parametrize(
    ("audio", "rate", "message"),
    [
        (np.full(100, 0.1, np.float32), 16_000, "sample rate is 16000 Hz"),
        (np.full(99, 0.1, np.float32), SAMPLE_RATE, "decoded 99 frames, expected 100"),
        (np.array([0.1] * 99 + [np.nan], np.float32), SAMPLE_RATE, "NaN or infinite"),
        (np.array([0.1] * 99 + [np.inf], np.float32), SAMPLE_RATE, "NaN or infinite"),
        (np.zeros(100, np.float32), SAMPLE_RATE, "silent"),
        (np.full(100, 1e-6, np.float32), SAMPLE_RATE, "silent"),
    ],
)
def test_check_decoded_rejects_bad_audio(audio: np.ndarray, rate: int, message: str) -> None:
    with pytest.raises(SelfTestError, match=message):
        check_decoded(audio, rate, 100, SAMPLE_RATE)


def test_make_signal_is_a_loud_enough_finite_mono_signal() -> None:
    x = make_signal(SAMPLE_RATE, 1.5)
    assert x.dtype == np.float32 and x.shape == (36_000,)
    assert np.all(np.isfinite(x))
    assert np.max(np.abs(x)) == pytest.approx(0.5)
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) > 0.1
