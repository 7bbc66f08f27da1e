"""Run by test_responsiveness.py in a fresh process (torch not yet imported): open the main window, queue
one file, compress it while a 10 ms timer ticks on the UI thread, and print the ticks' gaps as JSON.
With --drop, drop a whole folder instead and measure until every file in it has been probed.

    python -m tests.app.responsiveness_probe SETTINGS.ini AUDIO_FILE
    python -m tests.app.responsiveness_probe --drop SETTINGS.ini FOLDER
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication


def main(settings_path: str, audio_path: str) -> None:
    app = QApplication(["responsiveness-probe"])
    from app.main_window import MainWindow
    from app.settings import AppSettings

    window = MainWindow(AppSettings.from_file(Path(settings_path)))
    window.confirm_close = lambda: True
    window.show()
    torch_before = "torch" in sys.modules
    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    window.add_paths([Path(audio_path)])
    # Start once the file is probed; the job then imports torch, loads the model and compresses.
    poll = QTimer()
    poll.setInterval(20)
    started: list[float] = []

    def maybe_start() -> None:
        if not started and window.queue.compressible_ids():
            started.append(time.perf_counter())
            window.compress()

    poll.timeout.connect(maybe_start)
    poll.start()
    window.queue.queue_finished.connect(app.quit)
    QTimer.singleShot(120_000, app.quit)
    app.exec()
    timer.stop()
    item = window.queue_model.items()[0]
    during = [t for t in ticks if started and t >= started[0]]
    gaps = [b - a for a, b in zip(during, during[1:])]
    print(
        json.dumps(
            {
                "torch_before_job": torch_before,
                "state": item.state.name,
                "message": item.message,
                "ticks": len(during),
                "job_seconds": during[-1] - during[0] if during else 0.0,
                "max_gap_ms": 1000 * max(gaps) if gaps else None,
            }
        )
    )
    window.close()


def drop(settings_path: str, folder: str) -> None:
    app = QApplication(["responsiveness-probe"])
    from app.file_collect import mime_for_paths
    from app.main_window import MainWindow
    from app.queue_model import ItemState
    from app.settings import AppSettings
    from tests.app.test_main_window import drop as drop_on

    window = MainWindow(AppSettings.from_file(Path(settings_path)))
    window.confirm_close = lambda: True
    window.show()
    expected = sum(1 for _ in Path(folder).iterdir())
    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    marks: dict[str, float] = {}

    def start() -> None:
        marks["drop"] = time.perf_counter()
        assert mime_for_paths([Path(folder)]).hasUrls()
        drop_on(window.drop_area, [Path(folder)])
        marks["returned"] = time.perf_counter()

    def check() -> None:
        items = window.queue_model.items()
        if (
            "drop" in marks
            and len(items) == expected
            and all(i.state is not ItemState.PROBING for i in items)
        ):
            marks.setdefault("probed", time.perf_counter())
            app.quit()

    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(check)
    poll.start()
    QTimer.singleShot(300, start)
    QTimer.singleShot(120_000, app.quit)
    app.exec()
    timer.stop()
    during = [t for t in ticks if marks.get("drop", 0) <= t <= marks.get("probed", 0)]
    gaps = [b - a for a, b in zip(during, during[1:])]
    items = window.queue_model.items()
    # Still usable afterwards: every row can be selected and removed.
    window.table.selectAll()
    selected = len(window.selected_items())
    print(
        json.dumps(
            {
                "rows": len(items),
                "ready": sum(i.state is ItemState.READY for i in items),
                "selected": selected,
                "drop_returned_ms": 1000 * (marks["returned"] - marks["drop"]),
                "probe_seconds": marks.get("probed", 0.0) - marks["drop"],
                "ticks": len(during),
                "max_gap_ms": 1000 * max(gaps) if gaps else None,
            }
        )
    )
    window.close()


if __name__ == "__main__":
    if sys.argv[1] == "--drop":
        drop(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1], sys.argv[2])
