"""TaskRunner: work runs on worker threads, callbacks come back on the UI thread, cancel and errors arrive."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread

from app.tasks import TaskRunner
from codec.errors import Cancelled, CodecError


@pytest.fixture
def runner(qtbot):
    runner = TaskRunner()
    yield runner
    runner.cancel_all()
    runner.wait(10_000)


def test_result_and_progress_arrive_on_the_ui_thread(qtbot, runner):
    ui_thread = QThread.currentThread()
    seen: dict[str, object] = {}
    progress: list[tuple[int, int]] = []

    def work(report, cancel):
        seen["worker_is_ui"] = QThread.currentThread() is ui_thread
        for i in range(1, 4):
            report(i, 3)
        return 42

    def done(result):
        seen["result"] = result
        seen["done_on_ui"] = QThread.currentThread() is ui_thread

    def on_progress(done_, total):
        assert QThread.currentThread() is ui_thread
        progress.append((done_, total))

    handle = runner.run(work, on_progress=on_progress, on_done=done)
    qtbot.waitUntil(lambda: "result" in seen, timeout=5000)
    assert seen == {"worker_is_ui": False, "result": 42, "done_on_ui": True}
    assert handle.finished
    assert progress[-1] == (3, 3)  # the final update always gets through the throttle
    assert runner.active_count() == 0


def test_errors_are_delivered_once_and_not_as_results(qtbot, runner):
    outcome: list[object] = []

    def work(report, cancel):
        raise CodecError("That file is not audio.")

    runner.run(work, on_done=outcome.append, on_error=outcome.append)
    qtbot.waitUntil(lambda: bool(outcome), timeout=5000)
    qtbot.wait(20)
    assert len(outcome) == 1
    assert isinstance(outcome[0], CodecError) and str(outcome[0]) == "That file is not audio."


def test_cancel_reaches_the_job_and_reports_cancelled(qtbot, runner):
    started = threading.Event()
    errors: list[BaseException] = []

    def work(report, cancel):
        started.set()
        while True:
            cancel.raise_if_cancelled()
            threading.Event().wait(0.005)

    handle = runner.run(work, on_error=errors.append)
    assert started.wait(5)
    handle.cancel()
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert isinstance(errors[0], Cancelled)
    assert handle.cancelled and handle.finished


def test_model_lane_runs_one_job_at_a_time_while_io_lane_runs_beside_it(qtbot, runner):
    lock = threading.Lock()
    running = {"model": 0, "max_model": 0, "io_overlapped": False}
    release = threading.Event()
    results: list[str] = []

    def model_job(report, cancel):
        with lock:
            running["model"] += 1
            running["max_model"] = max(running["max_model"], running["model"])
        release.wait(5)
        with lock:
            running["model"] -= 1
        return "model"

    def io_job(report, cancel):
        with lock:
            running["io_overlapped"] = running["model"] > 0
        release.set()
        return "io"

    runner.run(model_job, on_done=results.append)
    runner.run(model_job, on_done=results.append)
    qtbot.waitUntil(lambda: running["model"] == 1, timeout=5000)
    runner.run(io_job, on_done=results.append, lane="io")
    qtbot.waitUntil(lambda: len(results) == 3, timeout=10_000)
    assert running["max_model"] == 1
    assert running["io_overlapped"]
    assert sorted(results) == ["io", "model", "model"]


def test_synchronous_mode_calls_back_before_run_returns():
    runner = TaskRunner(synchronous=True)
    calls: list[object] = []
    handle = runner.run(
        lambda report, cancel: (report(1, 2), report(2, 2), "ok")[-1],
        on_progress=lambda d, t: calls.append((d, t)),
        on_done=calls.append,
    )
    assert calls == [(1, 2), (2, 2), "ok"]
    assert handle.finished
    errors: list[BaseException] = []
    runner.run(lambda report, cancel: 1 / 0, on_error=errors.append)
    assert isinstance(errors[0], ZeroDivisionError)


def test_unknown_lane_is_refused(runner):
    with pytest.raises(ValueError, match="unknown lane"):
        runner.run(lambda report, cancel: None, lane="gpu")


def test_wait_and_cancel_all_stop_every_task(qtbot, runner):
    errors: list[BaseException] = []

    def work(report, cancel):
        while True:
            cancel.raise_if_cancelled()
            threading.Event().wait(0.005)

    runner.run(work, on_error=errors.append)
    runner.run(work, on_error=errors.append, lane="io")
    assert not runner.wait(50)
    runner.cancel_all()
    assert runner.wait(5000)
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=5000)
    assert all(isinstance(e, Cancelled) for e in errors)
