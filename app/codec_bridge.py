"""The app's one door into the engine, `codec`: a `ModelPool` created on first use and thin wrappers of
`codec.jobs`.

The pool never downloads: a job whose weights are not installed raises `codec.errors.WeightsMissing`
(the queue pauses and the window asks), and so does the compare ladder or the Live view.

Everything here that touches models imports torch (through `codec.jobs`) on first call, so call it from a
`TaskRunner` worker, never from the UI thread. `CodecBridge.pool_if_loaded()` is the UI-thread-safe way to
peek at the pool.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codec.progress import CancelToken, ProgressCallback

if TYPE_CHECKING:
    import numpy as np

    from codec.jobs import JobResult, MediaInfo
    from codec.model_pool import ModelPool


_torch_import_lock = threading.Lock()
_TORCH_LIBRARIES = ("libc10.so", "libgomp*.so*", "libtorch_cpu.so", "libtorch.so", "libtorch_python.so")


def _preload_torch_libraries() -> None:
    """dlopen torch's big shared libraries through a ctypes call, which releases the GIL.

    `import torch` loads them from inside the import machinery with the GIL held, freezing the UI thread
    for a few hundred milliseconds; loaded this way first, the import finds them already mapped.
    Linux only (elsewhere the import simply pays the cost); failures are ignored.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes  # noqa: PLC0415

        spec = importlib.util.find_spec("torch")
        if spec is None or not spec.submodule_search_locations:
            return
        lib_dir = Path(next(iter(spec.submodule_search_locations))) / "lib"
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
        dlopen.restype = ctypes.c_void_p
        dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
        for pattern in _TORCH_LIBRARIES:
            for path in sorted(lib_dir.glob(pattern)):
                dlopen(str(path).encode(), os.RTLD_NOW | os.RTLD_LOCAL)  # GIL released during the call
    except (OSError, AttributeError, ValueError):
        pass


def import_torch_quietly() -> None:
    """Import torch on a worker thread without stalling the UI thread.

    Besides preloading the libraries, the garbage collector is paused during the import (a full
    collection over torch's freshly created objects holds the GIL for 100-200 ms) and the objects that
    exist afterwards are frozen out of later collections.
    """
    if "torch" in sys.modules:
        return
    with _torch_import_lock:
        if "torch" in sys.modules:
            return
        _preload_torch_libraries()
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            import torch  # noqa: F401, PLC0415
        finally:
            gc.freeze()
            if was_enabled:
                gc.enable()


def worker_torch_threads(cpu_count: int | None = None) -> int:
    """Intra-op threads for the model worker: every core but one, which stays free for the UI thread."""
    cpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, cpus - 1)


class CodecBridge:
    """Owns the `ModelPool` shared by the queue, the players and the compare window."""

    def __init__(self, device: str = "cpu") -> None:
        self._device = device
        self._pool: ModelPool | None = None
        self._lock = threading.Lock()

    @property
    def device(self) -> str:
        return self._device

    def pool(self) -> ModelPool:
        """The shared pool, created (and torch imported and configured) on first call: worker threads only."""
        with self._lock:
            if self._pool is None:
                import_torch_quietly()
                import torch  # noqa: PLC0415 - deferred so the window shows before torch loads

                torch.set_num_threads(worker_torch_threads())
                from codec.model_pool import ModelPool  # noqa: PLC0415

                # Never downloads: a missing model raises WeightsMissing, and the app asks first.
                self._pool = ModelPool(device=self._device, allow_download=False)
            return self._pool

    def pool_if_loaded(self) -> ModelPool | None:
        return self._pool

    def probe(self, path: Path) -> MediaInfo:
        from codec.jobs import probe  # noqa: PLC0415

        return probe(path)

    def compress(
        self,
        src: Path,
        dst: Path,
        *,
        model_name: str,
        bandwidth: float,
        use_lm: bool,
        overwrite: bool,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> JobResult:
        from codec.audio import info_audio  # noqa: PLC0415
        from codec.jobs import compress_file  # noqa: PLC0415

        # A file that is not audio fails its row before torch loads, rather than pausing the queue for weights.
        info_audio(src)
        return compress_file(
            src,
            dst,
            pool=self.pool(),
            model_name=model_name,
            bandwidth=bandwidth,
            use_lm=use_lm,
            overwrite=overwrite,
            progress=progress,
            cancel=cancel,
        )

    def decompress(
        self,
        src: Path,
        dst: Path,
        *,
        subtype: str = "PCM_16",
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Any:
        from codec.jobs import decompress_file  # noqa: PLC0415

        return decompress_file(
            src, dst, pool=self.pool(), subtype=subtype, overwrite=overwrite, progress=progress, cancel=cancel
        )

    def decode(
        self, src: Path, *, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> tuple[np.ndarray, int]:
        from codec.jobs import decode_file  # noqa: PLC0415

        return decode_file(src, pool=self.pool(), progress=progress, cancel=cancel)
