"""Real-time streaming: feed samples as they arrive, get codes as soon as their frame is complete, and back.

    from codec import StreamingDecoder, StreamingEncoder

    encoder = StreamingEncoder(model, bandwidth=6.0)
    decoder = StreamingDecoder(model)
    for block in microphone:  # float32 [C, n], any n (1 sample, 320, 4096, ...)
        codes = encoder.encode(block)  # int64 [K, frames]: 0 or more complete frames
        speaker.write(decoder.decode(codes))  # float32 [C, frames * hop]
    speaker.write(decoder.decode(encoder.flush()))
    speaker.write(decoder.flush())

Only causal models stream this way (`encodec_24khz`, and any causal spec): the layers' state (convolution
buffers, transposed-convolution tails, LSTM state) is carried by `codec.streaming.make_stream`, so the codes
are those of `model.encode` on the whole audio, however it is cut, and the audio is that of `model.decode` up
to float rounding. The non-causal `encodec_48khz` codes independent 1 s segments with 1 % overlap and a
per-segment volume: it can only stream segment by segment through `encode_stream` / `decode_stream`, with a
latency of at least one segment plus the next segment's first sample (1 s at 48 kHz); this module refuses it.

Latency (24 kHz model: hop 320 samples, 75 frames/s):
- steady state, one frame (13.3 ms): a frame's codes come out of `encode` with the call that brings its last
  sample, and `decode` turns them into that frame's samples in the same call; add what the caller buffers
  (device blocks) and the processing time.
- start-up: the models pad the start of the signal by reflection (the first frame depends on the next six),
  so the first codes appear only once `warmup_samples` have arrived (7 frames, 93 ms) and the decoder waits
  for its first 7 frames likewise. A live player keeps the one-frame latency by not playing that first burst
  (see `app.live.pipeline`).
- a model whose decoder trims on the left emits each frame's audio that many samples later;
  `StreamingDecoder.delay` gives the figure.

Bitrate can change between frames: `StreamingEncoder.bandwidth` applies from the next frame on (the residual
quantizer simply uses more or fewer codebooks), and `StreamingDecoder.decode` accepts any codebook count per call.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from codec.errors import CodecError
from codec.models.encodec import EncodecModel
from codec.modules.conv import SConv1d, SConvTranspose1d
from codec.modules.seanet import ResidualUnit
from codec.streaming import make_stream

__all__ = ["NotStreamableError", "StreamingDecoder", "StreamingEncoder"]


class NotStreamableError(CodecError, ValueError):
    """A model that cannot stream frame by frame (not causal, or normalised per segment)."""


def _check_streamable(model: EncodecModel) -> None:
    spec = model.spec
    if not spec.streams_frames:
        raise NotStreamableError(
            f"{spec.name} is not causal and cannot stream frame by frame; "
            "use encode_stream/decode_stream, which code independent segments (latency of one segment)."
        )


def _first_block(module: nn.Module, rate: float) -> tuple[int, float]:
    """(frames the first block needs, samples per frame after `module`) for input at `rate` samples per frame.

    A convolution's first block must be longer than its left padding, or reflect padding would see a
    different signal than the whole-file path does.
    """
    if isinstance(module, SConv1d):
        stride = module.conv.stride[0]
        return math.ceil((module.padding_total + 1) / rate - 1e-9), rate / stride
    if isinstance(module, SConvTranspose1d):
        return 1, rate * module.conv.stride[0]
    if isinstance(module, ResidualUnit):
        block, _ = _first_block(module.block, rate)
        shortcut, _ = _first_block(module.shortcut, rate)
        return max(block, shortcut), rate
    if isinstance(module, nn.Sequential):
        need = 1
        for layer in module:
            frames, rate = _first_block(layer, rate)
            need = max(need, frames)
        return need, rate
    return 1, rate


def _as_tensor(samples: torch.Tensor | np.ndarray, channels: int, device: torch.device) -> torch.Tensor:
    x = torch.as_tensor(samples)
    if x.dim() == 1 and channels == 1:
        x = x[None]
    if x.dim() != 2 or x.shape[0] != channels:
        raise ValueError(f"Expected samples shaped [{channels}, n], got {list(x.shape)}.")
    return x.to(device=device, dtype=torch.float32)


class StreamingEncoder:
    """Samples in, complete frames' codes out; codes equal `model.encode` on the whole signal.

    `encode` takes float32 `[C, n]` (mono: `[n]` too) at the model's rate, any `n` including 0, and returns
    int64 `[K, frames]` codes of the frames completed so far (often zero frames). `flush` ends the stream
    (the last partial frame, padded as the file path pads it); `reset` starts a new one. Not thread-safe:
    one thread feeds it.
    """

    def __init__(self, model: EncodecModel, bandwidth: float) -> None:
        _check_streamable(model)
        self.model = model
        self.hop = model.spec.hop_length
        frames, _ = _first_block(model.encoder.layers, float(self.hop))
        #: Samples the first codes wait for (7 frames, 93 ms at 24 kHz); see the module docstring.
        self.warmup_samples = frames * self.hop
        self.bandwidth = bandwidth
        self.reset()

    @property
    def bandwidth(self) -> float:
        return self._bandwidth

    @bandwidth.setter
    def bandwidth(self, value: float) -> None:
        """Switch the bitrate; frames completed by the next `encode` use it (no restart, no click)."""
        self.num_codebooks = self.model.spec.codebooks_for_bandwidth(value)
        self._bandwidth = value

    def reset(self) -> None:
        """Forget everything: the next sample starts a new stream."""
        self._stream = make_stream(self.model.encoder.layers)
        self._pending = torch.zeros(self.model.spec.channels, 0, device=self.model.device)
        self._started = False
        self._ended = False
        #: Samples received and frames returned since the last `reset`.
        self.length = 0
        self.frames = 0

    def encode(self, samples: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Codes [K, frames] of the frames that `samples` completes."""
        if self._ended:
            raise RuntimeError("This stream was flushed; call reset() to start a new one.")
        x = _as_tensor(samples, self.model.spec.channels, self.model.device)
        self.length += x.shape[-1]
        self._pending = torch.cat([self._pending, x], dim=-1) if x.shape[-1] else self._pending
        available = self._pending.shape[-1]
        if not self._started and available < self.warmup_samples:
            return self._empty()
        # Whole hops only: a partial frame cannot produce codes yet, and fewer, larger calls are cheaper.
        complete = available // self.hop * self.hop
        if complete == 0:
            return self._empty()
        piece, self._pending = self._pending[:, :complete], self._pending[:, complete:]
        self._started = True
        return self._run(piece, final=False)

    def flush(self) -> torch.Tensor:
        """Codes of the rest (the last, partial frame padded as `model.encode` pads it); ends the stream."""
        if self._ended:
            return self._empty()
        self._ended = True
        if self.length == 0:
            return self._empty()
        piece, self._pending = self._pending, self._pending[:, :0]
        codes = self._run(piece, final=True)
        expected = self.model.spec.frames_for_length(self.length)
        if self.frames != expected:  # a layer the state machines do not model: fail loudly, not subtly
            raise RuntimeError(
                f"Streaming produced {self.frames} frames for {self.length} samples, not {expected}."
            )
        return codes

    @torch.inference_mode()
    def _run(self, piece: torch.Tensor, final: bool) -> torch.Tensor:
        latent = self._stream(piece[None], final)
        if latent.shape[-1] == 0:
            return self._empty()
        codes = self.model.quantizer.encode(latent, self.num_codebooks)[:, 0].cpu()
        self.frames += codes.shape[-1]
        return codes

    def _empty(self) -> torch.Tensor:
        return torch.zeros(self.num_codebooks, 0, dtype=torch.long)


