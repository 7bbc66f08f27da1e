"""Bitrates, size estimates and human-readable numbers for the settings strip and the queue table."""

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


def format_bytes(n: int | None) -> str:
    if n is None:
        return "—"
    value, unit = float(n), "B"
    for unit in ("B", "KB", "MB", "GB"):  # noqa: B007 - the unit reached is the one we print
        if value < 1000 or unit == "GB":
            break
        value /= 1000
    if unit == "B":
        return f"{n} B"
    return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_kbps(kbps: float) -> str:
    return f"{kbps:g} kbps"


def format_ratio(ratio: float | None) -> str:
    if ratio is None or ratio <= 0 or not math.isfinite(ratio):
        return "—"
    return f"{ratio:.0f}:1" if ratio >= 10 else f"{ratio:.1f}:1"
