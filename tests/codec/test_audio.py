from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import soundfile as sf
import soxr
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.audio import (
    CLIP_LIMIT,
    ClippingWarning,
    apply_limit,
    convert_audio,
    convert_channels,
    info_audio,
    iter_audio_blocks,
    read_audio,
    resample,
    write_audio,
)
from codec.errors import AudioFormatError, CodecError
from codec.fileio import OutputExistsError, PathError

# (extension, soundfile format, subtype, exact): lossy formats only approximate the signal.
FORMATS = [
    ("wav", "WAV", "PCM_16", True),
    ("wav", "WAV", "PCM_24", True),
    ("wav", "WAV", "FLOAT", True),
    ("flac", "FLAC", "PCM_16", True),
    ("ogg", "OGG", "VORBIS", False),
    ("mp3", "MP3", "MPEG_LAYER_III", False),
]


def test_soundfile_can_write_mp3():
    # libsndfile >= 1.1 writes MP3; the mp3 cases below rely on it rather than on an external encoder.
    assert "MP3" in sf.available_formats(), f"libsndfile {sf.__libsndfile_version__} lacks MP3"


@pytest.mark.parametrize("ext,fmt,subtype,exact", FORMATS, ids=[f"{f[0]}-{f[2]}" for f in FORMATS])
def test_read_each_format(make_audio, make_signal, ext, fmt, subtype, exact):
    path = make_audio(f"x.{ext}", sample_rate=24_000, channels=2, seconds=0.5, subtype=subtype)
    audio, rate = read_audio(path)
    assert rate == 24_000
    assert audio.dtype == np.float32 and audio.shape[0] == 2 and audio.flags.c_contiguous
    info = info_audio(path)
    assert (info.sample_rate, info.channels, info.format) == (24_000, 2, fmt)
    assert info.frames == audio.shape[1]
    assert info.duration_s == pytest.approx(audio.shape[1] / 24_000)
    expected = make_signal(24_000, 2, 0.5)
    if exact:
        assert audio.shape == expected.shape
        np.testing.assert_allclose(audio, expected, atol=1.5 / 2**15)
    else:  # lossy: same length within codec padding, same level
        assert abs(audio.shape[1] - expected.shape[1]) < 2400
        assert 0.3 < np.max(np.abs(audio)) < 0.7


def test_read_pcm16_matches_reference_scaling(tmp_path):
    # torchaudio (the reference CLI's reader) divides PCM_16 by 32768, as soundfile does.
    ints = np.array([[-32768, -1, 0, 1, 32767]], dtype=np.int16)
    path = tmp_path / "ints.wav"
    sf.write(path, ints.T, 8000, subtype="PCM_16")
    audio, _ = read_audio(path)
    np.testing.assert_array_equal(audio, ints.astype(np.float32) / 32768)


def test_unreadable_files_raise_one_sentence_naming_the_file(tmp_path):
    junk = tmp_path / "notes.wav"
    junk.write_text("this is not audio")
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros((0, 1), np.float32), 24_000)
    for path in (junk, empty, silent):
        for reader in (read_audio, info_audio, lambda p: next(iter_audio_blocks(p, 100, 24_000, 1))):
            with pytest.raises(AudioFormatError) as info:
                reader(path)
            message = str(info.value)
            assert str(path) in message and "\n" not in message
    with pytest.raises(PathError, match="does not exist"):
        read_audio(tmp_path / "missing.wav")
    assert issubclass(AudioFormatError, CodecError)


def test_convert_channels_rules(make_signal):
    stereo = make_signal(8000, 2, 0.1)
    mono = convert_channels(stereo, 1)
    np.testing.assert_allclose(mono[0], stereo.mean(axis=0), rtol=1e-6)
    dup = convert_channels(mono, 2)
    assert dup.shape == (2, stereo.shape[1])
    np.testing.assert_array_equal(dup[0], dup[1])
    surround = make_signal(8000, 6, 0.1)
    np.testing.assert_array_equal(convert_channels(surround, 2), surround[:2])  # front pair kept
    np.testing.assert_allclose(convert_channels(surround, 1)[0], surround.mean(axis=0), rtol=1e-5)
    assert convert_channels(stereo, 2) is stereo
    with pytest.raises(AudioFormatError):
        convert_channels(np.zeros(10, np.float32), 1)


