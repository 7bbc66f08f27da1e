"""`encodec-studio --self-test`: check that an installed (or frozen) app works, without network or display.

It runs the app's real code paths in a throw-away folder: a random-weights 24 kHz model is installed into a
temporary models folder (``ECDC_STUDIO_MODELS``) the way `codec.weights` finds installed weights, a test
signal is compressed and decompressed through `app.codec_bridge.CodecBridge` (the GUI's door into
`codec.jobs` and its `ModelPool`), the decoded file is checked, and the main window is opened and closed
offscreen.

One line is printed per step; the result is 0 only when every step passed, else 1 and the failing step is
named. Nothing outside the temporary folder is touched (settings go to an INI file inside it).
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from codec.units import format_bytes

MODEL_NAME = "encodec_24khz"
BUNDLED_MODEL = "ecdc_small_24khz"  # ships inside the package: checked as the frozen app sees it
BANDWIDTH = 6.0
SAMPLE_RATE = 24_000
SECONDS = 1.5
MIN_RMS = 1e-4  # decoded audio quieter than this counts as silent
WINDOW_TIMEOUT_S = 20.0


class SelfTestError(Exception):
    """A self-test check failed; the message says what was wrong."""


@dataclass
class _State:
    """What the steps hand on to each other."""

    work: Path
    bridge: Any = None
    source: Path | None = None
    ecdc: Path | None = None
    decoded: Path | None = None
    notes: list[str] = field(default_factory=list)


def make_signal(sample_rate: int = SAMPLE_RATE, seconds: float = SECONDS) -> np.ndarray:
    """float32 mono [frames]: a rising sine sweep, a steady chord and a little noise, peak 0.5."""
    frames = int(round(sample_rate * seconds))
    t = np.arange(frames) / sample_rate
    sweep = np.sin(2 * np.pi * (100.0 * t + 0.5 * (2000.0 - 100.0) / seconds * t**2))
    chord = np.sin(2 * np.pi * 220.0 * t) + 0.5 * np.sin(2 * np.pi * 330.0 * t)
    noise = np.random.default_rng(0).standard_normal(frames)
    x = sweep + 0.5 * chord + 0.02 * noise
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def check_decoded(audio: np.ndarray, sample_rate: int, expected_frames: int, expected_rate: int) -> str:
    """Raise SelfTestError unless `audio` (float [frames] or [frames, channels]) has the expected rate and
    length, is finite and is not silent; returns a short description of it."""
    if sample_rate != expected_rate:
        raise SelfTestError(f"decoded sample rate is {sample_rate} Hz, expected {expected_rate} Hz")
    frames = audio.shape[0]
    if frames != expected_frames:
        raise SelfTestError(f"decoded {frames} frames, expected {expected_frames}")
    if not np.all(np.isfinite(audio)):
        raise SelfTestError("decoded audio has NaN or infinite samples")
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    if rms < MIN_RMS:
        raise SelfTestError(f"decoded audio is silent (RMS {rms:.2e})")
    return f"{frames} frames at {sample_rate} Hz, RMS {rms:.4f}"


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of the block, then put the old values back."""
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --- steps: each returns a short detail for its line, or raises ---------------------------------------------


def _step_environment(state: _State) -> str:
    import PySide6  # noqa: PLC0415

    frozen = "frozen" if getattr(sys, "frozen", False) else "from source"
    return (
        f"{frozen}, Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"PySide6 {PySide6.__version__}"
    )


def _step_audio_libraries(state: _State) -> str:
    import soundfile  # noqa: PLC0415
    import soxr  # noqa: PLC0415

    details = [f"libsndfile {soundfile.__libsndfile_version__}", f"soxr {soxr.__version__}"]
    try:
        import sounddevice  # noqa: PLC0415
    except OSError as exc:  # the PortAudio library did not load
        raise SelfTestError(f"PortAudio did not load: {exc}") from exc
    library = str(getattr(sounddevice, "_libname", "") or "")
    details.append(f"{sounddevice.get_portaudio_version()[1].split(',')[0]} ({library or 'unknown file'})")
    bundle = getattr(sys, "_MEIPASS", None)
    if (
        bundle
        and sys.platform.startswith("linux")
        and not os.environ.get("ECDC_STUDIO_SYSTEM_PORTAUDIO")
        and not os.path.abspath(library).startswith(os.path.abspath(bundle) + os.sep)
    ):
        raise SelfTestError(
            f"PortAudio was loaded from {library or 'an unknown file'}, not from the app bundle"
        )
    return ", ".join(details)


