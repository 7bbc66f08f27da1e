"""Tokenizing folders, file lists and `datasets` datasets: codes equal `model.encode` clip by clip,
shards load with datasets / pyarrow / pandas, runs resume, bad files land in the errors table."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

pytest.importorskip("pyarrow")

import pyarrow.parquet as pq  # noqa: E402

from codec.api import load_model  # noqa: E402
from codec.audio import convert_audio, read_audio  # noqa: E402
from codec.cli.main import main  # noqa: E402
from codec.errors import Cancelled  # noqa: E402
from codec.progress import CancelToken  # noqa: E402
from codec.tokenize import TokenizeConfig, TokenizeError, encoded_of, tokenize  # noqa: E402
from codec.tokenize.sources import SourceError  # noqa: E402
from tests.oracles import torch_threads


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


def _write(path: Path, rate: int, channels: int, seconds: float, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sf.write(path, (0.2 * rng.standard_normal((int(rate * seconds), channels))).astype(np.float32), rate)
    return path


@pytest.fixture
def corpus(tmp_path) -> Path:
    """Mixed rates, mono and stereo, a subfolder, lengths from 0.05 to 1.3 s, one broken file."""
    root = tmp_path / "corpus"
    specs = [(16_000, 1, 0.3), (24_000, 2, 1.3), (44_100, 1, 0.05), (48_000, 2, 0.7), (22_050, 1, 1.05)]
    for i, (rate, channels, seconds) in enumerate(specs):
        _write(
            root / ("sub" if i % 2 else "") / f"clip{i}.{'flac' if i == 3 else 'wav'}",
            rate,
            channels,
            seconds,
            i,
        )
    (root / "broken.wav").write_bytes(b"RIFF....WAVE not really")
    (root / "notes.txt").write_text("not audio, not listed")
    return root


def _expected(model, path: Path, bandwidth: float):
    audio, rate = read_audio(path)
    converted = convert_audio(audio, rate, model.spec.sample_rate, model.spec.channels)
    return model.encode(torch.from_numpy(converted), bandwidth)


def _assert_rows_match(rows, model, files: dict[str, Path], bandwidth: float) -> None:
    assert sorted(row["id"] for row in rows) == sorted(files)
    for row in rows:
        expected = _expected(model, files[row["id"]], bandwidth)
        got = encoded_of(row)
        assert got.length == expected.length == row["num_samples"]
        assert got.scales == expected.scales
        assert len(got.codes) == len(expected.codes)
        assert all(torch.equal(a, b) for a, b in zip(got.codes, expected.codes))


@pytest.mark.parametrize(("name", "bandwidth"), [("encodec_24khz", 6.0), ("encodec_48khz", 12.0)])
def test_folder_codes_equal_each_clip_encoded_alone(corpus, tmp_path, checkpoint, name, bandwidth):
    config = TokenizeConfig(model=name, bandwidth=bandwidth, weights=str(checkpoint(name)), batch_size=4)
    summary = tokenize(corpus, tmp_path / "out", config, shard_size=2)
    assert summary.progress.shards_done == 3 and summary.progress.clips_failed == 1
    rows = pq.read_table(tmp_path / "out" / "data").to_pylist()
    files = {p.relative_to(corpus).as_posix(): p for p in corpus.rglob("clip*")}
    _assert_rows_match(rows, load_model(name, weights=checkpoint(name)), files, bandwidth)
    errors = pq.read_table(tmp_path / "out" / "errors").to_pylist()
    assert [e["id"] for e in errors] == ["broken.wav"] and "Cannot read" in errors[0]["reason"]
    row = next(r for r in rows if r["id"] == "sub/clip1.wav")
    assert row["source_sample_rate"] == 24_000 and row["source_channels"] == 2
    assert row["model"] == name and row["sample_rate"] == config_rate(name)
    assert len(row["codes"]) == row["num_codebooks"] and len(row["codes"][0]) == row["num_frames"]
    if name == "encodec_48khz":
        assert row["scales"] and sum(row["segment_frames"]) == row["num_frames"]
    else:
        assert row["scales"] is None and row["segment_frames"] is None


def config_rate(name: str) -> int:
    return {"encodec_24khz": 24_000, "encodec_48khz": 48_000}[name]


def test_shards_load_with_datasets_pyarrow_and_pandas(corpus, tmp_path, checkpoint):
    datasets = pytest.importorskip("datasets")
    pandas = pytest.importorskip("pandas")
    config = TokenizeConfig(weights=str(checkpoint("encodec_24khz")))
    tokenize(corpus, tmp_path / "out", config, shard_size=3)
    data = tmp_path / "out" / "data"
    loaded = datasets.load_dataset(
        "parquet", data_dir=str(data), split="train", cache_dir=str(tmp_path / "hf")
    )
    frame = pandas.read_parquet(data)
    table = pq.read_table(data)
    assert len(loaded) == len(frame) == table.num_rows == 5
    assert loaded.features["codes"].feature.feature.dtype == "int16"
    first = table.to_pylist()[0]
    assert loaded[0]["codes"] == first["codes"] and list(map(list, frame["codes"][0])) == first["codes"]


def test_resume_skips_written_shards_and_redoes_a_missing_one(corpus, tmp_path, checkpoint):
    config = TokenizeConfig(weights=str(checkpoint("encodec_24khz")))
    out = tmp_path / "out"
    tokenize(corpus, out, config, shard_size=2)
    before = {p.name: p.read_bytes() for p in (out / "data").iterdir()}
    (out / "data" / "shard-00001.parquet").unlink()
    again = tokenize(corpus, out, config, shard_size=2)
    assert again.shards_written == [1] and again.progress.shards_skipped == 2
    assert {p.name: p.read_bytes() for p in (out / "data").iterdir()} == before
    with pytest.raises(TokenizeError, match="bandwidth 6.0 -> 12.0"):
        tokenize(corpus, out, TokenizeConfig(bandwidth=12.0, weights=config.weights), shard_size=2)
    assert json.loads((out / "tokenize.json").read_text())["clips"] == 6


def test_cancel_leaves_only_complete_shards(corpus, tmp_path, checkpoint):
    token = CancelToken()
    out = tmp_path / "out"
    with pytest.raises(Cancelled):
        tokenize(
            corpus,
            out,
            TokenizeConfig(weights=str(checkpoint("encodec_24khz"))),
            shard_size=2,
            progress=lambda state: token.cancel(),
            cancel=token,
        )
    assert [p.name for p in (out / "data").iterdir()] == ["shard-00000.parquet"]
    assert not list(out.rglob("*.tmp"))


def test_file_list_and_long_clips_streamed(tmp_path, checkpoint):
    """A .txt list (paths relative to it); a clip over `stream_seconds` goes through `encode_stream`,
    which for the 48 kHz model gives exactly `model.encode`'s codes."""
    a = _write(tmp_path / "audio" / "a.wav", 44_100, 2, 2.5, 1)
    b = _write(tmp_path / "audio" / "b.wav", 48_000, 1, 0.4, 2)
    listing = tmp_path / "list.txt"
    listing.write_text("# clips\naudio/a.wav\n\naudio/b.wav\n")
    name = "encodec_48khz"
    config = TokenizeConfig(model=name, bandwidth=6.0, weights=str(checkpoint(name)), stream_seconds=1.0)
    tokenize(listing, tmp_path / "out", config)
    rows = pq.read_table(tmp_path / "out" / "data").to_pylist()
    files = {str(tmp_path / "audio/a.wav"): a, str(tmp_path / "audio/b.wav"): b}
    _assert_rows_match(rows, load_model(name, weights=checkpoint(name)), files, 6.0)


