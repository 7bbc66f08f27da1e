"""Screenshot of the real main window after compressing a few files: docs/screenshots/main-window.png.

An offline first run: no Meta weights installed (an empty temporary models folder), so the bundled
`ecdc_small_24khz` is the default and the strip says so. The inputs are real recordings: the held-out
excerpts in tests/data/real (speech and music the model never trained on), one of them as FLAC and OGG.
Run it under a virtual X server:

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
    """Real speech and music from tests/data/real under everyday names, and a broken file."""
    import soundfile as sf

    real = ROOT / "tests" / "data" / "real"
    folder.mkdir(parents=True, exist_ok=True)
    names = {
        "interview.wav": "speech-hedgewars-british.flac",
        "voice-memo.flac": "speech-hedgewars-default-es.flac",
        "soundtrack.ogg": "music-wesnoth-the-deep-path.flac",
        "jungle-theme.flac": "music-hedgewars-jungle.flac",
    }
    paths = {}
    for name, source in names.items():
        audio, rate = sf.read(real / source, dtype="float32")
        paths[name] = folder / name
        sf.write(paths[name], audio, rate)
    paths["notes.wav"] = folder / "notes.wav"
    paths["notes.wav"].write_text("meeting notes, saved with the wrong extension\n" * 40)
    return paths


def main(out: Path = DEFAULT_OUT) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ecdc-screenshot-"))
    os.environ["ECDC_STUDIO_MODELS"] = str(tmp / "models")
    (tmp / "models").mkdir()

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.queue_controller import CompressSettings
    from app.queue_model import ItemState
    from app.settings import AppSettings
    from codec.jobs import compress_file
    from codec.model_pool import ModelPool

    inputs = make_inputs(tmp / "Recordings")
    voicemail = tmp / "Recordings" / "voicemail.ecdc"
    compress_file(
        inputs["voice-memo.flac"], voicemail, pool=ModelPool(), model_name="ecdc_small_24khz", bandwidth=3.0
    )

    app = QApplication(["encodec-studio"])
    app.setApplicationDisplayName("ECDC Studio")
    window = MainWindow(AppSettings.from_file(tmp / "settings.ini"))
    window.confirm_close = lambda: True
    window.resize(1180, 600)
    window.show()

    queue = window.queue
    speech = CompressSettings("ecdc_small_24khz", 6.0, False)
    music = CompressSettings("ecdc_small_24khz", 12.0, False)
    queue.add_files([inputs["interview.wav"]], speech)
    queue.add_files([inputs["soundtrack.ogg"], inputs["jungle-theme.flac"]], music)
    queue.add_files([inputs["notes.wav"], voicemail], speech)
    queue.add_files([inputs["voice-memo.flac"]], CompressSettings("ecdc_small_24khz", 3.0, False))

    def all_probed() -> bool:
        return all(i.state is not ItemState.PROBING for i in window.queue_model.items())

    def start() -> None:
        if not all_probed():
            QTimer.singleShot(50, start)
            return
        ids = [i.id for i in window.queue_model.items() if i.path.name != "voice-memo.flac"]
        queue.start(ids)

    def finish() -> None:
        lecture = next(i for i in window.queue_model.items() if i.path.name == "voice-memo.flac")
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
