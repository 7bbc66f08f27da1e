from __future__ import annotations

import importlib
import io

import numpy as np
import pytest
import soundfile as sf
import torch

import codec.api
from codec import jobs
from codec.audio import read_audio
from codec.errors import AudioFormatError, Cancelled, CodecError, EcdcFormatError, UnsupportedBandwidthError
from codec.fileio import OutputExistsError, PathError
from codec.jobs import (
    JobResult,
    ModelPool,
    UnsupportedOptionError,
    compress_file,
    decode_file,
    decompress_file,
    probe,
    roundtrip_file,
)
from codec.progress import CancelToken


@pytest.fixture(scope="module")
def pool(random_checkpoint):
    """A pool whose 24 kHz model is a random-weights reference checkpoint, shared by this module's tests."""
    return ModelPool(weights={"24khz": random_checkpoint("encodec_24khz")})


@pytest.fixture(scope="module")
def pool48(random_checkpoint):
    return ModelPool(weights={"encodec_48khz": random_checkpoint("encodec_48khz")})


def files(folder):
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------------------ compress


def count_header_parses(monkeypatch) -> list[int]:
    """Patch both places that parse a `.ecdc` header; returns a list that grows by one per parse."""
    import codec.ecdc.container
    import codec.ecdc.header

    parses = []
    real = codec.ecdc.header.parse_header

    def counting(data):
        parses.append(1)
        return real(data)

    monkeypatch.setattr(codec.ecdc.header, "parse_header", counting)
    monkeypatch.setattr(codec.ecdc.container, "parse_header", counting)
    return parses


def test_a_decode_reads_the_header_once(pool, make_audio, tmp_path, monkeypatch):
    src = make_audio("in.wav", sample_rate=24_000, seconds=0.2)
    ecdc = tmp_path / "in.ecdc"
    compress_file(src, ecdc, pool=pool, model_name="24khz", bandwidth=6.0)
    parses = count_header_parses(monkeypatch)
    decompress_file(ecdc, tmp_path / "out.wav", pool=pool)
    decode_file(ecdc, pool=pool)
    assert len(parses) == 2  # one per job; it was two per job (and the app probed once more first)
    header = jobs.probe(ecdc).header
    parses.clear()
    decompress_file(ecdc, tmp_path / "again.wav", pool=pool, header=header)
    assert parses == []  # the caller had it


def test_the_cli_reads_a_header_once_per_file(pool, make_audio, tmp_path, monkeypatch, random_checkpoint):
    from codec.cli.main import main

    src = make_audio("in.wav", sample_rate=24_000, seconds=0.2)
    compress_file(src, tmp_path / "in.ecdc", pool=pool, model_name="24khz", bandwidth=6.0)
    parses = count_header_parses(monkeypatch)
    assert main(["--weights", str(random_checkpoint("encodec_24khz")), str(tmp_path / "in.ecdc")]) == 0
    assert len(parses) == 1 and (tmp_path / "in_decompressed.wav").exists()


