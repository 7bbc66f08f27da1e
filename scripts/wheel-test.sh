#!/usr/bin/env bash
# Wheel check (CI): `pip install encodec-studio[gui]` from a built wheel, with no checkout on the path, gives
# working `ecdc` and `encodec-studio` commands. Builds the wheel from this checkout, installs it into a
# fresh venv (torch pinned as scripts/bootstrap.sh pins it; packages come from PyPI or pip's cache), checks
# what the wheel holds, then runs `ecdc --help`, `ecdc --version`, an `ecdc info` and the app's
# `--self-test` (offscreen) from an empty folder with an empty home. Exits non-zero on the first failure.
#
# Usage: scripts/wheel-test.sh        Expects scripts/bootstrap.sh to have run (it builds with .venv).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { echo "wheel-test: $*"; }
fail() { echo "wheel-test: FAILED: $*" >&2; exit 1; }

out="$root/build/wheel-test"
rm -rf "$out"
mkdir -p "$out/dist" "$out/run/home"

started=$(date +%s)
# --no-build-isolation: build with .venv's setuptools instead of fetching one.
.venv/bin/python -m pip wheel -q --no-deps --no-build-isolation -w "$out/dist" . || fail "building the wheel"
wheel=$(ls "$out/dist"/encodec_studio-*.whl)
say "built $(basename "$wheel") ($(du -h "$wheel" | cut -f1))"

.venv/bin/python - "$wheel" <<'EOF' || fail "wheel contents"
import sys
import zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
missing = [n for n in ("codec/__init__.py", "codec/cli/main.py", "app/main.py", "app/resources/encodec-studio.png")
           if n not in names]
stray = sorted({n.split("/")[0] for n in names if n.split("/")[0] in ("tests", "bench", "scripts", "packaging")})
entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
scripts = zipfile.ZipFile(sys.argv[1]).read(entry).decode()
if missing or stray or "ecdc = codec.cli.main:main" not in scripts or "encodec-studio = app.main:main" not in scripts:
    sys.exit(f"missing {missing}, stray {stray}, entry points:\n{scripts}")
print(f"wheel-test: {len(names)} files; both commands declared; no tests/bench/scripts/packaging inside")
EOF

python="$(.venv/bin/python -c 'import sys; print(sys._base_executable)')"  # the interpreter .venv was made with
"$python" -m venv "$out/venv"
pip=("$out/venv/bin/python" -m pip install -q --disable-pip-version-check)
torch=torch
[ "$(uname -s)" = "Linux" ] && torch=torch==2.13.0  # as scripts/bootstrap.sh: unpinned pulls CUDA wheels
"${pip[@]}" "$torch" "${wheel}[gui]" </dev/null || fail "pip install ${wheel##*/}[gui]"
say "installed into a fresh venv in $(($(date +%s) - started)) s"

# Run as a new user would: outside the checkout, empty home, settings and caches.
run_env=(env -u PYTHONPATH -u ECDC_STUDIO_MODELS HOME="$out/run/home" XDG_CONFIG_HOME="$out/run/home/.config"
    XDG_DATA_HOME="$out/run/home/.local/share" XDG_CACHE_HOME="$out/run/home/.cache"
    TORCH_HOME="$out/run/home/torch" QT_QPA_PLATFORM=offscreen)
bin="$out/venv/bin"
cd "$out/run"
where=$("${run_env[@]}" "$bin/python" -c 'import app, codec; print(codec.__file__, app.__file__)')
case "$where" in
    "$out/venv/"*" $out/venv/"*) ;;
    *) fail "codec/app imported from outside the venv: $where" ;;
esac
"${run_env[@]}" "$bin/ecdc" --help | grep -q "usage: ecdc" || fail "ecdc --help"
[ "$("${run_env[@]}" "$bin/ecdc" --version)" = "ecdc $(grep -m1 '^version' "$root/pyproject.toml" | cut -d'"' -f2)" ] ||
    fail "ecdc --version"
"${run_env[@]}" "$bin/encodec-studio" --help | grep -q -- "--self-test" || fail "encodec-studio --help"
"${run_env[@]}" "$bin/encodec-studio" --self-test || fail "encodec-studio --self-test"
"${run_env[@]}" "$bin/python" - <<'EOF' || fail "ecdc round trip"
import subprocess
import sys

import torch

from codec.models.encodec import EncodecModel

torch.save(EncodecModel.random("encodec_24khz", seed=1).state_dict(), "ckpt.th")
import numpy as np
import soundfile as sf

sf.write("in.wav", (0.1 * np.sin(np.arange(48_000) / 7)).astype(np.float32), 24_000)
bin_dir = sys.executable.rsplit("/", 1)[0]
subprocess.run([f"{bin_dir}/ecdc", "-b", "6", "in.wav", "out.ecdc", "--weights", "ckpt.th"], check=True)
info = subprocess.run([f"{bin_dir}/ecdc", "info", "out.ecdc"], check=True, capture_output=True, text=True).stdout
assert "encodec_24khz" in info and "6 kbps" in info, info
print("wheel-test: ecdc compressed in.wav and described out.ecdc")
EOF
say "all passed in $(($(date +%s) - started)) s"
