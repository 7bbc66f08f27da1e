#!/usr/bin/env bash
# Idempotent set-up shared by ./run-app and ./run-tests: system packages, .venv, Python packages.
# Re-running it is cheap: each step is skipped when already done.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

install_system_packages() {
    [ "$(uname -s)" = "Linux" ] && command -v dpkg-query >/dev/null || return 0
    local missing=()
    while read -r pkg; do
        [[ -z "$pkg" || "$pkg" == \#* ]] && continue
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done < scripts/apt-packages.txt
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "bootstrap: installing system packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pick_python() {
    # python3 first: on these machines its version (3.11) is the one torch==2.13.0's local CPU wheel fits.
    for py in python3 python3.11 python3.12 python3.10; do
        if command -v "$py" >/dev/null && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            echo "$py"; return 0
        fi
    done
    echo "bootstrap: Python >= 3.10 is required" >&2; return 1
}

install_python_packages() {
    [ -x .venv/bin/python ] || "$(pick_python)" -m venv .venv
    local stamp_want
    stamp_want="$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)"
    if [ "$(cat .venv/.setup-stamp 2>/dev/null)" = "$stamp_want" ]; then return 0; fi
    echo "bootstrap: installing Python packages into .venv"
    local pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
    # torch first, pinned: an unpinned torch pulls several GB of CUDA wheels on Linux.
    if [ "$(uname -s)" = "Linux" ]; then "${pip[@]}" torch==2.13.0; else "${pip[@]}" torch; fi
    "${pip[@]}" -e ".[gui,test,package,tokenize]"
    # Test oracle: Meta's reference implementation, without its torchaudio dependency.
    "${pip[@]}" --no-deps encodec==0.1.1
    echo "$stamp_want" > .venv/.setup-stamp
}

install_system_packages
install_python_packages