class StreamingDecoder:
    """Codes in, samples out; audio equals `model.decode` up to float rounding.

    `decode` takes int64 `[K, frames]` codes (any K the model has, changing from call to call is fine) and
    returns float32 `[C, n]` samples on the CPU: `frames * hop` samples per call once started, minus
    `delay` samples at the start when the model's decoder trims on the left. The first samples come once
    `warmup_frames` frames have arrived. `flush` returns what is still held back and ends the stream;
    the file path trims the end to the encoded length, which the caller knows (`StreamingEncoder.length`).
    """

    def __init__(self, model: EncodecModel) -> None:
        _check_streamable(model)
        self.model = model
        self.hop = model.spec.hop_length
        self.warmup_frames, _ = _first_block(model.decoder.layers, 1.0)
        #: Samples by which the output lags the input beyond the frame itself (0 for the 24 kHz model).
        self.delay = _decoder_trim_left(model.decoder.layers)
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next frame starts a new stream."""
        self._stream = make_stream(self.model.decoder.layers)
        self._pending: list[torch.Tensor] = []
        self._pending_frames = 0
        self._started = False
        self._ended = False
        #: Frames received and samples returned since the last `reset`.
        self.frames = 0
        self.length = 0

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Samples [C, n] that the frames `codes` [K, frames] complete."""
        if self._ended:
            raise RuntimeError("This stream was flushed; call reset() to start a new one.")
        codes = torch.as_tensor(codes)
        if codes.dim() != 2:
            raise ValueError(f"Expected codes shaped [codebooks, frames], got {list(codes.shape)}.")
        if codes.shape[-1]:
            with torch.inference_mode():
                # The quantizer decodes each frame on its own, so frames of different codebook counts
                # become one latent sequence here.
                self._pending.append(self.model.quantizer.decode(codes[:, None].to(self.model.device)))
            self._pending_frames += codes.shape[-1]
            self.frames += codes.shape[-1]
        if not self._started and self._pending_frames < self.warmup_frames:
            return self._empty()
        if not self._pending:
            return self._empty()
        self._started = True
        return self._run(final=False)

    def flush(self) -> torch.Tensor:
        """The samples still held back; ends the stream."""
        if self._ended:
            return self._empty()
        self._ended = True
        if self.frames == 0:
            return self._empty()
        return self._run(final=True)

    @torch.inference_mode()
    def _run(self, final: bool) -> torch.Tensor:
        if self._pending:
            latent = torch.cat(self._pending, dim=-1)
        else:
            latent = torch.zeros(1, self.model.spec.dimension, 0, device=self.model.device)
        self._pending, self._pending_frames = [], 0
        audio = self._stream(latent, final)[0].cpu()
        self.length += audio.shape[-1]
        return audio

    def _empty(self) -> torch.Tensor:
        return torch.zeros(self.model.spec.channels, 0)


def _decoder_trim_left(layers: nn.Module) -> int:
    """Output samples trimmed at the start by transposed convolutions, in output-rate samples."""
    delay, scale = 0, 1
    for module in reversed(list(layers.modules())):
        if isinstance(module, SConvTranspose1d):
            delay += module.trim_left * scale
            scale *= module.conv.stride[0]
    return delay
