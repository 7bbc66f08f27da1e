"""Screenshot of the Live view for the docs: `xvfb-run -a .venv/bin/python scripts/screenshot_live.py`.

Starts a private PulseAudio server with two null sinks (`livein`, whose monitor is the input, fed by
`paplay` with music on a loop; `liveout`, the output), opens the Live window on the 24 kHz model (the real
weights when installed, random weights otherwise), starts it at 6 kbps with recording ticked, waits for the
meters and the measured latency, and saves docs/screenshots/live-view.png. The server is stopped by its pid.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots" / "live-view.png"
SR = 24_000


def load_model() -> object:
    from codec.errors import CodecError
    from codec.model_pool import ModelPool

    try:
        return ModelPool(allow_download=True).model("encodec_24khz")
    except CodecError:
        from codec.models.encodec import EncodecModel

        return EncodecModel.random("encodec_24khz")


def main() -> None:
    from bench.common import music_signal
    from tests.helpers.pulse import PulseServer, PulseUnavailable

    folder = Path(tempfile.mkdtemp())
    music = folder / "music.wav"
    sf.write(music, music_signal(20.0, SR, 1, seed=2)[0], SR, subtype="FLOAT")
    try:
        server = PulseServer({"livein": (SR, 1), "liveout": (SR, 1)}).__enter__()
    except PulseUnavailable as exc:
        server = None
        print(f"no audio server ({exc}): the view will say there is no device")
    player = None
    try:
        if server is not None:
            server.pactl("set-default-source", "livein.monitor")
            server.pactl("set-default-sink", "liveout")
            player = server.play("livein", music)

        from PySide6.QtWidgets import QApplication

        app = QApplication(sys.argv)
        from app.live.view import LiveWindow
        from app.tasks import TaskRunner
        from codec.specs import get_spec

        runner = TaskRunner()
        window = LiveWindow(get_spec("encodec_24khz"), runner, load_model, record_folder=folder)
        window.resize(620, 470)
        window.show()

        def wait(condition: object, timeout: float) -> None:
            deadline = time.monotonic() + timeout
            while not condition() and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.01)

        window.select_devices("pulse", "pulse")
        window.record_ecdc.setChecked(True)
        window.buffer_combo.setCurrentIndex(2)  # 80 ms
        if window.start_button.isEnabled():
            window.start()
            wait(lambda: window.running, 120)
            wait(lambda: window.pipeline.stats().seconds > 4.0 and window.pipeline.stats().latency_s, 30)
            wait(lambda: False, 1.0)  # a second of meters
        OUT.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(OUT))
        print(f"wrote {OUT}: {window.latency_label.text()}, {window.xrun_label.text()}")
        window.close()
        runner.wait(30_000)
    finally:
        if player is not None:
            player.kill()
            player.wait()
        if "sounddevice" in sys.modules:
            sys.modules["sounddevice"]._terminate()  # let go of the server before it stops
        if server is not None:
            server.__exit__(None, None, None)
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
