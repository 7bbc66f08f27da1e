"""The window's estimate and summary lines, as pure functions of queue items (no window needed)."""

from __future__ import annotations

from pathlib import Path

from app.estimates import estimate_text, settings_targets, summary_text
from app.queue_model import ItemKind, ItemState, QueueItem
from codec.specs import MODELS

SPEC = MODELS["encodec_24khz"]


def item(item_id: int, state: ItemState = ItemState.READY, **fields: object) -> QueueItem:
    defaults: dict = dict(duration_s=10.0, size_bytes=480_000)  # 10 s of 16-bit mono at 24 kHz
    defaults.update(fields)
    kind = defaults.pop("kind", ItemKind.AUDIO)
    return QueueItem(item_id, Path(f"{item_id}.wav"), kind, SPEC.name, 6.0, state=state, **defaults)


def test_settings_apply_to_the_selected_waiting_items_else_to_every_waiting_item():
    ready, done, queued = item(1), item(2, ItemState.DONE), item(3, ItemState.QUEUED)
    items = [ready, done, queued]
    assert settings_targets(items, [queued]) == [queued]
    assert settings_targets(items, [done]) == [ready, queued]  # a finished selection: the waiting ones
    assert settings_targets(items, []) == [ready, queued]
    assert settings_targets([done], []) == []


def test_estimate_line_names_the_bitrate_and_the_size_of_its_targets():
    ready, other = item(1), item(2)
    head = "6 kbps (8 codebooks at 75 frames/s)"
    assert estimate_text(SPEC, 6.0, False, [], []) == f"{head} — add files to see the estimated size"
    assert estimate_text(SPEC, 6.0, False, [ready, other], [ready]) == (
        f"{head} — 1 selected file, 10.0 s → ≈7.6 kB (≈63:1)"  # 64 header bytes + 75 x 8 x 10 bits / 8 x 10
    )
    assert estimate_text(SPEC, 6.0, False, [ready, other], []) == (
        f"{head} — 2 waiting files, 20.0 s → ≈15.1 kB (≈63:1)"
    )
    unprobed = item(3, duration_s=None)
    assert estimate_text(SPEC, 6.0, False, [unprobed], []) == head  # nothing to estimate yet
    bundled = MODELS["ecdc_small_24khz"]
    assert (
        estimate_text(bundled, bundled.bandwidths[0], True, [], [])
        .split(" — ")[0]
        .endswith(" with LM coding")
    )


def test_summary_counts_the_queue_and_what_the_done_items_saved():
    assert summary_text([]) == ""
    items = [
        item(1, ItemState.DONE, output_bytes=7_564),
        item(2, ItemState.DONE, output_bytes=7_564),
        item(3, ItemState.RUNNING),
        item(4, ItemState.QUEUED),
        item(5, ItemState.FAILED),
        item(6),
    ]
    assert summary_text(items) == "6 in queue · 2 to go · 2 done (960 kB → 15.1 kB) · 1 failed"
    assert summary_text([item(1)]) == "1 in queue"
