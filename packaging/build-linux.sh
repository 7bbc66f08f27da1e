#!/usr/bin/env bash
# Builds the Linux bundle: dist/encodec-studio/ (executables encodec-studio and ecdc, everything else in
# _internal/, desktop integration in desktop/) and dist/encodec-studio-<version>-linux-<arch>.tar.gz.
#
# Usage: packaging/build-linux.sh [--dist DIR] [--work DIR] [--no-tarball]
#   --dist DIR     where the bundle and tarball go (default: dist)
#   --work DIR     PyInstaller's work folder (default: build/pyinstaller)
#   --no-tarball   build and check the folder only
# Needs the project's .venv with the `package` extra (scripts/bootstrap.sh installs it) and PortAudio
# (Debian/Ubuntu: libportaudio2). PYTHON overrides the interpreter (default: .venv/bin/python).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

dist="dist"
work="build/pyinstaller"
tarball=1
die() { echo "build-linux: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --dist) dist="$2"; shift 2 ;;
        --work) work="$2"; shift 2 ;;
        --no-tarball) tarball=0; shift ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

[ "$(uname -s)" = "Linux" ] || die "this builds the Linux bundle; use packaging/build-macos.sh on macOS"
py="${PYTHON:-$root/.venv/bin/python}"
"$py" -c "import PyInstaller" 2>/dev/null ||
    die "PyInstaller is missing: run scripts/bootstrap.sh (or pip install -e '.[gui,package]')"

started=$(date +%s)
echo "build-linux: running PyInstaller (packaging/encodec-studio.spec)"
"$py" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$dist" --workpath "$work" packaging/encodec-studio.spec
bundle="$dist/encodec-studio"

# Desktop integration and a short README travel with the bundle.
rm -rf "$bundle/desktop"
mkdir -p "$bundle/desktop"
cp resources/install-desktop-integration.sh resources/encodec-studio.desktop resources/encodec-studio-mime.xml \
    "$bundle/desktop/"
cp -r resources/icons "$bundle/desktop/icons"
cp packaging/linux/README.txt "$bundle/README.txt"
built=$(date +%s)
echo "build-linux: built $bundle in $((built - started)) s"

"$py" packaging/check_bundle.py "$bundle"

if [ "$tarball" = 1 ]; then
    version="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n 1)"
    name="encodec-studio-${version}-linux-$(uname -m)"
    archive="$dist/$name.tar.gz"
    gz="gzip -6"
    command -v pigz >/dev/null && gz="pigz -6"
    tar -C "$dist" --sort=name --owner=0 --group=0 --numeric-owner \
        --transform "flags=rh;s|^encodec-studio|$name|" -cf - encodec-studio | $gz > "$archive.tmp"
    mv -f "$archive.tmp" "$archive"
    echo "build-linux: $archive ($(du -h "$archive" | cut -f1)) in $(($(date +%s) - built)) s"
fi
