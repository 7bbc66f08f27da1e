"""Bitrates, size estimates, and bitrates and ratios as text, for the settings strip and the queue table, and
the window's estimate and summary lines built from them (pure functions of the queue's items).

Sizes and durations as text come from `codec.units`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from codec.specs import ModelSpec
from codec.units import format_bytes, format_duration

if TYPE_CHECKING:
    from app.queue_model import QueueItem

#: The LM entropy coder saves roughly a quarter of the bits (the issue's and EnCodec's paper's figure).
LM_SAVING = 0.25
#: Magic, version, JSON metadata: what a `.ecdc` header costs, give or take a few bytes.
HEADER_BYTES = 64


def bitrate_kbps(spec: ModelSpec, bandwidth: float) -> float:
    """The real bitrate at `bandwidth`: codebooks x bits per codebook x frames per second."""
    return spec.codebooks_for_bandwidth(bandwidth) * spec.bits_per_codebook * spec.frame_rate / 1000


def settings_targets(items: Sequence[QueueItem], selected: Sequence[QueueItem]) -> list[QueueItem]:
    """Items the strip's settings apply to: the selected waiting items, else every waiting item."""
    chosen = [item for item in selected if item.is_waiting or item.is_compressible]
    if chosen:
        return chosen
    return [item for item in items if item.is_waiting or item.is_compressible]


def estimate_text(
    spec: ModelSpec,
    bandwidth: float,
    use_lm: bool,
    items: Sequence[QueueItem],
    selected: Sequence[QueueItem],
) -> str:
    """The strip's live line: bitrate of these settings and the estimated size of the items they apply to."""
    parts = [
        f"{format_kbps(bitrate_kbps(spec, bandwidth))} ({spec.codebooks_for_bandwidth(bandwidth)} codebooks"
        f" at {spec.frame_rate} frames/s)"
    ]
    if use_lm:
        parts[0] += " with LM coding"
    targets = [item for item in settings_targets(items, selected) if item.duration_s is not None]
    if targets:
        duration = sum(item.duration_s or 0.0 for item in targets)
        estimate = sum(item.estimated_bytes or 0 for item in targets)
        original = sum(item.size_bytes or 0 for item in targets)
        target_ids = {item.id for item in targets}
        which = "selected" if any(i.id in target_ids for i in selected) else "waiting"
        noun = "file" if len(targets) == 1 else "files"
        text = f"{len(targets)} {which} {noun}, {format_duration(duration)} → ≈{format_bytes(estimate)}"
        if original and estimate:
            text += f" (≈{format_ratio(original / estimate)})"
        parts.append(text)
    elif not items:
        parts.append("add files to see the estimated size")
    return " — ".join(parts)


def summary_text(items: Sequence[QueueItem]) -> str:
    """The line beside the buttons: how many items, to go, done (bytes in → out) and failed; "" when empty."""
    from app.queue_model import ItemState  # noqa: PLC0415 - app.queue_model imports this module

    if not items:
        return ""
    done = [i for i in items if i.state is ItemState.DONE]
    failed = [i for i in items if i.state is ItemState.FAILED]
    running = [i for i in items if i.state in (ItemState.RUNNING, ItemState.QUEUED)]
    parts = [f"{len(items)} in queue"]
    if running:
        parts.append(f"{len(running)} to go")
    if done:
        saved_in = sum(i.size_bytes or 0 for i in done)
        saved_out = sum(i.output_bytes or 0 for i in done)
        parts.append(f"{len(done)} done ({format_bytes(saved_in)} → {format_bytes(saved_out)})")
    if failed:
        parts.append(f"{len(failed)} failed")
    return " · ".join(parts)


def frames_for_duration(spec: ModelSpec, duration_s: float) -> int:
    """Frames the encoder emits for `duration_s` seconds, counting the overlapping chunks of 48 kHz."""
    length = max(0, round(duration_s * spec.sample_rate))
    if spec.segment_length is None or spec.segment_stride is None:
        return spec.frames_for_length(length)
    seg, stride = spec.segment_length, spec.segment_stride
    frames = 0
    for offset in range(0, length, stride):
        frames += spec.frames_for_length(min(seg, length - offset))
    return frames


def estimate_ecdc_bytes(spec: ModelSpec, bandwidth: float, duration_s: float, use_lm: bool = False) -> int:
    """Expected `.ecdc` size for `duration_s` seconds of audio (LM: about `LM_SAVING` smaller)."""
    bits = (
        frames_for_duration(spec, duration_s)
        * spec.codebooks_for_bandwidth(bandwidth)
        * spec.bits_per_codebook
    )
    payload = bits / 8
    if spec.normalize and spec.segment_length:
        payload += 4 * math.ceil(duration_s * spec.sample_rate / (spec.segment_stride or 1))  # one scale each
    if use_lm and spec.has_lm:
        payload *= 1 - LM_SAVING
    return int(HEADER_BYTES + math.ceil(payload))


def format_kbps(kbps: float) -> str:
    return f"{kbps:g} kbps"


def format_ratio(ratio: float | None) -> str:
    if ratio is None or ratio <= 0 or not math.isfinite(ratio):
        return "—"
    return f"{ratio:.0f}:1" if ratio >= 10 else f"{ratio:.1f}:1"
