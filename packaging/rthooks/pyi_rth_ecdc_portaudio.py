"""Run-time hook (Linux): make sounddevice load the PortAudio library shipped in the bundle.

sounddevice finds PortAudio with `ctypes.util.find_library("portaudio")`, which on Linux asks ldconfig and
the compiler, never the bundle's folder, so a frozen app would use the system's library or fail where none
is installed. This hook answers that one lookup with the bundled `libportaudio.so.2`; every other name goes
to the original function. Set ECDC_STUDIO_SYSTEM_PORTAUDIO=1 to use the system's library instead.
"""


def _pyi_rthook():
    import ctypes.util
    import os
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("ECDC_STUDIO_SYSTEM_PORTAUDIO"):
        return
    bundled = os.path.join(sys._MEIPASS, "libportaudio.so.2")
    if not os.path.isfile(bundled):
        return
    original = ctypes.util.find_library

    def find_library(name):
        if name == "portaudio":
            return bundled
        return original(name)

    ctypes.util.find_library = find_library


_pyi_rthook()
del _pyi_rthook