def test_convert_audio_matches_reference_channel_rules(make_signal, monkeypatch):
    torch = pytest.importorskip("torch")
    import sys

    from tests.oracles import import_reference_encodec

    encodec = import_reference_encodec()
    # The reference resamples with torchaudio (stubbed in tests); at equal rates that is the identity.
    monkeypatch.setattr(
        sys.modules["torchaudio"].transforms, "Resample", lambda sr, tsr: lambda x: x, raising=False
    )
    stereo = make_signal(24_000, 2, 0.2)
    for source in (stereo, stereo[:1]):
        for target in (1, 2):
            ours = convert_audio(source, 24_000, 24_000, target)
            ref = encodec.utils.convert_audio(torch.from_numpy(source), 24_000, 24_000, target)
            np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-6)
    out = convert_audio(stereo, 24_000, 48_000, 2)
    assert out.dtype == np.float32 and out.shape == (2, 2 * stereo.shape[1])


def test_resample_preserves_a_tone():
    rate, target = 44_100, 24_000
    t = np.arange(rate // 2) / rate
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)[None]
    out = resample(tone, rate, target)
    assert out.shape == (1, round(tone.shape[1] * target / rate))
    expected = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(out.shape[1]) / target)
    middle = slice(500, -500)  # away from the edges' filter transients
    np.testing.assert_allclose(out[0, middle], expected[middle], atol=2e-3)
    assert resample(tone, rate, rate) is tone


@pytest.mark.parametrize(
    "rate,channels,target_sr,target_channels,block",
    [(44_100, 2, 24_000, 1, 1000), (16_000, 1, 48_000, 2, 4096), (24_000, 2, 24_000, 1, 333)],
)
def test_iter_audio_blocks_equals_whole_file(make_audio, rate, channels, target_sr, target_channels, block):
    path = make_audio("long.flac", sample_rate=rate, channels=channels, seconds=0.7)
    blocks = list(iter_audio_blocks(path, block, target_sr, target_channels))
    assert all(b.shape == (target_channels, block) for b in blocks[:-1])
    assert 0 < blocks[-1].shape[1] <= block
    whole = convert_audio(*read_audio(path), target_sr, target_channels)
    np.testing.assert_allclose(np.concatenate(blocks, axis=1), whole, atol=1e-6)


