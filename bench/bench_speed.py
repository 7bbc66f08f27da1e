"""Speed: our production paths against the reference `encodec` 0.1.1, side by side, same weights and audio.

Run from the repository root: `.venv/bin/python bench/bench_speed.py [--quick]` (or `bench/run_all.sh`).

"Ours" is what the `ecdc` command and the app run: `EncodecModel.encode_stream` fed blocks the size the
file jobs read, then `write_ecdc` (compress), and `read_ecdc` then `decode_stream` (decompress). "Reference" is
`model.encode` / `model.decode` and `encodec.compress.compress` / `decompress`. Both sides load the same
random-weights checkpoint (a reference state dict saved to disk, loaded into ours by `codec.api.load_model`)
and code the same music-like signal at 6 kbps; with LM both use the same random-weights language model.

Encode and decode are timed as the model phase inside the compress and decompress runs (the very same
calls: `encode_stream` / `model.encode` before the bytes are written, `decode_stream` / `model.decode`
after they are read), which halves the cost of a run. Short files: median of `--repeats` runs per side,
ours and the reference interleaved (alternating which goes first), after one warm-up run of each side.
Long files: one run per side, each in a fresh child process (so the reference's 10-minute memory peak
cannot take the parent down); the children report their peak RSS too.

Before each measurement the script waits (a bounded time) for other processes to go quiet, every
measurement records how many cores other processes used meanwhile ("others' load"), and a short-file
repeat during which they were busy is measured again (`--retries`).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import (  # noqa: E402
    BANDWIDTH,
    REPO,
    ExternalLoad,
    Timing,
    machine_line,
    markdown_table,
    measure_or_load,
    music_signal,
    peak_rss_mb,
    publish,
    save_lm_weights,
    save_reference_weights,
    wait_for_quiet,
)
from codec.specs import get_spec  # noqa: E402

MODELS = ("encodec_24khz", "encodec_48khz")
SHORT_NAMES = {"encodec_24khz": "24 kHz", "encodec_48khz": "48 kHz"}
OPS = ("encode", "decode", "compress", "decompress")
OURS, REFERENCE, OURS_EXACT = "ours", "reference", "ours, exact mode"


def block_seconds() -> float:
    """Ours is fed audio in blocks of the length the file jobs read (`codec.jobs.ENCODE_BLOCK_SECONDS`)."""
    import codec.jobs  # noqa: PLC0415

    return float(getattr(codec.jobs, "ENCODE_BLOCK_SECONDS", 1.0))


WARMUP_SECONDS = 2.0
PLOT = REPO / "docs" / "bench-speed.png"
BUSY = 0.3  # others' load (cores) beyond the cores a run leaves free that marks a row unreliable


# -- the two sides -----------------------------------------------------------------------------------------


def safe_length(name: str, seconds: float) -> int:
    """Samples for about `seconds`, nudged so that no segment hits 0.1.1's frame-count bug (upstream #35)
    and the reference can read its own file back."""
    import math  # noqa: PLC0415

    from codec.ecdc.header import segment_lengths  # noqa: PLC0415
    from codec.specs import get_spec  # noqa: PLC0415

    spec = get_spec(name)
    length = max(1, int(round(seconds * spec.sample_rate)))

    def wrong(n: int) -> bool:
        return int(math.ceil(n / spec.sample_rate * spec.frame_rate)) != spec.frames_for_length(n)

    while any(wrong(n) for n in segment_lengths(spec, length)):
        length += 1
    return length


def bench_audio(name: str, seconds: float) -> torch.Tensor:
    """The benchmark signal for `name`'s rate and channels, float32 [C, T]."""
    from codec.specs import get_spec  # noqa: PLC0415

    spec = get_spec(name)
    length = safe_length(name, seconds)
    return torch.from_numpy(music_signal(length / spec.sample_rate, spec.sample_rate, spec.channels))


Phases = dict[str, float]


