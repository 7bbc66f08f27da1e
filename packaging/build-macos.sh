#!/usr/bin/env bash
# Builds "dist/ECDC Studio.app" (executables encodec-studio and ecdc in Contents/MacOS, the .ecdc document
# type and its exported UTI in Info.plist) and a .dmg; optionally signs and notarizes both.
#
# Usage: packaging/build-macos.sh [--sign IDENTITY] [--notarize PROFILE] [--no-dmg]
#   --sign IDENTITY     a "Developer ID Application: Name (TEAMID)" certificate in the keychain: every
#                       binary is signed with the hardened runtime and packaging/macos/entitlements.plist
#   --notarize PROFILE  a notarytool keychain profile (xcrun notarytool store-credentials PROFILE ...):
#                       submits the app and the .dmg to Apple and staples the tickets (needs --sign)
#   --no-dmg            stop after the .app
#
# Must run on macOS (PyInstaller cannot cross-build); it has not been run in this project's Linux CI.
# Build on the oldest macOS you support, with the .venv of scripts/bootstrap.sh (torch from PyPI is CPU/MPS
# only on macOS, so no CUDA libraries can come in).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

identity=""
profile=""
dmg=1
die() { echo "build-macos: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --sign) identity="$2"; shift 2 ;;
        --notarize) profile="$2"; shift 2 ;;
        --no-dmg) dmg=0; shift ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[ "$(uname -s)" = "Darwin" ] || die "the .app can only be built on macOS"
[ -z "$profile" ] || [ -n "$identity" ] || die "--notarize needs --sign"

py="${PYTHON:-$root/.venv/bin/python}"
app="dist/ECDC Studio.app"
entitlements="packaging/macos/entitlements.plist"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n 1)"
image="dist/ECDC-Studio-${version}-macos-$(uname -m).dmg"

# PyInstaller signs every collected binary and both executables when ECDC_CODESIGN_IDENTITY is set
# (the spec passes it with the entitlements); without it binaries keep an ad-hoc signature.
export ECDC_CODESIGN_IDENTITY="$identity"
"$py" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/encodec-studio.spec
"$py" packaging/check_bundle.py "$app"

if [ -n "$identity" ]; then
    # Seal the bundle itself (Info.plist, resources) with the hardened runtime, then verify it.
    codesign --force --timestamp --options runtime --entitlements "$entitlements" --sign "$identity" "$app"
    codesign --verify --deep --strict --verbose=2 "$app"
fi

notarize() {  # notarize FILE: submit, wait for Apple's verdict, staple the ticket
    local file="$1" upload="$1"
    if [ -d "$file" ]; then
        upload="build/pyinstaller/$(basename "$file" .app).zip"
        ditto -c -k --keepParent "$file" "$upload"
    fi
    xcrun notarytool submit "$upload" --keychain-profile "$profile" --wait
    xcrun stapler staple "$file"
}

if [ -n "$profile" ]; then
    notarize "$app"
    spctl --assess --type execute --verbose=2 "$app"
fi

if [ "$dmg" = 1 ]; then
    staging="build/pyinstaller/dmg"
    rm -rf "$staging" && mkdir -p "$staging"
    cp -R "$app" "$staging/"
    ln -s /Applications "$staging/Applications"
    hdiutil create -volname "ECDC Studio" -srcfolder "$staging" -ov -format UDZO "$image"
    if [ -n "$identity" ]; then
        codesign --force --timestamp --sign "$identity" "$image"
    fi
    if [ -n "$profile" ]; then
        notarize "$image"
    fi
    echo "build-macos: $image"
fi
echo "build-macos: $app ($(du -sh "$app" | cut -f1))"
