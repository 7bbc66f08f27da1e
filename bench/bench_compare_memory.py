"""Memory of the compare view's work on a long file: the original, a ladder of rungs and their spectrograms.

Run from the repository root:

    nice -n 10 .venv/bin/python bench/bench_compare_memory.py [--minutes 30] [--rungs 1.5,6] [--in-memory]

It writes `--minutes` of 44.1 kHz stereo music (16-bit wav, block by block) to a temporary folder and, in a
child process, does what `app.compare.session.CompareSession` does for it, without Qt: read the original,
encode and decode each rung with a random-weights 24 kHz model (`codec.ladder.encode_ladder`), score it,
and compute the spectrogram of the first rung and of its difference from the original. By default the
long-file path runs (everything on disk, memory-mapped: `read_audio_spooled`, `spool=`); `--in-memory`
runs the path short files take, for comparison (only sensible for a few minutes: it needs several GB
for 30).

The child samples its own `/proc/self/status` every 0.2 s: peak anonymous memory (`RssAnon`, what the
process really holds) and peak resident file pages (`RssFile`: pages of the memory-mapped spool files the
kernel keeps cached and can drop at any time), plus `VmHWM` at exit. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO, format_loadavg, peak_rss_mb, save_reference_weights, write_music_wav  # noqa: E402

SAMPLE_RATE = 44_100
CHANNELS = 2


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def child(wav: str, weights: str, rungs: list[float], spool: str | None) -> dict[str, object]:
    import torch

    from codec.api import load_model
    from codec.audio import read_audio, read_audio_spooled
    from codec.ladder import encode_ladder
    from codec.metrics import default_n_fft
    from codec.spectrogram import compute_spectrogram

    torch.set_num_threads(1)
    peaks = {"anon_kb": 0, "file_kb": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peaks["anon_kb"] = max(peaks["anon_kb"], _status_kb("RssAnon:"))
            peaks["file_kb"] = max(peaks["file_kb"], _status_kb("RssFile:"))
            stop.wait(0.2)

    threading.Thread(target=sample, daemon=True).start()
    started = time.perf_counter()
    model = load_model("encodec_24khz", weights=weights, device="cpu")
    baseline_anon = _status_kb("RssAnon:")
    audio, rate = read_audio_spooled(wav, spool) if spool else read_audio(wav)
    ladder = encode_ladder(model, audio, rate, rungs, spool=Path(spool) if spool else None)
    n_fft = default_n_fft(rate)
    compute_spectrogram(ladder[0].audio, rate, n_fft=n_fft)
    compute_spectrogram(ladder[0].audio, rate, n_fft=n_fft, minus=audio)
    seconds = time.perf_counter() - started
    stop.set()
    return {
        "audio_minutes": audio.shape[-1] / rate / 60,
        "rungs": rungs,
        "on_disk": bool(spool),
        "seconds": round(seconds, 1),
        "model_loaded_anon_mb": round(baseline_anon / 1024, 1),
        "peak_anon_mb": round(peaks["anon_kb"] / 1024, 1),
        "peak_file_mb": round(peaks["file_kb"] / 1024, 1),
        "vm_hwm_mb": round(peak_rss_mb(), 1),
        "si_sdr_db": [round(r.si_sdr, 2) for r in ladder],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rungs", default="1.5,6", help="bandwidths, comma separated (default 1.5,6)")
    parser.add_argument("--in-memory", action="store_true", help="the short-file path (everything in memory)")
    parser.add_argument(
        "--child", nargs=4, metavar=("WAV", "WEIGHTS", "RUNGS", "SPOOL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        wav, weights, rungs, spool = args.child
        result = child(wav, weights, [float(b) for b in rungs.split(",")], None if spool == "-" else spool)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        folder = Path(tmp)
        wav = write_music_wav(folder / "long.wav", args.minutes * 60, SAMPLE_RATE, CHANNELS)
        weights = save_reference_weights("encodec_24khz", folder)
        spool = "-"
        if not args.in_memory:
            (folder / "spool").mkdir()
            spool = str(folder / "spool")
        load = format_loadavg()
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(wav), str(weights), args.rungs, spool],
            cwd=REPO,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            sys.exit(proc.stderr[-3000:])
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["wav_mb"] = round(wav.stat().st_size / 1e6, 1)
        result["loadavg_at_start"] = load
        print(json.dumps(result))


if __name__ == "__main__":
    main()
