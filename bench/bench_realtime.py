"""Real-time streaming: encoder + decoder speed frame by frame, and Live end to end through PulseAudio.

1. Real-time factor of `codec.StreamingEncoder` + `StreamingDecoder` fed 320 samples (one 24 kHz frame) per
   call on one thread, as the Live view runs them; also 2 and 4 frames per call (what the Live engine falls
   back to on a busy machine) and the whole-file path for comparison. Processing time / audio time:
   below 1 keeps up; the Live engine needs headroom for the audio callbacks and the UI. A call reads every
   weight once (59 MB for the encoder and decoder, plus 0.5 MB per codebook): at one frame per call that is
   4.5 GB/s, so memory bandwidth, not arithmetic, bounds frame-by-frame streaming on a shared machine, and
   a few frames per call cost little more than one.
2. Latency: the codec's own (one frame, plus the one-off warm-up), and end to end through a private
   PulseAudio server (tests/helpers/live_pulse.py: paplay into a null sink, the Live engine, parecord from
   a second sink's monitor) over `--live-seconds` of music at 6 kbps: measured latency, the outside view
   from the two monitors, and the under-run / over-run / drop counts while the file played.

    .venv/bin/python bench/bench_realtime.py                 # both, 60 s through the server
    .venv/bin/python bench/bench_realtime.py --update-doc    # and rewrite its section of docs/BENCHMARKS.md

The machine is shared: each figure comes with the cores other processes kept busy meanwhile.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    ExternalLoad,
    format_loadavg,
    machine_info,
    machine_line,
    markdown_table,
    music_signal,
    update_doc_section,
    wait_for_quiet,
)

SR = 24_000
HOP = 320


def streaming_rtf(
    model: object, audio: torch.Tensor, samples_per_call: int, bandwidth: float
) -> tuple[float, float]:
    """(real-time factor, other processes' cores) of streaming `audio` through encoder and decoder."""
    from codec.realtime import StreamingDecoder, StreamingEncoder  # noqa: PLC0415

    encoder, decoder = StreamingEncoder(model, bandwidth), StreamingDecoder(model)  # type: ignore[arg-type]
    warm = encoder.warmup_samples
    decoder.decode(encoder.encode(audio[:, :warm]))  # the one-off start-up burst is not a steady frame
    with ExternalLoad() as load:
        started = time.perf_counter()
        for start in range(warm, audio.shape[-1], samples_per_call):
            decoder.decode(encoder.encode(audio[:, start : start + samples_per_call]))
        elapsed = time.perf_counter() - started
    return elapsed / ((audio.shape[-1] - warm) / SR), load.cores


def file_rtf(model: object, audio: torch.Tensor, bandwidth: float) -> tuple[float, float]:
    with ExternalLoad() as load:
        started = time.perf_counter()
        model.decode(model.encode(audio, bandwidth))  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - started
    return elapsed / (audio.shape[-1] / SR), load.cores


def live_through_pulse(model: object, seconds: float, bandwidth: float, buffer_s: float) -> dict[str, float]:
    from app.live.devices import load_backend  # noqa: PLC0415
    from tests.helpers.live_pulse import outside_latency, run_live  # noqa: PLC0415

    sd, reason = load_backend()
    if sd is None:
        raise RuntimeError(reason)
    signal = music_signal(seconds, SR, 1, seed=5)[0]
    with tempfile.TemporaryDirectory() as folder, ExternalLoad() as load:
        switch = max(1.0, seconds - 4.0)  # the last seconds in A (the original): the outside latency
        run = run_live(sd, model, signal, Path(folder), bandwidth=bandwidth, buffer_s=buffer_s,
                       switch_to_original_s=switch)  # fmt: skip
    outside, _ = outside_latency(run, signal, switch)
    return {
        "seconds": seconds,
        "underruns": run.underruns,
        "overruns": run.overruns,
        "host_xruns": run.host_xruns,
        "dropped_ms": 1000 * run.dropped / SR,
        "measured_ms": 1000 * (run.after.latency_s or float("nan")),
        "outside_ms": float("nan") if outside is None else 1000 * outside,
        "load": run.after.load,
        "step_frames": run.after.step_frames,
        "others": load.cores,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="audio for the real-time factor")
    parser.add_argument("--live-seconds", type=float, default=60.0, help="audio through PulseAudio (0: skip)")
    parser.add_argument("--buffer", type=float, default=0.08, help="Live output cushion, seconds")
    parser.add_argument("--bandwidth", type=float, default=6.0)
    parser.add_argument(
        "--update-doc", action="store_true", help="rewrite this section of docs/BENCHMARKS.md"
    )
    args = parser.parse_args()

    from codec.models.encodec import EncodecModel  # noqa: PLC0415

    torch.set_num_threads(1)
    info = machine_info()
    model = EncodecModel.random("encodec_24khz", seed=4)
    audio = torch.from_numpy(music_signal(args.seconds, SR, 1, seed=3))
    spec = model.spec
    from codec.realtime import StreamingDecoder, StreamingEncoder  # noqa: PLC0415

    warmup_ms = 1000 * StreamingEncoder(model, args.bandwidth).warmup_samples / SR
    delay_ms = 1000 * StreamingDecoder(model).delay / SR
    print(f"torch {torch.__version__}, 1 thread; load average {format_loadavg()}", flush=True)
    wait_for_quiet(max_cores=0.5, timeout=60)

    rows = []
    with torch.inference_mode():
        for frames in (1, 2, 4):
            rtf, others = streaming_rtf(model, audio, frames * HOP, args.bandwidth)
            print(
                f"  streaming, {frames * HOP} samples per call: RTF {rtf:.3f} (others {others:.1f} cores)",
                flush=True,
            )
            label = f"streaming, {frames * HOP} samples ({frames} frame{'s' if frames > 1 else ''}) per call"
            rows.append([label, f"{rtf:.3f}", f"{1000 * rtf * frames * HOP / SR:.1f} ms", f"{others:.1f}"])
        rtf, others = file_rtf(model, audio, args.bandwidth)
        print(f"  whole file: RTF {rtf:.3f} (others {others:.1f} cores)", flush=True)
        rows.append(["whole file (`encode` + `decode`)", f"{rtf:.3f}", "", f"{others:.1f}"])

    live = None
    if args.live_seconds > 0:
        print(f"  Live through PulseAudio, {args.live_seconds:g} s at {args.bandwidth:g} kbps…", flush=True)
        live = live_through_pulse(model, args.live_seconds, args.bandwidth, args.buffer)
        print(
            "  " + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in live.items())
        )

    frame_ms = 1000 * spec.hop_length / SR
    body = [
        "## Real time (streaming API and Live view)",
        "",
        "`bench/bench_realtime.py`: `codec.StreamingEncoder` + `StreamingDecoder` on one thread, random-weights "
        f"`encodec_24khz` at {args.bandwidth:g} kbps, {args.seconds:g} s of music; real-time factor = processing "
        "time / audio time (below 1 keeps up). 'Others' = cores other processes kept busy meanwhile.",
        "",
        markdown_table(["path", "real-time factor", "per call", "others (cores)"], rows),
        "",
        f"Codec latency: one frame, {frame_ms:.1f} ms (a frame's codes come with its last sample, its audio in the "
        f"same call), plus {delay_ms:.0f} ms decoder delay; once per stream the first output waits "
        f"{warmup_ms:.0f} ms for the models' reflect padding, which the Live view does not play.",
    ]
    if live is not None:
        body += [
            "",
            f"Live end to end through PulseAudio (paplay -> null sink -> Live engine -> null sink -> parecord), "
            f"{live['seconds']:g} s at {args.bandwidth:g} kbps, {args.buffer * 1000:g} ms output cushion: "
            f"measured latency {live['measured_ms']:.0f} ms (outside view from the two monitors "
            f"{live['outside_ms']:.0f} ms); {live['underruns']} under-runs, {live['overruns']} over-runs, "
            f"{live['host_xruns']} host x-runs, {live['dropped_ms']:.0f} ms dropped to hold the latency; worker "
            f"load {live['load']:.2f} at {live['step_frames']} frame(s) per step; others kept "
            f"{live['others']:.1f} cores busy.",
        ]
    body += ["", machine_line(info)]
    text = "\n".join(body)
    print("\n" + text)
    if args.update_doc:
        print(f"updated {update_doc_section('realtime', text)}")


if __name__ == "__main__":
    main()
