"""Plot a training run's learning curve (curve.csv, eval.csv) for the model card.

python bench/plot_learning_curve.py RUN_DIR docs/model-card/learning-curve.png
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def read(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def main(run_dir: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = read(run_dir / "curve.csv")
    evals = read(run_dir / "eval.csv")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    hours = [float(r["wall_s"]) / 3600 for r in curve]
    axes[0].plot(hours, [float(r["snr_db"]) for r in curve], lw=1)
    axes[0].set(title="training crops: SNR (dB), all rungs mixed", xlabel="CPU hours (1 core)")
    for kind, style in (("speech", "-"), ("music", "--")):
        for kbps in sorted({float(r["kbps"]) for r in evals}):
            rows = [r for r in evals if r["kind"] == kind and float(r["kbps"]) == kbps]
            x = [float(r["wall_s"]) / 3600 for r in rows]
            axes[1].plot(x, [float(r["si_sdr"]) for r in rows], style, label=f"{kind} {kbps:g} kbps")
            axes[2].plot(x, [float(r["log_mel"]) for r in rows], style, label=f"{kind} {kbps:g} kbps")
    axes[1].set(title="held-out SI-SDR (dB)", xlabel="CPU hours (1 core)")
    axes[2].set(title="held-out log-mel distance (dB)", xlabel="CPU hours (1 core)")
    axes[2].legend(fontsize=7, ncol=2)
    for axis in axes:
        axis.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