class Ours:
    """Our production paths: block-wise `encode_stream` + `write_ecdc`; `read_ecdc` + `decode_stream`.

    `exact=False` is the default mode (fast), `exact=True` the exact mode (codes bit-identical with the
    reference; docs/ARCHITECTURE.md, "Exactness policy")."""

    label = OURS
    lm_format = "reference"  # how LM files are written (bench_portable.py times "portable")

    def __init__(self, name: str, weights: Path, lm_weights: Path | None = None, exact: bool = False) -> None:
        from codec.api import load_lm, load_model  # noqa: PLC0415

        self.model = load_model(name, weights=weights)
        self.model.exact = exact
        self.lm = load_lm(name, weights=lm_weights) if lm_weights is not None else None
        if exact:
            self.label = OURS_EXACT

    def compress(self, audio: torch.Tensor, use_lm: bool) -> tuple[bytes, Phases]:
        from codec.ecdc import write_ecdc  # noqa: PLC0415

        started = time.perf_counter()
        blocks = audio.split(int(block_seconds() * self.model.spec.sample_rate), dim=-1)
        encoded = self.model.encode_stream(blocks, BANDWIDTH, total_length=audio.shape[-1])
        encoded_at = time.perf_counter()
        buffer = io.BytesIO()
        write_ecdc(buffer, encoded, lm=self.lm if use_lm else None, lm_format=self.lm_format)
        data = buffer.getvalue()
        done = time.perf_counter()
        return data, {"encode": encoded_at - started, "compress": done - started}

    def decompress(self, data: bytes) -> tuple[torch.Tensor, Phases]:
        from codec.ecdc import read_ecdc  # noqa: PLC0415

        started = time.perf_counter()
        encoded = read_ecdc(data, lm_loader=lambda _name: self.lm)
        read_at = time.perf_counter()
        audio = torch.cat(list(self.model.decode_stream(encoded)), dim=-1)
        done = time.perf_counter()
        return audio, {"decode": done - read_at, "decompress": done - started}


