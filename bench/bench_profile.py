"""Where the time goes: torch.profiler per op kind, one thread, ours (fast and exact) against the reference.

Run from the repository root: `.venv/bin/python bench/bench_profile.py [--seconds 10] [--no-docs]`.

Each side encodes and decodes the same music-like signal at 6 kbps with the same random weights, once to
warm up and once under the profiler. Ops are grouped by kind (convolutions, the LSTM, ELU, group norm,
padding and copies, the quantizer, the rest) and given as CPU milliseconds per second of audio (the
profiler's self CPU time, which other processes on a shared machine inflate less than wall clock).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import (  # noqa: E402
    BANDWIDTH,
    machine_info,
    machine_line,
    markdown_table,
    music_signal,
    save_reference_weights,
    update_doc_section,
)

# First match wins; names are torch's aten op names.
KINDS = [
    ("convolutions", ("conv", "mkldnn_convolution", "bmm", "addmm", "matmul")),
    ("LSTM", ("rnn", "lstm")),
    ("ELU", ("elu",)),
    ("group norm", ("group_norm",)),
    ("padding and copies", ("pad", "cat", "copy", "fill", "flip", "zeros", "clone", "contiguous")),
    ("quantizer", ("mm", "max", "embedding", "index_select", "pow", "sum", "sub", "neg")),
]
OTHER = "the rest (adds, views, scales)"
COLUMNS = [kind for kind, _ in KINDS] + [OTHER]


def kind_of(name: str) -> str:
    op = name.removeprefix("aten::")
    for kind, needles in KINDS:
        if any(needle in op for needle in needles):
            return kind
    return OTHER


def profile(fn) -> dict[str, float]:  # noqa: ANN001
    """Self CPU ms of `fn()` per op kind (innermost ops only, so nothing is counted twice)."""
    from torch.profiler import ProfilerActivity  # noqa: PLC0415
    from torch.profiler import profile as torch_profile  # noqa: PLC0415

    fn()  # warm-up
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    out = dict.fromkeys(COLUMNS, 0.0)
    for event in prof.key_averages():
        out[kind_of(event.key)] += event.self_cpu_time_total / 1000.0
    return out


def sides(name: str, weights: Path):  # noqa: ANN201
    """(label, encode(audio) -> codes, decode(codes) -> audio) for ours fast, ours exact, the reference."""
    from codec.api import load_model  # noqa: PLC0415
    from tests.oracles import import_reference_encodec  # noqa: PLC0415

    out = []
    for exact in (False, True):
        model = load_model(name, weights=weights)
        model.exact = exact
        block = 4 * model.spec.sample_rate

        def encode(audio, model=model, block=block):  # noqa: ANN001, ANN202
            return model.encode_stream(audio.split(block, dim=-1), BANDWIDTH, total_length=audio.shape[-1])

        def decode(encoded, model=model):  # noqa: ANN001, ANN202
            return torch.cat(list(model.decode_stream(encoded)), dim=-1)

        out.append(("ours, exact mode" if exact else "ours (fast default)", encode, decode))
    encodec = import_reference_encodec()
    factory = {"encodec_24khz": encodec.EncodecModel.encodec_model_24khz,
               "encodec_48khz": encodec.EncodecModel.encodec_model_48khz}[name]  # fmt: skip
    reference = factory(pretrained=False)
    reference.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    reference.set_target_bandwidth(BANDWIDTH)
    reference.eval()

    def ref_encode(audio):  # noqa: ANN001, ANN202
        with torch.no_grad():
            return reference.encode(audio[None])

    def ref_decode(frames):  # noqa: ANN001, ANN202
        with torch.no_grad():
            return reference.decode(frames)

    out.append(("reference", ref_encode, ref_decode))
    return out


def run(models: list[str], seconds: float, folder: Path) -> list[list[str]]:
    from codec.specs import get_spec  # noqa: PLC0415

    torch.set_num_threads(1)
    table = []
    for name in models:
        spec = get_spec(name)
        weights = save_reference_weights(name, folder)
        audio = torch.from_numpy(music_signal(seconds, spec.sample_rate, spec.channels))
        for label, encode, decode in sides(name, weights):
            codes = encode(audio)
            for op, fn in (
                ("encode", lambda e=encode, a=audio: e(a)),
                ("decode", lambda d=decode, c=codes: d(c)),
            ):
                spent = profile(fn)
                total = sum(spent.values())
                cells = [
                    f"{spent[kind] / seconds:.0f} ({100 * spent[kind] / total:.0f} %)" for kind in COLUMNS
                ]
                table.append(
                    [f"{name.removeprefix('encodec_')} {op}", label, *cells, f"**{total / seconds:.0f}**"]
                )
                print(" | ".join(table[-1]), flush=True)
    return table


def main(argv: list[str] | None = None) -> int:
    import tempfile  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["encodec_24khz", "encodec_48khz"])
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length (default 10 s)")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args(argv)
    info = machine_info()
    with tempfile.TemporaryDirectory() as folder:
        table = run(args.models, args.seconds, Path(folder))
    body = "\n".join(
        [
            "## Profile: where the time goes (1 thread)",
            "",
            f"`bench/bench_profile.py --seconds {args.seconds:g}`: torch.profiler self CPU time per op kind, in ms "
            "per second of audio (share of the row in brackets), 6 kbps, random weights, music-like signal, "
            "warm. Ours = `encode_stream` / `decode_stream` (4 s blocks); reference = `model.encode` / "
            "`model.decode` on the whole array. Convolutions include the transposed ones (their GEMMs). "
            + machine_line(info),
            "",
            markdown_table(["op", "side", *COLUMNS, "total"], table, "ll" + "r" * (len(COLUMNS) + 1)),
        ]
    )
    if not args.no_docs:
        update_doc_section("bench-profile", body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