def test_iter_audio_blocks_memory_is_bounded(make_audio, monkeypatch):
    # The streaming reader must never ask soundfile for more than about one block of input.
    path = make_audio("s.wav", sample_rate=48_000, channels=2, seconds=1.0)
    reads = []
    original = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        reads.append(frames)
        return original(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    blocks = list(iter_audio_blocks(path, 2400, 24_000, 1))
    assert sum(b.shape[1] for b in blocks) == 24_000
    assert reads and all(0 < n <= 4800 for n in reads)


def test_stream_and_one_shot_soxr_agree():
    # The assumption behind iter_audio_blocks == convert_audio: soxr's streaming and one-shot paths match.
    x = np.random.default_rng(1).standard_normal((10_007, 2)).astype(np.float32)
    stream = soxr.ResampleStream(44_100, 24_000, 2, dtype="float32", quality="HQ")
    parts = [stream.resample_chunk(x[i : i + 999]) for i in range(0, len(x), 999)]
    parts.append(stream.resample_chunk(np.zeros((0, 2), np.float32), last=True))
    np.testing.assert_array_equal(np.concatenate(parts), soxr.resample(x, 44_100, 24_000, quality="HQ"))


@pytest.mark.parametrize("ext", ["wav", "flac"])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_write_audio_formats(tmp_path, make_signal, ext, subtype):
    audio = make_signal(24_000, 2, 0.2)
    path = tmp_path / f"out.{ext}"
    if ext == "flac" and subtype == "FLOAT":
        with pytest.raises(AudioFormatError, match="FLAC"):
            write_audio(path, audio, 24_000, subtype)
        assert list(tmp_path.iterdir()) == []
        return
    assert write_audio(path, audio, 24_000, subtype) is False
    info = sf.info(path)
    assert (info.format, info.subtype, info.samplerate, info.channels) == (ext.upper(), subtype, 24_000, 2)
    back, rate = read_audio(path)
    tolerance = {"PCM_16": 1 / 2**15, "PCM_24": 1 / 2**23, "FLOAT": 0}[subtype]
    np.testing.assert_allclose(back, audio, atol=tolerance)
    assert [p.name for p in tmp_path.iterdir()] == [f"out.{ext}"]


def test_write_audio_rejects_other_extensions_and_subtypes(tmp_path, make_signal):
    audio = make_signal(24_000, 1, 0.1)
    with pytest.raises(AudioFormatError, match=r"\.wav or \.flac"):
        write_audio(tmp_path / "out.mp3", audio, 24_000)
    with pytest.raises(AudioFormatError, match="PCM_16"):
        write_audio(tmp_path / "out.wav", audio, 24_000, subtype="PCM_8")
    assert list(tmp_path.iterdir()) == []


def test_write_audio_clamps_like_reference_and_warns(tmp_path):
    audio = np.array([[0.0, 0.5, 1.5, -2.0, 0.99]], np.float32)
    path = tmp_path / "loud.wav"
    with pytest.warns(ClippingWarning, match="loud.wav"):
        assert write_audio(path, audio, 8000, "FLOAT") is True
    back, _ = read_audio(path)
    np.testing.assert_allclose(back, np.clip(audio, -CLIP_LIMIT, CLIP_LIMIT))


def test_write_audio_rescale_scales_down_without_warning(tmp_path):
    audio = np.array([[0.0, 0.5, 1.5, -2.0]], np.float32)
    path = tmp_path / "loud.wav"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert write_audio(path, audio, 8000, "FLOAT", rescale=True) is False
    back, _ = read_audio(path)
    np.testing.assert_allclose(back, audio * (CLIP_LIMIT / 2.0), rtol=1e-6)


def test_quiet_audio_is_untouched_by_rescale():
    audio = np.array([[0.1, -0.5]], np.float32)
    out, peak = apply_limit(audio, rescale=True)
    np.testing.assert_array_equal(out, audio)
    assert peak == pytest.approx(0.5)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-8, 8, allow_nan=False, width=32), min_size=1, max_size=64),
    st.booleans(),
)
def test_apply_limit_never_exceeds_limit(values, rescale):
    audio = np.array([values], np.float32)
    out, peak = apply_limit(audio, rescale)
    assert np.max(np.abs(out)) <= CLIP_LIMIT + 1e-6
    assert peak == pytest.approx(float(np.max(np.abs(audio))))
    if rescale and peak > 0:  # shape preserved: a pure scaling
        np.testing.assert_allclose(out * peak, audio * np.max(np.abs(out)), rtol=1e-5, atol=1e-6)


def test_write_audio_mono_1d_and_safety(tmp_path):
    src = tmp_path / "in.wav"
    sf.write(src, np.zeros(100, np.float32), 8000)
    audio = np.full(50, 0.25, np.float32)
    with pytest.raises(PathError):
        write_audio(src, audio, 8000, overwrite=True, inputs=[src])
    out = tmp_path / "out.wav"
    write_audio(out, audio, 8000)
    with pytest.raises(OutputExistsError):
        write_audio(out, audio * 2, 8000)
    write_audio(out, audio * 2, 8000, overwrite=True)
    back, _ = read_audio(out)
    assert back.shape == (1, 50) and back[0, 0] == pytest.approx(0.5, abs=1e-4)
    with pytest.raises(PathError, match="does not exist"):
        write_audio(tmp_path / "missing" / "x.wav", audio, 8000)


def test_spooled_read_equals_read_audio_and_leaves_no_file(make_audio, tmp_path):
    from codec.audio import read_audio_spooled

    path = make_audio("long.wav", sample_rate=44_100, channels=2, seconds=2.5)
    spool = tmp_path / "spool"
    spool.mkdir()
    mapped, rate = read_audio_spooled(path, spool)
    whole, whole_rate = read_audio(path)
    assert rate == whole_rate and isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(mapped, whole)
    if os.name == "posix":
        assert list(spool.iterdir()) == []


def test_convert_stream_equals_convert_audio_of_the_whole():
    from codec.audio import convert_stream

    rng = np.random.default_rng(2)
    audio = rng.standard_normal((2, 44_100)).astype(np.float32) * 0.1
    pieces = [audio[:, i : i + 7_000] for i in range(0, audio.shape[1], 7_000)]
    blocks = list(convert_stream(pieces, 44_100, 24_000, 1, 5_000))
    assert all(b.shape[1] == 5_000 for b in blocks[:-1]) and 0 < blocks[-1].shape[1] <= 5_000
    np.testing.assert_allclose(
        np.concatenate(blocks, axis=1), convert_audio(audio, 44_100, 24_000, 1), atol=1e-6
    )
