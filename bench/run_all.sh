#!/usr/bin/env bash
# The one benchmark command: speed against the reference encodec 0.1.1, then memory against file length.
# Regenerates docs/BENCHMARKS.md, docs/bench-speed.png and docs/bench-memory.png.
#
#   bench/run_all.sh            full run (speed about 20 min, memory about 15 min on 2 cores)
#   bench/run_all.sh --quick    a few minutes, short files (for checking the harness, not for figures)
#
# Needs matplotlib in .venv for the plots (`.venv/bin/pip install matplotlib`); without it the tables are
# still written. Run it on a quiet machine: both scripts wait (a bounded time) for other processes to go
# quiet and report how busy the machine was.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py=.venv/bin/python
quick=()
for arg in "$@"; do
    case "$arg" in
        --quick) quick=(--quick) ;;
        *) echo "usage: bench/run_all.sh [--quick]" >&2; exit 2 ;;
    esac
done
export PYTHONUNBUFFERED=1
"$py" -c "import matplotlib" 2>/dev/null || echo "note: matplotlib is missing from .venv; no plots will be drawn" >&2
"$py" bench/bench_speed.py "${quick[@]}"
"$py" bench/bench_memory.py "${quick[@]}"
echo "updated docs/BENCHMARKS.md, docs/bench-speed.png, docs/bench-memory.png"