def test_compress_then_decode_and_decompress(pool, make_audio, tmp_path, ecdc_module):
    src = make_audio("speech.wav", sample_rate=24_000, seconds=0.4)
    dst = tmp_path / "speech.ecdc"
    result = compress_file(src, dst, pool=pool, model_name="24khz", bandwidth=6.0)
    assert isinstance(result, JobResult)
    assert result.dst == dst and dst.exists()
    assert result.input_bytes == src.stat().st_size and result.output_bytes == dst.stat().st_size
    assert result.ecdc_bytes == result.output_bytes
    assert result.ratio == pytest.approx(result.input_bytes / result.output_bytes)
    assert result.duration_s == pytest.approx(0.4)
    assert result.model == "encodec_24khz" and result.bandwidth == 6.0
    assert result.seconds_taken > 0
    assert files(tmp_path) == ["speech.ecdc", "speech.wav"]

    header = ecdc_module.read_header(dst)
    assert (header.model, header.length, header.num_codebooks, header.use_lm) == (
        "encodec_24khz",
        9600,
        8,
        False,
    )
    # 6 kbps payload plus the header, rounded up to whole bytes
    assert result.output_bytes == header.header_size + -(-30 * 8 * 10 // 8)

    audio, rate = decode_file(dst, pool=pool)
    assert rate == 24_000 and audio.shape == (1, 9600) and audio.dtype == np.float32

    out = tmp_path / "speech_decompressed.wav"
    back = decompress_file(dst, out, pool=pool, subtype="PCM_24")
    assert sf.info(out).subtype == "PCM_24" and sf.info(out).samplerate == 24_000
    written, _ = read_audio(out)
    np.testing.assert_allclose(written, np.clip(audio, -0.99, 0.99), atol=2 / 2**23)
    assert back.input_bytes == dst.stat().st_size and back.ecdc_bytes == back.input_bytes
    assert back.ratio == pytest.approx(back.output_bytes / back.input_bytes)
    assert back.model == "encodec_24khz" and back.bandwidth == 6.0


def test_compress_converts_rate_and_channels(pool48, make_audio, tmp_path, ecdc_module):
    src = make_audio("music.flac", sample_rate=44_100, channels=1, seconds=0.3)
    dst = tmp_path / "music.ecdc"
    result = compress_file(src, dst, pool=pool48, model_name="48khz", bandwidth=12.0)
    header = ecdc_module.read_header(dst)
    assert header.model == "encodec_48khz" and header.num_codebooks == 8
    assert header.length == round(0.3 * 44_100 * 48_000 / 44_100)
    audio, rate = decode_file(dst, pool=pool48)
    assert rate == 48_000 and audio.shape == (2, header.length)
    assert result.duration_s == pytest.approx(0.3, abs=1e-4)


def test_compress_bytes_equal_reference(pool, reference_models, make_audio, tmp_path, ecdc_module):
    from tests.oracles import import_reference_encodec

    import_reference_encodec()
    reference = importlib.import_module("encodec.compress")
    src = make_audio("x.wav", sample_rate=24_000, seconds=0.3)
    dst = tmp_path / "x.ecdc"
    compress_file(src, dst, pool=pool, model_name="24khz", bandwidth=3.0)
    ref = reference_models("encodec_24khz")
    ref.set_target_bandwidth(3.0)
    wav, _ = read_audio(src)
    assert dst.read_bytes() == reference.compress(ref, torch.from_numpy(wav))


def test_decoded_audio_matches_reference_decompress(
    random_checkpoint, pool, make_audio, tmp_path, monkeypatch
):
    from tests.oracles import import_reference_encodec, reference_model

    import_reference_encodec()
    reference = importlib.import_module("encodec.compress")
    ref = reference_model("encodec_24khz")
    ref.set_target_bandwidth(6.0)
    monkeypatch.setitem(reference.MODELS, "encodec_24khz", lambda: ref)
    src = make_audio("x.wav", sample_rate=24_000, seconds=0.3)
    wav, _ = read_audio(src)
    blob = reference.compress(ref, torch.from_numpy(wav))
    (tmp_path / "ref.ecdc").write_bytes(blob)
    ours, rate = decode_file(tmp_path / "ref.ecdc", pool=pool)
    theirs, their_rate = reference.decompress(blob)
    assert rate == their_rate
    np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-4)


def test_progress_is_overall_and_monotonic(pool, make_audio, tmp_path, ecdc_module):
    src = make_audio(seconds=0.2)
    seen = []
    compress_file(
        src,
        tmp_path / "a.ecdc",
        pool=pool,
        model_name="24khz",
        bandwidth=1.5,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen and all(t == 1000 for _, t in seen)
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == 1000 and done[0] < 100
    seen.clear()
    decompress_file(
        tmp_path / "a.ecdc", tmp_path / "a.wav", pool=pool, progress=lambda d, t: seen.append((d, t))
    )
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == 1000 and len(done) >= 4


@pytest.mark.parametrize("job", ["compress", "decompress", "roundtrip"])
def test_cancel_at_any_point_leaves_no_file(pool, make_audio, tmp_path, ecdc_module, job):
    src = make_audio("in.wav", seconds=0.2)
    ecdc_file = tmp_path / "in.ecdc"
    compress_file(src, ecdc_file, pool=pool, model_name="24khz", bandwidth=1.5)
    before = files(tmp_path)
    dst = tmp_path / ("out.ecdc" if job == "compress" else "out.wav")

    def run(progress, cancel):
        if job == "compress":
            return compress_file(
                src, dst, pool=pool, model_name="24khz", bandwidth=1.5, progress=progress, cancel=cancel
            )
        if job == "decompress":
            return decompress_file(ecdc_file, dst, pool=pool, progress=progress, cancel=cancel)
        return roundtrip_file(
            src, dst, pool=pool, model_name="24khz", bandwidth=1.5, progress=progress, cancel=cancel
        )

    calls = []
    run(lambda d, t: calls.append(d), None)
    dst.unlink()
    assert len(calls) >= 3
    cancelled = 0
    for k in range(len(calls)):
        token = CancelToken()
        count = [0]

        def progress(done, total, token=token, count=count, k=k):
            count[0] += 1
            if count[0] > k:
                token.cancel()

        try:
            run(progress, token)
        except Cancelled:
            cancelled += 1
            assert files(tmp_path) == before, f"cancel after progress call {k} left a file"
        else:
            dst.unlink()
    assert cancelled >= len(calls) - 2  # every cancel before the final report takes effect


def test_failure_while_writing_leaves_no_file(pool, make_audio, tmp_path, ecdc_module, monkeypatch):
    src = make_audio("in.wav", seconds=0.2)

    def broken(fo, encoded, **kwargs):
        fo.write(b"ECDC partial")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ecdc_module, "write_ecdc", broken)
    with pytest.raises(RuntimeError):
        compress_file(src, tmp_path / "in.ecdc", pool=pool, model_name="24khz", bandwidth=6.0)
    with pytest.raises(KeyboardInterrupt):
        monkeypatch.setattr(
            ecdc_module, "write_ecdc", lambda fo, e, **kw: (_ for _ in ()).throw(KeyboardInterrupt())
        )
        compress_file(src, tmp_path / "in.ecdc", pool=pool, model_name="24khz", bandwidth=6.0)
    assert files(tmp_path) == ["in.wav"]


