"""Memory: peak RSS of the `ecdc` command against file length (1, 10, 60 minutes of 24 kHz mono).

Run from the repository root: `.venv/bin/python bench/bench_memory.py [--quick]` (or `bench/run_all.sh`).

Each length gets a 16-bit wav written block by block into a temporary folder (a 60-minute file is 173 MB),
then `python -m codec` compresses it to `.ecdc` and decompresses that to a wav, each in its own child
process with a random-weights checkpoint passed by `--weights`. The child's peak resident set size is
its own `VmHWM` as it exits (recorded by an exit hook; the command runs as `python -m codec` does, through
`runpy`). Not `ru_maxrss`: Linux carries the pre-exec image's RSS into a child, so a child of a big
process would report the parent's size. For scale, the reference `encodec` 0.1.1 runs
the same 1-minute compress and decompress in a child too (as its command line does: read the whole file,
`compress`, write bytes; `decompress`, write the wav); it is not run on longer files (it needs about
1 GB per minute of audio).

A child whose RSS passes `--rss-cap-mb` is killed (and reported) so a non-streaming path cannot take
the shared machine down; longer files are then skipped.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    ECDC_WITH_PEAK,
    PEAK_FILE_ENV,
    REPO,
    machine_line,
    markdown_table,
    measure_or_load,
    publish,
    report_peak_at_exit,
    save_reference_weights,
    wait_for_quiet,
    write_music_wav,
)

MODEL = "encodec_24khz"
SAMPLE_RATE = 24_000
MINUTES = (1.0, 10.0, 60.0)
QUICK_MINUTES = (0.25, 1.0, 3.0)
TARGET_MB = 1000.0  # 1 GB
TARGET_GROWTH = 0.10  # between the two longest files
PLOT = REPO / "docs" / "bench-memory.png"
OURS, REFERENCE = "ours (ecdc command)", "reference encodec 0.1.1"


@dataclass
class Run:
    """One child process: what it did, on how long a file, its peak RSS and wall time."""

    side: str
    op: str  # "compress" / "decompress"
    minutes: float
    peak_mb: float
    seconds: float
    returncode: int
    killed: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.killed

    @property
    def realtime_factor(self) -> float:
        return self.minutes * 60 / self.seconds if self.seconds else 0.0


def _vm_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def measure(cmd: list[str], rss_cap_mb: float, poll: float = 0.1) -> tuple[float, float, int, bool, str]:
    """Run `cmd`; (peak RSS MB, wall seconds, return code, killed for passing the cap, last stderr line).

    The peak is the child's own `VmHWM` as it exits, written by `report_peak_at_exit` (the ecdc wrapper and
    the reference child install it); for other commands, or a child killed at the cap, the highest `VmHWM`
    seen while polling /proc.
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        env = {**os.environ, PEAK_FILE_ENV: str(peak_file)}
        with open(Path(tmp) / "stderr", "w+b") as err:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err, env=env)
            killed, polled = False, 0
            while proc.poll() is None:
                polled = max(polled, _vm_kb(proc.pid, "VmHWM:"))
                if not killed and _vm_kb(proc.pid, "VmRSS:") * 1024 / 1e6 > rss_cap_mb:
                    proc.kill()
                    killed = True
                time.sleep(poll)
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
        try:
            peak = float(peak_file.read_text())
        except (OSError, ValueError):
            peak = polled * 1024 / 1e6
    return peak, time.perf_counter() - started, proc.returncode, killed, tail[0][:200]


def ours_commands(src: Path, weights: Path, folder: Path) -> dict[str, list[str]]:
    """`python -m codec` (through `ECDC_WITH_PEAK`, which adds only the exit hook) compress and decompress."""
    ecdc, out = folder / (src.stem + ".ecdc"), folder / (src.stem + "_decoded.wav")
    base = [sys.executable, "-c", ECDC_WITH_PEAK, "-f", "--weights", str(weights)]
    return {"compress": [*base, str(src), str(ecdc)], "decompress": [*base, str(ecdc), str(out)]}


def reference_commands(src: Path, weights: Path, folder: Path) -> dict[str, list[str]]:
    ecdc, out = folder / (src.stem + "_ref.ecdc"), folder / (src.stem + "_ref_decoded.wav")
    base = [sys.executable, str(Path(__file__).resolve()), "--reference-child"]
    return {
        "compress": [*base, "compress", str(src), str(ecdc), str(weights)],
        "decompress": [*base, "decompress", str(ecdc), str(out), str(weights)],
    }


