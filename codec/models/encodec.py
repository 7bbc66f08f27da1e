"""The EnCodec model: SEANet encoder, residual vector quantizer, SEANet decoder, and the 48 kHz chunking.

`encode` turns a waveform into `EncodedAudio` (codes per segment, plus per-segment volume scales for the
48 kHz model); `decode` turns it back. Segments are what the `.ecdc` format stores one after another:
the whole file for the 24 and 32 kHz models, 1 s chunks with 1 % overlap for the 48 kHz model.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from codec.device import tune_cpu_allocator
from codec.modules.lstm import SLSTM
from codec.modules.seanet import SEANetDecoder, SEANetEncoder
from codec.modules.transform import TransformDecoder, TransformEncoder
from codec.progress import CancelToken, ProgressCallback, check_cancel, report
from codec.quantization.init import fill_codebooks_from_latents, probe_latents
from codec.quantization.rvq import ResidualVectorQuantizer
from codec.specs import ModelSpec, get_spec
from codec.streaming import GrowingCodes, groups, make_stream, overlap_add_stream, parallel

# The fast mode decodes this many 48 kHz segments through the LSTM as one batch (the exact mode one at a
# time): a batch of 8 costs a fraction of 8 single segments. Decoded audio differs by float rounding only.
DECODE_SEGMENT_BATCH = 8

# The fast mode (the default, see "Exactness policy" in docs/ARCHITECTURE.md) encodes this many 48 kHz
# segments as one batch. Batching changes the LSTM's and the quantizer's rounding and can flip a near-tie
# code; the exact mode (`exact=True`, or ECDC_EXACT=1 for new models) encodes one segment at a time with the
# reference's ops, giving codes bit-identical with Meta's encoder.
FAST_SEGMENT_BATCH = 8


def exact_by_default() -> bool:
    """Whether new models start in the exact mode: ECDC_EXACT set to anything but "" or "0"."""
    return os.environ.get("ECDC_EXACT", "").strip() not in ("", "0")


# Streaming block sizes in frames (75 = 1 s at 24 kHz), measured best on one core: activations stay in cache,
# and every block is longer than any layer's left padding.
ENCODE_BLOCK_FRAMES = 150
DECODE_BLOCK_FRAMES = 75


@dataclass
class EncodedAudio:
    """Codes of one audio file: one int64 [K, T_i] tensor per segment, and scales when the model normalises."""

    model: str
    bandwidth: float
    length: int
    codes: list[torch.Tensor]
    scales: list[float] | None = None
    # Sample ranges [start, stop) whose codes were lost to damage (portable files); their codes are 0
    # and decoders should mute them. A lost tail is not kept: `length` ends before it.
    lost: list[tuple[int, int]] = field(default_factory=list)

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


class EncodecModel(nn.Module):
    """EnCodec for one `ModelSpec`. Build with `codec.load_model` (weights) or `EncodecModel.random`."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        if spec.architecture == "transform":
            self.encoder: nn.Module = TransformEncoder(spec)
            self.decoder: nn.Module = TransformDecoder(spec)
        else:
            self.encoder = SEANetEncoder(spec)
            self.decoder = SEANetDecoder(spec)
        self.quantizer = ResidualVectorQuantizer(spec.dimension, spec.max_codebooks, spec.codebook_size)
        # Exact: codes bit-identical with the reference (its op sequence, one segment at a time). Fast (the
        # default): bounded by the tests to >= 99.9 % identical codes and >= 60 dB SNR of decoded audio.
        self.exact = exact_by_default()
        tune_cpu_allocator()

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

    def _is_exact(self, exact: bool | None) -> bool:
        return self.exact if exact is None else exact

    def _segment_batch(self, exact: bool | None, segment_batch: int | None) -> int:
        if segment_batch is not None:
            return max(1, segment_batch)
        return 1 if self._is_exact(exact) else FAST_SEGMENT_BATCH

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
        return self.encode_segments([segment], num_codebooks)[0]

    @torch.inference_mode()
    def encode_segments(
        self, segments: list[torch.Tensor], num_codebooks: int
    ) -> list[tuple[torch.Tensor, float | None]]:
        """Encode equal-length segments [C, n] as one batch (a batch of one is bit-exact with the reference)."""
        x = torch.stack(segments)
        scales: list[float | None] = [None] * len(segments)
        if self.spec.normalize:
            mono = x.mean(dim=1, keepdim=True)
            volume = mono.pow(2).mean(dim=2, keepdim=True).sqrt()
            scale_tensor = 1e-8 + volume
            x = x / scale_tensor
            scales = [float(v) for v in scale_tensor.flatten().tolist()]
        latent = self.encoder(x) if len(segments) == 1 else self._encode_lstm_batched(x)
        codes = self.quantizer.encode(latent, num_codebooks).cpu()  # [K, B, T]
        return [(codes[:, index], scale) for index, scale in enumerate(scales)]

    def _encode_lstm_batched(self, x: torch.Tensor) -> torch.Tensor:
        # On a CPU the convolutions run one segment at a time: their activations (megabytes per segment)
        # stay in cache, which a batch's do not (the first layers measured twice as slow per segment at a
        # batch of 8). From a hop of BATCHED_MIN_HOP samples on (the LSTM; everything on an accelerator)
        # the batch runs together: 8 segments cost the LSTM 2.5 to 3.7 times what one does, not 8 times.
        if x.device.type != "cpu":
            return self.encoder(x)
        split = _batched_from(self.encoder.layers, 1, encoder=True)
        head, tail = self.encoder.layers[:split], self.encoder.layers[split:]
        return tail(torch.cat([head(x[i : i + 1]) for i in range(x.shape[0])]))

    def encode(
        self,
        audio: torch.Tensor,
        bandwidth: float,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        exact: bool | None = None,
    ) -> EncodedAudio:
        """Encode `audio` [C, T] (model rate and channels) at `bandwidth` kbps.

        Segmented models (48 kHz) run their segments on worker threads with single-threaded ops, exactly as
        `encode_stream` does, so both give identical codes whatever the block sizes. `exact` (default:
        `self.exact`) picks the exact mode or the fast one.
        """
        num_codebooks = self.spec.codebooks_for_bandwidth(bandwidth)
        audio = self._prepare_input(audio)
        if self.spec.segment is not None:
            batch = self._segment_batch(exact, None)
            return self._encode_segments_stream(
                iter([audio]), bandwidth, num_codebooks, audio.shape[-1], progress, cancel, None, batch
            )
        check_cancel(cancel)
        codes, _ = self.encode_segment(audio, num_codebooks)
        report(progress, 1, 1)
        return EncodedAudio(self.spec.name, bandwidth, audio.shape[-1], [codes], None)

    # -- decoding ---------------------------------------------------------------------------------------

    @torch.inference_mode()
    def decode_segment(self, codes: torch.Tensor, scale: float | None = None) -> torch.Tensor:
        """Waveform [C, T * hop] of one segment's codes [K, T]."""
        return self.decode_segments([(codes, scale)])[0]

    @torch.inference_mode()
    def decode_segments(self, items: list[tuple[torch.Tensor, float | None]]) -> list[torch.Tensor]:
        """Decode equal-length segments' (codes [K, T], scale) as one batch."""
        codes = torch.stack([item[0] for item in items], dim=1).to(self.device)  # [K, B, T]
        layers = self.decoder.layers
        split = (
            len(layers) if codes.device.type != "cpu" else _batched_from(layers, self.spec.hop_length, False)
        )
        head, tail = layers[:split], layers[split:]
        hidden = head(self.quantizer.decode(codes))  # the coarse layers, LSTM included, on the batch
        results = []
        for index, (_, scale) in enumerate(items):
            # The fine end of the upsampling stack: one segment at a time.
            audio = tail(hidden[index : index + 1])[0]
            if scale is not None:
                audio = audio * torch.tensor(scale, dtype=audio.dtype, device=audio.device)
            results.append(audio)
        return results

    def decode(
        self,
        encoded: EncodedAudio,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        exact: bool | None = None,
    ) -> torch.Tensor:
        """Waveform [C, encoded.length] of `encoded` (segmented models: the same path as `decode_stream`)."""
        if encoded.model != self.spec.name:
            raise ValueError(f"These codes were made by {encoded.model}, not {self.spec.name}.")
        if self.spec.segment is not None:
            blocks = self._decode_segments_stream(encoded, progress, cancel, None, self._is_exact(exact))
            return torch.cat(list(blocks), dim=-1)
        check_cancel(cancel)
        out = self.decode_segment(encoded.codes[0])
        report(progress, 1, 1)
        return out[:, : encoded.length].cpu()

    # -- streaming: any length in bounded memory ------------------------------------------------------------

    @property
    def can_stream_exactly(self) -> bool:
        """True when blocks can carry state (causal, no group norm) or segments are independent (chunked)."""
        return (self.spec.causal and self.spec.norm != "time_group_norm") or self.spec.segment is not None

    def encode_stream(
        self,
        blocks: Iterable[torch.Tensor],
        bandwidth: float,
        total_length: int | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        workers: int | None = None,
        segment_batch: int | None = None,
        exact: bool | None = None,
    ) -> EncodedAudio:
        """Encode audio arriving as [C, n] blocks of any size; memory stays flat for the 24/48 kHz models.

        `total_length` (samples, when known) only scales progress. 48 kHz segments are encoded on `workers`
        threads (default: torch's thread count), each single-threaded, giving the same codes as `encode`.
        `exact` (default: `self.exact`): the exact mode encodes one segment at a time (codes bit-identical
        with Meta's), the fast one `FAST_SEGMENT_BATCH` at a time; `segment_batch` overrides either.
        """
        num_codebooks = self.spec.codebooks_for_bandwidth(bandwidth)
        blocks = (self._prepare_input(block) for block in blocks if block.shape[-1] > 0)
        if self.spec.segment is not None:
            batch = self._segment_batch(exact, segment_batch)
            return self._encode_segments_stream(
                blocks, bandwidth, num_codebooks, total_length, progress, cancel, workers, batch
            )
        if not self.can_stream_exactly:
            pieces = list(blocks)
            if not pieces:
                raise ValueError("Cannot encode empty audio.")
            return self.encode(torch.cat(pieces, dim=-1), bandwidth, progress, cancel, exact)
        return self._encode_causal_stream(
            blocks, bandwidth, num_codebooks, total_length, progress, cancel, self._is_exact(exact)
        )

    @torch.inference_mode()
    def _encode_causal_stream(
        self,
        blocks: Iterator[torch.Tensor],
        bandwidth: float,
        num_codebooks: int,
        total_length: int | None,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        exact: bool = False,
    ) -> EncodedAudio:
        block_size = ENCODE_BLOCK_FRAMES * self.spec.hop_length
        encoder = make_stream(self.encoder.layers, fast=not exact)
        codes = GrowingCodes(num_codebooks, self.spec.frames_for_length(total_length or block_size))
        length = 0

        def run(piece: torch.Tensor, final: bool) -> None:
            latent = encoder(piece[None], final)
            if latent.shape[-1]:
                codes.append(self.quantizer.encode(latent, num_codebooks)[:, 0])
            report(progress, length, max(total_length or length, length))

        pending = torch.zeros(self.spec.channels, 0, device=self.device)
        for block in blocks:
            check_cancel(cancel)
            pending = torch.cat([pending, block], dim=-1)
            length += block.shape[-1]
            while pending.shape[-1] > block_size:  # keep something back: the last call must be final
                run(pending[:, :block_size], final=False)
                pending = pending[:, block_size:]
        if length == 0:
            raise ValueError("Cannot encode empty audio.")
        run(pending, final=True)
        return EncodedAudio(self.spec.name, bandwidth, length, [codes.result()], None)

    def _encode_segments_stream(
        self,
        blocks: Iterator[torch.Tensor],
        bandwidth: float,
        num_codebooks: int,
        total_length: int | None,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        workers: int | None,
        segment_batch: int = 1,
    ) -> EncodedAudio:
        size, stride = self.spec.segment_length, self.spec.segment_stride
        assert size is not None and stride is not None

        def segments() -> Iterator[torch.Tensor]:
            buffer = torch.zeros(self.spec.channels, 0, device=self.device)
            for block in blocks:
                buffer = torch.cat([buffer, block], dim=-1)
                while buffer.shape[-1] >= size + 1:  # a segment is complete once the next one has begun
                    yield buffer[:, :size]
                    buffer = buffer[:, stride:]
            # The reference starts a segment at every offset below the length, even inside the overlap.
            while buffer.shape[-1] > 0:
                yield buffer[:, :size]
                if buffer.shape[-1] <= stride:
                    break
                buffer = buffer[:, stride:]

        codes: list[torch.Tensor] = []
        scales: list[float] = []
        lengths = [0]
        total_segments = len(segment_bounds(self.spec, total_length)) if total_length else 0

        def encode_group(group: list[torch.Tensor]) -> list[tuple[torch.Tensor, float | None]]:
            check_cancel(cancel)
            return self.encode_segments(group, num_codebooks)

        def tracked() -> Iterator[torch.Tensor]:
            for segment in segments():
                lengths.append(lengths[-1] + segment.shape[-1])
                yield segment

        with parallel(workers) as pool:
            for results in pool.map_ordered(encode_group, groups(tracked(), segment_batch)):
                for segment_codes, scale in results:  # per segment, also when they come in batches
                    codes.append(segment_codes)
                    scales.append(scale)
                    report(progress, len(codes), max(total_segments, len(codes)))
                    check_cancel(cancel)
        if not codes:
            raise ValueError("Cannot encode empty audio.")
        length = (len(codes) - 1) * stride + (lengths[-1] - lengths[-2])
        return EncodedAudio(self.spec.name, bandwidth, length, codes, scales)

    def decode_stream(
        self,
        encoded: EncodedAudio,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        workers: int | None = None,
        exact: bool | None = None,
    ) -> Iterator[torch.Tensor]:
        """Yield the waveform of `encoded` as consecutive [C, n] blocks adding up to `encoded.length` samples.

        `exact` (default: `self.exact`): 48 kHz segments one at a time, or (fast) `DECODE_SEGMENT_BATCH`
        segments through the LSTM together; the two differ by float rounding only."""
        if encoded.model != self.spec.name:
            raise ValueError(f"These codes were made by {encoded.model}, not {self.spec.name}.")
        if self.spec.segment is not None:
            yield from self._decode_segments_stream(encoded, progress, cancel, workers, self._is_exact(exact))
        elif self.can_stream_exactly:
            yield from self._decode_causal_stream(encoded, progress, cancel, self._is_exact(exact))
        else:
            yield self.decode(encoded, progress, cancel, exact)

    def _decode_causal_stream(
        self,
        encoded: EncodedAudio,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        exact: bool = False,
    ) -> Iterator[torch.Tensor]:
        codes = encoded.codes[0]
        frames = codes.shape[-1]
        decoder = make_stream(self.decoder.layers, fast=not exact)
        remaining = encoded.length
        for start in range(0, frames, DECODE_BLOCK_FRAMES):
            check_cancel(cancel)
            stop = min(frames, start + DECODE_BLOCK_FRAMES)
            final = stop == frames or frames - stop < 8  # never leave a tail too short for a first block
            if final:
                stop = frames
            with torch.inference_mode():
                latent = self.quantizer.decode(codes[:, None, start:stop].to(self.device))
                audio = decoder(latent, final)[0, :, :remaining].cpu()
            remaining -= audio.shape[-1]
            report(progress, stop, frames)
            yield audio
            if final:
                break

    def _decode_segments_stream(
        self,
        encoded: EncodedAudio,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        workers: int | None,
        exact: bool = False,
    ) -> Iterator[torch.Tensor]:
        stride = self.spec.segment_stride
        assert stride is not None
        scales = encoded.scales or [None] * len(encoded.codes)

        def decode_group(group: list[tuple[torch.Tensor, float | None]]) -> list[torch.Tensor]:
            check_cancel(cancel)
            return self.decode_segments(group)

        # Big batches amortise the LSTM, but every worker needs a share: a short file is split between them.
        threads = workers or torch.get_num_threads()
        batch = 1 if exact else max(1, min(DECODE_SEGMENT_BATCH, -(-len(encoded.codes) // threads)))

        def frames() -> Iterator[torch.Tensor]:
            with parallel(workers) as pool:
                decoded = pool.map_ordered(decode_group, groups(zip(encoded.codes, scales), batch))
                for index, frame in enumerate(frame for group in decoded for frame in group):
                    report(progress, index + 1, len(encoded.codes))
                    check_cancel(cancel)
                    yield frame.cpu()

        yield from overlap_add_stream(frames(), stride, len(encoded.codes), encoded.length)


# Layers whose input has at least this many samples per frame run on the whole batch of 48 kHz segments,
# finer ones one segment at a time (see `_encode_lstm_batched`). Measured on one core (ms per segment,
# encode / decode): 8 -> 97 / 108, 40 -> 102 / 106, 320 -> 96 / 102, within noise of each other; 320 batches
# the LSTM, the encoder's last convolution and the decoder's first transposed convolution.
BATCHED_MIN_HOP = 320


def _batched_from(layers: nn.Sequential, hop: int, encoder: bool) -> int:
    """Encoder: index of the first layer whose input hop reaches BATCHED_MIN_HOP. Decoder (starting at the
    model's hop): index of the first layer whose input hop is below it, never before the LSTM's end."""
    for index, layer in enumerate(layers):
        if (hop >= BATCHED_MIN_HOP) == encoder and (encoder or index > _lstm_index(layers)):
            return index
        conv = getattr(layer, "conv", None)
        stride = conv.stride[0] if isinstance(conv, (nn.Conv1d, nn.ConvTranspose1d)) else 1
        hop = hop * stride if encoder else hop // stride
    return len(layers)


def _lstm_index(layers: nn.Sequential) -> int:
    return next(i for i, layer in enumerate(layers) if isinstance(layer, SLSTM))
