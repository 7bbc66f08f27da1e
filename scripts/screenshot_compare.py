"""Screenshot of the compare view for the docs: `xvfb-run -a .venv/bin/python scripts/screenshot_compare.py`.

Opens `CompareWindow` on real music the bundled model never trained on (tests/data/real, a Wesnoth
soundtrack excerpt), encodes its ladder with `ecdc_small_24khz` plus Opus at 6 and 12 kbps, shows the
6 kbps version with its difference on a log frequency scale, a loop region and the playhead, and saves
docs/screenshots/compare-view.png. A private PulseAudio null sink is started when available, so the output
device list is real; it is stopped by its pid file afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots" / "compare-view.png"
MODEL = "ecdc_small_24khz"


def start_pulse(runtime: str) -> bool:
    if shutil.which("pulseaudio") is None:
        return False
    os.environ["XDG_RUNTIME_DIR"] = runtime
    started = subprocess.run(
        ["pulseaudio", "-D", "--exit-idle-time=-1", "--disallow-exit", "-n", "--load=module-native-protocol-unix",
         "--load=module-null-sink sink_name=testsink", "--load=module-always-sink"],
        capture_output=True,
    )  # fmt: skip
    return started.returncode == 0


def stop_pulse(runtime: str) -> None:
    """Stop the server by the pid in its pid file, and wait until it has exited."""
    try:
        pid = int(Path(runtime, "pulse", "pid").read_text().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.05)
    except (OSError, ValueError):
        pass


def main() -> None:
    runtime = tempfile.mkdtemp(prefix="pa-")
    os.chmod(runtime, 0o700)
    pulse = start_pulse(runtime)
    folder = Path(tempfile.mkdtemp())
    try:
        source = folder / "soundtrack.flac"
        audio, rate = sf.read(
            ROOT / "tests" / "data" / "real" / "music-wesnoth-the-deep-path.flac", dtype="float32"
        )
        sf.write(source, audio, rate)

        import torch
        from PySide6.QtWidgets import QApplication

        app = QApplication(sys.argv)
        from app.compare.window import CompareWindow
        from app.tasks import TaskRunner

        torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))
        runner = TaskRunner()
        from codec.model_pool import ModelPool

        window = CompareWindow(source, runner, ModelPool(allow_download=True), MODEL)
        window.resize(1280, 900)
        window.show()

        def wait(condition: object, timeout: float = 300.0) -> None:
            deadline = time.monotonic() + timeout
            while not condition() and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.01)

        wait(lambda: window.session.loaded)
        if pulse:
            window.refresh_devices()
            window.set_output_device(
                next((d.index for d in window.player.devices if d.name == "pulse"), None)
            )
        window.opus_box.setChecked(window.opus_box.isEnabled())
        window.encode_ladder()
        versions = 1 + 4 + (2 if window.opus_box.isChecked() else 0)
        wait(lambda: window.session.version_count() == versions and window.encode_button.isEnabled())
        window.select_version(3)  # 6 kbps
        window.controls.set_scale("log")
        window.controls.difference.setChecked(True)
        wait(lambda: all(window.view.has_image(s) for s in ("original", "version", "difference")), 60)
        window.view.set_loop_region(1.5, 2.5)
        window.view.loop_region_changed.emit(1.5, 2.5)
        window.set_looping(True)
        window.player.seek_seconds(1.9)
        window.player.poll()
        for _ in range(50):
            app.processEvents()
            time.sleep(0.01)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(OUT))
        print(f"wrote {OUT}")
        window.close()
        runner.wait(30_000)
    finally:
        if "sounddevice" in sys.modules:
            sys.modules["sounddevice"]._terminate()  # let go of the server before it stops
        if pulse:
            stop_pulse(runtime)
        shutil.rmtree(runtime, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
