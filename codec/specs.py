"""The three EnCodec models, described as data. No torch import here: the GUI reads specs at start-up.

Numbers come from the reference implementations (`encodec` 0.1.1 and transformers' `EncodecConfig`);
the parity tests check them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from codec.errors import UnknownModelError, UnsupportedBandwidthError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    sample_rate: int
    channels: int
    bandwidths: tuple[float, ...]
    codebook_size: int
    max_codebooks: int
    ratios: tuple[int, ...] = (8, 5, 4, 2)
    n_filters: int = 32
    dimension: int = 128
    causal: bool = True
    norm: str = "weight_norm"  # or "time_group_norm"
    true_skip: bool = False  # identity residual shortcut instead of a 1x1 conv
    normalize: bool = False  # per-segment volume scale
    segment: float | None = None  # seconds per independently coded chunk
    overlap: float = 0.01
    lm_checkpoint: str | None = None  # official LM file name, None when no LM exists
    architecture: str = "seanet"  # or "transform": see codec/modules/transform.py
    frame_width: int = 0  # channels at the frame rate ("transform" only)
    lstm_layers: int = 2
    official: bool = True  # Meta's weights; False for ECDC Studio's own models

    @property
    def hop_length(self) -> int:
        return math.prod(self.ratios)

    @property
    def frame_rate(self) -> int:
        return math.ceil(self.sample_rate / self.hop_length)

    @property
    def streams_frames(self) -> bool:
        """Whether `codec.realtime` can stream it frame by frame: causal, no group norm, no segments."""
        return self.causal and self.norm != "time_group_norm" and self.segment is None

    @property
    def bits_per_codebook(self) -> int:
        return int(math.log2(self.codebook_size))

    @property
    def has_lm(self) -> bool:
        return self.lm_checkpoint is not None

    @property
    def segment_length(self) -> int | None:
        return None if self.segment is None else int(self.segment * self.sample_rate)

    @property
    def segment_stride(self) -> int | None:
        length = self.segment_length
        return None if length is None else max(1, int((1 - self.overlap) * length))

    @property
    def lm_past_context(self) -> int:
        return int(3.5 * self.frame_rate)

    def codebooks_for_bandwidth(self, bandwidth: float) -> int:
        """Number of codebooks used at `bandwidth` kbps; raises with the valid list if unsupported."""
        self.check_bandwidth(bandwidth)
        return int(max(1, math.floor(bandwidth * 1000 / (self.bits_per_codebook * self.frame_rate))))

    def bandwidth_for_codebooks(self, num_codebooks: int) -> float:
        """The nominal bandwidth (kbps) whose codebook count is `num_codebooks`."""
        for bandwidth in self.bandwidths:
            if self.codebooks_for_bandwidth(bandwidth) == num_codebooks:
                return bandwidth
        return num_codebooks * self.bits_per_codebook * self.frame_rate / 1000

    def check_bandwidth(self, bandwidth: float) -> None:
        if not any(math.isclose(bandwidth, b) for b in self.bandwidths):
            raise UnsupportedBandwidthError(
                f"{self.name} does not support {format_bandwidth(bandwidth)} kbps; "
                f"choose one of {', '.join(format_bandwidth(b) for b in self.bandwidths)} kbps."
            )

    def frames_for_length(self, length: int) -> int:
        """Frames the encoder emits for `length` samples: ceil(length / hop), in integers."""
        return -(-length // self.hop_length)


def format_bandwidth(bandwidth: float) -> str:
    return f"{bandwidth:g}"


ENCODEC_24KHZ = ModelSpec(
    name="encodec_24khz",
    title="24 kHz mono (speech & general)",
    sample_rate=24_000,
    channels=1,
    bandwidths=(1.5, 3.0, 6.0, 12.0, 24.0),
    codebook_size=1024,
    max_codebooks=32,
    causal=True,
    norm="weight_norm",
    lm_checkpoint="encodec_lm_24khz-1608e3c0.th",
)

ENCODEC_48KHZ = ModelSpec(
    name="encodec_48khz",
    title="48 kHz stereo (music)",
    sample_rate=48_000,
    channels=2,
    bandwidths=(3.0, 6.0, 12.0, 24.0),
    codebook_size=1024,
    max_codebooks=16,
    causal=False,
    norm="time_group_norm",
    normalize=True,
    segment=1.0,
    lm_checkpoint="encodec_lm_48khz-7add9fc3.th",
)

ENCODEC_32KHZ = ModelSpec(
    name="encodec_32khz",
    title="32 kHz mono (MusicGen)",
    sample_rate=32_000,
    channels=1,
    bandwidths=(2.2,),
    codebook_size=2048,
    max_codebooks=4,
    ratios=(8, 5, 4, 4),
    n_filters=64,
    causal=False,
    norm="weight_norm",
    true_skip=True,
)

# ECDC Studio's own model, trained by `codec.training` and bundled so the app works offline (docs/MODEL-CARD.md).
# Causal like encodec_24khz; a learned filterbank head instead of SEANet's sample-rate convolutions.
ECDC_SMALL_24KHZ = ModelSpec(
    name="ecdc_small_24khz",
    title="24 kHz mono, small (ECDC Studio's own, bundled)",
    sample_rate=24_000,
    channels=1,
    bandwidths=(1.5, 3.0, 6.0, 12.0),
    codebook_size=1024,
    max_codebooks=16,
    ratios=(320,),
    dimension=128,
    causal=True,
    norm="weight_norm",
    true_skip=True,
    architecture="transform",
    frame_width=320,
    official=False,
    lm_checkpoint="ecdc_lm_small_24khz.safetensors",
)

MODELS: dict[str, ModelSpec] = {
    spec.name: spec for spec in (ENCODEC_24KHZ, ENCODEC_48KHZ, ENCODEC_32KHZ, ECDC_SMALL_24KHZ)
}

_ALIASES = {
    "24khz": "encodec_24khz",
    "48khz": "encodec_48khz",
    "32khz": "encodec_32khz",
    "small": "ecdc_small_24khz",
}


def get_spec(name: str) -> ModelSpec:
    """Look a model up by full name (`encodec_24khz`) or short alias (`24khz`)."""
    key = _ALIASES.get(name.lower(), name.lower())
    try:
        return MODELS[key]
    except KeyError:
        raise UnknownModelError(
            f"Unknown model {name!r}; choose one of {', '.join(MODELS)} (or {', '.join(_ALIASES)})."
        ) from None
