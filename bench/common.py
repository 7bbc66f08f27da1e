"""Helpers shared by the benchmarks: test signals, random-weights checkpoints, machine load, docs output.

Both benchmarks run ours and the reference `encodec` 0.1.1 on the same machine, the same audio and the same
random weights. Audio is a deterministic music-like signal (plucked notes with harmonics, a bass line and
a little noise) computed from absolute sample positions, so any stretch of an hour-long file can be made
block by block with constant memory.

The machine is shared (other people run tests on it), so every measurement also records how many cores
*other* processes kept busy meanwhile (`ExternalLoad`), and `wait_for_quiet` waits for a quiet moment first.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DOC = REPO / "docs" / "BENCHMARKS.md"
BANDWIDTH = 6.0  # kbps: the ecdc command's default
_BEAT = 0.25  # seconds per note
_SCALE = np.array([0, 2, 4, 7, 9, 12, 14, 16])  # major pentatonic steps, two octaves


# -- audio -------------------------------------------------------------------------------------------------


def music_signal(
    seconds: float, sample_rate: int, channels: int, seed: int = 0, start: int = 0
) -> np.ndarray:
    """float32 [channels, n]: samples `start .. start + n` (n = seconds * rate) of an endless music-like signal.

    Each 0.25 s beat plays a plucked note (4 harmonics, exponential decay) over a bass note held for a bar,
    plus noise at -50 dB; the second channel is detuned slightly. Any range can be generated on its own and
    gives the same samples as a longer call covering it. Peak about 0.6.
    """
    n = int(round(seconds * sample_rate))
    out = np.zeros((channels, n), dtype=np.float32)
    beat = int(_BEAT * sample_rate)
    first, last = start // beat, (start + n - 1) // beat if n else start // beat - 1
    for index in range(first, last + 1):
        lo, hi = max(start, index * beat), min(start + n, (index + 1) * beat)
        rng = np.random.default_rng([seed, index])
        note = 57 + int(rng.choice(_SCALE))
        bass = 45 + int(_SCALE[(index // 16) % 4])
        velocity = 0.15 + 0.1 * rng.random()
        t = (np.arange(lo, hi) - index * beat) / sample_rate  # time since the note started
        bar_t = (np.arange(lo, hi) - (index // 16) * 16 * beat) / sample_rate
        attack = np.minimum(1.0, t / 0.005)
        noise = rng.standard_normal((channels, beat))[:, lo - index * beat : hi - index * beat] * 0.003
        for channel in range(channels):
            detune = 1.0 + 0.002 * channel
            f0 = 440.0 * 2 ** ((note - 69) / 12) * detune
            fb = 440.0 * 2 ** ((bass - 69) / 12) * detune
            x = sum((0.6**h) * np.sin(2 * np.pi * f0 * (h + 1) * t + h) for h in range(4)) * np.exp(-6.0 * t)
            x = velocity * attack * x + 0.12 * np.sin(2 * np.pi * fb * bar_t) * (1 + 0.3 * np.sin(bar_t))
            out[channel, lo - start : hi - start] = x + noise[channel]
    return out


def write_music_wav(
    path: Path, seconds: float, sample_rate: int = 24_000, channels: int = 1, block_seconds: float = 60.0
) -> Path:
    """Write `seconds` of `music_signal` as 16-bit PCM wav, a block at a time (memory independent of length)."""
    import soundfile as sf  # noqa: PLC0415

    total = int(round(seconds * sample_rate))
    block = int(block_seconds * sample_rate)
    with sf.SoundFile(path, "w", samplerate=sample_rate, channels=channels, subtype="PCM_16") as f:
        for offset in range(0, total, block):
            n = min(block, total - offset)
            f.write(music_signal(n / sample_rate, sample_rate, channels, start=offset).T)
    return path


# -- weights -----------------------------------------------------------------------------------------------


def save_reference_weights(name: str, folder: Path, seed: int = 0) -> Path:
    """A random-weights reference model's state dict saved as `folder/<name>-random.th` (official layout).

    `codec.api.load_model(name, weights=path)` loads it into ours; the reference loads it with
    `load_state_dict`, so both sides compute with the same numbers.
    """
    import torch  # noqa: PLC0415

    from tests.oracles import reference_model  # noqa: PLC0415

    path = folder / f"{name}-random.th"
    torch.save(reference_model(name, seed).state_dict(), path)
    return path


def save_lm_weights(name: str, folder: Path, seed: int = 1) -> Path:
    """Our random-weights language model for `name`, saved as `folder/<lm name>-random.th`."""
    import torch  # noqa: PLC0415

    from codec.models.lm import LanguageModel  # noqa: PLC0415
    from codec.specs import get_spec  # noqa: PLC0415

    path = folder / f"{name.replace('encodec_', 'encodec_lm_')}-random.th"
    torch.save(LanguageModel.random(get_spec(name), seed=seed).state_dict(), path)
    return path


# -- machine and load --------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    return match.group(1).strip() if match else platform.machine()


def machine_info() -> dict[str, str]:
    """CPU, cores, memory, versions, load average and date, for the docs."""
    import torch  # noqa: PLC0415

    try:
        mem_kb = int(re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        memory = f"{mem_kb / 1024**2:.0f} GiB"
    except (OSError, AttributeError):
        memory = "?"
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": memory,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "loadavg": format_loadavg(),
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


def format_loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def _busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def _own_cpu_seconds() -> float:
    """CPU seconds of this process (all threads) and of its waited-for children."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class ExternalLoad:
    """Context manager: the average number of cores that *other* processes kept busy while it was open.

    The whole machine's busy time from /proc/stat, minus this process's own CPU time, over the wall time.
    0 means the measurement had the machine to itself; 1 means another process took a whole core.
    """

    def __init__(self) -> None:
        self.cores = 0.0

    def __enter__(self) -> ExternalLoad:
        self._wall = time.perf_counter()
        self._own = _own_cpu_seconds()
        try:
            self._busy = _busy_jiffies()[0]
        except (OSError, ValueError, IndexError):
            self._busy = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._busy is None:
            return
        wall = time.perf_counter() - self._wall
        busy = (_busy_jiffies()[0] - self._busy) / os.sysconf("SC_CLK_TCK")
        own = _own_cpu_seconds() - self._own
        self.cores = max(0.0, (busy - own) / wall) if wall > 0 else 0.0