def reference_child(op: str, src: Path, dst: Path, weights: Path) -> None:
    """What the reference's command line does, with a random-weights model instead of a download."""
    import soundfile as sf  # noqa: PLC0415
    import torch  # noqa: PLC0415

    from tests.oracles import import_reference_encodec  # noqa: PLC0415

    encodec = import_reference_encodec()
    compress = sys.modules["encodec.compress"]
    model = encodec.EncodecModel.encodec_model_24khz(pretrained=False)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.name = MODEL
    model.set_target_bandwidth(6.0)
    model.eval()
    if op == "compress":
        data, _rate = sf.read(src, dtype="float32", always_2d=True)
        dst.write_bytes(compress.compress(model, torch.from_numpy(data.T.copy()), use_lm=False))
    else:
        compress.MODELS[MODEL] = lambda *args, **kwargs: model
        wav, rate = compress.decompress(src.read_bytes())
        sf.write(dst, wav.clamp(-0.99, 0.99).numpy().T, rate, subtype="PCM_16")


def run(args: argparse.Namespace, folder: Path) -> list[Run]:
    weights = save_reference_weights(MODEL, folder)
    runs: list[Run] = []

    def one(side: str, op: str, minutes: float, cmd: list[str]) -> Run:
        wait_for_quiet(args.max_load, args.wait)
        peak, seconds, code, killed, err = measure(cmd, args.rss_cap_mb)
        run = Run(side, op, minutes, peak, seconds, code, killed, "" if code == 0 else err)
        runs.append(run)
        status = "killed at the RSS cap" if killed else ("ok" if code == 0 else f"FAILED: {err}")
        print(
            f"  {side:<24} {op:<10} {minutes:6g} min: peak {peak:8.0f} MB, {seconds:7.1f} s "
            f"({run.realtime_factor:.1f}x RT) {status}",
            flush=True,
        )
        return run

    stop = False
    for minutes in args.minutes:
        src = write_music_wav(folder / f"music_{minutes:g}min.wav", minutes * 60, SAMPLE_RATE, 1)
        print(f"{minutes:g} min ({src.stat().st_size / 1e6:.0f} MB wav):", flush=True)
        for op, cmd in ours_commands(src, weights, folder).items():
            if not one(OURS, op, minutes, cmd).ok:
                stop = True
                break
        if minutes == args.reference_minutes:
            for op, cmd in reference_commands(src, weights, folder).items():
                if not one(REFERENCE, op, minutes, cmd).ok:
                    break
        for path in folder.glob(f"music_{minutes:g}min*"):
            path.unlink()
        if stop:
            print("  stopping: longer files would only need more memory", flush=True)
            break
    return runs


def _verdict(runs: list[Run]) -> dict[str, str]:
    """Per op: the longest file's peak against the target, and the growth between the two longest files."""
    out = {}
    for op in ("compress", "decompress"):
        ours = sorted((r for r in runs if r.side == OURS and r.op == op and r.ok), key=lambda r: r.minutes)
        if len(ours) < 2:
            out[op] = "not enough runs"
            continue
        a, b = ours[-2], ours[-1]
        growth = b.peak_mb / a.peak_mb - 1
        peak_ok = b.peak_mb < TARGET_MB
        growth_ok = growth < TARGET_GROWTH
        out[op] = (
            f"{b.minutes:g} min peak {b.peak_mb:.0f} MB ({'under' if peak_ok else '**over**'} {TARGET_MB:.0f} MB); "
            f"growth {a.minutes:g} → {b.minutes:g} min {100 * growth:+.1f} % "
            f"({'under' if growth_ok else '**over**'} {100 * TARGET_GROWTH:.0f} %)"
        )
    return out


def report_markdown(runs: list[Run], info: dict[str, str], args: argparse.Namespace, elapsed: float) -> str:
    table = []
    for r in runs:
        status = "killed at cap" if r.killed else ("ok" if r.returncode == 0 else f"failed: {r.error}")
        table.append(
            [
                r.side,
                r.op,
                f"{r.minutes:g} min",
                f"{r.peak_mb:,.0f} MB",
                f"{r.seconds:.1f} s",
                f"{r.realtime_factor:.1f}x",
                status,
            ]
        )
    verdict = _verdict(runs)
    parts = [
        "## Memory: peak RSS against file length",
        "",
        "Generated by `bench/bench_memory.py`"
        + (" --quick" if args.quick else "")
        + f" in {elapsed / 60:.1f} min. "
        + machine_line(info),
        "",
        "24 kHz mono 16-bit wav (music-like signal) compressed to `.ecdc` at 6 kbps and decompressed to a "
        "16-bit wav by `python -m codec --weights <random-weights .th>` (default threads), each command its "
        "own process; *peak* is that process's peak resident set size (`VmHWM` at exit: the whole process, "
        "Python, torch, model and buffers). The reference runs the same 1-minute file in a child the way its command "
        "line does (whole file in memory). RT = real-time factor of the whole command, start-up included.",
        "",
        markdown_table(["side", "op", "file", "peak RSS", "wall", "RT", "status"], table, "lllrrrl"),
        "",
        f"Targets: peak under {TARGET_MB:.0f} MB at the longest file and growth under "
        f"{100 * TARGET_GROWTH:.0f} % between the two longest.",
        "",
    ]
    parts += [f"- {op}: {text}" for op, text in verdict.items()]
    parts += ["", "![memory against length](bench-memory.png)"]
    return "\n".join(parts)


