"""`codec.filetypes`: the one list of file types and the one output-naming rule."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import soundfile as sf

import codec.filetypes
from codec.audio import info_audio
from codec.filetypes import (
    AUDIO_OUTPUT_FORMATS,
    AUDIO_SUFFIXES,
    ECDC_MAGIC,
    file_kind,
    is_ecdc,
    open_dialog_filter,
    output_path_for,
)


def test_doctests():
    failures, tried = doctest.testmod(codec.filetypes)
    assert tried >= 2 and failures == 0


def test_kind_by_suffix_in_any_case():
    assert [file_kind(f"a{suffix.upper()}") for suffix in AUDIO_SUFFIXES] == ["audio"] * len(AUDIO_SUFFIXES)
    assert file_kind("x/b.ECDC") == "ecdc"
    assert [file_kind(name) for name in ("notes.txt", "noext", ".wav")] == [None, None, None]
    assert set(AUDIO_OUTPUT_FORMATS) <= set(AUDIO_SUFFIXES)


# Formats libsndfile can also write, so the test makes them; .mp3 and .opus are read the same way.
WRITABLE = {
    ".wav": "WAV",
    ".flac": "FLAC",
    ".ogg": "OGG",
    ".aiff": "AIFF",
    ".au": "AU",
    ".w64": "W64",
    ".caf": "CAF",
}


@pytest.mark.parametrize("suffix", sorted(WRITABLE))
def test_every_listed_suffix_is_read_by_codec_audio(tmp_path, suffix):
    assert suffix in AUDIO_SUFFIXES
    path = tmp_path / f"tone{suffix}"
    sf.write(path, np.zeros(1600, dtype=np.float32), 16_000, format=WRITABLE[suffix])
    assert info_audio(path).sample_rate == 16_000


def test_ecdc_by_name_or_by_magic(tmp_path):
    renamed = tmp_path / "renamed.bin"
    renamed.write_bytes(ECDC_MAGIC + b"\x00rest")
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"RIFF....")
    assert is_ecdc(renamed) and not is_ecdc(plain)
    assert is_ecdc(tmp_path / "missing.ecdc")  # by name, before it exists
    assert not is_ecdc(tmp_path / "missing.bin")


def test_open_dialog_lists_every_type():
    first = open_dialog_filter().split(";;")[0]
    assert all(f"*{suffix}" in first.split("(")[1] for suffix in (*AUDIO_SUFFIXES, ".ecdc"))
    assert open_dialog_filter().endswith(";;All files (*)")


def test_output_naming(tmp_path):
    assert output_path_for(tmp_path / "a" / "song.flac") == tmp_path / "a" / "song.ecdc"
    assert output_path_for(tmp_path / "song.flac", tmp_path / "out") == tmp_path / "out" / "song.ecdc"
    assert (
        output_path_for(tmp_path / "s.ecdc", None, ".wav", "_decompressed") == tmp_path / "s_decompressed.wav"
    )
