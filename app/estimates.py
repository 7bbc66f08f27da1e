"""Bitrates, size estimates, and bitrates and ratios as text, for the settings strip and the queue table.

Sizes and durations as text come from `codec.units`.
"""

from __future__ import annotations

import math

from codec.specs import ModelSpec

#: The LM entropy coder saves roughly a quarter of the bits (the issue's and EnCodec's paper's figure).
LM_SAVING = 0.25
#: Magic, version, JSON metadata: what a `.ecdc` header costs, give or take a few bytes.
HEADER_BYTES = 64


def bitrate_kbps(spec: ModelSpec, bandwidth: float) -> float:
    """The real bitrate at `bandwidth`: codebooks x bits per codebook x frames per second."""
    return spec.codebooks_for_bandwidth(bandwidth) * spec.bits_per_codebook * spec.frame_rate / 1000


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
