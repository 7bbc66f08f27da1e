"""Tokenization throughput in audio hours per hour: batched vs unbatched encoding, and the pipeline's
executors (inline, local processes, Ray) with 1 and 2 workers, on a corpus of short clips.

    .venv/bin/python bench/bench_tokenize.py [--clips 64] [--seconds 2-6] [--model encodec_24khz]
        [--device cpu] [--executors inline,local,ray] [--save-json PATH] [--doc]

Random weights (speed does not depend on them). Every figure is wall time, start-up included for the
executors (spawning processes, starting Ray, loading the model once per worker), so small corpora favour
the in-process executor. Before each run the cores other processes keep busy are sampled and printed next
to the figure: on a shared machine the 2-worker rows mean little when another job holds a core.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import common  # noqa: E402
from codec.tokenize.pipeline import ONEDNN_CACHE  # noqa: E402

# As a tokenize worker process has it (the API comparison below runs convolutions before any worker would).
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(ONEDNN_CACHE))


def make_corpus(folder: Path, clips: int, low: float, high: float, model: str) -> float:
    """`clips` music clips of `low`..`high` seconds at the model's rate; returns total seconds."""
    import numpy as np  # noqa: PLC0415
    import soundfile as sf  # noqa: PLC0415

    from codec.specs import get_spec  # noqa: PLC0415

    spec = get_spec(model)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    total = 0.0
    for i in range(clips):
        audio = common.music_signal(float(rng.uniform(low, high)), spec.sample_rate, spec.channels, seed=i)
        sf.write(folder / f"clip{i:05d}.wav", audio.T, spec.sample_rate, subtype="PCM_16")
        total += audio.shape[-1] / spec.sample_rate
    return total


def bench_api(
    model_name: str, device: str, clips: int, low: float, high: float, rounds: int = 3
) -> list[dict]:
    """encode one by one vs `encode_batch` (exact, batch 8; inexact, batch 8), one thread, best of `rounds`."""
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415

    from codec.batch import encode_batch  # noqa: PLC0415
    from codec.models.encodec import EncodecModel  # noqa: PLC0415

    torch.set_num_threads(1)
    model = EncodecModel.random(model_name).to(device)
    spec = model.spec
    rng = np.random.default_rng(0)
    audio = [
        torch.from_numpy(
            common.music_signal(float(rng.uniform(low, high)), spec.sample_rate, spec.channels, seed=i)
        )
        for i in range(clips)
    ]
    seconds = sum(a.shape[-1] for a in audio) / spec.sample_rate
    runs = {
        "model.encode, one clip at a time": lambda: [model.encode(a.to(device), 6.0) for a in audio],
        "encode_batch, batch 1 (exact)": lambda: encode_batch(model, audio, 6.0, batch_size=1),
        "encode_batch, batch 8 (exact)": lambda: encode_batch(model, audio, 6.0, batch_size=8),
        "encode_batch, batch 8, exact=False": lambda: encode_batch(
            model, audio, 6.0, batch_size=8, exact=False
        ),
    }
    runs["model.encode, one clip at a time"]()  # warm-up
    best = dict.fromkeys(runs, float("inf"))
    others = dict.fromkeys(runs, 0.0)
    for _ in range(rounds):  # interleaved rounds, best of each: a busy machine's noise hits all alike
        for label, run in runs.items():
            others[label] = max(others[label], common.external_load(0.5))
            start = time.perf_counter()
            run()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            best[label] = min(best[label], time.perf_counter() - start)
    out = []
    for label in runs:
        out.append({"what": label, "audio_s": seconds, "wall_s": best[label], "others_cores": others[label]})
        print(f"  {label:40s} {seconds / best[label]:7.1f} h/h  (others busy: {others[label]:.1f} cores)")
    return out


