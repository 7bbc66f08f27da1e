#!/usr/bin/env bash
# Idempotent set-up shared by ./run-app and ./run-tests: system packages, .venv, Python packages.
#
#   scripts/bootstrap.sh [app|test]     app (default): what running the app needs, nothing more;
#                                       test: also the test and packaging extras and the test oracle
#   scripts/bootstrap.sh --print LEVEL  print the apt and pip requirements of LEVEL and exit (for tests)
#
# Re-running it is cheap: each step is skipped when already done. The stamp in .venv records the level it
# installed, so a `test` run after an `app` run installs the rest, and an `app` run after a `test` run
# does nothing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

print_only=0
if [ "${1:-}" = "--print" ]; then print_only=1; shift; fi
level="${1:-app}"
case "$level" in
    app | test) ;;
    *) echo "bootstrap: unknown level '$level' (use app or test)" >&2; exit 2 ;;
esac

apt_lists() {
    echo scripts/apt-packages.txt
    [ "$level" = test ] && echo scripts/apt-packages-test.txt
    return 0
}

# The pip install steps of $level, one per line, in order; words are pip arguments.
pip_steps() {
    # torch first, pinned: an unpinned torch pulls several GB of CUDA wheels on Linux.
    if [ "$(uname -s)" = "Linux" ]; then echo "torch==2.13.0"; else echo "torch"; fi
    if [ "$level" = test ]; then
        echo "-e .[gui,test,package,tokenize]"
        # Test oracle: Meta's reference implementation, without its torchaudio dependency.
        echo "--no-deps encodec==0.1.1"
    else
        echo "-e .[gui]"
    fi
}

install_system_packages() {
    [ "$(uname -s)" = "Linux" ] && command -v dpkg-query >/dev/null || return 0
    local missing=() list pkg
    for list in $(apt_lists); do
        while read -r pkg; do
            [[ -z "$pkg" || "$pkg" == \#* ]] && continue
            dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
        done < "$list"
    done
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
    # The stamp is "<hash of what decides the install> <level>"; a test install covers an app install.
    local hash stamp
    hash="$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)"
    stamp="$(cat .venv/.setup-stamp 2>/dev/null || true)"
    if [ "$stamp" = "$hash test" ] || [ "$stamp" = "$hash $level" ]; then return 0; fi
    echo "bootstrap: installing Python packages ($level) into .venv"
    local pip=(.venv/bin/python -m pip install -q --disable-pip-version-check) step
    set -f  # a step such as `-e .[gui]` is split into words but never globbed
    while read -r step; do
        # shellcheck disable=SC2086  # each step is a list of pip arguments
        "${pip[@]}" $step </dev/null
    done < <(pip_steps)
    set +f
    echo "$hash $level" > .venv/.setup-stamp
}

if [ "$print_only" = 1 ]; then
    echo "apt:"
    for list in $(apt_lists); do grep -v '^\s*\(#\|$\)' "$list"; done
    echo "pip:"
    pip_steps
    exit 0
fi
install_system_packages
install_python_packages