@pytest.mark.parametrize("as_bytes", [False, True])
def test_datasets_dataset_with_an_audio_column(tmp_path, checkpoint, as_bytes):
    datasets = pytest.importorskip("datasets")
    paths = [
        _write(tmp_path / f"c{i}.wav", rate, 1 + i % 2, 0.3 + 0.2 * i, i)
        for i, rate in enumerate((16_000, 24_000, 32_000))
    ]
    column = [{"bytes": p.read_bytes(), "path": None} for p in paths] if as_bytes else [str(p) for p in paths]
    dataset = datasets.Dataset.from_dict({"audio": column, "key": ["x", "y", "z"]})
    dataset = dataset.cast_column("audio", datasets.Audio())
    weights = str(checkpoint("encodec_24khz"))
    tokenize(dataset, tmp_path / "out", TokenizeConfig(weights=weights), id_column="key")
    rows = pq.read_table(tmp_path / "out" / "data").to_pylist()
    _assert_rows_match(rows, load_model("encodec_24khz", weights=weights), dict(zip("xyz", paths)), 6.0)


def test_cli_tokenize_a_saved_dataset_and_detokenize(tmp_path, checkpoint, capsys):
    datasets = pytest.importorskip("datasets")
    paths = [_write(tmp_path / f"c{i}.wav", 24_000, 1, 0.25 + 0.1 * i, i) for i in range(3)]
    dataset = datasets.Dataset.from_dict({"audio": [str(p) for p in paths]}).cast_column(
        "audio", datasets.Audio()
    )
    dataset.save_to_disk(str(tmp_path / "saved"))
    capsys.readouterr()
    weights = str(checkpoint("encodec_24khz"))
    out = tmp_path / "codes"
    assert main(["tokenize", str(tmp_path / "saved"), str(out), "--weights", weights, "-b", "3"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 shards written" in err  # no tty: no progress line, a summary
    rows = pq.read_table(out / "data").to_pylist()
    assert [r["id"] for r in rows] == ["0", "1", "2"] and {r["num_codebooks"] for r in rows} == {4}

    assert main(["detokenize", str(out), str(tmp_path / "decoded"), "--weights", weights]) == 0
    model = load_model("encodec_24khz", weights=weights)
    for row in rows:
        audio, rate = sf.read(tmp_path / "decoded" / f"{row['id']}.wav", dtype="float32")
        expected = model.decode(encoded_of(row))[0].numpy()
        assert rate == 24_000 and audio.shape == expected.shape
        assert np.max(np.abs(audio - np.clip(expected, -0.99, 0.99))) <= 1 / 32_768 + 1e-6
    # A second detokenize finds every file and writes nothing.
    assert main(["detokenize", str(out), str(tmp_path / "decoded"), "--weights", weights]) == 0
    assert "0 files written (3 existed)" in capsys.readouterr().err


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["tokenize", str(tmp_path / "missing"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ecdc: error: ") and err.count("\n") == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["tokenize", str(empty), str(tmp_path / "out"), "--executor", "inline"]) == 1
    assert "holds no audio files" in capsys.readouterr().err
    assert main(["tokenize", str(empty), str(tmp_path / "out"), "-b", "5"]) == 1
    assert "does not support 5 kbps" in capsys.readouterr().err


def test_sources_refuse_bad_input(tmp_path):
    from codec.tokenize.sources import list_source, open_source

    with pytest.raises(SourceError, match="twice"):
        list_source([tmp_path / "a.wav", tmp_path / "a.wav"])
    datasets = pytest.importorskip("datasets")
    with pytest.raises(SourceError, match="no column 'audio'"):
        open_source(datasets.Dataset.from_dict({"sound": ["x"]}))


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker through /proc")
def test_local_processes_match_inline_and_survive_a_killed_worker(corpus, tmp_path, checkpoint):
    config = TokenizeConfig(weights=str(checkpoint("encodec_24khz")))
    inline = tokenize(corpus, tmp_path / "inline", config, shard_size=1)
    killed: list[int] = []

    def kill_a_worker(state):
        if killed:
            return
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"spawn_main" in cmdline:
                os.kill(int(entry), signal.SIGKILL)
                killed.append(int(entry))
                return

    local = tokenize(
        corpus, tmp_path / "local", config, executor="local", workers=2, shard_size=1, progress=kill_a_worker
    )
    assert killed
    assert local.progress.shards_done == inline.progress.shards_total == 6
    for kind in ("data", "errors"):
        files = sorted(p.name for p in (tmp_path / "inline" / kind).iterdir())
        assert sorted(p.name for p in (tmp_path / "local" / kind).iterdir()) == files
    assert (
        pq.read_table(tmp_path / "local" / "data").to_pylist()
        == pq.read_table(tmp_path / "inline" / "data").to_pylist()
    )


def test_rows_that_are_not_codes_are_refused(corpus, tmp_path, checkpoint):
    from codec.tokenize.shards import data_files, iter_rows

    tokenize(corpus, tmp_path / "out", TokenizeConfig(weights=str(checkpoint("encodec_24khz"))))
    row = next(iter(iter_rows(data_files(tmp_path / "out"))))
    assert row["codes"].dtype == np.int16 and row["codes"].shape == (row["num_codebooks"], row["num_frames"])
    for change in (
        {"codes": row["codes"].astype(np.int64) + 5000},
        {"num_frames": 3},
        {"model": "nope"},
        {"codes": None},
    ):
        with pytest.raises(TokenizeError, match="not a valid tokenized clip"):
            encoded_of({**row, **change})
    with pytest.raises(TokenizeError, match="no tokenized shards"):
        data_files(tmp_path)
