"""CompressionQueue orchestration, driven synchronously with a stand-in codec bridge that writes small files.

The real bridge is exercised end to end in test_main_window.py; here the bridge is replaced so each rule
(errors do not stop the queue, overwrite policies, pausing for weights, cancelling) is checked quickly.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.queue_controller import CompressionQueue, CompressSettings, ItemAction, OverwriteChoice
from app.queue_model import ItemKind, ItemState, QueueModel
from app.settings import OverwritePolicy
from app.tasks import TaskRunner
from codec.errors import AudioFormatError, CodecError, WeightsMissing
from codec.fileio import OutputExistsError, atomic_write

SETTINGS = CompressSettings("encodec_24khz", 6.0, False)


class StandInBridge:
    """Probes by file size, 'compresses' by writing the input's first bytes through `atomic_write`."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.missing: set[str] = set()
        self.block = False

    def probe(self, path: Path):
        if "notaudio" in path.name:
            raise AudioFormatError(f"{path.name} is not an audio file soundfile can read.")
        return SimpleNamespace(
            kind="audio",
            duration_s=2.0,
            sample_rate=24_000,
            channels=1,
            size_bytes=path.stat().st_size,
            header=None,
        )

    def compress(self, src, dst, *, model_name, bandwidth, use_lm, overwrite, progress, cancel):
        self.calls.append(
            {"src": src, "dst": dst, "model": model_name, "bandwidth": bandwidth, "overwrite": overwrite}
        )
        if model_name in self.missing:
            raise WeightsMissing(model_name, f"The {model_name} weights are not installed.")
        if "broken" in src.name:
            raise CodecError(f"{src.name} could not be encoded.")
        if dst.exists() and not overwrite:
            raise OutputExistsError(f"Output file {dst} already exists.")
        progress(500, 1000)
        with atomic_write(dst, overwrite) as fo:
            while self.block:
                cancel.raise_if_cancelled()
                threading.Event().wait(0.002)
            fo.write(b"ECDC" + src.read_bytes()[:10])
        progress(1000, 1000)
        return SimpleNamespace(
            dst=dst, input_bytes=src.stat().st_size, output_bytes=dst.stat().st_size, duration_s=2.0
        )


@pytest.fixture
def bridge() -> StandInBridge:
    return StandInBridge()


@pytest.fixture
def queue(qtbot, bridge) -> CompressionQueue:
    return CompressionQueue(QueueModel(), TaskRunner(synchronous=True), bridge)


