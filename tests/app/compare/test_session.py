"""`CompareSession` through the app's model pool: the ladder asks nothing of the network."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import codec.weights.manager
from app.compare.session import CompareSession
from app.tasks import TaskRunner
from codec.ladder import LadderCache
from codec.model_pool import ModelPool


def test_the_ladder_never_downloads_weights(qtbot, models_dir, monkeypatch, tmp_path):
    # It used to: the compare window called the pool directly, past the queue's installed-weights check.
    monkeypatch.setattr(codec.weights.manager, "_download", lambda *a, **k: pytest.fail("downloaded unasked"))
    src = tmp_path / "song.wav"
    sf.write(src, np.zeros(12_000, dtype=np.float32), 24_000)
    session = CompareSession(
        src, TaskRunner(synchronous=True), ModelPool(), "encodec_24khz", cache=LadderCache()
    )
    session.load()
    assert session.loaded
    failed: list[str] = []
    session.ladder_failed.connect(failed.append)
    session.run_ladder([6.0])
    assert len(failed) == 1 and "encodec_24khz weights are not installed" in failed[0]