def external_load(window: float = 1.0) -> float:
    """Cores other processes use right now (sampled over `window` seconds while this process sleeps)."""
    with ExternalLoad() as load:
        time.sleep(window)
    return load.cores


def wait_for_quiet(
    max_cores: float = 0.5, timeout: float = 90.0, log: bool = True, max_loadavg: float | None = None
) -> float:
    """Wait (at most `timeout` s) until other processes use under `max_cores` cores; return the last reading.

    With `max_loadavg`, also wait for the 1-minute load average to fall below it (it counts this
    process too, so only use it before a run starts).
    """
    if timeout <= 0:
        return external_load(0.1)
    deadline = time.monotonic() + timeout
    while True:
        cores = external_load(1.0)
        quiet = cores < max_cores and (max_loadavg is None or os.getloadavg()[0] < max_loadavg)
        if quiet or time.monotonic() > deadline:
            if not quiet and log:
                print(
                    f"  (machine still busy after {timeout:.0f} s: others use {cores:.1f} cores, "
                    f"load {format_loadavg()}; measuring anyway)",
                    flush=True,
                )
            return cores
        time.sleep(2.0)


# -- peak memory -------------------------------------------------------------------------------------------

PEAK_FILE_ENV = "ECDC_BENCH_PEAK_FILE"

# Runs the `ecdc` command exactly as `python -m codec ARGS` does, plus an exit hook that records the peak.
ECDC_WITH_PEAK = (
    f"import runpy, sys; sys.path.insert(0, {str(REPO)!r}); "
    "from bench.common import report_peak_at_exit; report_peak_at_exit(); "
    "sys.argv[0] = 'ecdc'; runpy.run_module('codec', run_name='__main__', alter_sys=True)"
)


