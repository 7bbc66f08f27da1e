"""Smoke run of bench/bench_tokenize.py on a handful of short clips (no timing asserts)."""

from __future__ import annotations

import pytest

pytest.importorskip("pyarrow")

from bench import bench_tokenize, common  # noqa: E402


def test_api_engines_memory_and_report(tmp_path):
    api = bench_tokenize.bench_api("encodec_24khz", "cpu", clips=3, low=0.2, high=0.4, rounds=1)
    assert [row["what"] for row in api][0] == "model.encode, one clip at a time"
    corpus = tmp_path / "corpus"
    seconds = bench_tokenize.make_corpus(corpus, 3, 0.2, 0.4, "encodec_24khz")
    executors = bench_tokenize.bench_executors("encodec_24khz", "cpu", corpus, ["inline"], tmp_path)
    assert executors[0]["audio_s"] == pytest.approx(seconds, rel=1e-3)
    memory = bench_tokenize.bench_memory("encodec_24khz", 5, tmp_path)
    assert memory[-1]["clips"] == 5 and memory[-1]["rss_mb"] > 0
    result = {"clips": 3, "seconds": "0.2-0.4", "model": "encodec_24khz", "device": "cpu", "audio_s": seconds}
    result.update(machine=common.machine_info(), api=api, executors=executors, memory=memory)
    text = bench_tokenize.report(result)
    assert "| inline | 1 |" in text and "encode_batch, batch 8 (exact)" in text and "RSS" in text
