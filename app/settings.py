"""What the app remembers between runs, stored with QSettings (tests pass an INI file of their own)."""

from __future__ import annotations

import enum
import math
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from codec.specs import MODELS, ModelSpec

ORGANIZATION = "ECDC Studio"
APPLICATION = "ECDC Studio"
OFFICIAL_DEFAULT_MODEL = "encodec_24khz"
BUNDLED_MODEL = "ecdc_small_24khz"
DEFAULT_BANDWIDTH = {"encodec_24khz": 6.0, "encodec_48khz": 6.0, "encodec_32khz": 2.2, BUNDLED_MODEL: 6.0}


def default_model() -> str:
    """Meta's 24 kHz model when its weights are installed, else the bundled model, which works offline."""
    from codec.weights import has_weights

    return OFFICIAL_DEFAULT_MODEL if has_weights(OFFICIAL_DEFAULT_MODEL) else BUNDLED_MODEL


class OverwritePolicy(enum.Enum):
    NEVER = "never"  # an existing output makes the item fail, untouched
    UNIQUE = "unique"  # write "name (1).ecdc" next to it
    ASK = "ask"  # ask the person each time


OVERWRITE_LABELS = {
    OverwritePolicy.NEVER: "Never overwrite",
    OverwritePolicy.UNIQUE: "Use a unique name",
    OverwritePolicy.ASK: "Ask",
}


def snap_bandwidth(spec: ModelSpec, bandwidth: float) -> float:
    """The model's valid bandwidth nearest to `bandwidth` (ties go to the lower one)."""
    if not math.isfinite(bandwidth):
        return spec.bandwidths[0]
    return min(spec.bandwidths, key=lambda b: (abs(b - bandwidth), b))


class AppSettings:
    """Typed access to the persisted settings; every getter falls back to a sane default."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._s = qsettings if qsettings is not None else QSettings(ORGANIZATION, APPLICATION)

    @classmethod
    def from_file(cls, path: Path) -> AppSettings:
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    def sync(self) -> None:
        self._s.sync()

    def _path(self, key: str) -> Path | None:
        value = self._s.value(key, "")
        return Path(str(value)) if value else None

    def _set_path(self, key: str, path: Path | None) -> None:
        self._s.setValue(key, "" if path is None else str(path))  # "" reads back as None

    @property
    def model(self) -> str:
        name = str(self._s.value("compress/model", "")) or default_model()
        return name if name in MODELS else default_model()

    @model.setter
    def model(self, name: str) -> None:
        self._s.setValue("compress/model", name)

    def bandwidth(self, model: str) -> float:
        """The last bandwidth chosen for `model`, snapped to its valid ones."""
        spec = MODELS[model]
        try:
            value = float(self._s.value(f"compress/bandwidth/{model}", DEFAULT_BANDWIDTH[model]))
        except (TypeError, ValueError):
            value = DEFAULT_BANDWIDTH[model]
        return snap_bandwidth(spec, value)

    def set_bandwidth(self, model: str, bandwidth: float) -> None:
        self._s.setValue(f"compress/bandwidth/{model}", float(bandwidth))

    @property
    def use_lm(self) -> bool:
        return _to_bool(self._s.value("compress/use_lm", False))

    @use_lm.setter
    def use_lm(self, value: bool) -> None:
        self._s.setValue("compress/use_lm", bool(value))

    @property
    def output_dir(self) -> Path | None:
        """None means next to each input."""
        return self._path("output/folder")

    @output_dir.setter
    def output_dir(self, path: Path | None) -> None:
        self._set_path("output/folder", path)

    @property
    def overwrite(self) -> OverwritePolicy:
        try:
            return OverwritePolicy(str(self._s.value("output/overwrite", OverwritePolicy.UNIQUE.value)))
        except ValueError:
            return OverwritePolicy.UNIQUE

    @overwrite.setter
    def overwrite(self, policy: OverwritePolicy) -> None:
        self._s.setValue("output/overwrite", policy.value)

    @property
    def models_dir(self) -> Path | None:
        """The models folder chosen in the Models window; None: the engine's default."""
        return self._path("models/folder")

    @models_dir.setter
    def models_dir(self, path: Path | None) -> None:
        self._set_path("models/folder", path)

    @property
    def last_open_dir(self) -> Path | None:
        return self._path("ui/last_open_dir")

    @last_open_dir.setter
    def last_open_dir(self, path: Path) -> None:
        self._set_path("ui/last_open_dir", path)

    @property
    def geometry(self) -> QByteArray | None:
        value = self._s.value("ui/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._s.setValue("ui/geometry", value)


def _to_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)
