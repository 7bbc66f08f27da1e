#!/usr/bin/env bash
# Packaged-app check (CI, Linux): builds the bundle with packaging/encodec-studio.spec, checks what is in it
# and its size, then runs the frozen executables:
#   1. `encodec-studio --self-test` offscreen (and again on the xcb platform under Xvfb when xvfb-run exists);
#   2. an `ecdc` round trip with a random-weights checkpoint: compress, decompress, check the decoded audio,
#      and check that the frozen `ecdc` writes the same bytes as the one run from source.
# Exits non-zero on the first failure; prints timings and sizes. Expects scripts/bootstrap.sh to have run.
#
# Usage: scripts/package-test.sh [--skip-build]     (--skip-build: test the bundle already built)
# ECDC_MAX_BUNDLE_MIB caps the unpacked size (default 600).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

py="$root/.venv/bin/python"
out="$root/build/package-test"
bundle="$out/dist/encodec-studio"
build=1
[ "${1:-}" = "--skip-build" ] && build=0
say() { echo "package-test: $*"; }
fail() { echo "package-test: FAILED: $*" >&2; exit 1; }
seconds() { echo $(($(date +%s) - $1)); }

started=$(date +%s)
if [ "$build" = 1 ]; then
    packaging/build-linux.sh --dist "$out/dist" --work "$out/work" --no-tarball
fi
build_s=$(seconds "$started")
[ -x "$bundle/encodec-studio" ] || fail "no bundle at $bundle"
"$py" packaging/check_bundle.py "$bundle" --max-mib "${ECDC_MAX_BUNDLE_MIB:-600}" || fail "bundle check"

# Run the frozen app as a new user would: empty home, settings and caches, no display.
tmp="$out/run"
rm -rf "$tmp"
mkdir -p "$tmp/home"
run_env=(env -u ECDC_STUDIO_MODELS HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config"
    XDG_DATA_HOME="$tmp/home/.local/share" XDG_CACHE_HOME="$tmp/home/.cache" TORCH_HOME="$tmp/home/torch")

step=$(date +%s)
(cd "$tmp" && "${run_env[@]}" QT_QPA_PLATFORM=offscreen "$bundle/encodec-studio" --self-test) ||
    fail "encodec-studio --self-test (offscreen)"
say "self-test (offscreen) passed in $(seconds "$step") s"
if command -v xvfb-run >/dev/null; then
    step=$(date +%s)
    (cd "$tmp" && xvfb-run -a "${run_env[@]}" QT_QPA_PLATFORM=xcb "$bundle/encodec-studio" --self-test) ||
        fail "encodec-studio --self-test (xcb under Xvfb)"
    say "self-test (xcb under Xvfb) passed in $(seconds "$step") s"
fi

step=$(date +%s)
"$py" - "$tmp" <<'EOF'
import sys
from pathlib import Path

import soundfile
import torch

from app.self_test import make_signal
from codec.models.encodec import EncodecModel

folder = Path(sys.argv[1])
torch.save(EncodecModel.random("encodec_24khz", seed=1).state_dict(), folder / "ckpt.th")
soundfile.write(folder / "in.wav", make_signal(seconds=2.0), 24_000, subtype="PCM_16")
EOF
(
    cd "$tmp"
    "${run_env[@]}" "$bundle/ecdc" -b 6 in.wav out.ecdc --weights ckpt.th
    "${run_env[@]}" "$bundle/ecdc" out.ecdc back.wav --weights ckpt.th
    "${run_env[@]}" "$bundle/ecdc" info out.ecdc
    "$root/.venv/bin/ecdc" -b 6 in.wav source.ecdc --weights ckpt.th
) || fail "ecdc round trip"
"$py" - "$tmp" <<'EOF' || fail "ecdc round trip output"
import sys
from pathlib import Path

import soundfile

from app.self_test import check_decoded

folder = Path(sys.argv[1])
frozen, source = (folder / "out.ecdc").read_bytes(), (folder / "source.ecdc").read_bytes()
if frozen[:4] != b"ECDC":
    sys.exit("out.ecdc does not start with the ECDC magic")
if frozen != source:
    sys.exit("the frozen ecdc wrote different bytes than ecdc run from source")
audio, rate = soundfile.read(folder / "back.wav", dtype="float32")
print("package-test: decoded", check_decoded(audio, rate, soundfile.info(folder / "in.wav").frames, 24_000))
print(f"package-test: out.ecdc is {len(frozen)} bytes, identical to the source build's")
EOF
say "ecdc round trip passed in $(seconds "$step") s"

say "all passed: build ${build_s} s, total $(seconds "$started") s, bundle $(du -sh "$bundle" | cut -f1)"
