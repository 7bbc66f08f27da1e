"""Portable LM coding: end-to-end speed against the reference `encodec` 0.1.1, and size against the float LM.

Run from the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_portable.py [--seconds 30] [--repeats 3] [--write-doc]
    .venv/bin/python bench/bench_portable.py --lm PATH --codes PATH [--model encodec_24khz]   # sizes only

Speed: the same random-weights model and LM on both sides (as `bench_speed.py`), the same music-like signal
at 6 kbps, one thread. Reference: `encodec.compress.compress(use_lm=True)` and `decompress`. Ours: what the
`ecdc` command runs, `encode_stream` + `write_ecdc(lm_format="portable")` and `read_ecdc` + `decode_stream`
(the float-LM "reference" format of ours is timed too). Median of `--repeats`, sides interleaved, wall
clock and this process's CPU time (the CPU figure is the one to trust on a busy machine).

Sizes need a trained LM: random weights predict almost uniform distributions, which says nothing about
how much the integer LM loses. `--lm` (an LM checkpoint, official layout) and `--codes` (a `torch.save`d
list of int64 [K, T] code tensors) code the same codes with the float LM (reference format) and the
portable LM, and print both sizes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.bench_speed import Ours, Reference, bench_audio  # noqa: E402
from bench.common import (  # noqa: E402
    BANDWIDTH,
    ExternalLoad,
    machine_info,
    machine_line,
    markdown_table,
    save_lm_weights,
    save_reference_weights,
    update_doc_section,
)
from codec.ecdc.header import segment_lengths  # noqa: E402
from codec.specs import get_spec  # noqa: E402

DOC_KEY = "portable-lm"


class OursPortable(Ours):
    """Our production path writing portable (version 1) LM files, as the CLI and the app do by default."""

    label = "ours (portable)"
    lm_format = "portable"


class OursFloat(Ours):
    label = "ours (reference format)"


def timed(fn):  # noqa: ANN001, ANN201
    """fn's result, wall and CPU seconds, others' load, and the CPU seconds of its model phase (encode or
    decode), so the LM part (the rest) can be told apart."""
    with ExternalLoad() as load:
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return result, wall, cpu, load.cores


def _model_share(phases: dict[str, float], op: str) -> float:
    """Fraction of the run its model phase took (wall clock, the only clock the phases have)."""
    model = phases["encode" if op == "compress" else "decode"]
    return model / phases[op] if phases.get(op) else 0.0


def bench_model(name: str, seconds: float, repeats: int, folder: Path) -> list[dict]:
    weights = save_reference_weights(name, folder)
    lm_weights = save_lm_weights(name, folder)
    audio = bench_audio(name, seconds)
    duration = audio.shape[-1] / get_spec(name).sample_rate
    sides = [Reference(name, weights, lm_weights), OursPortable(name, weights, lm_weights)]
    sides.append(OursFloat(name, weights, lm_weights))
    # Warm-up: one short run of each side (the portable LM's tables and the float LM's self-check).
    warm = audio[..., : get_spec(name).sample_rate]
    for side in sides:
        side.decompress(side.compress(warm, True)[0])
    runs: dict[str, dict[str, list]] = {side.label: {"compress": [], "decompress": []} for side in sides}
    sizes: dict[str, int] = {}
    for repeat in range(repeats):
        order = sides if repeat % 2 == 0 else sides[::-1]
        for side in order:
            (data, phases), wall, cpu, load = timed(lambda side=side: side.compress(audio, True))
            runs[side.label]["compress"].append((wall, cpu, load, _model_share(phases, "compress")))
            sizes[side.label] = len(data)
            (_, phases), wall, cpu, load = timed(lambda side=side, data=data: side.decompress(data))
            runs[side.label]["decompress"].append((wall, cpu, load, _model_share(phases, "decompress")))
    rows = []
    ref = runs[Reference.label]
    for side in sides[1:]:
        for op in ("compress", "decompress"):
            ours = runs[side.label][op]
            ref_wall = statistics.median(r[0] for r in ref[op])
            ref_cpu = statistics.median(r[1] for r in ref[op])
            our_wall = statistics.median(r[0] for r in ours)
            our_cpu = statistics.median(r[1] for r in ours)
            load = max(r[2] for r in ours + ref[op])
            # LM part: the CPU time outside the model phase (its share measured by wall clock).
            ref_lm = ref_cpu * (1 - statistics.median(r[3] for r in ref[op]))
            our_lm = our_cpu * (1 - statistics.median(r[3] for r in ours))
            rows.append(
                dict(
                    model=name,
                    side=side.label,
                    op=op,
                    seconds=duration,
                    ref_rt=duration / ref_cpu,
                    our_rt=duration / our_cpu,
                    speedup_cpu=ref_cpu / our_cpu,
                    speedup_wall=ref_wall / our_wall,
                    speedup_lm=ref_lm / our_lm if our_lm > 0 else float("inf"),
                    load=load,
                    size=sizes[side.label],
                    ref_size=sizes[Reference.label],
                )
            )
    return rows


def print_rows(rows: list[dict]) -> None:
    for row in rows:
        print(
            f"  {row['model']} {row['op']:<10} {row['side']:<24} reference {row['ref_rt']:6.2f}x RT cpu, "
            f"ours {row['our_rt']:6.2f}x RT cpu: {row['speedup_cpu']:5.2f}x cpu, {row['speedup_wall']:5.2f}x wall, "
            f"LM part {row['speedup_lm']:5.1f}x "
            f"(others' load {row['load']:.2f} cores)",
            flush=True,
        )


def doc_section(rows: list[dict], repeats: int, machine: str) -> str:
    table = markdown_table(
        [
            "model",
            "LM coding",
            "reference (x RT, CPU)",
            "ours (x RT, CPU)",
            "speed-up CPU",
            "speed-up wall",
            "LM part alone",
        ],
        [
            [
                f"{row['model'].split('_')[1]} {row['seconds']:g} s",
                f"{row['op']}, {row['side'].split('(')[1].rstrip(')')}",
                f"{row['ref_rt']:.2f}",
                f"{row['our_rt']:.2f}",
                f"{row['speedup_cpu']:.2f}x",
                f"{row['speedup_wall']:.2f}x",
                f"{row['speedup_lm']:.1f}x",
            ]
            for row in rows
        ],
    )
    return (
        "## Portable LM coding (end to end, 1 thread)\n\n"
        f"`bench/bench_portable.py`, median of {repeats}. {machine} Compress = encode + LM coding + "
        "container; decompress = LM decoding + decode. Same random weights and LM on both sides, music-like "
        f"signal at {BANDWIDTH:g} kbps. CPU time of the process (the machine was shared: wall clock is "
        'shown too, and is less reliable). "LM part alone": the CPU time outside the model\'s encode or '
        "decode phase (the phase's share taken from wall clock), i.e. LM coding and the container.\n\n"
        + table
        + "\n"
    )


def sizes(lm_path: Path, codes_path: Path, model: str) -> None:
    from codec.ecdc import encode_bytes  # noqa: PLC0415
    from codec.models.lm import load_lm_state  # noqa: PLC0415

    spec = get_spec(model)
    lm = load_lm_state(lm_path, spec)
    codes_list = torch.load(codes_path, map_location="cpu", weights_only=True)
    totals = {"reference": 0, "portable": 0}
    frames = 0
    for codes in codes_list:
        encoded = _as_file(spec, codes.long())
        for lm_format in totals:
            totals[lm_format] += len(encode_bytes(encoded, lm=lm, lm_format=lm_format))
        frames += codes.shape[1]
    ref, port = totals["reference"], totals["portable"]
    print(f"{len(codes_list)} code sequences, {frames} frames, {model}, whole files (headers included)")
    print(f"  float LM (reference format, version 0): {ref} bytes")
    print(f"  portable LM (version 1):                {port} bytes ({100 * (port / ref - 1):+.2f} %)")


def _as_file(spec, codes: torch.Tensor):  # noqa: ANN001, ANN202
    """`EncodedAudio` holding codes [K, T] as a file of that many frames (48 kHz: cut into segments)."""
    from codec.models.encodec import EncodedAudio  # noqa: PLC0415

    hop, frames = spec.hop_length, codes.shape[1]
    if spec.segment_stride is None:
        return EncodedAudio(spec.name, 0.0, frames * hop, [codes])
    per = spec.frames_for_length(spec.segment_length)
    pieces = [codes[:, i : i + per] for i in range(0, frames, per)]
    # The last segment may not reach the next segment's offset (that would add a segment).
    last = min(pieces[-1].shape[1] * hop, spec.segment_stride)
    length = (len(pieces) - 1) * spec.segment_stride + last
    lengths = segment_lengths(spec, length)
    pieces = [p[:, : spec.frames_for_length(n)] for p, n in zip(pieces, lengths)]
    return EncodedAudio(spec.name, 0.0, length, pieces, [1.0] * len(pieces))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["encodec_24khz", "encodec_48khz"])
    parser.add_argument("--write-doc", action="store_true", help="update this section of docs/BENCHMARKS.md")
    parser.add_argument("--lm", type=Path, help="a trained LM checkpoint: measure sizes instead of speed")
    parser.add_argument("--codes", type=Path, help="torch.save'd list of int64 [K, T] code tensors")
    parser.add_argument("--model", default="encodec_24khz", help="model the LM belongs to (sizes)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.lm or args.codes:
        if not (args.lm and args.codes):
            parser.error("--lm and --codes go together")
        sizes(args.lm, args.codes, args.model)
        return
    machine = machine_line(machine_info())  # at the start: the load average before the run
    print(f"torch {torch.__version__}, 1 thread; {machine}", flush=True)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            model_rows = bench_model(name, args.seconds, args.repeats, Path(tmp))
            print_rows(model_rows)
            rows += model_rows
    if args.write_doc:
        print(f"wrote {update_doc_section(DOC_KEY, doc_section(rows, args.repeats, machine))}")


if __name__ == "__main__":
    main()
