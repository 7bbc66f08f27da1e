"""`ModelPool`: each EnCodec model and language model loaded once and shared, by the CLI, the jobs, the
queue, the compare ladder and the Live view.

The pool is also where the download rule lives: weights that are not installed are downloaded only by a
pool created with `allow_download=True` (the `ecdc` command, like Meta's `encodec`). Any other pool
raises `codec.errors.WeightsMissing` naming the registry entry, so the app can ask before downloading.

Importing this module is cheap: torch and the model code load on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codec.errors import UnsupportedOptionError
from codec.progress import CancelToken, ProgressCallback
from codec.specs import get_spec

if TYPE_CHECKING:
    from codec.models.encodec import EncodecModel
    from codec.models.lm import LanguageModel


class ModelPool:
    """Loads each EnCodec model and language model once and shares it; safe to use from any thread.

    `weights` / `lm_weights` map model names (full or short: "24khz") to local checkpoint files or HF
    folders, used as given; other models load through `codec.weights`: installed (or adopted from the
    torch / Hugging Face caches) weights, else a download when `allow_download`, else `WeightsMissing`.
    Language models run on `lm_device`, CPU by default: an LM-coded file decodes only where the LM
    computes bit-identical probabilities, and the one-frame-at-a-time LM gains nothing from a GPU.
    `exact` puts the models it loads in the exact mode (codes bit-identical with Meta's `encodec`; slower;
    see docs/ARCHITECTURE.md, "Exactness policy"); None leaves each model's default.
    """

    def __init__(
        self,
        device: str = "cpu",
        weights: dict[str, Path] | None = None,
        lm_weights: dict[str, Path] | None = None,
        lm_device: str = "cpu",
        *,
        allow_download: bool = False,
        exact: bool | None = None,
    ) -> None:
        self.device = device
        self.exact = exact
        self.lm_device = lm_device
        self.allow_download = allow_download
        self.weights = {get_spec(k).name: Path(v) for k, v in (weights or {}).items()}
        self.lm_weights = {get_spec(k).name: Path(v) for k, v in (lm_weights or {}).items()}
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str], threading.Lock] = {}
        self._loaded: dict[tuple[str, str], Any] = {}

    def _get(self, kind: str, name: str, load: Callable[[str], Any]) -> Any:
        key = (kind, get_spec(name).name)
        with self._lock:
            if key in self._loaded:
                return self._loaded[key]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:  # one loader per model; other models load in parallel
            with self._lock:
                if key in self._loaded:
                    return self._loaded[key]
            value = load(key[1])
            with self._lock:
                self._loaded[key] = value
            return value

    def model(
        self, name: str, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> EncodecModel:
        """The EnCodec model `name`, loaded on first use (downloaded only if the pool allows it)."""
        from codec.api import load_model  # noqa: PLC0415

        def load(full: str) -> Any:
            model = load_model(
                full,
                weights=self.weights.get(full),
                device=self.device,
                progress=progress,
                cancel=cancel,
                allow_download=self.allow_download,
            )
            if self.exact is not None:
                model.exact = self.exact
            return model

        return self._get("model", name, load)

    def lm(
        self, name: str, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> LanguageModel:
        """The entropy-coding language model of model `name`, loaded on first use (downloaded only if the
        pool allows it)."""
        from codec.api import load_lm  # noqa: PLC0415

        spec = get_spec(name)
        if not spec.has_lm:
            raise UnsupportedOptionError(f"{spec.name} has no language model for entropy coding.")

        def load(full: str) -> Any:
            weights = self.lm_weights.get(full)
            return load_lm(
                full,
                weights,
                self.lm_device,
                progress=progress,
                cancel=cancel,
                allow_download=self.allow_download,
            )

        return self._get("lm", name, load)

    def loaded(self) -> list[str]:
        """Names of what is in memory, e.g. ["model:encodec_24khz", "lm:encodec_24khz"]."""
        with self._lock:
            return [f"{kind}:{name}" for kind, name in self._loaded]

    def clear(self) -> None:
        """Forget every loaded model (frees memory once no job holds one)."""
        with self._lock:
            self._loaded.clear()
