"""Smoke runs of the benchmark harness (bench/) on seconds of audio, so it cannot rot unnoticed.

No timing asserts: the numbers are noise at these lengths. What is checked is that every path runs (ours,
the reference, child processes, the ecdc command, reports, plots) and that both sides make the same bytes.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from bench import bench_memory, bench_speed, common


def test_music_signal_blocks_equal_one_call():
    whole = common.music_signal(1.3, 24_000, 2, seed=3)
    parts = [
        common.music_signal(n / 24_000, 24_000, 2, seed=3, start=offset)
        for offset, n in common.iter_blocks(whole.shape[1], 7_001)
    ]
    assert whole.dtype == np.float32 and whole.shape == (2, 31_200)
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
    assert 0.1 < np.abs(whole).max() < 1.0
    assert not np.array_equal(whole[0], whole[1])


def test_write_music_wav(tmp_path):
    import soundfile as sf

    path = common.write_music_wav(tmp_path / "a.wav", 2.5, 24_000, 1, block_seconds=1.0)
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == 24_000 and data.shape == (60_000, 1)
    np.testing.assert_allclose(data[:, 0], common.music_signal(2.5, 24_000, 1)[0], atol=1 / 32768)


def test_update_doc_section_replaces_only_its_part(tmp_path):
    doc = tmp_path / "B.md"
    doc.write_text("# Benchmarks\n\nIntro stays.\n")
    common.update_doc_section("a", "first A", doc)
    common.update_doc_section("b", "only B", doc)
    common.update_doc_section("a", "second A", doc)
    text = doc.read_text()
    assert "Intro stays." in text and "only B" in text and "second A" in text and "first A" not in text
    assert text.index("second A") < text.index("only B")


def test_machine_info_and_load():
    info = common.machine_info()
    assert info["cores"] and info["torch"] and "/" in info["loadavg"]
    assert common.external_load(0.05) >= 0.0
    assert common.wait_for_quiet(timeout=0) >= 0.0


def test_safe_length_avoids_reference_frame_count_bug():
    # 6720 samples is a segment length for which 0.1.1 reads one frame too many (upstream issue #35).
    assert bench_speed.safe_length("encodec_24khz", 6720 / 24_000) != 6720


def test_speed_targets():
    assert bench_speed.target("encodec_24khz", "short", 1, "encode") == 2.0
    assert bench_speed.target("encodec_24khz", "long", 1, "decode") == 2.0
    assert bench_speed.target("encodec_48khz", "short", 1, "decode") == 1.5
    assert bench_speed.target("encodec_48khz", "long", 1, "encode") == 1.5
    assert bench_speed.target("encodec_48khz", "short", 2, "encode") == 2.0
    assert bench_speed.target("encodec_24khz", "short", 2, "encode") is None
    assert bench_speed.target("encodec_48khz", "lm", 1, "compress") == 4.0


@pytest.mark.slow
def test_speed_harness_end_to_end(tmp_path, capsys):
    args = bench_speed.parse_args(
        [
            "--short", "0.6", "--long", "1.2", "--lm-seconds", "0.4", "--repeats", "1", "--threads", "1",
            "--long-runs", "encodec_24khz:1", "--wait", "0", "--no-docs",
        ]
    )  # fmt: skip
    results = bench_speed.run(args, tmp_path)
    table = bench_speed.rows(results)
    kinds = {(row.model, row.kind, row.op, row.side) for row in table}
    for model in bench_speed.MODELS:
        for op in bench_speed.OPS:
            assert (model, "short", op, bench_speed.OURS) in kinds
        assert (model, "lm", "compress", bench_speed.OURS) in kinds
    assert ("encodec_48khz", "short", "encode", bench_speed.OURS_EXACT) in kinds
    assert ("encodec_24khz", "short", "decode", bench_speed.OURS_EXACT) in kinds
    assert any("exact mode: .ecdc bytes identical" in c for c in results.checks), results.checks
    assert ("encodec_24khz", "long", "decompress", bench_speed.OURS) in kinds
    assert all(row.ratio > 0 for row in table)
    assert results.checks and not any("DIFFERENT" in c or "FAILED" in c for c in results.checks), (
        results.checks
    )
    assert set(results.peaks) == {
        ("encodec_24khz", 1, bench_speed.OURS),
        ("encodec_24khz", 1, bench_speed.REFERENCE),
    }

    text = bench_speed.report_markdown(results, common.machine_info(), args, 1.0)
    assert "ours / reference" in text and "Our speed against file length" in text
    pytest.importorskip("matplotlib")
    assert bench_speed.plot(results, tmp_path / "speed.png").stat().st_size > 1000


def test_memory_measure_reports_the_childs_peak_and_enforces_the_cap():
    touch = "x = bytearray(80_000_000); x[::4096] = b'1' * len(x[::4096])"
    hook = f"import sys; sys.path.insert(0, {str(common.REPO)!r}); import bench.common as c; c.report_peak_at_exit()"
    peak, seconds, code, killed, _ = bench_memory.measure(
        [sys.executable, "-c", f"{hook}; {touch}"], rss_cap_mb=1e6
    )
    assert code == 0 and not killed and 80 < peak < 500 and seconds > 0
    peak, _, code, killed, _ = bench_memory.measure(
        [sys.executable, "-c", "import time; x = bytearray(200_000_000); x[::4096] = b'1' * len(x[::4096]); "
         "time.sleep(30)"],
        rss_cap_mb=100,
        poll=0.05,
    )  # fmt: skip
    assert killed and code != 0


@pytest.mark.slow
def test_memory_harness_end_to_end(tmp_path):
    args = bench_memory.parse_args(
        ["--minutes", "0.02", "0.04", "--reference-minutes", "0.02", "--wait", "0", "--no-docs"]
    )
    runs = bench_memory.run(args, tmp_path)
    assert [(r.side, r.op, r.minutes) for r in runs] == [
        (bench_memory.OURS, "compress", 0.02),
        (bench_memory.OURS, "decompress", 0.02),
        (bench_memory.REFERENCE, "compress", 0.02),
        (bench_memory.REFERENCE, "decompress", 0.02),
        (bench_memory.OURS, "compress", 0.04),
        (bench_memory.OURS, "decompress", 0.04),
    ]
    assert all(r.ok and r.peak_mb > 50 for r in runs), runs
    assert not list(tmp_path.glob("music_*"))  # inputs and outputs are deleted after each length
    text = bench_memory.report_markdown(runs, common.machine_info(), args, 1.0)
    assert "peak RSS" in text and "growth 0.02 → 0.04 min" in text
    pytest.importorskip("matplotlib")
    assert bench_memory.plot(runs, tmp_path / "memory.png").stat().st_size > 1000


def test_bench_realtime_runs_its_paths():
    import torch

    from bench import bench_realtime
    from codec.models.encodec import EncodecModel

    model = EncodecModel.random("encodec_24khz", seed=4)
    audio = torch.from_numpy(common.music_signal(0.5, 24_000, 1, seed=3))
    with torch.inference_mode():
        rtf, others = bench_realtime.streaming_rtf(model, audio, 640, 6.0)
        file_rtf, _ = bench_realtime.file_rtf(model, audio, 6.0)
    assert rtf > 0 and file_rtf > 0 and others >= 0


def test_portable_size_bench_codes_both_formats(tmp_path, capsys):
    import torch

    from bench import bench_portable
    from codec.models.lm import LanguageModel
    from codec.specs import get_spec

    for name in ("encodec_24khz", "encodec_48khz"):
        torch.save(LanguageModel.random(get_spec(name), seed=1).state_dict(), tmp_path / "lm.th")
        generator = torch.Generator().manual_seed(0)
        codes = [torch.randint(0, 1024, (2, n), generator=generator) for n in (40, 310)]
        torch.save(codes, tmp_path / "codes.pt")
        bench_portable.sizes(tmp_path / "lm.th", tmp_path / "codes.pt", name)
        out = capsys.readouterr().out
        assert "2 code sequences, 350 frames" in out and "portable LM (version 1)" in out


def test_profile_groups_ops_and_profiles_every_side(tmp_path):
    from bench import bench_profile

    assert bench_profile.kind_of("aten::mkldnn_convolution") == "convolutions"
    assert bench_profile.kind_of("aten::mkldnn_rnn_layer") == "LSTM"
    assert bench_profile.kind_of("aten::elu") == "ELU"
    assert bench_profile.kind_of("aten::cat") == "padding and copies"
    assert bench_profile.kind_of("aten::add") == bench_profile.OTHER
    table = bench_profile.run(["encodec_24khz"], 0.5, tmp_path)
    assert [row[1] for row in table] == [
        side for side in ("ours (fast default)", "ours, exact mode", "reference") for _ in "ed"
    ]
    assert all(row[-1].startswith("**") for row in table)