class Reference:
    """Meta's `encodec` 0.1.1: `compress` / `decompress`, whose `model.encode` / `model.decode` are timed too.

    `decompress` normally builds a pretrained model (a download); `encodec.compress.MODELS` is patched to
    hand it this already built random-weights model instead, and `get_lm_model` to hand it our LM's weights.
    """

    label = REFERENCE

    def __init__(self, name: str, weights: Path, lm_weights: Path | None = None) -> None:
        from codec.specs import get_spec  # noqa: PLC0415
        from tests.oracles import import_reference_encodec  # noqa: PLC0415

        encodec = import_reference_encodec()
        self.module = sys.modules["encodec.compress"]
        factory = {
            "encodec_24khz": encodec.EncodecModel.encodec_model_24khz,
            "encodec_48khz": encodec.EncodecModel.encodec_model_48khz,
        }[name]
        model = factory(pretrained=False)
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        model.name = name
        model.set_target_bandwidth(BANDWIDTH)
        self.model = model.eval()
        self.name = name
        self.lm = None
        if lm_weights is not None:
            spec = get_spec(name)
            lm = encodec.model.LMModel(
                spec.max_codebooks,
                spec.codebook_size,
                num_layers=5,
                dim=200,
                past_context=spec.lm_past_context,
            )
            lm.load_state_dict(torch.load(lm_weights, map_location="cpu", weights_only=True))
            self.lm = lm.eval()
            self.model.get_lm_model = lambda: self.lm
        self._phases: Phases = {}
        self.model.encode = self._timed("encode", type(self.model).encode.__get__(self.model))
        self.model.decode = self._timed("decode", type(self.model).decode.__get__(self.model))

    def _timed(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._phases[phase] = time.perf_counter() - started

        return wrapper

    @contextmanager
    def _patched_models(self) -> Iterator[None]:
        saved = dict(self.module.MODELS)
        self.module.MODELS[self.name] = lambda *args, **kwargs: self.model
        try:
            yield
        finally:
            self.module.MODELS.clear()
            self.module.MODELS.update(saved)

    def compress(self, audio: torch.Tensor, use_lm: bool) -> tuple[bytes, Phases]:
        self._phases = {}
        started = time.perf_counter()
        data = self.module.compress(self.model, audio, use_lm=use_lm)
        return data, {"encode": self._phases["encode"], "compress": time.perf_counter() - started}

    def decompress(self, data: bytes) -> tuple[torch.Tensor, Phases]:
        self._phases = {}
        started = time.perf_counter()
        with self._patched_models():
            audio, _ = self.module.decompress(data)
        return audio, {"decode": self._phases["decode"], "decompress": time.perf_counter() - started}


Side = Ours | Reference


# -- measuring ---------------------------------------------------------------------------------------------


@dataclass
class Policy:
    """How to deal with a shared machine. A run on `threads` threads is disturbed when other processes use
    more than the cores it leaves free plus `max_load`; wait up to `wait` s for that to stop before each
    measurement, and measure a short-file repeat again (up to `retries` times) when it happened meanwhile."""

    max_load: float = 0.3
    wait: float = 60.0
    retries: int = 2

    def allowed(self, threads: int) -> float:
        return spare_cores(threads) + self.max_load

    def quiet(self, threads: int) -> float:
        return wait_for_quiet(self.allowed(threads), self.wait)


def spare_cores(threads: int) -> float:
    """Cores a run on `threads` threads leaves to other processes."""
    return float(max(0, (os.cpu_count() or 1) - threads))


@dataclass
class Results:
    """Timings keyed by (model, kind, threads, side, op); kind is "short", "long" or "lm"."""

    seconds: dict[str, float] = field(default_factory=dict)  # kind -> audio seconds
    timings: dict[tuple[str, str, int, str, str], Timing] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    discarded: int = 0  # repeats measured again because other processes were busy
    peaks: dict[tuple[str, int, str], float] = field(default_factory=dict)  # long runs: peak RSS MB
    digests: dict[tuple[str, str, int, str], str] = field(default_factory=dict)  # .ecdc sha256 prefix

    def add(self, key: tuple[str, str, int, str, str], seconds: float, load: float) -> None:
        timing = self.timings.setdefault(key, Timing([], []))
        timing.seconds.append(seconds)
        timing.load.append(load)

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "timings": [[*key, t.seconds, t.load] for key, t in self.timings.items()],
            "checks": self.checks,
            "discarded": self.discarded,
            "peaks": [[*key, mb] for key, mb in self.peaks.items()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        results = cls(seconds=data["seconds"], checks=data["checks"], discarded=data["discarded"])
        for *key, seconds, load in data["timings"]:
            results.timings[tuple(key)] = Timing(seconds, load)  # type: ignore[index]
        for *key, mb in data["peaks"]:
            results.peaks[tuple(key)] = mb  # type: ignore[index]
        return results


def run_side(side: Side, audio: torch.Tensor, use_lm: bool, decompress: bool = True) -> dict[str, Any]:
    """Compress (and decompress) once; phase times, others' load, and the bytes' digest."""
    with ExternalLoad() as load_c:
        data, phases = side.compress(audio, use_lm)
    out: dict[str, Any] = {"phases": dict(phases), "load": {"encode": load_c.cores, "compress": load_c.cores}}
    out["sha"] = hashlib.sha256(data).hexdigest()[:16]
    out["size"] = len(data)
    out["data"] = data
    if decompress:
        with ExternalLoad() as load_d:
            decoded, more = side.decompress(data)
        out["phases"].update(more)
        out["load"].update(decode=load_d.cores, decompress=load_d.cores)
        out["decoded"] = decoded.reshape(-1, decoded.shape[-1])
    return out


def measure_short(
    results: Results,
    kind: str,
    name: str,
    threads: int,
    seconds: float,
    repeats: int,
    weights: Path,
    lm_weights: Path | None,
    policy: Policy,
    exact_row: bool = True,
) -> None:
    """Interleaved repeats of ours (fast default; exact mode too unless `exact_row` is off) and the
    reference in this process, after a warm-up of each."""
    use_lm = lm_weights is not None
    torch.set_num_threads(threads)
    sides: list[Side] = [Ours(name, weights, lm_weights), Reference(name, weights, lm_weights)]
    extra = Ours(name, weights, lm_weights, exact=True) if exact_row else None
    audio = bench_audio(name, seconds)
    results.seconds[kind] = audio.shape[-1] / get_spec(name).sample_rate
    warm = bench_audio(name, WARMUP_SECONDS)
    for side in sides:
        run_side(side, warm, use_lm)
    if extra is not None:
        run_side(extra, warm, use_lm)
    print(f"{SHORT_NAMES[name]}, {results.seconds[kind]:g} s, {threads} thread(s), LM {use_lm}:", flush=True)
    for repeat in range(repeats):
        order = sides if repeat % 2 == 0 else sides[::-1]
        for attempt in range(policy.retries + 1):
            policy.quiet(threads)
            runs = {side.label: run_side(side, audio, use_lm) for side in order}
            if extra is not None:
                runs[OURS_EXACT] = run_side(extra, audio, use_lm)
            busy = max(load for run in runs.values() for load in run["load"].values())
            if busy <= policy.allowed(threads) or attempt == policy.retries:
                break
            results.discarded += 1
            print(f"  (others used {busy:.1f} cores during the runs: measuring again)", flush=True)
        for label, run in runs.items():
            for op, spent in run["phases"].items():
                results.add((name, kind, threads, label, op), spent, run["load"][op])
        ours, ref = runs[OURS], runs[REFERENCE]
        print(
            "  "
            + "  ".join(
                f"{op} {ref['phases'][op] / ours['phases'][op]:.2f}x"
                for op in OPS
                if op in ours["phases"] and (not use_lm or op in ("compress", "decompress"))
            )
            + (
                "  exact mode: "
                + "  ".join(
                    f"{op} {ref['phases'][op] / runs[OURS_EXACT]['phases'][op]:.2f}x"
                    for op in ("encode", "decode")
                    if op in runs[OURS_EXACT]["phases"]
                )
                if OURS_EXACT in runs
                else ""
            )
            + f"  (others' load {busy:.1f} cores)",
            flush=True,
        )
        if repeat == 0:
            _check(results, (name, kind, threads), ours, ref, runs.get(OURS_EXACT))


def _same_bytes(results: Results, key: tuple[str, str, int], ours: str, ref: str) -> str:
    """'identical', or why not: the reference's multi-threaded convolutions round differently from its
    single-threaded ones, while ours runs single-threaded ops per segment whatever the thread count."""
    name, kind, threads = key
    results.digests[(name, kind, threads, OURS)] = ours
    results.digests[(name, kind, threads, REFERENCE)] = ref
    if ours == ref:
        return "identical"
    ref_one = results.digests.get((name, kind, 1, REFERENCE))
    if threads > 1 and ours == ref_one:
        return f"differ from the reference at {threads} threads, identical to the reference at 1 thread"
    return "DIFFERENT"


def _same_codes(ours: bytes, ref: bytes) -> float:
    """Share of identical codes in two `.ecdc` files of the same audio."""
    from codec.ecdc import read_ecdc  # noqa: PLC0415

    a, b = read_ecdc(ours).codes, read_ecdc(ref).codes
    total = sum(x.numel() for x in b)
    return sum(int((x == y).sum()) for x, y in zip(a, b) if x.shape == y.shape) / max(1, total)


def _snr_db(reference: torch.Tensor, other: torch.Tensor) -> float:
    import math  # noqa: PLC0415

    n = min(reference.shape[-1], other.shape[-1])
    noise = float(((reference[..., :n] - other[..., :n]) ** 2).sum())
    return math.inf if noise == 0 else 10 * math.log10(float((reference[..., :n] ** 2).sum()) / noise)


def _check(
    results: Results,
    key: tuple[str, str, int],
    ours: dict[str, Any],
    ref: dict[str, Any],
    exact: dict[str, Any] | None = None,
) -> None:
    """The exact mode must write the reference's bytes; the fast default is reported against both."""
    name, kind, threads = key
    where = f"{SHORT_NAMES[name]}, {results.seconds[kind]:g} s, {threads} thread(s){', LM' if kind == 'lm' else ''}"
    if exact is not None:
        n = min(exact["decoded"].shape[-1], ref["decoded"].shape[-1])
        diff = float((exact["decoded"][..., :n] - ref["decoded"][..., :n]).abs().max())
        results.checks.append(
            f"{where}, exact mode: .ecdc bytes {_same_bytes(results, key, exact['sha'], ref['sha'])} "
            f"({exact['size']} bytes); decoded audio max difference {diff:.1e}"
        )
        snr = _snr_db(exact["decoded"], ours["decoded"])
        against_exact = f"; decoded audio {snr:.0f} dB SNR against the exact mode's"
    else:
        _same_bytes(results, key, ours["sha"], ref["sha"])
        against_exact = ""
    same = (
        "identical"
        if ours["sha"] == ref["sha"]
        else f"{100 * _same_codes(ours['data'], ref['data']):.3f} % identical"
    )
    results.checks.append(f"{where}, fast default: codes {same} with the reference's{against_exact}")


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """In a child process: warm up, then compress and decompress the long file once; timings and peak RSS."""
    try:  # let the kernel pick this child first if memory runs out, not someone else's tests
        Path(f"/proc/{os.getpid()}/oom_score_adj").write_text("1000")
    except OSError:
        pass
    torch.set_num_threads(spec["threads"])
    from codec.device import tune_cpu_allocator  # noqa: PLC0415

    tune_cpu_allocator()  # as in the parent, where ours is built first: both sides get the same allocator
    weights = Path(spec["weights"])
    side: Side = Ours(spec["model"], weights) if spec["side"] == OURS else Reference(spec["model"], weights)
    run_side(side, bench_audio(spec["model"], WARMUP_SECONDS), False)
    audio = bench_audio(spec["model"], spec["seconds"])
    run = run_side(side, audio, False)
    import base64  # noqa: PLC0415

    run["data"] = base64.b64encode(run["data"]).decode("ascii")  # for the parent's code comparison
    del run["decoded"]
    run["seconds"] = audio.shape[-1] / get_spec(spec["model"]).sample_rate
    run["peak_mb"] = peak_rss_mb()
    return run


def measure_long(
    results: Results,
    name: str,
    threads: int,
    seconds: float,
    weights: Path,
    policy: Policy,
    first: int,
) -> None:
    """One run per side, each in its own child process, ours and the reference alternating."""
    print(f"{SHORT_NAMES[name]}, {seconds:g} s, {threads} thread(s), in child processes:", flush=True)
    runs: dict[str, dict[str, Any]] = {}
    order = [OURS, REFERENCE] if first % 2 == 0 else [REFERENCE, OURS]
    for label in order:
        policy.quiet(threads)
        spec = {"side": label, "model": name, "threads": threads, "seconds": seconds, "weights": str(weights)}
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            why = "killed (out of memory?)" if proc.returncode in (-9, 137) else f"exit {proc.returncode}"
            tail = proc.stderr.strip().splitlines()[-1:] or [""]
            results.checks.append(f"{SHORT_NAMES[name]} {seconds:g} s {label}: FAILED, {why} {tail[0]}")
            print(f"  {label}: FAILED ({why}) {tail[0]}", flush=True)
            continue
        run = runs[label] = json.loads(lines[-1])
        results.seconds["long"] = run["seconds"]
        results.peaks[(name, threads, label)] = run["peak_mb"]
        for op, spent in run["phases"].items():
            results.add((name, "long", threads, label, op), spent, run["load"][op])
        print(
            f"  {label}: "
            + "  ".join(f"{op} {run['seconds'] / run['phases'][op]:.1f}x RT" for op in OPS)
            + f"  peak RSS {run['peak_mb']:.0f} MB, others' load {max(run['load'].values()):.1f} cores",
            flush=True,
        )
    if len(runs) == 2:
        import base64  # noqa: PLC0415

        ours, ref = (base64.b64decode(runs[label]["data"]) for label in (OURS, REFERENCE))
        _same_bytes(results, (name, "long", threads), runs[OURS]["sha"], runs[REFERENCE]["sha"])
        same = "identical" if ours == ref else f"{100 * _same_codes(ours, ref):.3f} % identical"
        results.checks.append(
            f"{SHORT_NAMES[name]}, {results.seconds['long']:g} s, {threads} thread(s), fast default: codes "
            f"{same} with the reference's ({runs[OURS]['size']} bytes)"
        )


# -- report ------------------------------------------------------------------------------------------------


def target(name: str, kind: str, threads: int, op: str) -> float | None:
    """The speed-up asked of us (ours / reference RTF, issue 17), or None where none is set."""
    if kind == "lm":
        return 4.0
    if name == "encodec_48khz":
        return {1: 1.5, 2: 2.0}.get(threads)
    if threads == 1:
        return 2.0
    return None


@dataclass
class Row:
    model: str
    kind: str
    seconds: float
    threads: int
    op: str
    side: str
    ref: Timing
    ours: Timing

    @property
    def ratio(self) -> float:
        return self.ref.median / self.ours.median

    @property
    def target(self) -> float | None:
        """The target applies to the production default (fast); exact-mode rows are for reference."""
        return None if self.side == OURS_EXACT else target(self.model, self.kind, self.threads, self.op)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio >= self.target

    @property
    def busy(self) -> bool:
        """Whether other processes took cores this row's runs needed (its ratio is then unreliable)."""
        return max(self.ours.max_load, self.ref.max_load) > spare_cores(self.threads) + BUSY

    @property
    def label(self) -> str:
        lm = " + LM" if self.kind == "lm" else ""
        mode = " (exact mode)" if self.side == OURS_EXACT else ""
        return f"{SHORT_NAMES[self.model]} {self.op}{lm}{mode}"


def rows(results: Results) -> list[Row]:
    out = []
    for kind in ("short", "long", "lm"):
        for threads in sorted({key[2] for key in results.timings}):
            for name in MODELS:
                for op in OPS:
                    for side in (OURS, OURS_EXACT):
                        ref = results.timings.get((name, kind, threads, REFERENCE, op))
                        ours = results.timings.get((name, kind, threads, side, op))
                        if ref is None or ours is None or (kind == "lm" and op in ("encode", "decode")):
                            continue
                        seconds = results.seconds[kind]
                        out.append(Row(name, kind, seconds, threads, op, side, ref, ours))
    return out


def _length(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 120 else f"{seconds:g} s"


def _rtf(seconds: float, timing: Timing) -> str:
    return f"{seconds / timing.median:.2f}x"


def report_markdown(results: Results, info: dict[str, str], args: argparse.Namespace, elapsed: float) -> str:
    table = []
    for row in rows(results):
        met = {None: "–", True: "yes", False: "**no**"}[row.met]
        tgt = f"≥ {row.target:g}x" if row.target else "–"
        loads = f"{max(row.ours.max_load, row.ref.max_load):.1f}" + (" ⚠" if row.busy else "")
        table.append(
            [
                row.label,
                _length(row.seconds),
                str(row.threads),
                _rtf(row.seconds, row.ref),
                _rtf(row.seconds, row.ours),
                f"**{row.ratio:.2f}x**",
                tgt,
                met,
                f"{len(row.ours.seconds)}",
                loads,
            ]
        )
    header = [
        "op",
        "file",
        "threads",
        "reference RTF",
        "ours RTF",
        "ours / reference",
        "target",
        "met",
        "runs",
        "others' load",
    ]
    parts = [
        "## Speed: ours against the reference encodec 0.1.1",
        "",
        "Generated by `bench/bench_speed.py`"
        + (" --quick" if args.quick else "")
        + f" in {elapsed / 60:.1f} min. "
        + machine_line(info),
        "",
        "RTF = real-time factor (seconds of audio per second of work, higher is faster); "
        "*ours / reference* = how many times faster ours is. Same machine, same run, same random weights, "
        "same music-like signal, 6 kbps. Ours = the production paths (`encode_stream` fed "
        f"{block_seconds():g} s blocks, as the file jobs read them, + "
        "`write_ecdc`; `read_ecdc` + `decode_stream`); reference = `model.encode` / `model.decode` and "
        "`encodec.compress.compress` / `decompress`. encode / decode are the model phase inside the compress / "
        "decompress runs. Short files: median of the runs, ours and the reference interleaved, after a warm-up; "
        "long files: one run each in a fresh child process. *others' load* = the most cores other processes "
        "used during any of the row's runs (0 = machine to ourselves); ⚠ marks rows where they took cores the "
        "run needed (more than the cores it leaves free + 0.3), whose ratio is unreliable: on 2 cores a 2-thread "
        "run sharing a core slows down several times.",
        "",
        markdown_table(header, table, "llrrrrrcrr"),
    ]
    # Our speed against file length.
    if "long" in results.seconds and "short" in results.seconds:
        flat = []
        for threads in sorted({key[2] for key in results.timings}):
            for name in MODELS:
                for op in OPS:
                    short = results.timings.get((name, "short", threads, OURS, op))
                    long = results.timings.get((name, "long", threads, OURS, op))
                    if short is None or long is None:
                        continue
                    a = results.seconds["short"] / short.median
                    b = results.seconds["long"] / long.median
                    flat.append(
                        [
                            f"{SHORT_NAMES[name]} {op}",
                            str(threads),
                            f"{a:.2f}x",
                            f"{b:.2f}x",
                            f"{b / a:.2f}",
                            "yes" if b / a >= 0.95 else "**no**",
                        ]
                    )
        parts += [
            "",
            "### Our speed against file length",
            "",
            f"Our RTF on the {_length(results.seconds['short'])} file against the {_length(results.seconds['long'])} "
            "file; the target is that it does not fall (ratio ≥ 1, read with 5 % tolerance for noise).",
            "",
            markdown_table(
                [
                    "op",
                    "threads",
                    f"ours RTF {_length(results.seconds['short'])}",
                    f"ours RTF {_length(results.seconds['long'])}",
                    "long / short",
                    "flat",
                ],
                flat,
                "lrrrrc",
            ),
        ]
    if results.peaks:
        peak_rows = [
            [SHORT_NAMES[name], str(threads), label, f"{mb:,.0f} MB"]
            for (name, threads, label), mb in sorted(results.peaks.items())
        ]
        parts += [
            "",
            f"Peak RSS of the child processes that ran the {_length(results.seconds.get('long', 0))} "
            "compress + decompress (in memory, whole-array input and output on both sides):",
            "",
            markdown_table(["model", "threads", "side", "peak RSS"], peak_rows, "lrlr"),
        ]
    if results.discarded:
        parts += [
            "",
            f"{results.discarded} short-file repeat(s) were measured again because other processes were busy.",
        ]
    parts += [
        "",
        "Checks (the exact mode must write the reference's bytes; the fast default is held to >= 99.9 % "
        "identical codes and >= 60 dB SNR against the exact mode by the tests):",
        "",
    ]
    parts += [f"- {line}" for line in results.checks]
    parts += ["", "![speed ratios](bench-speed.png)"]
    return "\n".join(parts)


def plot(results: Results, path: Path = PLOT) -> Path | None:
    """Horizontal bars of ours / reference per row, grouped by file and threads, with the targets marked."""
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        print("matplotlib is not installed; no plot", flush=True)
        return None
    table = rows(results)
    groups: dict[tuple[str, int], list[Row]] = {}
    for row in table:
        groups.setdefault((row.kind, row.threads), []).append(row)
    labels, values, colours, targets, ys, heads, busy = [], [], [], [], [], [], []
    y = 0.0
    for (kind, threads), group in groups.items():
        what = {"short": "no LM", "long": "no LM", "lm": "with LM"}[kind]
        heads.append((y, f"{_length(group[0].seconds)} file, {threads} thread{'s' * (threads > 1)}, {what}"))
        y += 0.9
        for row in group:
            labels.append(row.label)
            values.append(row.ratio)
            colours.append({None: "#9e9e9e", True: "#2e7d32", False: "#c62828"}[row.met])
            targets.append(row.target)
            busy.append(row.busy)
            ys.append(y)
            y += 1
        y += 0.6
    fig, ax = plt.subplots(figsize=(9.5, 0.3 * y + 2.0))
    bars = ax.barh(ys, values, color=colours, height=0.75)
    for bar, noisy in zip(bars, busy):
        if noisy:
            bar.set_hatch("///")
            bar.set_edgecolor("white")
    for yy, value, tgt in zip(ys, values, targets):  # right of the bar and of its target mark
        ax.text(max(value, tgt or 0) + 0.04, yy, f"{value:.2f}x", va="center", fontsize=8)
    first = True
    for yy, tgt in zip(ys, targets):
        if tgt is not None:
            ax.plot(
                [tgt, tgt], [yy - 0.45, yy + 0.45], color="black", lw=2, label="target" if first else None
            )
            first = False
    ax.axvline(1.0, color="#555555", ls="--", lw=1, label="reference speed (1x)")
    for yy, text in heads:
        ax.text(0.0, yy, text, fontweight="bold", fontsize=9, va="center")
    ax.set_yticks(ys, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max([*values, *(t for t in targets if t)]) * 1.15)
    ax.set_xlabel("speed-up: ours RTF / reference RTF (higher is better)")
    ax.set_title(
        "ECDC Studio against encodec 0.1.1 (green: target met, red: missed, grey: no target)", fontsize=10
    )
    from matplotlib.patches import Patch  # noqa: PLC0415

    handles, names = ax.get_legend_handles_labels()
    handles += [Patch(color="#2e7d32"), Patch(color="#c62828"), Patch(color="#9e9e9e")]
    names += ["met", "missed", "no target"]
    if any(busy):
        handles.append(Patch(facecolor="#9e9e9e", edgecolor="white", hatch="///"))
        names.append("other processes took needed cores: unreliable")
    ax.legend(
        handles,
        names,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.5 / fig.get_figheight()),
        ncol=3,
        fontsize=8,
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


# -- main --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short files, one repeat: a couple of minutes")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="thread counts (default 1 2)")
    parser.add_argument("--short", type=float, default=30.0, help="short file, seconds (default 30)")
    parser.add_argument("--long", type=float, default=600.0, help="long file, seconds (default 600; 0: none)")
    parser.add_argument(
        "--lm-seconds", type=float, default=30.0, help="LM file, seconds (default 30; 0: none)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per side on short files (default 3)")
    parser.add_argument(
        "--lm-threads", nargs="+", type=int, default=[1], help="thread counts with LM (default 1)"
    )
    parser.add_argument(
        "--long-runs",
        nargs="+",
        default=["encodec_24khz:1", "encodec_48khz:1"],
        help="long-file cases as MODEL:THREADS (default: both models at 1 thread; add encodec_48khz:2 "
        "for the 48 kHz model at 2 threads, about 5 min more)",
    )
    parser.add_argument("--max-load", type=float, default=0.3, help="wait until others use fewer cores")
    parser.add_argument("--retries", type=int, default=2, help="measure a busy short repeat again, at most")
    parser.add_argument("--wait", type=float, default=60.0, help="longest wait for a quiet machine, s")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/ alone")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact-mode rows (short files)")
    parser.add_argument("--save-json", metavar="PATH", help="also save the raw results as JSON")
    parser.add_argument(
        "--from-json", metavar="PATH", help="measure nothing: redraw the docs from saved JSON"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.short, args.long, args.lm_seconds, args.repeats = 5.0, 20.0, 3.0, 1
        args.wait = min(args.wait, 10.0)
    return args


def run(args: argparse.Namespace, folder: Path) -> Results:
    """Every case the arguments ask for, in the order short, LM, long."""
    results = Results()
    policy = Policy(args.max_load, args.wait, args.retries)

    weights = {name: save_reference_weights(name, folder) for name in args.models}
    lm_weights = {name: save_lm_weights(name, folder) for name in args.models}
    for threads in args.threads:
        for name in args.models:
            measure_short(
                results,
                "short",
                name,
                threads,
                args.short,
                args.repeats,
                weights[name],
                None,
                policy,
                exact_row=not args.no_exact,
            )
    if args.lm_seconds > 0:
        for threads in args.lm_threads:
            for name in args.models:
                measure_short(
                    results,
                    "lm",
                    name,
                    threads,
                    args.lm_seconds,
                    args.repeats,
                    weights[name],
                    lm_weights[name],
                    policy,
                    exact_row=False,
                )
    if args.long > 0:
        for index, case in enumerate(args.long_runs):
            name, threads = case.split(":")
            if name in args.models:
                measure_long(results, name, int(threads), args.long, weights[name], policy, index)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))), flush=True)
        return 0
    import warnings  # noqa: PLC0415

    warnings.filterwarnings("ignore", message=".*weight_norm.*")
    results, info, elapsed = measure_or_load(
        args, "results", lambda tmp: run(args, tmp), Results.to_json, Results.from_json
    )
    text = report_markdown(results, info, args, elapsed)
    publish("bench-speed", text, lambda: plot(results), to_docs=not args.no_docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
