"""`ecdc info FILE...`: describe `.ecdc` and audio files from their headers (as text or JSON lines)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from codec.cli.messages import PROG, about
from codec.errors import CodecError
from codec.specs import MODELS, format_bandwidth
from codec.units import format_bytes, format_duration


def _info_record(path: Path) -> dict[str, Any]:
    from codec.jobs import probe  # noqa: PLC0415

    info = probe(path)
    record: dict[str, Any] = {
        "file": str(path),
        "kind": info.kind,
        "size_bytes": info.size_bytes,
        "duration_s": round(info.duration_s, 6),
        "sample_rate": info.sample_rate,
        "channels": info.channels,
        "bitrate_kbps": round(info.bitrate_kbps, 3),
    }
    if info.header is not None:
        header = info.header
        record.update(
            model=header.model,
            bandwidth_kbps=header.bandwidth,
            num_codebooks=header.num_codebooks,
            lm=header.use_lm,
            lm_format=header.lm_format,
            format_version=header.version,
            samples=header.length,
            header_bytes=header.header_size,
        )
    else:
        record.update(format=info.format, samples=info.frames)
    return record


def _print_info(record: dict[str, Any], out: TextIO) -> None:
    rows = [("file", record["file"])]
    if record["kind"] == "ecdc":
        spec = MODELS.get(record["model"])
        title = f" ({spec.title})" if spec else ""
        rows += [
            ("model", f"{record['model']}{title}"),
            (
                "bandwidth",
                f"{format_bandwidth(record['bandwidth_kbps'])} kbps ({record['num_codebooks']} codebooks)",
            ),
            ("LM coding", _lm_description(record)),
        ]
    else:
        rows.append(("format", record["format"]))
    channels = "mono" if record["channels"] == 1 else f"{record['channels']} channels"
    rows += [
        ("duration", f"{format_duration(record['duration_s'], 2)} ({record['samples']} samples)"),
        ("audio", f"{record['sample_rate']} Hz, {channels}"),
    ]
    size = format_bytes(record["size_bytes"])
    if record["kind"] == "ecdc":
        size += f" (header {format_bytes(record['header_bytes'])})"
        raw = record["samples"] * record["channels"] * 2
        if record["size_bytes"]:
            size += f"; 16-bit PCM would be {format_bytes(raw)}, {raw / record['size_bytes']:.1f}:1"
    rows += [("size", size), ("bitrate", f"{record['bitrate_kbps']:.2f} kbps")]
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        out.write(f"{key:<{width}}  {value}\n")


def _lm_description(record: dict[str, Any]) -> str:
    if not record["lm"]:
        return "no"
    if record.get("lm_format") == "portable":
        return "yes, portable (version 1: decodes identically on any machine, checksummed)"
    return "yes, reference (version 0: decodes only where the LM rounds as it did when writing)"


def run_info(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    failures = 0
    for i, path in enumerate(args.files):
        try:
            record = _info_record(path)
        except CodecError as exc:
            failures += 1
            stderr.write(f"{PROG}: error: {about(path, exc)}\n")
            continue
        if args.json:
            stdout.write(json.dumps(record) + "\n")
        else:
            if i:
                stdout.write("\n")
            _print_info(record, stdout)
    return 1 if failures else 0
