"""Screenshot of the real main window after compressing a few files: docs/screenshots/main-window.png.

Random-weights models stand in for the real checkpoints (sizes, ratios and timings are real; the decoded
sound is not), installed into a temporary models folder. Run it under a virtual X server:

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshot_main.py [OUT.png]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_OUT = ROOT / "docs" / "screenshots" / "main-window.png"


def make_inputs(folder: Path) -> dict[str, Path]:
    """A few generated recordings: a voice-like signal, a stereo music-like one, a broken file."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(7)

    def tone(rate: int, seconds: float, channels: int, base: float) -> np.ndarray:
        t = np.arange(int(rate * seconds)) / rate
        rows = []
        for c in range(channels):
            envelope = 0.5 + 0.5 * np.sin(2 * np.pi * (0.7 + 0.2 * c) * t) ** 2
            x = sum(np.sin(2 * np.pi * base * (k + 1) * (1 + 0.01 * c) * t) / (k + 1) for k in range(5))
            rows.append(0.25 * envelope * x + 0.01 * rng.standard_normal(t.size))
        return np.stack(rows, axis=1).astype(np.float32)

    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "interview.wav": (tone(24_000, 24.0, 1, 140.0), 24_000),
        "podcast-intro.flac": (tone(44_100, 12.5, 2, 220.0), 44_100),
        "guitar-loop.ogg": (tone(48_000, 8.0, 2, 196.0), 48_000),
        "lecture-part-2.wav": (tone(16_000, 95.0, 1, 120.0), 16_000),
    }
    paths = {}
    for name, (data, rate) in files.items():
        paths[name] = folder / name
        sf.write(paths[name], data, rate)
    paths["notes.wav"] = folder / "notes.wav"
    paths["notes.wav"].write_text("meeting notes, saved with the wrong extension\n" * 40)
    return paths


def main(out: Path = DEFAULT_OUT) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ecdc-screenshot-"))
    os.environ["ECDC_STUDIO_MODELS"] = str(tmp / "models")
    (tmp / "models").mkdir()

    import torch

    from tests.oracles import reference_model

    for name, file in (
        ("encodec_24khz", "encodec_24khz-d7cc33bc.th"),
        ("encodec_48khz", "encodec_48khz-7e698e3e.th"),
    ):
        torch.save(reference_model(name).state_dict(), tmp / "models" / file)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.queue_controller import CompressSettings
    from app.queue_model import ItemState
    from app.settings import AppSettings
    from codec.jobs import ModelPool, compress_file

    inputs = make_inputs(tmp / "Recordings")
    voicemail = tmp / "Recordings" / "voicemail.ecdc"
    compress_file(
        inputs["interview.wav"], voicemail, pool=ModelPool(), model_name="encodec_24khz", bandwidth=3.0
    )

    app = QApplication(["encodec-studio"])
    app.setApplicationDisplayName("ECDC Studio")
    window = MainWindow(AppSettings.from_file(tmp / "settings.ini"))
    window.confirm_close = lambda: True
    window.resize(1180, 600)
    window.show()

    queue = window.queue
    speech = CompressSettings("encodec_24khz", 6.0, False)
    music = CompressSettings("encodec_48khz", 12.0, False)
    queue.add_files([inputs["interview.wav"]], speech)
    queue.add_files([inputs["podcast-intro.flac"], inputs["guitar-loop.ogg"]], music)
    queue.add_files([inputs["notes.wav"], voicemail], speech)
    queue.add_files([inputs["lecture-part-2.wav"]], CompressSettings("encodec_24khz", 3.0, False))

    def all_probed() -> bool:
        return all(i.state is not ItemState.PROBING for i in window.queue_model.items())

    def start() -> None:
        if not all_probed():
            QTimer.singleShot(50, start)
            return
        ids = [i.id for i in window.queue_model.items() if i.path.name != "lecture-part-2.wav"]
        queue.start(ids)

    def finish() -> None:
        lecture = next(i for i in window.queue_model.items() if i.path.name == "lecture-part-2.wav")
        window.table.selectRow(window.queue_model.row_of(lecture.id))
        window.statusBar().showMessage("Queue finished: 3 done, 1 failed.")
        QTimer.singleShot(400, shoot)

    def shoot() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(out))
        print(f"wrote {out}")
        window.close()
        app.quit()

    queue.queue_finished.connect(lambda: QTimer.singleShot(300, finish))
    QTimer.singleShot(300, start)
    app.exec()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