def bench_executors(
    model_name: str, device: str, corpus: Path, executors: list[str], work: Path
) -> list[dict]:
    import torch  # noqa: PLC0415

    from codec.models.encodec import EncodecModel  # noqa: PLC0415
    from codec.tokenize import TokenizeConfig, tokenize  # noqa: PLC0415

    weights = work / "weights.th"
    torch.save(EncodecModel.random(model_name).state_dict(), weights)
    config = TokenizeConfig(model=model_name, weights=str(weights), device=device)
    out = []
    for executor in executors:
        for workers in (1, 2) if executor != "inline" else (1,):
            target = work / f"out-{executor}-{workers}"
            shutil.rmtree(target, ignore_errors=True)
            others = common.external_load(1.0)
            start = time.perf_counter()
            if executor == "ray":
                import ray  # noqa: PLC0415

                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False,
                         object_store_memory=100 * 1024 * 1024)  # fmt: skip
            try:
                summary = tokenize(corpus, target, config, executor=executor, workers=workers, shard_size=8)
            finally:
                if executor == "ray":
                    ray.shutdown()
            wall = time.perf_counter() - start
            seconds = summary.progress.audio_seconds
            row = {
                "executor": executor,
                "workers": workers,
                "audio_s": seconds,
                "wall_s": wall,
                "others_cores": others,
            }
            out.append(row)
            print(f"  {executor:7s} {workers} worker(s) {seconds / wall:7.1f} h/h  (others busy: {others:.1f} cores)",
                  flush=True)  # fmt: skip
    return out


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_memory(model_name: str, clips: int, work: Path) -> list[dict]:
    """Resident memory of the in-process worker after every shard of `clips` short clips (0.1-0.3 s)."""
    import torch  # noqa: PLC0415

    from codec.models.encodec import EncodecModel  # noqa: PLC0415
    from codec.tokenize import TokenizeConfig, tokenize  # noqa: PLC0415

    corpus = work / "memory-corpus"
    make_corpus(corpus, clips, 0.1, 0.3, model_name)
    weights = work / "memory-weights.th"
    torch.save(EncodecModel.random(model_name).state_dict(), weights)
    samples: list[dict] = []

    def sample(state) -> None:
        samples.append({"clips": state.clips_done, "rss_mb": _rss_mb()})

    tokenize(corpus, work / "memory-out", TokenizeConfig(model=model_name, weights=str(weights)), shard_size=100,
             progress=sample)  # fmt: skip
    for row in samples[:: max(1, len(samples) // 5)] + samples[-1:]:
        print(f"  after {row['clips']:6d} clips: RSS {row['rss_mb']:.0f} MB", flush=True)
    return samples


def report(result: dict) -> str:
    lines = [
        f"{result['clips']} clips of {result['seconds']} s ({result['audio_s'] / 60:.1f} min of audio), "
        f"{result['model']}, 6 kbps, device {result['device']}. {common.machine_line(result['machine'])}",
        "",
        "Python API (one thread):",
        "",
        common.markdown_table(
            ["", "audio h / h", "others' cores"],
            [
                [r["what"], f"{r['audio_s'] / r['wall_s']:.1f}", f"{r['others_cores']:.1f}"]
                for r in result["api"]
            ],
        ),
        "",
        "Pipeline (`codec.tokenize`, wall time including start-up and model loading):",
        "",
        common.markdown_table(
            ["executor", "workers", "audio h / h", "others' cores"],
            [
                [
                    r["executor"],
                    str(r["workers"]),
                    f"{r['audio_s'] / r['wall_s']:.1f}",
                    f"{r['others_cores']:.1f}",
                ]
                for r in result["executors"]
            ],
        ),
    ]
    if result.get("memory"):
        memory = result["memory"]
        picks = memory[:: max(1, len(memory) // 5)] + memory[-1:]
        lines += [
            "",
            "Memory of the in-process worker over a run of short clips (0.1-0.3 s), RSS after each shard:",
            "",
            common.markdown_table(
                ["clips done", "RSS (MB)"], [[str(r["clips"]), f"{r['rss_mb']:.0f}"] for r in picks]
            ),
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--seconds", default="2-6", help="clip length range, e.g. 2-6")
    parser.add_argument("--model", default="encodec_24khz")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--executors", default="inline,local,ray", help="pipeline executors to run (empty: none)"
    )
    parser.add_argument("--no-api", action="store_true", help="skip the Python API comparison")
    parser.add_argument("--memory", type=int, default=0, help="also track RSS over a run of this many clips")
    parser.add_argument("--save-json", type=Path)
    parser.add_argument(
        "--doc", action="store_true", help="rewrite the tokenize section of docs/BENCHMARKS.md"
    )
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private local Ray: leave no ~/.ray/auth_token
    low, high = (float(v) for v in args.seconds.split("-"))
    result: dict = {"clips": args.clips, "seconds": args.seconds, "model": args.model, "device": args.device}
    result["machine"] = common.machine_info()
    print(common.machine_line(result["machine"]), flush=True)
    print("Python API:", flush=True)
    result["api"] = [] if args.no_api else bench_api(args.model, args.device, args.clips, low, high)
    work = Path(tempfile.mkdtemp(prefix="bench_tokenize"))
    try:
        corpus = work / "corpus"
        result["audio_s"] = make_corpus(corpus, args.clips, low, high, args.model)
        executors = [e for e in args.executors.split(",") if e]
        print("Pipeline:", flush=True)
        result["executors"] = bench_executors(args.model, args.device, corpus, executors, work)
        if args.memory:
            print("Memory:", flush=True)
            result["memory"] = bench_memory(args.model, args.memory, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = report(result)
    print(text)
    if args.save_json:
        args.save_json.write_text(json.dumps(result, indent=2))
    if args.doc:
        common.update_doc_section("tokenize", "## Tokenization throughput\n\n" + text)


if __name__ == "__main__":
    main()