def _step_torch(state: _State) -> str:
    import torch  # noqa: PLC0415

    # A convolution and a matrix product, checked against numpy: the native kernels the model uses work.
    rng = np.random.default_rng(0)
    signal, kernel = rng.standard_normal(4096), rng.standard_normal(31)
    conv = torch.nn.functional.conv1d(
        torch.from_numpy(signal)[None, None], torch.from_numpy(kernel[::-1].copy())[None, None]
    )[0, 0].numpy()
    a, b = rng.standard_normal((64, 128)), rng.standard_normal((128, 32))
    product = (torch.from_numpy(a) @ torch.from_numpy(b)).numpy()
    if not np.allclose(conv, np.convolve(signal, kernel, mode="valid")) or not np.allclose(product, a @ b):
        raise SelfTestError("torch's convolution or matrix product disagrees with numpy")
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def _step_install_model(state: _State) -> str:
    import torch  # noqa: PLC0415

    from codec.models.encodec import EncodecModel  # noqa: PLC0415
    from codec.weights import find_installed, get_entry, models_dir  # noqa: PLC0415

    folder = models_dir()
    if folder != state.work / "models":
        raise SelfTestError(f"the models folder is {folder}, not the temporary one")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / get_entry(MODEL_NAME).install_name
    model = EncodecModel.random(MODEL_NAME, seed=0)
    torch.save(model.state_dict(), target)
    found = find_installed(MODEL_NAME)
    if found != target:
        raise SelfTestError(f"codec.weights does not find the installed checkpoint (found {found})")
    return f"random-weights {MODEL_NAME} installed as {target.name} ({format_bytes(target.stat().st_size)})"


def _step_signal(state: _State) -> str:
    import soundfile  # noqa: PLC0415

    state.source = state.work / "signal.wav"
    soundfile.write(state.source, make_signal(), SAMPLE_RATE, subtype="PCM_16")
    return f"{SECONDS:g} s at {SAMPLE_RATE} Hz written to {state.source.name}"


def _step_compress(state: _State) -> str:
    from app.codec_bridge import CodecBridge  # noqa: PLC0415
    from codec.filetypes import ECDC_MAGIC  # noqa: PLC0415
    from codec.jobs import probe  # noqa: PLC0415

    assert state.source is not None
    state.bridge = CodecBridge(device="cpu")
    state.ecdc = state.work / "signal.ecdc"
    result = state.bridge.compress(
        state.source, state.ecdc, model_name=MODEL_NAME, bandwidth=BANDWIDTH, use_lm=False, overwrite=False
    )
    if state.ecdc.read_bytes()[: len(ECDC_MAGIC)] != ECDC_MAGIC:
        raise SelfTestError(f"{state.ecdc.name} does not start with the ECDC magic")
    info = probe(state.ecdc)
    if info.header is None or info.header.model != MODEL_NAME:
        raise SelfTestError(f"{state.ecdc.name} does not describe a {MODEL_NAME} stream")
    # 6 kbps for SECONDS seconds, plus a small header: far below this bound unless something is wrong.
    limit = int(BANDWIDTH * 1000 / 8 * SECONDS * 1.5) + 1024
    if not 0 < result.output_bytes <= limit:
        raise SelfTestError(f"{state.ecdc.name} is {result.output_bytes} bytes, expected at most {limit}")
    return f"{result.output_bytes} bytes at {result.bitrate_kbps:.2f} kbps, ratio {result.ratio:.1f}:1"


def _step_decompress(state: _State) -> str:
    import soundfile  # noqa: PLC0415

    assert state.bridge is not None and state.ecdc is not None
    state.decoded = state.work / "decoded.wav"
    state.bridge.decompress(state.ecdc, state.decoded)
    audio, rate = soundfile.read(state.decoded, dtype="float32")
    return check_decoded(audio, rate, int(round(SAMPLE_RATE * SECONDS)), SAMPLE_RATE)