def files(tmp_path: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        path = tmp_path / name
        path.write_bytes(b"RIFF" + name.encode() * 20)
        paths.append(path)
    return paths


def states(queue: CompressionQueue) -> list[ItemState]:
    return [item.state for item in queue.model.items()]


def test_a_failing_item_is_marked_and_the_rest_of_the_queue_finishes(qtbot, queue, tmp_path):
    queue.add_files(files(tmp_path, "a.wav", "broken.wav", "notaudio.wav", "c.wav"), SETTINGS)
    assert states(queue) == [ItemState.READY, ItemState.READY, ItemState.FAILED, ItemState.READY]
    with qtbot.waitSignal(queue.queue_finished, timeout=1000):
        assert queue.start() == 3
    items = queue.model.items()
    assert states(queue) == [ItemState.DONE, ItemState.FAILED, ItemState.FAILED, ItemState.DONE]
    assert items[1].message == "broken.wav could not be encoded."
    assert "not an audio file" in items[2].message
    assert (tmp_path / "a.ecdc").read_bytes().startswith(b"ECDC")
    assert not (tmp_path / "broken.ecdc").exists()
    assert items[0].output_bytes == (tmp_path / "a.ecdc").stat().st_size
    assert not queue.running


def test_adding_the_same_file_twice_keeps_one_row(queue, tmp_path):
    (a,) = files(tmp_path, "a.wav")
    assert len(queue.add_files([a], SETTINGS)) == 1
    assert queue.add_files([a, tmp_path / "." / "a.wav"], SETTINGS) == []
    assert len(queue.model.items()) == 1


@pytest.mark.parametrize(
    ("policy", "choice", "expected_state", "expected_output", "overwrite"),
    [
        (OverwritePolicy.NEVER, None, ItemState.FAILED, None, None),
        (OverwritePolicy.UNIQUE, None, ItemState.DONE, "a (1).ecdc", False),
        (OverwritePolicy.ASK, OverwriteChoice.OVERWRITE, ItemState.DONE, "a.ecdc", True),
        (OverwritePolicy.ASK, OverwriteChoice.KEEP_BOTH, ItemState.DONE, "a (1).ecdc", False),
        (OverwritePolicy.ASK, OverwriteChoice.SKIP, ItemState.CANCELLED, None, None),
    ],
)
def test_overwrite_policy(
    queue, bridge, tmp_path, policy, choice, expected_state, expected_output, overwrite
):
    (a,) = files(tmp_path, "a.wav")
    existing = tmp_path / "a.ecdc"
    existing.write_bytes(b"old")
    asked: list[Path] = []
    queue.overwrite = policy
    queue.ask_overwrite = lambda path: (asked.append(path), choice)[1]
    queue.add_files([a], SETTINGS)
    queue.start()
    item = queue.model.items()[0]
    assert item.state is expected_state
    assert asked == ([existing] if policy is OverwritePolicy.ASK else [])
    if expected_output is None:
        assert bridge.calls == []
        assert existing.read_bytes() == b"old"
        if policy is OverwritePolicy.NEVER:
            assert "already exists" in item.message
    else:
        assert bridge.calls[0]["dst"] == tmp_path / expected_output
        assert bridge.calls[0]["overwrite"] is overwrite
        assert item.output_path == tmp_path / expected_output
        assert (tmp_path / expected_output).read_bytes().startswith(b"ECDC")


def test_output_folder_is_used_and_created(queue, tmp_path):
    (a,) = files(tmp_path, "a.wav")
    out = tmp_path / "out" / "nested"
    queue.output_dir = out
    queue.add_files([a], SETTINGS)
    queue.start()
    assert (out / "a.ecdc").is_file()
    assert queue.model.items()[0].output_path == out / "a.ecdc"


def test_settings_apply_only_to_items_not_started(queue, tmp_path):
    a, b = files(tmp_path, "a.wav", "b.wav")
    queue.add_files([a, b], SETTINGS)
    first, second = queue.model.items()
    queue.start([first.id])
    changed = queue.apply_settings([first.id, second.id], CompressSettings("encodec_48khz", 12.0, True))
    assert changed == [second.id]
    assert (first.model_name, first.bandwidth) == ("encodec_24khz", 6.0)
    assert (second.model_name, second.bandwidth, second.use_lm) == ("encodec_48khz", 12.0, True)
    queue.apply_settings([second.id], CompressSettings("encodec_32khz", 2.2, True))
    assert second.use_lm is False  # the 32 kHz model has no LM


def test_missing_weights_pause_the_queue_until_resumed(qtbot, queue, bridge, tmp_path):
    a, b = files(tmp_path, "a.wav", "b.wav")
    bridge.missing.add("encodec_24khz")
    queue.add_files([a, b], SETTINGS)
    with qtbot.waitSignal(queue.weights_missing, timeout=1000) as blocker:
        queue.start()
    assert blocker.args[0] == "encodec_24khz"
    assert queue.paused
    assert states(queue) == [ItemState.QUEUED, ItemState.QUEUED]
    assert len(bridge.calls) == 1  # the second item waits instead of failing the same way
    bridge.missing.clear()
    queue.resume()
    assert states(queue) == [ItemState.DONE, ItemState.DONE]


def test_declining_missing_weights_fails_only_the_items_that_need_them(queue, bridge, tmp_path):
    a, b = files(tmp_path, "a.wav", "b.wav")
    bridge.missing.add("encodec_48khz")
    queue.add_files([a], CompressSettings("encodec_48khz", 6.0, False))
    queue.add_files([b], SETTINGS)
    queue.start()
    assert queue.paused
    queue.skip_missing_weights("encodec_48khz", "The encodec_48khz weights are not installed.")
    assert states(queue) == [ItemState.FAILED, ItemState.DONE]
    assert queue.model.items()[0].message == "The encodec_48khz weights are not installed."


def test_failed_compression_can_be_retried_but_unreadable_files_cannot(queue, bridge, tmp_path):
    broken, bad = files(tmp_path, "broken.wav", "notaudio.wav")
    queue.add_files([broken, bad], SETTINGS)
    queue.start()
    assert states(queue) == [ItemState.FAILED, ItemState.FAILED]
    assert queue.compressible_ids() == [queue.model.items()[0].id]


def test_cancel_running_and_queued_items_leaves_no_output(qtbot, bridge, tmp_path):
    queue = CompressionQueue(QueueModel(), TaskRunner(), bridge)
    a, b = files(tmp_path, "a.wav", "b.wav")
    queue.add_files([a, b], SETTINGS)
    qtbot.waitUntil(lambda: states(queue) == [ItemState.READY] * 2, timeout=5000)
    bridge.block = True
    queue.start()
    qtbot.waitUntil(lambda: states(queue)[0] is ItemState.RUNNING, timeout=5000)
    with qtbot.waitSignal(queue.queue_finished, timeout=5000):
        queue.cancel_all()
    assert states(queue) == [ItemState.CANCELLED, ItemState.CANCELLED]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav"]  # no partial or temp file
    assert queue.runner.wait(5000)


def test_ecdc_items_are_not_compressed(queue, tmp_path):
    ecdc = tmp_path / "x.ecdc"
    ecdc.write_bytes(b"ECDC")
    queue.bridge.probe = lambda path: SimpleNamespace(
        kind="ecdc",
        duration_s=3.0,
        sample_rate=24_000,
        channels=1,
        size_bytes=4,
        header=SimpleNamespace(model="encodec_24khz", bandwidth=3.0, use_lm=True, duration_s=3.0),
    )
    queue.add_files([ecdc], SETTINGS)
    item = queue.model.items()[0]
    assert item.kind is ItemKind.ECDC and item.state is ItemState.READY
    assert (item.model_name, item.bandwidth, item.use_lm, item.duration_s) == (
        "encodec_24khz",
        3.0,
        True,
        3.0,
    )
    assert queue.start() == 0
    assert item.ecdc_path == ecdc


def test_a_compressed_item_can_be_saved_elsewhere(qtbot, queue, tmp_path):
    (a,) = files(tmp_path, "a.wav")
    queue.add_files([a], SETTINGS)
    queue.start()
    item = queue.model.items()[0]
    copy = tmp_path / "elsewhere" / "kept.ecdc"
    with qtbot.waitSignal(queue.action_finished, timeout=1000) as blocker:
        queue.save_ecdc_as(item.id, copy)
    assert blocker.args == [item.id, ItemAction.SAVE, copy]
    assert copy.read_bytes() == (tmp_path / "a.ecdc").read_bytes()
    assert item.message == "Saved kept.ecdc" and item.activity is None
    assert [p.name for p in copy.parent.iterdir()] == ["kept.ecdc"]  # no temporary file left


@pytest.mark.parametrize(
    "lm_format, text, tip",
    [("portable", "LM", "Portable LM coding"), ("reference", "LM (reference)", "Reference LM coding")],
)
def test_ecdc_items_say_how_they_are_lm_coded(queue, tmp_path, lm_format, text, tip):
    from PySide6.QtCore import Qt

    from app.queue_model import Column

    ecdc = tmp_path / "x.ecdc"
    ecdc.write_bytes(b"ECDC")
    header = SimpleNamespace(
        model="encodec_24khz", bandwidth=3.0, use_lm=True, duration_s=3.0, lm_format=lm_format
    )
    queue.bridge.probe = lambda path: SimpleNamespace(
        kind="ecdc", duration_s=3.0, sample_rate=24_000, channels=1, size_bytes=4, header=header
    )
    queue.add_files([ecdc], SETTINGS)
    assert queue.model.items()[0].lm_format == lm_format
    index = queue.model.index(0, Column.LM)
    assert queue.model.data(index) == text
    assert queue.model.data(index, Qt.ItemDataRole.ToolTipRole).startswith(tip)
