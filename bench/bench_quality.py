"""Quality of the bundled model on held-out real audio, per bitrate, beside Opus and a 4 kHz low-pass copy.

    python bench/bench_quality.py --eval /path/to/corpus/eval [--json out.json] [--markdown out.md]

The held-out set is what `ecdc train corpus DIR` writes to DIR/eval (codec.training.corpus.HELD_OUT): real
voices and music tracks never used for training, plus two held-out espeak-ng voices. Speech and music are
reported separately, and espeak-ng speech apart from real voices: SI-SDR (dB, higher is better), log-mel distance (dB, lower is better), STOI (speech,
0-1), and the measured bitrate of the .ecdc files (with and without LM coding when the LM is bundled).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from codec.baselines import lowpass, opus_available, opus_roundtrip  # noqa: E402
from codec.metrics import log_mel_distance, si_sdr  # noqa: E402
from codec.training.evaluate import KINDS, load_eval_clips, stoi  # noqa: E402

OPUS_KBPS = (6.0, 12.0)


def score(clip, decoded: np.ndarray, rate: int) -> dict[str, float]:
    out = {"si_sdr": si_sdr(clip.audio, decoded), "log_mel": log_mel_distance(clip.audio, decoded, rate)}
    if clip.kind != "music":
        out["stoi"] = stoi(clip.audio, decoded, rate)
    return out


def run(eval_dir: Path, weights: str | None) -> dict:
    import codec
    from codec.ecdc import encode_bytes

    torch.set_num_threads(1)
    model = codec.load_model("small", weights=weights)
    try:
        lm = codec.load_lm("small")
    except codec.CodecError:
        lm = None
    rate = model.spec.sample_rate
    clips = load_eval_clips(eval_dir)
    rows: dict[tuple[str, str], list[dict[str, float]]] = {}
    for clip in clips:
        seconds = len(clip.audio) / rate
        for bandwidth in model.spec.bandwidths:
            encoded = model.encode(torch.from_numpy(clip.audio)[None], bandwidth)
            decoded = model.decode(encoded)[0].numpy()
            result = score(clip, decoded, rate)
            result["kbps"] = len(encode_bytes(encoded)) * 8 / seconds / 1000
            if lm is not None:
                result["kbps_lm"] = len(encode_bytes(encoded, lm=lm)) * 8 / seconds / 1000
            rows.setdefault((clip.kind, f"ours {bandwidth:g}"), []).append(result)
        if opus_available():
            for kbps in OPUS_KBPS:
                decoded, size = opus_roundtrip(clip.audio, rate, kbps)
                result = score(clip, decoded, rate)
                result["kbps"] = size * 8 / seconds / 1000
                rows.setdefault((clip.kind, f"Opus {kbps:g}"), []).append(result)
        rows.setdefault((clip.kind, "low-pass 4 kHz"), []).append(
            score(clip, lowpass(clip.audio, rate), rate)
        )
    summary = {}
    for (kind, system), results in rows.items():
        keys = results[0].keys()
        summary.setdefault(kind, {})[system] = {k: float(np.mean([r[k] for r in results])) for k in keys}
    counts = {kind: sum(1 for c in clips if c.kind == kind) for kind in KINDS}
    return {"clips": counts, "results": summary, "date": time.strftime("%Y-%m-%d")}


def markdown(report: dict) -> str:
    lines = []
    titles = {"speech": "Real speech", "synthetic": "Synthetic speech (espeak-ng)", "music": "Music"}
    for kind in KINDS:
        results = report["results"].get(kind, {})
        stoi_col = kind != "music"
        lines.append(f"**{titles[kind]}** ({report['clips'][kind]} held-out clips)\n")
        header = "| system | kbps (measured) | SI-SDR dB | log-mel dB |" + (" STOI |" if stoi_col else "")
        lines += [header, "|---" * (header.count("|") - 1) + "|"]
        for system, values in results.items():
            kbps = f"{values['kbps']:.2f}" if "kbps" in values else "-"
            if "kbps_lm" in values:
                kbps += f" ({values['kbps_lm']:.2f} with LM)"
            row = f"| {system} | {kbps} | {values['si_sdr']:.2f} | {values['log_mel']:.2f} |"
            lines.append(row + (f" {values['stoi']:.3f} |" if stoi_col else ""))
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--eval", type=Path, required=True, help="held-out clips: DIR/eval of a corpus")
    parser.add_argument("--weights", help="a model checkpoint (default: the bundled model)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    report = run(args.eval, args.weights)
    text = markdown(report)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
