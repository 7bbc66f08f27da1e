"""PyInstaller hook for PySide6.QtGui, replacing PyInstaller's: the same collection minus plugins the app
never loads and whose dependencies would otherwise be bundled too.

- platformthemes/libqgtk3: links GTK 3, cairo, pango, ...; those would be copied from the build machine and
  shadow the user's own copies. Without it Qt uses its Fusion-based default theme (the xdg-desktop-portal
  theme, kept, still gives native file dialogs inside Flatpak/Snap or with QT_QPA_PLATFORMTHEME).
- platforminputcontexts/libqtvirtualkeyboardplugin: pulls in QtQuick, QtQml and the virtual keyboard.
- imageformats/libqpdf: needs QtPdf.
- embedded-device platforms (eglfs, linuxfb, vnc, vkkhrdisplay, minimalegl) and their EGL device
  integrations: a desktop app runs on xcb or wayland (offscreen and minimal are kept for tests/self-test).
"""

import re

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

_UNUSED_PLUGINS = re.compile(
    r"platformthemes/(lib)?qgtk3"
    r"|platforminputcontexts/(lib)?qtvirtualkeyboardplugin"
    r"|imageformats/(lib)?qpdf"
    r"|platforms/(lib)?q(eglfs|linuxfb|vnc|vkkhrdisplay|minimalegl)\."
    r"|egldeviceintegrations/"
)

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries = [(src, dest) for src, dest in binaries if not _UNUSED_PLUGINS.search(src.replace("\\", "/"))]
