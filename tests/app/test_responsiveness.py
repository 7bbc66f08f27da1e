"""While a real compression runs, and while a folder of 2,000 files dropped on the window is probed, the UI
thread's event loop keeps turning: the longest gap between ticks of a 10 ms timer stays under 100 ms.
These are the suite's only timing assertions.

It runs in a fresh process so the first job pays what a person's first job pays: importing torch (on the
worker), loading the model from the models folder, reading, encoding and writing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MAX_GAP_MS = 100.0
ROOT = Path(__file__).resolve().parents[2]


def test_event_loop_never_stalls_during_a_real_compression(
    install_random_model, make_audio, tmp_path, models_dir
):
    install_random_model("encodec_24khz")
    src = make_audio("steady.wav", sample_rate=44_100, channels=2, seconds=6.0, folder=tmp_path / "in")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ECDC_STUDIO_MODELS": str(models_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.app.responsiveness_probe", str(tmp_path / "settings.ini"), str(src)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["state"] == "DONE", result
    assert not result["torch_before_job"]  # the window came up without torch
    assert result["ticks"] > 20
    assert result["max_gap_ms"] < MAX_GAP_MS, result
    assert (tmp_path / "in" / "steady.ecdc").is_file()


DROPPED_FILES = 2000


def test_event_loop_never_stalls_while_a_big_drop_is_probed(tmp_path):
    # Before the fix, adding 2,000 files took the UI thread ~100 s (each file was compared with every
    # queued one by resolving both paths).
    import numpy as np
    import soundfile as sf

    folder = tmp_path / "many"
    folder.mkdir()
    tone = (0.1 * np.sin(np.arange(240) / 3)).astype(np.float32)
    for i in range(DROPPED_FILES):
        sf.write(folder / f"take {i:04d}.wav", tone, 24_000)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ECDC_STUDIO_MODELS": str(tmp_path / "models")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.app.responsiveness_probe",
            "--drop",
            str(tmp_path / "settings.ini"),
            str(folder),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["rows"] == result["ready"] == result["selected"] == DROPPED_FILES, result
    assert result["drop_returned_ms"] < MAX_GAP_MS, result
    assert result["ticks"] > 10, result
    assert result["max_gap_ms"] < MAX_GAP_MS, result
