"""`CodecBridge`: the app's wrappers of `codec.jobs` check what they can before loading or looking for weights."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from app.codec_bridge import CodecBridge
from codec.errors import AudioFormatError, WeightsMissing


def test_compressing_a_file_that_is_not_audio_fails_on_the_file_not_the_weights(models_dir, tmp_path):
    # No weights are installed (empty models folder): the file's own problem must be what is reported,
    # or the queue would pause and ask to download weights for a file it cannot compress anyway.
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not a wav file" * 100)
    bridge = CodecBridge()
    with pytest.raises(AudioFormatError, match="garbage.wav"):
        bridge.compress(
            garbage,
            tmp_path / "out.ecdc",
            model_name="encodec_24khz",
            bandwidth=6.0,
            use_lm=False,
            overwrite=False,
        )
    assert bridge.pool_if_loaded() is None  # nothing was loaded
    good = tmp_path / "good.wav"
    sf.write(good, np.zeros(2400, dtype=np.float32), 24_000)
    with pytest.raises(WeightsMissing):
        bridge.compress(
            good,
            tmp_path / "out.ecdc",
            model_name="encodec_24khz",
            bandwidth=6.0,
            use_lm=False,
            overwrite=False,
        )
    assert not (tmp_path / "out.ecdc").exists()


def test_the_live_view_and_the_queue_share_the_pools_no_download_rule(models_dir, monkeypatch):
    import codec.weights.manager
    from app.live.view import pool_loader

    monkeypatch.setattr(codec.weights.manager, "_download", lambda *a, **k: pytest.fail("downloaded unasked"))
    bridge = CodecBridge()
    with pytest.raises(WeightsMissing) as missing:
        pool_loader(bridge, "encodec_24khz")()
    assert missing.value.name == "encodec_24khz"
    assert bridge.pool().allow_download is False


def test_decompressing_from_the_queue_parses_the_header_once(install_random_model, tmp_path, monkeypatch):
    from tests.codec.test_jobs import count_header_parses

    install_random_model("encodec_24khz")
    src = tmp_path / "in.wav"
    sf.write(src, np.zeros(4800, dtype=np.float32), 24_000)
    bridge = CodecBridge()
    bridge.compress(
        src, tmp_path / "in.ecdc", model_name="encodec_24khz", bandwidth=6.0, use_lm=False, overwrite=False
    )
    parses = count_header_parses(monkeypatch)
    bridge.decompress(tmp_path / "in.ecdc", tmp_path / "out.wav")
    assert len(parses) == 1  # was 3: the app's weights check probed it, then the job read it twice