def plot(runs: list[Run], path: Path = PLOT) -> Path | None:
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        print("matplotlib is not installed; no plot", flush=True)
        return None
    fig, ax = plt.subplots(figsize=(8, 4.8))
    styles = {"compress": ("#1565c0", "o"), "decompress": ("#2e7d32", "s")}
    for op, (colour, marker) in styles.items():
        ours = sorted((r for r in runs if r.side == OURS and r.op == op), key=lambda r: r.minutes)
        if ours:
            xs, ys = [r.minutes for r in ours], [r.peak_mb for r in ours]
            ax.plot(xs, ys, marker=marker, color=colour, lw=2, label=f"ours: ecdc {op}")
            offset = (4, 8) if op == "decompress" else (4, -14)  # the two lines nearly coincide
            for x, y in zip(xs, ys):
                ax.annotate(
                    f"{y:.0f} MB", (x, y), textcoords="offset points", xytext=offset, fontsize=8, color=colour
                )
        ref = [r for r in runs if r.side == REFERENCE and r.op == op]
        for r in ref:
            ax.plot(
                [r.minutes],
                [r.peak_mb],
                marker="X",
                ms=11,
                ls="none",
                color="#c62828" if op == "compress" else "#ef6c00",
                label=f"reference encodec 0.1.1 {op} ({r.minutes:g} min only)",
            )
            ax.annotate(
                f"reference {op}: {r.peak_mb:,.0f} MB",
                (r.minutes, r.peak_mb),
                textcoords="offset points",
                xytext=(10, 6) if op == "decompress" else (10, -12),
                fontsize=8,
            )
    ax.axhline(TARGET_MB, color="black", ls="--", lw=1, label=f"target: under {TARGET_MB:.0f} MB")
    ax.set_xscale("log")
    minutes = sorted({r.minutes for r in runs})
    ax.set_xticks(minutes, [f"{m:g} min" for m in minutes])
    ax.minorticks_off()
    top = max([TARGET_MB, *(r.peak_mb for r in runs)])
    ax.set_ylim(0, top * 1.18)
    ax.set_xlabel("file length (24 kHz mono, log scale)")
    ax.set_ylabel("peak RSS of the process (MB)")
    ax.set_title("Peak memory of compress and decompress against file length", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"files of {', '.join(map(str, QUICK_MINUTES))} minutes"
    )
    parser.add_argument("--minutes", nargs="+", type=float, default=list(MINUTES), help="file lengths (min)")
    parser.add_argument(
        "--reference-minutes", type=float, default=1.0, help="length the reference runs (0: none)"
    )
    parser.add_argument("--rss-cap-mb", type=float, default=6000.0, help="kill a child above this RSS")
    parser.add_argument("--max-load", type=float, default=0.5, help="wait until others use fewer cores")
    parser.add_argument("--wait", type=float, default=60.0, help="longest wait for a quiet machine, s")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/ alone")
    parser.add_argument("--save-json", metavar="PATH", help="also save the raw results as JSON")
    parser.add_argument(
        "--from-json", metavar="PATH", help="measure nothing: redraw the docs from saved JSON"
    )
    parser.add_argument("--reference-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes = list(QUICK_MINUTES)
        args.wait = min(args.wait, 10.0)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import warnings  # noqa: PLC0415

    warnings.filterwarnings("ignore", message=".*weight_norm.*")  # the reference's deprecated API
    if args.reference_child:
        op, src, dst, weights = args.reference_child
        report_peak_at_exit()
        reference_child(op, Path(src), Path(dst), Path(weights))
        return 0
    runs, info, elapsed = measure_or_load(
        args,
        "runs",
        lambda tmp: run(args, tmp),
        lambda runs: [asdict(r) for r in runs],
        lambda saved: [Run(**r) for r in saved],
    )
    text = report_markdown(runs, info, args, elapsed)
    publish("bench-memory", text, lambda: plot(runs), to_docs=not args.no_docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
