"""The training corpus: openly licensed audio from Debian packages plus espeak-ng speech, at 24 kHz mono.

`build_corpus(out)` downloads the packages (`apt-get download`, no install), unpacks them, decodes every
track with soundfile, resamples with soxr, normalises loudness and writes:
- `train.npy`: one int16 array, all training audio end to end (read memory-mapped by the trainer);
- `train_index.json`: where each file starts, its length and its kind (music / speech / synthetic / sfx);
- `eval/music/*.wav`, `eval/speech/*.wav`: held-out clips, never in `train.npy` (see `HELD_OUT`).

The corpus itself is not committed: this module rebuilds it from package names.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 24_000
TARGET_RMS_DB = -20.0  # loudness every file is normalised to before augmentation
EVAL_CLIP_SECONDS = 8.0


@dataclass(frozen=True)
class Source:
    package: str
    pattern: str  # fnmatch pattern on the path inside the package
    kind: str  # music | speech | sfx


SOURCES = (
    Source("wesnoth-1.16-music", "*/wesnoth/*/music/*.ogg", "music"),
    Source("hedgewars-data", "*/hedgewars/Data/Music/*.ogg", "music"),
    Source("freedroidrpg-data", "*/freedroidrpg/data/sound/music/*.ogg", "music"),
    Source("hedgewars-data", "*/hedgewars/Data/Sounds/voices/*/*.ogg", "speech"),
    Source("freedroidrpg-data", "*/freedroidrpg/data/sound/effects/tux_ingame_comments/*.ogg", "speech"),
    Source("hedgewars-data", "*/hedgewars/Data/Sounds/*.ogg", "sfx"),
    Source("freedroidrpg-data", "*/freedroidrpg/data/sound/effects/*/*.ogg", "sfx"),
)

# Held out from training, used only for evaluation (the model card and the quality tests name them).
HELD_OUT = (
    "*/wesnoth/*/music/the_deep_path.ogg",
    "*/wesnoth/*/music/traveling_minstrels.ogg",
    "*/wesnoth/*/music/knalgan_theme.ogg",
    "*/hedgewars/Data/Music/Jungle.ogg",
    "*/freedroidrpg/data/sound/music/temple.ogg",
    "*/hedgewars/Data/Sounds/voices/British/*",
    "*/hedgewars/Data/Sounds/voices/Default_es/*",
    "*/hedgewars/Data/Sounds/voices/Mobster/*",
)

# espeak-ng: synthetic speech in many voices, languages, rates and pitches (mixed with real recordings).
ESPEAK_TRAIN_VOICES = (
    "en", "en-us", "en-gb-scotland", "en-029", "de", "fr", "es", "it", "pt", "ru", "pl", "nl", "sv",
    "cs", "fi", "hu", "tr", "hi", "el", "ro", "da", "nb", "uk", "vi",
)  # fmt: skip
ESPEAK_EVAL_VOICES = ("en-gb-x-rp", "es-419")
ESPEAK_VARIANTS = ("", "+m1", "+m3", "+f1", "+f3", "+f4", "+m7", "+klatt")
ESPEAK_TEXT = (
    "The quick brown fox jumps over the lazy dog while the band plays on.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "Six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack.",
    "We also need a small plastic snake and a big toy frog for the kids.",
    "She can scoop these things into three red bags, and we will go meet her Wednesday.",
    "A neural audio codec turns sound into a short list of numbers and back again.",
    "Numbers one two three four five six seven eight nine ten, and then eleven, twelve.",
    "How much wood would a woodchuck chuck if a woodchuck could chuck wood?",
    "The rain in Spain stays mainly in the plain, said the professor with a smile.",
    "On Tuesday the weather will be cloudy with a chance of thunderstorms in the evening.",
    "Is this the right way to the station, or should we turn left at the bridge?",
    "Peter Piper picked a peck of pickled peppers; where is the peck he picked?",
)
ESPEAK_EVAL_TEXT = (
    "Bright vixens jump; dozy fowl quack, and the old clock in the hall strikes nine.",
    "Every listener can hear the difference between the original and the compressed copy.",
)


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]


def fetch_packages(packages: list[str], raw_dir: Path) -> None:
    """`apt-get download` each package (no install, no root needed for the download) and unpack it."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for package in packages:
            marker = raw_dir / f".{package}.unpacked"
            if marker.exists():
                continue
            _run(["apt-get", "download", package], cwd=tmp)
            for deb in Path(tmp).glob(f"{package}_*.deb"):
                _run(["dpkg-deb", "-x", str(deb), str(raw_dir)])
                deb.unlink()
            marker.touch()


