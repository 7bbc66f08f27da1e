"""Reference points for the quality figures: Opus through `opusenc`/`opusdec` and a low-pass copy.

Opus is the classical codec the EnCodec paper compares against; the 4 kHz low-pass copy is the floor a
neural codec must beat on spectral distance (it keeps the envelope below 4 kHz and nothing above).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from codec.errors import CodecError


def opus_available() -> bool:
    return shutil.which("opusenc") is not None and shutil.which("opusdec") is not None


def opus_roundtrip(audio: np.ndarray, sample_rate: int, kbps: float) -> tuple[np.ndarray, int]:
    """`audio` ([T] or [C, T] float32) through Opus at `kbps`, decoded at `sample_rate` with the same shape,
    and the size of the Opus file in bytes."""
    import soundfile as sf

    if not opus_available():
        raise CodecError("Opus comparison needs opusenc and opusdec (Debian package opus-tools).")
    audio = np.asarray(audio, dtype=np.float32)
    frames = audio if audio.ndim == 1 else audio.T  # soundfile wants [T, C]
    with tempfile.TemporaryDirectory(prefix="ecdc-opus-") as tmp:
        wav, opus, out = Path(tmp) / "in.wav", Path(tmp) / "in.opus", Path(tmp) / "out.wav"
        sf.write(str(wav), frames, sample_rate, subtype="FLOAT")
        try:
            subprocess.run(
                ["opusenc", "--quiet", "--bitrate", f"{kbps:g}", str(wav), str(opus)],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                ["opusdec", "--quiet", "--rate", str(sample_rate), "--float", str(opus), str(out)],
                check=True,
                capture_output=True,
            )
        except subprocess.CalledProcessError as error:
            raise CodecError(f"Opus failed: {error.stderr.decode(errors='replace').strip()}") from None
        decoded = sf.read(str(out), dtype="float32", always_2d=True)[0].T  # [C, T]
        size = opus.stat().st_size
    length = audio.shape[-1]
    decoded = np.pad(decoded, ((0, 0), (0, max(0, length - decoded.shape[-1]))))[:, :length]
    return (decoded[0] if audio.ndim == 1 else decoded).astype(np.float32), size


def lowpass(audio: np.ndarray, sample_rate: int, cutoff_hz: float = 4000.0) -> np.ndarray:
    """A brick-wall low-pass copy (zero phase, FFT): what a codec that drops everything above cutoff gives."""
    spectrum = np.fft.rfft(audio)
    spectrum[np.fft.rfftfreq(len(audio), 1 / sample_rate) > cutoff_hz] = 0
    return np.fft.irfft(spectrum, len(audio)).astype(np.float32)
