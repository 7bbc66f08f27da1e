"""The bundled model from the command line: `--model small` works offline; the default stays Meta's."""

from __future__ import annotations

import io

import pytest

from codec.cli.main import main
from codec.ecdc import read_header
from tests.codec.cli.test_main import env  # noqa: F401  (the hermetic environment fixture)


@pytest.fixture
def wav(make_audio):
    return make_audio("speech.wav", sample_rate=16_000, seconds=0.6)


def test_model_small_compresses_and_decompresses_offline(env, wav, capsys):  # noqa: F811
    out = wav.with_suffix(".ecdc")
    assert main(["--model", "small", "-b", "3", str(wav), str(out)]) == 0
    header = read_header(out)
    assert header.model == "ecdc_small_24khz" and header.num_codebooks == 4
    back = wav.with_name("back.wav")
    assert main([str(out), str(back)]) == 0  # the file names its model: no flag needed to decode
    assert back.stat().st_size > 0
    assert main(["info", str(out)]) == 0
    assert "ecdc_small_24khz" in capsys.readouterr().out


def test_default_model_is_still_metas_and_the_error_names_the_flag(env, wav, monkeypatch):  # noqa: F811
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    assert main(["-b", "6", str(wav)]) == 1
    message = stderr.getvalue().strip()
    assert message.count("\n") == 0  # one line
    assert "encodec_24khz" in message and "--model small" in message
    assert not wav.with_suffix(".ecdc").exists()


def test_small_model_refuses_bandwidths_it_lacks(env, wav, capsys):  # noqa: F811
    assert main(["--model", "small", "-b", "24", str(wav)]) == 1
    assert "1.5, 3, 6, 12" in capsys.readouterr().err


def test_own_checkpoint_with_weights_flag(env, wav, tmp_path, capsys):  # noqa: F811
    from codec.checkpoints import write_studio_checkpoint
    from codec.models.encodec import EncodecModel

    mine = tmp_path / "mine.safetensors"
    write_studio_checkpoint(
        mine, EncodecModel.random("ecdc_small_24khz", seed=2).state_dict(), {"model": "ecdc_small_24khz"}
    )
    out = tmp_path / "mine.ecdc"
    assert main(["--weights", str(mine), "--model", "small", str(wav), str(out)]) == 0
    assert read_header(out).model == "ecdc_small_24khz"
    capsys.readouterr()
    assert (
        main(["--weights", str(mine), str(wav), str(tmp_path / "wrong.ecdc")]) == 1
    )  # default: Meta's 24 kHz
    assert "holds ecdc_small_24khz, not encodec_24khz" in capsys.readouterr().err
