"""The EnCodec model: SEANet encoder, residual vector quantizer, SEANet decoder, and the 48 kHz chunking.

`encode` turns a waveform into `EncodedAudio` (codes per segment, plus per-segment volume scales for the
48 kHz model); `decode` turns it back. Segments are what the `.ecdc` format stores one after another:
the whole file for the 24 and 32 kHz models, 1 s chunks with 1 % overlap for the 48 kHz model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from codec.modules.seanet import SEANetDecoder, SEANetEncoder
from codec.progress import CancelToken, ProgressCallback, check_cancel, report
from codec.quantization.init import fill_codebooks_from_latents, probe_latents
from codec.quantization.rvq import ResidualVectorQuantizer
from codec.specs import ModelSpec, get_spec


@dataclass
class EncodedAudio:
    """Codes of one audio file: one int64 [K, T_i] tensor per segment, and scales when the model normalises."""

    model: str
    bandwidth: float
    length: int
    codes: list[torch.Tensor]
    scales: list[float] | None = None

    @property
    def num_codebooks(self) -> int:
        return int(self.codes[0].shape[0]) if self.codes else 0

    @property
    def spec(self) -> ModelSpec:
        return get_spec(self.model)

    @property
    def num_frames(self) -> int:
        return sum(int(c.shape[-1]) for c in self.codes)


def segment_bounds(spec: ModelSpec, length: int) -> list[tuple[int, int]]:
    """(offset, length) of each segment the model codes independently."""
    if spec.segment_length is None:
        return [(0, length)]
    stride = spec.segment_stride or 1
    return [(offset, min(spec.segment_length, length - offset)) for offset in range(0, length, stride)]


def linear_overlap_add(frames: list[torch.Tensor], stride: int) -> torch.Tensor:
    """Sum overlapping segments with triangular weights, normalised by the summed weights (as the reference)."""
    first = frames[0]
    total = stride * (len(frames) - 1) + frames[-1].shape[-1]
    t = torch.linspace(0, 1, first.shape[-1] + 2, device=first.device, dtype=first.dtype)[1:-1]
    weight = 0.5 - (t - 0.5).abs()
    out = torch.zeros(*first.shape[:-1], total, device=first.device, dtype=first.dtype)
    weight_sum = torch.zeros(total, device=first.device, dtype=first.dtype)
    for index, frame in enumerate(frames):
        offset, n = index * stride, frame.shape[-1]
        out[..., offset : offset + n] += weight[:n] * frame
        weight_sum[offset : offset + n] += weight[:n]
    return out / weight_sum


class EncodecModel(nn.Module):
    """EnCodec for one `ModelSpec`. Build with `codec.load_model` (weights) or `EncodecModel.random`."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.encoder = SEANetEncoder(spec)
        self.quantizer = ResidualVectorQuantizer(spec.dimension, spec.max_codebooks, spec.codebook_size)
        self.decoder = SEANetDecoder(spec)

    @classmethod
    def random(cls, name: str | ModelSpec, seed: int = 0) -> EncodecModel:
        """A model with random weights and random codebooks (tests, benchmarks, the self-test)."""
        spec = name if isinstance(name, ModelSpec) else get_spec(name)
        generator_state = torch.random.get_rng_state()
        try:
            torch.manual_seed(seed)
            model = cls(spec).eval()
        finally:
            torch.random.set_rng_state(generator_state)
        generator = torch.Generator().manual_seed(seed)
        latents = probe_latents(model.encoder, spec.channels, spec.sample_rate, generator)
        embeds = [layer.codebook.embed for layer in model.quantizer.layers]
        fill_codebooks_from_latents(embeds, latents, generator)
        return model

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- encoding ---------------------------------------------------------------------------------------

    def _prepare_input(self, audio: torch.Tensor) -> torch.Tensor:
        audio = torch.as_tensor(audio)
        if audio.dim() != 2 or audio.shape[0] != self.spec.channels:
            raise ValueError(
                f"{self.spec.name} expects audio shaped [{self.spec.channels}, samples], got {list(audio.shape)}."
            )
        if audio.shape[-1] == 0:
            raise ValueError("Cannot encode empty audio.")
        return audio.to(device=self.device, dtype=torch.float32)

    @torch.inference_mode()
    def encode_segment(self, segment: torch.Tensor, num_codebooks: int) -> tuple[torch.Tensor, float | None]:
        """Codes [K, T] (and the volume scale when the model normalises) of one segment [C, n]."""
        x = segment[None]
        scale = None
        if self.spec.normalize:
            mono = x.mean(dim=1, keepdim=True)
            volume = mono.pow(2).mean(dim=2, keepdim=True).sqrt()
            scale_tensor = 1e-8 + volume
            x = x / scale_tensor
            scale = float(scale_tensor.item())
        latent = self.encoder(x)
        codes = self.quantizer.encode(latent, num_codebooks)[:, 0]
        return codes.cpu(), scale

    def encode(
        self,
        audio: torch.Tensor,
        bandwidth: float,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> EncodedAudio:
        """Encode `audio` [C, T] (model rate and channels) at `bandwidth` kbps."""
        num_codebooks = self.spec.codebooks_for_bandwidth(bandwidth)
        audio = self._prepare_input(audio)
        length = audio.shape[-1]
        bounds = segment_bounds(self.spec, length)
        codes: list[torch.Tensor] = []
        scales: list[float] = []
        for index, (offset, n) in enumerate(bounds):
            check_cancel(cancel)
            segment_codes, scale = self.encode_segment(audio[:, offset : offset + n], num_codebooks)
            codes.append(segment_codes)
            if scale is not None:
                scales.append(scale)
            report(progress, index + 1, len(bounds))
        return EncodedAudio(self.spec.name, bandwidth, length, codes, scales if self.spec.normalize else None)

    # -- decoding ---------------------------------------------------------------------------------------

    @torch.inference_mode()
    def decode_segment(self, codes: torch.Tensor, scale: float | None = None) -> torch.Tensor:
        """Waveform [C, T * hop] of one segment's codes [K, T]."""
        codes = codes.to(self.device)
        latent = self.quantizer.decode(codes[:, None])
        out = self.decoder(latent)[0]
        if scale is not None:
            out = out * torch.tensor(scale, dtype=out.dtype, device=out.device)
        return out

    def decode(
        self,
        encoded: EncodedAudio,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> torch.Tensor:
        """Waveform [C, encoded.length] of `encoded`."""
        if encoded.model != self.spec.name:
            raise ValueError(f"These codes were made by {encoded.model}, not {self.spec.name}.")
        scales = encoded.scales or [None] * len(encoded.codes)
        frames = []
        for index, (segment_codes, scale) in enumerate(zip(encoded.codes, scales)):
            check_cancel(cancel)
            frames.append(self.decode_segment(segment_codes, scale))
            report(progress, index + 1, len(encoded.codes))
        if self.spec.segment_stride is None:
            out = frames[0]
        else:
            out = linear_overlap_add(frames, self.spec.segment_stride)
        return out[:, : encoded.length].cpu()
