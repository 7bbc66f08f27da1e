#!/usr/bin/env bash
# Registers ECDC Studio with the Linux desktop for the current user (no root needed):
#   - the application menu entry      $XDG_DATA_HOME/applications/encodec-studio.desktop
#   - the .ecdc file type             $XDG_DATA_HOME/mime/packages/encodec-studio.xml (glob *.ecdc, magic "ECDC")
#   - the app and file-type icons     $XDG_DATA_HOME/icons/hicolor/<size>/{apps,mimetypes}/
#   - ECDC Studio as the default application for .ecdc files (when xdg-mime is installed)
# then refreshes the MIME, desktop and icon caches with whichever of update-mime-database,
# update-desktop-database and gtk-update-icon-cache are installed. XDG_DATA_HOME defaults to ~/.local/share.
#
# Usage: install-desktop-integration.sh [--exec PATH] [--uninstall]
#   --exec PATH   the encodec-studio executable the menu entry starts. Default: ../encodec-studio next to this
#                 script's folder (the layout of the Linux bundle), else `encodec-studio` found on PATH.
#   --uninstall   remove everything this script installed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
app_id="encodec-studio"
mime_type="application/x-ecdc"
exec_path=""
mode="install"

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "install-desktop-integration: $*" >&2; exit 1; }
say() { echo "install-desktop-integration: $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --exec) [ $# -ge 2 ] || die "--exec needs a path"; exec_path="$2"; shift 2 ;;
        --exec=*) exec_path="${1#--exec=}"; shift ;;
        --uninstall) mode="uninstall"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

desktop_src="$here/$app_id.desktop"
mime_src="$here/$app_id-mime.xml"
icons_src="$here/icons/hicolor"
desktop_dst="$data_home/applications/$app_id.desktop"
mime_dst="$data_home/mime/packages/$app_id.xml"
icons_dst="$data_home/icons/hicolor"

# Every icon file we ship, relative to the hicolor folder (e.g. 48x48/apps/encodec-studio.png).
icon_files() { (cd "$icons_src" && find . -name '*.png' -type f | sed 's|^\./||' | sort); }

refresh_caches() {
    if command -v update-mime-database >/dev/null; then
        update-mime-database "$data_home/mime" && say "updated the MIME database"
    else
        say "update-mime-database not found (package shared-mime-info): .ecdc files are recognised after the next login"
    fi
    if command -v update-desktop-database >/dev/null; then
        update-desktop-database "$data_home/applications" && say "updated the desktop database"
    fi
    if command -v gtk-update-icon-cache >/dev/null && [ -d "$icons_dst" ]; then
        gtk-update-icon-cache --force --ignore-theme-index --quiet "$icons_dst" || true
    fi
}

# A path quoted for a desktop file's Exec key: in double quotes, with \ " ` $ escaped.
quote_exec() {
    local s="$1"
    s="${s//\\/\\\\}"
    s="${s//\"/\\\"}"
    s="${s//\`/\\\`}"
    s="${s//\$/\\\$}"
    printf '"%s"' "$s"
}

if [ "$mode" = "uninstall" ]; then
    rm -f "$desktop_dst" "$mime_dst"
    if [ -d "$icons_src" ]; then
        while read -r icon; do rm -f "$icons_dst/$icon"; done < <(icon_files)
    fi
    say "removed ECDC Studio's menu entry, file type and icons from $data_home"
    refresh_caches
    exit 0
fi

for f in "$desktop_src" "$mime_src" "$icons_src"; do
    [ -e "$f" ] || die "$f is missing; run this script from the app bundle or the source tree"
done

if [ -z "$exec_path" ]; then
    if [ -x "$here/../$app_id" ] && [ -f "$here/../$app_id" ]; then
        exec_path="$here/../$app_id"
    elif command -v "$app_id" >/dev/null; then
        exec_path="$(command -v "$app_id")"
    else
        die "cannot find the $app_id executable; pass it with --exec PATH"
    fi
fi
[ -x "$exec_path" ] && [ -f "$exec_path" ] || die "$exec_path is not an executable file"
exec_path="$(cd "$(dirname "$exec_path")" && pwd)/$(basename "$exec_path")"

mkdir -p "$(dirname "$desktop_dst")" "$(dirname "$mime_dst")" "$icons_dst"

# The menu entry, pointed at this executable (Exec and TryExec rewritten, everything else as shipped).
tmp="$(mktemp "$desktop_dst.XXXXXX")"
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
        Exec=*) printf 'Exec=%s %%F\n' "$(quote_exec "$exec_path")" ;;
        TryExec=*) printf 'TryExec=%s\n' "$exec_path" ;;
        *) printf '%s\n' "$line" ;;
    esac
done < "$desktop_src" > "$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$desktop_dst"
say "menu entry: $desktop_dst (runs $exec_path)"

install -m 644 "$mime_src" "$mime_dst"
say "file type $mime_type (*.ecdc): $mime_dst"

count=0
while read -r icon; do
    mkdir -p "$(dirname "$icons_dst/$icon")"
    install -m 644 "$icons_src/$icon" "$icons_dst/$icon"
    count=$((count + 1))
done < <(icon_files)
say "$count icons: $icons_dst"

refresh_caches

if command -v xdg-mime >/dev/null; then
    xdg-mime default "$app_id.desktop" "$mime_type" && say "ECDC Studio now opens .ecdc files by default"
else
    say "xdg-mime not found (package xdg-utils): choose ECDC Studio for .ecdc files in your file manager once"
fi