def test_bad_options_fail_before_loading(make_audio, tmp_path, monkeypatch):
    monkeypatch.setattr(codec.api, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    src = make_audio("in.wav", seconds=0.1)
    pool = ModelPool()
    with pytest.raises(UnsupportedBandwidthError, match="1.5, 3, 6, 12, 24"):
        compress_file(src, tmp_path / "o.ecdc", pool=pool, model_name="24khz", bandwidth=5.0)
    with pytest.raises(UnsupportedBandwidthError, match="3, 6, 12, 24"):
        compress_file(src, tmp_path / "o.ecdc", pool=pool, model_name="48khz", bandwidth=1.5)
    with pytest.raises(UnsupportedOptionError):
        compress_file(src, tmp_path / "o.ecdc", pool=pool, model_name="32khz", bandwidth=2.2, use_lm=True)
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    with pytest.raises(AudioFormatError, match="junk.wav"):
        compress_file(junk, tmp_path / "o.ecdc", pool=pool, model_name="24khz", bandwidth=6.0)
    with pytest.raises(PathError, match="input"):
        roundtrip_file(src, src, pool=pool, model_name="24khz", bandwidth=6.0, overwrite=True)
    (tmp_path / "o.ecdc").write_bytes(b"keep")
    with pytest.raises(OutputExistsError):
        compress_file(src, tmp_path / "o.ecdc", pool=pool, model_name="24khz", bandwidth=6.0)
    assert (tmp_path / "o.ecdc").read_bytes() == b"keep"
    with pytest.raises(PathError, match="does not exist"):
        compress_file(src, tmp_path / "none" / "o.ecdc", pool=pool, model_name="24khz", bandwidth=6.0)
    with pytest.raises(CodecError):
        decompress_file(junk, tmp_path / "x.wav", pool=pool)
    assert not (tmp_path / "x.wav").exists()


def test_decompress_output_checks_before_work(pool, make_audio, tmp_path, ecdc_module):
    src = make_audio("in.wav", seconds=0.1)
    ecdc_file = tmp_path / "in.ecdc"
    compress_file(src, ecdc_file, pool=pool, model_name="24khz", bandwidth=6.0)
    with pytest.raises(AudioFormatError, match="FLAC"):
        decompress_file(ecdc_file, tmp_path / "o.flac", pool=pool, subtype="FLOAT")
    with pytest.raises(AudioFormatError, match=r"\.wav or \.flac"):
        decompress_file(ecdc_file, tmp_path / "o.mp3", pool=pool)
    with pytest.raises(CodecError):
        decompress_file(ecdc_file, ecdc_file, pool=pool, overwrite=True)
    assert files(tmp_path) == ["in.ecdc", "in.wav"]


def test_roundtrip(pool, make_audio, tmp_path, ecdc_module):
    src = make_audio("in.wav", sample_rate=16_000, channels=2, seconds=0.25)
    dst = tmp_path / "preview.flac"
    result = roundtrip_file(src, dst, pool=pool, model_name="24khz", bandwidth=12.0, subtype="PCM_24")
    info = sf.info(dst)
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (24_000, 1, 6000, "PCM_24")
    assert result.output_bytes == dst.stat().st_size
    assert result.ecdc_bytes > 0 and result.ratio == pytest.approx(result.input_bytes / result.ecdc_bytes)
    # the decoded bitstream equals decoding the .ecdc that compress_file writes
    compress_file(src, tmp_path / "in.ecdc", pool=pool, model_name="24khz", bandwidth=12.0)
    assert (tmp_path / "in.ecdc").stat().st_size == result.ecdc_bytes
    audio, _ = decode_file(tmp_path / "in.ecdc", pool=pool)
    written, _ = read_audio(dst)
    np.testing.assert_allclose(written, np.clip(audio, -0.99, 0.99), atol=2 / 2**23)


def test_clipped_flag_and_rescale(pool, make_audio, tmp_path, ecdc_module, monkeypatch):
    src = make_audio("in.wav", seconds=0.1)
    ecdc_file = tmp_path / "in.ecdc"
    compress_file(src, ecdc_file, pool=pool, model_name="24khz", bandwidth=6.0)
    model = pool.model("24khz")

    def loud_blocks(encoded, progress=None, cancel=None):  # two blocks: the peak is in the second
        half = encoded.length // 2
        yield torch.full((1, half), 0.5)
        yield torch.full((1, encoded.length - half), 3.0)

    monkeypatch.setattr(model, "decode_stream", loud_blocks)
    with pytest.warns(UserWarning, match="clipped"):
        assert decompress_file(ecdc_file, tmp_path / "a.wav", pool=pool).clipped
    assert not decompress_file(ecdc_file, tmp_path / "b.wav", pool=pool, rescale=True).clipped
    b, _ = read_audio(tmp_path / "b.wav")
    assert np.max(np.abs(b)) == pytest.approx(0.99, abs=1e-4)
    assert b[0, 0] == pytest.approx(0.5 * 0.99 / 3.0, abs=1e-4)  # the whole file scaled by one gain


# ------------------------------------------------------------------------------------------ probe


def test_probe_audio(make_audio):
    path = make_audio("x.flac", sample_rate=44_100, channels=2, seconds=0.5, subtype="PCM_24")
    info = probe(path)
    assert info.kind == "audio" and info.header is None
    assert (info.sample_rate, info.channels, info.frames) == (44_100, 2, 22_050)
    assert info.duration_s == pytest.approx(0.5) and info.size_bytes == path.stat().st_size
    assert info.format == "FLAC PCM_24"
    assert info.bitrate_kbps == pytest.approx(8 * info.size_bytes / 0.5 / 1000)


def test_probe_ecdc(make_audio, tmp_path, ecdc_module):
    # An .ecdc file is recognised by its magic bytes, whatever its name.
    blob = io.BytesIO()
    encoded = jobs_encoded()
    ecdc_module.write_ecdc(blob, encoded)
    path = tmp_path / "renamed.bin"
    path.write_bytes(blob.getvalue())
    info = probe(path)
    assert info.kind == "ecdc" and info.format == "ECDC"
    assert (info.sample_rate, info.channels, info.frames) == (24_000, 1, 4800)
    assert info.duration_s == pytest.approx(0.2) and info.size_bytes == len(blob.getvalue())
    assert info.header.model == "encodec_24khz" and info.header.num_codebooks == 4


def jobs_encoded():
    from codec.models.encodec import EncodedAudio

    codes = torch.randint(0, 1024, (4, 15), generator=torch.Generator().manual_seed(0))
    return EncodedAudio(model="encodec_24khz", bandwidth=3.0, length=4800, codes=[codes], scales=None)


def test_probe_errors(tmp_path):
    with pytest.raises(PathError, match="does not exist"):
        probe(tmp_path / "missing.wav")
    junk = tmp_path / "junk.txt"
    junk.write_text("hello")
    with pytest.raises(AudioFormatError, match="junk.txt"):
        probe(junk)
    fake = tmp_path / "fake.ecdc"
    fake.write_bytes(b"RIFF....WAVE")
    with pytest.raises(EcdcFormatError):
        probe(fake)


def test_jobs_import_is_cheap():
    # The GUI probes files before any model exists: importing codec.jobs must not need torch.
    import subprocess
    import sys

    code = "import sys, codec.jobs; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert jobs.ECDC_MAGIC == b"ECDC"


def test_every_job_reports_audio_bytes_per_ecdc_byte(pool, make_audio, tmp_path):
    # One builder (jobs._job_result) for the three jobs' results.
    src = make_audio("in.wav", sample_rate=24_000, seconds=0.3)
    packed = compress_file(src, tmp_path / "in.ecdc", pool=pool, model_name="24khz", bandwidth=3.0)
    unpacked = decompress_file(tmp_path / "in.ecdc", tmp_path / "out.wav", pool=pool)
    heard = roundtrip_file(src, tmp_path / "heard.wav", pool=pool, model_name="24khz", bandwidth=3.0)
    assert packed.ratio == pytest.approx(packed.input_bytes / packed.output_bytes)
    assert unpacked.ratio == pytest.approx(unpacked.output_bytes / unpacked.input_bytes)
    assert heard.ratio == pytest.approx(heard.input_bytes / heard.ecdc_bytes)
    assert packed.ecdc_bytes == unpacked.ecdc_bytes == heard.ecdc_bytes
    for result in (packed, unpacked, heard):
        assert (result.model, result.bandwidth, result.use_lm, result.lm_format) == (
            "encodec_24khz",
            3.0,
            False,
            None,
        )
        assert result.duration_s == pytest.approx(0.3) and result.lost_s == ()
