"""Time from launching `encodec-studio` to its main window being shown and painted.

Each run spawns a fresh `python -m app.main --quit-after-show` with ECDC_STUDIO_STARTUP_MARKER set; the
app writes the wall-clock time of its first shown-and-painted frame (and whether torch was imported by
then) to that file and quits. The figure is marker time minus spawn time: interpreter start, imports,
QApplication, building the window, first paint.

    xvfb-run -a .venv/bin/python bench/bench_startup.py          # real X server (xcb), as a person sees it
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_startup.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 1.5


def one_run(workdir: Path, index: int) -> dict:
    marker = workdir / f"marker-{index}.json"
    env = {**os.environ, "ECDC_STUDIO_STARTUP_MARKER": str(marker)}
    cmd = [sys.executable, "-m", "app.main", "--quit-after-show", "--settings", str(workdir / "settings.ini")]
    started = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    exited = time.time()
    if proc.returncode != 0 or not marker.exists():
        raise SystemExit(f"run {index} failed (rc={proc.returncode}):\n{proc.stderr[-2000:]}")
    record = json.loads(marker.read_text())
    return {
        "shown_s": record["shown_at"] - started,
        "exit_s": exited - started,
        "torch_imported": record["torch_imported"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    platform = os.environ.get("QT_QPA_PLATFORM") or ("xcb" if os.environ.get("DISPLAY") else "default")
    with tempfile.TemporaryDirectory() as tmp:
        one_run(Path(tmp), -1)  # warm the OS file cache; not counted
        runs = [one_run(Path(tmp), i) for i in range(args.runs)]
    shown = [r["shown_s"] for r in runs]
    print(f"platform: {platform}; runs: {len(runs)}")
    print("time to first shown window (s): " + ", ".join(f"{s:.3f}" for s in shown))
    print(
        f"median {statistics.median(shown):.3f} s, min {min(shown):.3f} s, max {max(shown):.3f} s (budget {BUDGET_S} s)"
    )
    print(f"torch imported before the window showed: {any(r['torch_imported'] for r in runs)}")
    return 0 if statistics.median(shown) < BUDGET_S and not any(r["torch_imported"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