def peak_rss_mb(pid: int | str = "self") -> float:
    """The process's peak resident set size in MB (`VmHWM`: since its last exec, this image alone).

    Not `ru_maxrss`: Linux carries a child's pre-exec RSS into it, and a child forked (or vforked) from a
    big benchmark process would report the parent's size.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def report_peak_at_exit() -> None:
    """When `ECDC_BENCH_PEAK_FILE` is set, write this process's peak RSS (MB) there as it exits."""
    import atexit  # noqa: PLC0415

    target = os.environ.get(PEAK_FILE_ENV)
    if target:
        atexit.register(lambda: Path(target).write_text(f"{peak_rss_mb():.3f}\n"))


# -- statistics and output ---------------------------------------------------------------------------------


@dataclass
class Timing:
    """Repeated timings of one thing, with the external load seen during each."""

    seconds: list[float]
    load: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def max_load(self) -> float:
        return max(self.load) if self.load else 0.0


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def iter_blocks(total: int, block: int) -> Iterator[tuple[int, int]]:
    """(offset, length) of consecutive blocks covering `total`."""
    for offset in range(0, total, block):
        yield offset, min(block, total - offset)


def update_doc_section(key: str, body: str, path: Path = DOC) -> Path:
    """Replace the part of `path` between `<!-- key:start -->` and `<!-- key:end -->` with `body`.

    The file (and a missing section, appended at the end) is created when needed, so each benchmark
    rewrites only its own part of docs/BENCHMARKS.md.
    """
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n")
    return path


def machine_line(info: dict[str, str]) -> str:
    return (
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory']} RAM; Python {info['python']}, "
        f"torch {info['torch']}; load average (1/5/15 min) {info['loadavg']} at the start; {info['date']}."
    )


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """A GitHub markdown table; `align` holds one of l/r/c per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    marks = {"l": ":--", "r": "--:", "c": ":-:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def publish(
    key: str, text: str, plot: Callable[[], Path | None] | None = None, *, to_docs: bool = True
) -> None:
    """Print a benchmark's report and, unless `to_docs` is False, put it in docs/BENCHMARKS.md's section
    `key` and draw its plot (`plot` returns the image's path, None when it cannot draw)."""
    print("\n" + text)
    if to_docs:
        update_doc_section(key, text)
        wrote = ["docs/BENCHMARKS.md"]
        image = plot() if plot is not None else None
        if image is not None:
            wrote.append(str(image.relative_to(REPO)))
        print(f"\nwrote {' and '.join(wrote)}")


Measured = TypeVar("Measured")


def measure_or_load(
    args: argparse.Namespace,
    key: str,
    measure: Callable[[Path], Measured],
    to_json: Callable[[Measured], Any],
    from_json: Callable[[Any], Measured],
) -> tuple[Measured, dict[str, str], float]:
    """A benchmark's results, machine info and seconds taken: loaded from `args.from_json` (to redraw the
    docs), else measured by `measure(temporary folder)` once the machine is quiet, and saved to
    `args.save_json` when asked (under `key`, with the info and `args.quick`)."""
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        args.quick = saved.get("quick", False)
        return from_json(saved[key]), saved["info"], saved["elapsed"]
    started = time.perf_counter()
    wait_for_quiet(args.max_load, args.wait, max_loadavg=1.5)
    info = machine_info()
    print(machine_line(info), flush=True)
    with tempfile.TemporaryDirectory(prefix="ecdc-bench-") as tmp:
        results = measure(Path(tmp))
    elapsed = time.perf_counter() - started
    if args.save_json:
        saved = {key: to_json(results), "info": info, "elapsed": elapsed, "quick": args.quick}
        Path(args.save_json).write_text(json.dumps(saved, indent=1))
    return results, info, elapsed
