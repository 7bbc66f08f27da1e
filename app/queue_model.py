"""The queue as data: `QueueItem` records and `QueueModel`, the table model the queue view shows.

The model only stores and formats; `app.queue_controller.CompressionQueue` decides what runs and writes
results back through `QueueModel.update`.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from app.estimates import estimate_ecdc_bytes, format_ratio
from codec.filetypes import file_kind
from codec.specs import MODELS, format_bandwidth
from codec.units import format_bytes, format_duration


class ItemKind(enum.Enum):
    AUDIO = "audio"  # a file to compress
    ECDC = "ecdc"  # an opened `.ecdc`: decode, play, export


class ItemState(enum.Enum):
    PROBING = "Reading…"
    READY = "Ready"
    QUEUED = "Queued"
    RUNNING = "Compressing"
    DONE = "Done"
    FAILED = "Error"
    CANCELLED = "Cancelled"


FINISHED_STATES = frozenset({ItemState.DONE, ItemState.FAILED, ItemState.CANCELLED})


class Column(enum.IntEnum):
    FILE = 0
    DURATION = 1
    MODEL = 2
    BANDWIDTH = 3
    LM = 4
    STATUS = 5
    SIZE = 6
    RATIO = 7


HEADERS = {
    Column.FILE: "File",
    Column.DURATION: "Duration",
    Column.MODEL: "Model",
    Column.BANDWIDTH: "Bandwidth",
    Column.LM: "LM",
    Column.STATUS: "Status",
    Column.SIZE: "Size",
    Column.RATIO: "Ratio",
}

#: Data role of the STATUS column: progress in [0, 1] while a job runs, else None.
PROGRESS_ROLE = int(Qt.ItemDataRole.UserRole) + 1
#: Data role of every column: the row's `QueueItem.id`.
ITEM_ID_ROLE = int(Qt.ItemDataRole.UserRole) + 2

_ERROR_COLOR = QColor(190, 30, 30)
_DONE_COLOR = QColor(30, 120, 50)


@dataclass
class QueueItem:
    """One row: an input file, the settings it will be (or was) compressed with, and how it went."""

    id: int
    path: Path
    kind: ItemKind
    model_name: str
    bandwidth: float
    use_lm: bool = False
    lm_format: str | None = None  # "portable" / "reference" once known (from the .ecdc header or the job)
    state: ItemState = ItemState.PROBING
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    size_bytes: int | None = None
    output_path: Path | None = None
    output_bytes: int | None = None
    progress: float = 0.0
    message: str = ""  # the error, or a note such as "Exported to x.wav"
    activity: str | None = None  # a secondary job on this row ("Exporting", "Decoding"), with `progress`
    seconds_taken: float | None = None  # how long the compression took

    @property
    def spec_known(self) -> bool:
        return self.model_name in MODELS

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def is_busy(self) -> bool:
        return self.state is ItemState.RUNNING or self.activity is not None

    @property
    def is_compressible(self) -> bool:
        return self.kind is ItemKind.AUDIO and self.state in (ItemState.READY, ItemState.CANCELLED)

    @property
    def is_waiting(self) -> bool:
        """Not started yet: its settings may still change."""
        return self.kind is ItemKind.AUDIO and self.state in (
            ItemState.PROBING,
            ItemState.READY,
            ItemState.QUEUED,
        )

    @property
    def ecdc_path(self) -> Path | None:
        """The `.ecdc` this row can decode, play or export: the opened file, or the compressed output."""
        if self.kind is ItemKind.ECDC and self.state is ItemState.READY:
            return self.path
        if self.kind is ItemKind.AUDIO and self.state is ItemState.DONE and self.output_path is not None:
            return self.output_path
        return None

    @property
    def estimated_bytes(self) -> int | None:
        if self.duration_s is None or not self.spec_known:
            return None
        return _estimate(self.model_name, self.bandwidth, self.duration_s, self.use_lm)

    @property
    def ratio(self) -> float | None:
        """Original size / compressed size (for an opened `.ecdc`: 16-bit PCM at its rate / its size)."""
        if self.kind is ItemKind.ECDC:
            if self.duration_s is None or not self.size_bytes or not self.spec_known:
                return None
            spec = MODELS[self.model_name]
            return self.duration_s * spec.sample_rate * spec.channels * 2 / self.size_bytes
        if self.size_bytes and self.output_bytes:
            return self.size_bytes / self.output_bytes
        return None


def model_label(name: str) -> str:
    spec = MODELS.get(name)
    if spec is None:
        return name or "—"
    label = f"{spec.sample_rate // 1000} kHz {'stereo' if spec.channels == 2 else 'mono'}"
    return label if spec.official else f"{spec.sample_rate // 1000} kHz (ours)"  # never taken for Meta's


def lm_format_text(lm_format: str | None) -> str:
    """What an LM-coded item's format means for the person holding the file."""
    if lm_format == "reference":
        return (
            "Reference LM coding (.ecdc version 0): readable by Meta's encodec, but it decodes only where "
            "the language model rounds exactly as it did when the file was written"
        )
    return (
        "Portable LM coding (.ecdc version 1): decodes identically on any machine; checksummed, so damage "
        "loses only the damaged seconds"
    )


