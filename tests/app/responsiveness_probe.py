"""Run by test_responsiveness.py in a fresh process (torch not yet imported): open the main window, queue
one file, compress it while a 10 ms timer ticks on the UI thread, and print the ticks' gaps as JSON.

    python -m tests.app.responsiveness_probe SETTINGS.ini AUDIO_FILE
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


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
