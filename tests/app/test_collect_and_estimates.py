"""Which dropped paths become queue items, and the numbers the strip and the table show."""

from __future__ import annotations

import pytest

from app.estimates import bitrate_kbps, estimate_ecdc_bytes, format_ratio, frames_for_duration
from app.file_collect import collect, local_paths, mime_for_paths
from codec.specs import MODELS
from codec.units import format_bytes, format_duration


def test_folders_are_searched_recursively_for_audio_and_ecdc(tmp_path):
    root = tmp_path / "drop"
    for name in (
        "b.WAV",
        "a.flac",
        "x/c.ogg",
        "x/y/d.mp3",
        "x/e.ecdc",
        "notes.txt",
        ".hidden.wav",
        ".git/f.wav",
    ):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    loose = tmp_path / "loose.wav"
    loose.write_bytes(b"")
    readme = tmp_path / "README.md"
    readme.write_text("hi")

    found = collect([root, loose, readme, root / "a.flac", str(loose)])
    assert [p.relative_to(tmp_path).as_posix() for p in found.files] == [
        "drop/a.flac",
        "drop/b.WAV",
        "drop/x/c.ogg",
        "drop/x/e.ecdc",
        "drop/x/y/d.mp3",
        "loose.wav",
    ]
    assert found.ignored == [readme]


def test_the_app_accepts_every_type_codec_reads(tmp_path):
    # One list (codec.filetypes): the queue, folder scanning and the open dialog used to know 4 of the 11.
    from app.main_window import OPEN_FILTER
    from app.queue_model import ItemKind, kind_for_path
    from codec.filetypes import AUDIO_SUFFIXES, open_dialog_filter

    for suffix in ("b.opus", "c.AIFF", "d.w64", "e.caf", "f.oga", "g.au", "h.aif"):
        (tmp_path / suffix).write_bytes(b"")
    found = collect([tmp_path])
    assert [p.name for p in found.files] == ["b.opus", "c.AIFF", "d.w64", "e.caf", "f.oga", "g.au", "h.aif"]
    assert all(kind_for_path(tmp_path / f"x{suffix}") is ItemKind.AUDIO for suffix in AUDIO_SUFFIXES)
    assert OPEN_FILTER == open_dialog_filter() and "*.w64" in OPEN_FILTER


def test_drag_mime_data_round_trips_local_paths(tmp_path):
    paths = [tmp_path / "a.wav", tmp_path / "folder"]
    assert local_paths(mime_for_paths(paths)) == paths


@pytest.mark.parametrize(
    ("name", "bandwidth", "kbps"),
    [
        ("encodec_24khz", 1.5, 1.5),
        ("encodec_24khz", 24.0, 24.0),
        ("encodec_48khz", 3.0, 3.0),
        ("encodec_48khz", 24.0, 24.0),
        ("encodec_32khz", 2.2, 2.2),
    ],
)
def test_bitrate_is_codebooks_times_bits_times_frame_rate(name, bandwidth, kbps):
    assert bitrate_kbps(MODELS[name], bandwidth) == pytest.approx(kbps)


def test_size_estimate_counts_frames_chunks_and_lm():
    spec24, spec48 = MODELS["encodec_24khz"], MODELS["encodec_48khz"]
    assert frames_for_duration(spec24, 1.0) == 75
    assert estimate_ecdc_bytes(spec24, 6.0, 1.0) == 64 + 750  # 75 frames x 8 codebooks x 10 bits / 8
    # 48 kHz codes 1 s chunks every 0.99 s: 2 s is three chunks, each with its own 4-byte scale.
    assert frames_for_duration(spec48, 2.0) == 150 + 150 + 3
    assert estimate_ecdc_bytes(spec48, 6.0, 2.0) == 64 + 303 * 4 * 10 // 8 + 3 * 4
    lm = estimate_ecdc_bytes(spec24, 6.0, 10.0, use_lm=True)
    plain = estimate_ecdc_bytes(spec24, 6.0, 10.0)
    assert lm - 64 == pytest.approx(0.75 * (plain - 64), abs=1)
    assert estimate_ecdc_bytes(MODELS["encodec_32khz"], 2.2, 10.0, use_lm=True) == estimate_ecdc_bytes(
        MODELS["encodec_32khz"], 2.2, 10.0
    )  # no LM for 32 kHz: nothing to save


def test_human_numbers():
    assert [format_bytes(n) for n in (None, 0, 999, 1000, 12_345, 999_999, 123_456_789, 5 * 10**12)] == [
        "—",
        "0 B",
        "999 B",
        "1.0 kB",  # SI, as everywhere (codec.units); was "KB" here and "kB" in the ladder and CLI
        "12.3 kB",
        "1.0 MB",  # rounded as printed; was "1000 KB"
        "123 MB",
        "5000 GB",
    ]
    assert [format_duration(s) for s in (None, 0.44, 59.9, 61, 3725)] == [
        "—",
        "0.4 s",
        "59.9 s",
        "1:01",
        "1:02:05",
    ]
    assert [format_ratio(r) for r in (None, 0, 4.26, 63.4, float("inf"))] == ["—", "—", "4.3:1", "63:1", "—"]