def status_text(item: QueueItem) -> str:
    if item.activity is not None:
        return f"{item.activity} {round(100 * item.progress)} %"
    if item.state is ItemState.RUNNING:
        return f"Compressing {round(100 * item.progress)} %"
    if item.state is ItemState.FAILED:
        return f"Error: {item.message}" if item.message else "Error"
    if item.message:
        return f"{item.state.value} · {item.message}" if item.kind is ItemKind.AUDIO else item.message
    if item.state is ItemState.DONE and item.seconds_taken is not None:
        return f"Done in {format_duration(item.seconds_taken)}"
    if item.kind is ItemKind.ECDC and item.state is ItemState.READY:
        return "Ready to decode"
    return item.state.value


def size_text(item: QueueItem) -> str:
    if item.kind is ItemKind.ECDC:
        return format_bytes(item.size_bytes)
    if item.output_bytes is not None:
        return f"{format_bytes(item.size_bytes)} → {format_bytes(item.output_bytes)}"
    estimate = item.estimated_bytes
    if item.size_bytes is None:
        return "—"
    if estimate is None or item.state is ItemState.FAILED:
        return format_bytes(item.size_bytes)
    return f"{format_bytes(item.size_bytes)} → ≈{format_bytes(estimate)}"


def ratio_text(item: QueueItem) -> str:
    ratio = item.ratio
    if ratio is not None:
        return format_ratio(ratio)
    estimate = item.estimated_bytes
    if item.kind is ItemKind.AUDIO and item.size_bytes and estimate and item.state is not ItemState.FAILED:
        return "≈" + format_ratio(item.size_bytes / estimate)
    return "—"


