"""`ecdc models ...` through its own parser (the way codec/cli/main.py wires it) and a local server."""

from __future__ import annotations

import argparse
import io
import shutil

import pytest

from codec.cli.models import ProgressLine, add_models_parser, run_models
from codec.weights import find_installed
from codec.weights.cache import file_sha256
from tests.helpers.http_server import CheckpointServer, isolate_weights, make_official_checkpoint, trust

LM = "encodec_lm_48khz"


@pytest.fixture(autouse=True)
def models_folder(tmp_path, monkeypatch):
    return isolate_weights(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def lm_file(tmp_path_factory):
    return make_official_checkpoint(LM, tmp_path_factory.mktemp("official"))


@pytest.fixture
def server(tmp_path, monkeypatch, lm_file):
    with CheckpointServer(tmp_path / "www") as running:
        running.publish_official(lm_file)
        trust(monkeypatch, lm_file)
        for key, value in running.env().items():
            monkeypatch.setenv(key, value)
        yield running


def ecdc_models(*argv):
    parser = argparse.ArgumentParser(prog="ecdc")
    add_models_parser(parser.add_subparsers(dest="command", required=True))
    return run_models(parser.parse_args(["models", *argv]))


def test_path_prints_the_models_folder(capsys, models_folder):
    assert ecdc_models("path") == 0
    assert capsys.readouterr().out == f"{models_folder}\n"


def test_list_shows_every_entry_and_the_folder(capsys, models_folder):
    assert ecdc_models("list") == 0
    out = capsys.readouterr().out
    for name in ("encodec_24khz", "encodec_48khz", "encodec_32khz", "encodec_lm_24khz", LM):
        assert name in out
    assert "~93.0 MB" in out  # approximate size of what is not installed
    assert f"Models folder: {models_folder}" in out
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.startswith("encodec_")}
    assert "CHECK" in out.splitlines()[0]
    assert "  sha256  " in rows["encodec_24khz"]  # the whole published hash
    assert "sha256 prefix" in rows["encodec_48khz"] and "sha256 prefix" in rows[LM]
    assert "hub sha256" in rows["encodec_24khz_hf"] and "unpinned" not in rows["encodec_24khz_hf"]
    assert "hub sha256, unpinned" in rows["encodec_32khz"]


def test_download_then_list_path_and_remove(capsys, server, lm_file, models_folder):
    assert ecdc_models("download", LM) == 0
    captured = capsys.readouterr()
    installed = models_folder / lm_file.name
    assert captured.out == f"{LM}: {installed}\n"
    assert captured.err == ""  # no progress line when stderr is not a terminal
    assert file_sha256(installed) == file_sha256(lm_file)

    assert ecdc_models("list") == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(LM))
    assert "installed" in row and "36." in row

    assert ecdc_models("path", LM) == 0
    assert capsys.readouterr().out == f"{installed}\n"

    assert ecdc_models("remove", LM) == 0
    assert capsys.readouterr().out == f"Removed {LM}.\n"
    assert not installed.exists()
    assert ecdc_models("remove", LM) == 0
    assert capsys.readouterr().out == f"{LM} was not installed.\n"
    assert ecdc_models("path", LM) == 1
    assert "is not installed" in capsys.readouterr().err


def test_download_errors_are_one_line_and_exit_1(capsys, server, lm_file):
    server.status_overrides[f"/official/{lm_file.name}"] = 404
    assert ecdc_models("download", LM) == 1
    err = capsys.readouterr().err
    assert err.startswith("ecdc: error: ") and "HTTP 404" in err and err.count("\n") == 1
    assert ecdc_models("download", "encodec_96khz") == 1
    assert "Unknown model weights 'encodec_96khz'" in capsys.readouterr().err


def test_download_timeout_option(capsys, server):
    server.stall(after=None)
    assert ecdc_models("download", "--timeout", "0.2", LM) == 1
    assert "no data for 0.2 s" in capsys.readouterr().err


def test_import(capsys, lm_file, tmp_path, models_folder):
    source = tmp_path / "lm.th"
    shutil.copyfile(lm_file, source)
    assert ecdc_models("import", str(source)) == 0
    assert capsys.readouterr().out == f"Imported {source} as {LM}: {models_folder / lm_file.name}\n"
    assert find_installed(LM) == models_folder / lm_file.name
    (tmp_path / "junk.th").write_bytes(b"junk")
    assert ecdc_models("import", str(tmp_path / "junk.th")) == 1
    assert "not a PyTorch checkpoint" in capsys.readouterr().err


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_line_redraws_on_a_terminal_only_when_the_percentage_changes():
    stream = FakeTerminal()
    line = ProgressLine("encodec_24khz", stream)
    for done in (0, 500_000, 510_000, 1_000_000):
        line(done, 1_000_000)
    line.finish()
    line.finish()
    frames = stream.getvalue().split("\r")[1:]
    assert [frame.rstrip() for frame in frames] == [
        "encodec_24khz: 0 B of 1.0 MB (0%)",  # sizes as everywhere (codec.units)
        "encodec_24khz: 500 kB of 1.0 MB (50%)",
        "encodec_24khz: 510 kB of 1.0 MB (51%)",
        "encodec_24khz: 1.0 MB of 1.0 MB (100%)",
    ]
    assert stream.getvalue().endswith("\n") and stream.getvalue().count("\n") == 1
    quiet = io.StringIO()
    ProgressLine("x", quiet)(1, 2)
    assert quiet.getvalue() == ""


def test_the_ecdc_command_dispatches_to_models(capsys, models_folder):
    from codec.cli.main import main

    assert main(["models", "path"]) == 0
    assert capsys.readouterr().out == f"{models_folder}\n"
    assert main(["models", "remove", "nonsense"]) == 1
    assert capsys.readouterr().err.startswith("ecdc: error: Unknown model weights 'nonsense'")