def _step_bundled_model(state: _State) -> str:
    import torch  # noqa: PLC0415

    import codec  # noqa: PLC0415
    from codec.metrics import si_sdr  # noqa: PLC0415

    model = codec.load_model(BUNDLED_MODEL)  # from the package itself: no download, works offline
    audio = make_signal(model.spec.sample_rate)
    decoded = model.decode(model.encode(torch.from_numpy(audio)[None], BANDWIDTH))[0].numpy()
    quality = si_sdr(audio, decoded)
    # A trained model reproduces the test chord; random or missing weights would give noise (< 0 dB).
    if not quality > 0.0:
        raise SelfTestError(f"the bundled model's round trip is {quality:.1f} dB SI-SDR, expected above 0 dB")
    return f"{BUNDLED_MODEL} round trip at {BANDWIDTH:g} kbps: {quality:.1f} dB SI-SDR"


def _step_main_window(state: _State) -> str:
    from PySide6.QtCore import QElapsedTimer  # noqa: PLC0415
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415

    from app.main_window import MainWindow  # noqa: PLC0415
    from app.settings import AppSettings  # noqa: PLC0415

    app = QApplication.instance() or QApplication(["encodec-studio"])
    assert isinstance(app, QApplication)
    _keep_alive.append(app)
    window = MainWindow(AppSettings.from_file(state.work / "settings.ini"))
    window.confirm_close = lambda: True  # never block on a question
    shown: list[bool] = []
    window.shown_once.connect(lambda: shown.append(True))
    window.show()
    timer = QElapsedTimer()
    timer.start()
    while not shown and timer.elapsed() < WINDOW_TIMEOUT_S * 1000:
        app.processEvents()
        time.sleep(0.01)
    if not shown:
        raise SelfTestError(f"the main window was not shown within {WINDOW_TIMEOUT_S:g} s")
    paths = [p for p in (state.source, state.ecdc) if p is not None]
    added = window.add_paths(paths)
    rows = window.queue_model.rowCount()
    closed = window.close()
    app.processEvents()
    if len(added) != len(paths) or rows != len(paths):
        raise SelfTestError(f"queued {len(added)} of {len(paths)} files ({rows} rows)")
    if not closed:
        raise SelfTestError("the main window refused to close")
    window.deleteLater()
    app.processEvents()
    return f"shown on the {app.platformName()!r} platform, {rows} files queued, closed"


#: The steps in order; each depends on the ones before it.
STEPS: list[tuple[str, Callable[[_State], str]]] = [
    ("environment", _step_environment),
    ("audio libraries", _step_audio_libraries),
    ("torch", _step_torch),
    ("install model", _step_install_model),
    ("test signal", _step_signal),
    ("compress", _step_compress),
    ("decompress", _step_decompress),
    ("bundled model", _step_bundled_model),
    ("main window", _step_main_window),
]

_keep_alive: list[Any] = []  # a QApplication created here outlives the call (Qt dislikes a second one)


def run_self_test(stream: TextIO | None = None) -> int:
    """Run every step, printing one line each to `stream` (stdout by default); 0 when all passed, else 1
    after naming the failing step. Sets QT_QPA_PLATFORM=offscreen when it is not set."""
    out = stream if stream is not None else sys.stdout
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="encodec-studio-self-test-") as tmp:
        work = Path(tmp)
        state = _State(work=work)
        with _environ(ECDC_STUDIO_MODELS=str(work / "models")):
            for number, (name, step) in enumerate(STEPS, start=1):
                step_started = time.perf_counter()
                try:
                    detail = step(state)
                except Exception as exc:  # any failure is reported, never raised
                    message = str(exc) or type(exc).__name__
                    say(f"self-test {number}/{len(STEPS)} {name}: FAILED: {message}")
                    if os.environ.get("ECDC_DEBUG"):
                        traceback.print_exc(file=out)
                    say(f"self-test: FAILED at step '{name}'")
                    return 1
                took = time.perf_counter() - step_started
                say(f"self-test {number}/{len(STEPS)} {name}: ok ({took:.1f} s): {detail}")
    say(f"self-test: all {len(STEPS)} steps passed in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(run_self_test())