class QueueModel(QAbstractTableModel):
    """Rows of `QueueItem`s, in the order they were added."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[QueueItem] = []
        self._ids = itertools.count(1)
        # Indexes, so that a drop of thousands of files costs linear time, not quadratic.
        self._rows: dict[int, int] = {}  # item id -> row
        self._keys: dict[str, int] = {}  # resolved path -> item id

    # --- Qt model interface -------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(Column)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(item, column)
        if role == ITEM_ID_ROLE:
            return item.id
        if role == PROGRESS_ROLE and column is Column.STATUS:
            return item.progress if item.is_busy else None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is Column.FILE:
                return str(item.path)
            if column is Column.STATUS:
                text = status_text(item)
                if item.output_path is not None:
                    text += f"\nOutput: {item.output_path}"
                return text
            if column is Column.RATIO and item.kind is ItemKind.ECDC:
                return "Compared with 16-bit PCM at the model's sample rate"
            if column is Column.LM and item.use_lm:
                return lm_format_text(item.lm_format)
            return None
        if role == Qt.ItemDataRole.ForegroundRole and column is Column.STATUS:
            if item.state is ItemState.FAILED:
                return QBrush(_ERROR_COLOR)
            if item.state is ItemState.DONE:
                return QBrush(_DONE_COLOR)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            Column.DURATION,
            Column.BANDWIDTH,
            Column.SIZE,
            Column.RATIO,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(item: QueueItem, column: Column) -> str:
        if column is Column.FILE:
            return item.path.name
        if column is Column.DURATION:
            return format_duration(item.duration_s)
        unreadable = item.state is ItemState.FAILED and item.duration_s is None
        if column is Column.MODEL:
            return "—" if unreadable else model_label(item.model_name)
        if column is Column.BANDWIDTH:
            return f"{format_bandwidth(item.bandwidth)} kbps" if item.bandwidth and not unreadable else "—"
        if column is Column.LM:
            if not item.use_lm or unreadable:
                return "—"
            return "LM (reference)" if item.lm_format == "reference" else "LM"
        if column is Column.STATUS:
            return status_text(item)
        if column is Column.SIZE:
            return size_text(item)
        return ratio_text(item)

    # --- queue interface ----------------------------------------------------------------------------------
    def items(self) -> list[QueueItem]:
        return list(self._items)

    def item(self, item_id: int) -> QueueItem | None:
        row = self._rows.get(item_id)
        return None if row is None else self._items[row]

    def item_at(self, row: int) -> QueueItem:
        return self._items[row]

    def row_of(self, item_id: int) -> int:
        return self._rows.get(item_id, -1)

    def contains(self, path: Path) -> bool:
        return path_key(path) in self._keys

    def add(self, path: Path, kind: ItemKind, model_name: str, bandwidth: float, use_lm: bool) -> QueueItem:
        return self.add_many([(path, kind)], model_name, bandwidth, use_lm)[0]

    def add_many(
        self,
        entries: list[tuple[Path, ItemKind]],
        model_name: str,
        bandwidth: float,
        use_lm: bool,
        keys: list[str] | None = None,
    ) -> list[QueueItem]:
        """Append rows for `entries` not already in the queue (or twice in `entries`), in one insertion.
        `keys` are the entries' `path_key`s when a worker computed them already (they cost a few syscalls)."""
        items: list[QueueItem] = []
        new_keys: list[str] = []
        batch: set[str] = set()
        for index, (path, kind) in enumerate(entries):
            key = keys[index] if keys is not None else path_key(path)
            if key in self._keys or key in batch:
                continue
            batch.add(key)
            new_keys.append(key)
            items.append(
                QueueItem(
                    id=next(self._ids),
                    path=Path(path),
                    kind=kind,
                    model_name=model_name,
                    bandwidth=bandwidth,
                    use_lm=use_lm,
                )
            )
        if not items:
            return []
        first = len(self._items)
        self.beginInsertRows(QModelIndex(), first, first + len(items) - 1)
        for offset, (item, key) in enumerate(zip(items, new_keys)):
            self._items.append(item)
            self._rows[item.id] = first + offset
            self._keys[key] = item.id
        self.endInsertRows()
        return items

    def update(self, item_id: int, **changes: Any) -> QueueItem | None:
        """Set fields of one item and repaint its row; unknown ids (removed rows) are ignored."""
        row = self.row_of(item_id)
        if row < 0:
            return None
        item = self._items[row]
        for name, value in changes.items():
            if not hasattr(item, name) or name == "id":
                raise AttributeError(f"QueueItem has no settable field {name!r}")
            setattr(item, name, value)
        # createIndex: index() goes through rowCount()/columnCount() in Python, ~50 us a call.
        self.dataChanged.emit(self.createIndex(row, 0), self.createIndex(row, len(Column) - 1))
        return item

    def remove(self, item_ids: set[int] | list[int]) -> int:
        """Remove rows by id (busy rows stay); returns how many went."""
        wanted = set(item_ids)
        removed = 0
        for row in reversed(range(len(self._items))):
            item = self._items[row]
            if item.id in wanted and not item.is_busy:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._items[row]
                self._rows = {kept.id: i for i, kept in enumerate(self._items)}
                self._keys = {k: i for k, i in self._keys.items() if i != item.id}
                self.endRemoveRows()
                removed += 1
        return removed

    def snapshot(self, item_id: int) -> QueueItem | None:
        """A copy of one item, safe to hand to a worker thread."""
        item = self.item(item_id)
        return None if item is None else dataclasses.replace(item)


@functools.lru_cache(maxsize=16_384)
def _estimate(model_name: str, bandwidth: float, duration_s: float, use_lm: bool) -> int:
    # Cached: the window sums the estimates of every queued row several times a second.
    return estimate_ecdc_bytes(MODELS[model_name], bandwidth, duration_s, use_lm)


def path_key(path: Path) -> str:
    """What makes two paths the same queue entry (symlinks and `..` resolved)."""
    try:
        return str(Path(path).resolve())
    except OSError:
        return str(Path(path).absolute())


def kind_for_path(path: Path) -> ItemKind | None:
    """AUDIO or ECDC by extension (`codec.filetypes`: what `codec` reads); None for anything else."""
    kind = file_kind(path)
    return None if kind is None else ItemKind(kind)
