"""Screenshot of the compare view for the docs: `xvfb-run -a .venv/bin/python scripts/screenshot_compare.py`.

Makes a 4 s synthetic song, opens `CompareWindow` on it, encodes the 24 kHz model's ladder, shows the 6 kbps
version with its difference on a log frequency scale, a loop region and the playhead, and saves
docs/screenshots/compare-view.png. Uses the real EnCodec weights when installed, random weights otherwise
(the status bar then says so). A private PulseAudio null sink is started when available, so the output
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

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots" / "compare-view.png"
SR = 44_100


def song(seconds: float = 4.0) -> np.ndarray:
    """Stereo [2, T]: a chord progression, a melody, kick drums and hi-hat noise bursts."""
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6), (196.0, 246.9, 329.6)]
    for i, chord in enumerate(chords):
        part = (t >= i) & (t < i + 1)
        for f in chord:
            for h in range(1, 6):
                out[part] += 0.05 / h * np.sin(2 * np.pi * f * h * t[part])
    melody = [659.3, 587.3, 523.3, 587.3, 659.3, 784.0, 659.3, 587.3]
    for i, f in enumerate(melody):
        part = (t >= i * 0.5) & (t < i * 0.5 + 0.45)
        env = np.exp(-3 * (t[part] - i * 0.5))
        out[part] += 0.12 * env * (np.sin(2 * np.pi * f * t[part]) + 0.3 * np.sin(4 * np.pi * f * t[part]))
    for beat in np.arange(0, seconds, 0.5):
        k = (t >= beat) & (t < beat + 0.15)
        out[k] += 0.35 * np.exp(-30 * (t[k] - beat)) * np.sin(2 * np.pi * 60 * (t[k] - beat))
        h = (t >= beat + 0.25) & (t < beat + 0.3)
        out[h] += 0.06 * rng.standard_normal(h.sum()) * np.exp(-80 * (t[h] - beat - 0.25))
    return np.stack([out, 0.9 * out + 0.02 * rng.standard_normal(t.size) * 0.1]).astype(np.float32)


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


class Pool:
    """The app's ModelPool when weights are installed, else random weights."""

    def __init__(self) -> None:
        self.random = False

    def model(self, name: str, progress: object = None, cancel: object = None) -> object:
        from codec.errors import CodecError
        from codec.jobs import ModelPool

        try:
            return ModelPool().model(name)
        except CodecError:
            from codec.models.encodec import EncodecModel

            self.random = True
            return EncodecModel.random(name)


def main() -> None:
    runtime = tempfile.mkdtemp(prefix="pa-")
    os.chmod(runtime, 0o700)
    pulse = start_pulse(runtime)
    folder = Path(tempfile.mkdtemp())
    try:
        source = folder / "demo-song.wav"
        sf.write(source, song().T, SR, subtype="PCM_16")

        import torch
        from PySide6.QtWidgets import QApplication

        app = QApplication(sys.argv)
        from app.compare_window import CompareWindow
        from app.tasks import TaskRunner

        torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))
        runner = TaskRunner()
        pool = Pool()
        window = CompareWindow(source, runner, pool, "encodec_24khz")
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
        window.encode_ladder()
        wait(lambda: window.session.version_count() == 6 and window.encode_button.isEnabled())
        window.select_version(3)  # 6 kbps
        window.controls.set_scale("log")
        window.controls.difference.setChecked(True)
        wait(lambda: all(window.view.has_image(s) for s in ("original", "version", "difference")), 60)
        window.view.set_loop_region(1.5, 2.5)
        window.view.loopRegionChanged.emit(1.5, 2.5)
        window.set_looping(True)
        window.player.seek_seconds(1.9)
        window.player.poll()
        if pool.random:
            window.status(
                "Random-weights model (no EnCodec checkpoint installed): the decoded versions are noise."
            )
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