def load_mono(path: Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A file as float32 mono at `sample_rate` (channels averaged, soxr HQ resampling)."""
    import soundfile as sf
    import soxr

    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ").astype(np.float32)
    return mono


def normalise_loudness(audio: np.ndarray, target_db: float = TARGET_RMS_DB) -> np.ndarray:
    """Scale so the RMS of the louder half of 50 ms blocks is `target_db` dBFS, then keep peaks below 1."""
    block = 1200
    usable = len(audio) // block * block
    if usable == 0:
        return audio
    energies = np.sort((audio[:usable].reshape(-1, block) ** 2).mean(axis=1))
    active = energies[len(energies) // 2 :].mean()
    if active <= 1e-10:
        return audio
    gain = 10 ** (target_db / 20) / np.sqrt(active)
    out = audio * gain
    peak = np.abs(out).max()
    return out / peak * 0.99 if peak > 0.99 else out


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in patterns)


def source_files(raw_dir: Path) -> Iterator[tuple[Path, str, bool]]:
    """(path, kind, held_out) for every file of `SOURCES` under `raw_dir`, in a stable order."""
    seen: set[Path] = set()
    for source in SOURCES:
        for path in sorted(raw_dir.rglob("*.ogg")):
            relative = str(path.relative_to(raw_dir))
            if path in seen or not fnmatch.fnmatch(relative, source.pattern):
                continue
            seen.add(path)
            yield path, source.kind, _matches(relative, HELD_OUT)


def espeak_speech(
    voices: tuple[str, ...], texts: tuple[str, ...], out_dir: Path, seed: int
) -> Iterator[tuple[Path, str]]:
    """Render `texts` with espeak-ng in each voice and variant, at random rates and pitches."""
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    for voice in voices:
        for variant in ESPEAK_VARIANTS:
            text = " ".join(rng.choice(texts, size=min(3, len(texts)), replace=False))
            rate, pitch = int(rng.integers(120, 220)), int(rng.integers(20, 80))
            name = f"{voice}{variant}".replace("+", "_")
            wav = out_dir / f"{name}.wav"
            try:
                _run(
                    [
                        "espeak-ng",
                        "-v",
                        voice + variant,
                        "-s",
                        str(rate),
                        "-p",
                        str(pitch),
                        "-w",
                        str(wav),
                        text,
                    ]
                )
            except (subprocess.CalledProcessError, FileNotFoundError):
                continue
            yield wav, name


def _eval_clips(audio: np.ndarray, seconds: float, count: int) -> list[np.ndarray]:
    """Up to `count` non-overlapping clips spread over the file, skipping near-silent ones."""
    length = int(seconds * SAMPLE_RATE)
    if len(audio) < length:
        return [audio] if len(audio) > SAMPLE_RATE else []
    starts = np.linspace(0, len(audio) - length, num=count + 2)[1:-1].astype(int)
    clips = [audio[s : s + length] for s in starts]
    return [c for c in clips if np.sqrt((c**2).mean()) > 10 ** (-45 / 20)]


def build_corpus(out: Path, log: Callable[[str], None] = print, keep_raw: bool = True) -> dict:
    """Build the corpus in `out` (idempotent downloads); returns a summary of what went where."""
    import soundfile as sf

    out = Path(out)
    raw_dir = out / "raw"
    fetch_packages(sorted({s.package for s in SOURCES}), raw_dir)
    eval_dir = out / "eval"
    shutil.rmtree(eval_dir, ignore_errors=True)
    (eval_dir / "music").mkdir(parents=True)
    (eval_dir / "speech").mkdir(parents=True)

    pieces: list[np.ndarray] = []
    index: list[dict] = []
    position = 0
    held_speech: dict[str, list[np.ndarray]] = {}
    summary = {"train_seconds": {}, "eval_clips": {"music": [], "speech": []}}

    def add_train(audio: np.ndarray, name: str, kind: str) -> None:
        nonlocal position
        pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)
        pieces.append(pcm)
        index.append({"name": name, "kind": kind, "start": position, "length": len(pcm)})
        position += len(pcm)
        summary["train_seconds"][kind] = summary["train_seconds"].get(kind, 0) + len(pcm) / SAMPLE_RATE

    for path, kind, held_out in source_files(raw_dir):
        name = str(path.relative_to(raw_dir))
        try:
            audio = normalise_loudness(load_mono(path))
        except Exception as error:  # a file libsndfile cannot read is skipped, and said so
            log(f"skip {name}: {error}")
            continue
        if not held_out:
            add_train(audio, name, kind)
        elif kind == "music":
            for number, clip in enumerate(_eval_clips(audio, EVAL_CLIP_SECONDS, 2)):
                clip_name = f"{path.stem}-{number}.wav"
                sf.write(str(eval_dir / "music" / clip_name), clip, SAMPLE_RATE, subtype="PCM_16")
                summary["eval_clips"]["music"].append(clip_name)
        elif kind == "speech":
            held_speech.setdefault(path.parent.name, []).append(audio)

    # Held-out real voices: each voice's short lines joined with 0.25 s gaps into 8 s clips.
    gap = np.zeros(SAMPLE_RATE // 4, dtype=np.float32)
    for voice, lines in sorted(held_speech.items()):
        joined = np.concatenate([x for line in lines for x in (line, gap)])
        for number, clip in enumerate(_eval_clips(joined, EVAL_CLIP_SECONDS, 3)):
            clip_name = f"{voice}-{number}.wav"
            sf.write(str(eval_dir / "speech" / clip_name), clip, SAMPLE_RATE, subtype="PCM_16")
            summary["eval_clips"]["speech"].append(clip_name)

    with tempfile.TemporaryDirectory() as tmp:
        for wav, name in espeak_speech(ESPEAK_TRAIN_VOICES, ESPEAK_TEXT, Path(tmp) / "train", seed=1):
            add_train(normalise_loudness(load_mono(wav)), f"espeak/{name}", "synthetic")
        for wav, name in espeak_speech(ESPEAK_EVAL_VOICES, ESPEAK_EVAL_TEXT, Path(tmp) / "eval", seed=2):
            clip = normalise_loudness(load_mono(wav))[: int(EVAL_CLIP_SECONDS * SAMPLE_RATE)]
            clip_name = f"espeak-{name}.wav"
            sf.write(str(eval_dir / "speech" / clip_name), clip, SAMPLE_RATE, subtype="PCM_16")
            summary["eval_clips"]["speech"].append(clip_name)

    np.save(out / "train.npy", np.concatenate(pieces))
    (out / "train_index.json").write_text(json.dumps(index, indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if not keep_raw:
        shutil.rmtree(raw_dir)
    log(f"corpus: {position / SAMPLE_RATE / 3600:.2f} h of training audio, {summary}")
    return summary
