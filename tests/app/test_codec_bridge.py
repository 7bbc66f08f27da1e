"""`CodecBridge`: the app's wrappers of `codec.jobs` check what they can before loading or looking for weights."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from app.codec_bridge import CodecBridge, MissingWeights
from codec.errors import AudioFormatError


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
    with pytest.raises(MissingWeights):
        bridge.compress(
            good,
            tmp_path / "out.ecdc",
            model_name="encodec_24khz",
            bandwidth=6.0,
            use_lm=False,
            overwrite=False,
        )
    assert not (tmp_path / "out.ecdc").exists()
