"""The Live signal path at the model's rate, with no threads and no audio devices: tests and the pipeline share it.

Input blocks go through `codec.StreamingEncoder` / `StreamingDecoder`. Output sample `j` is the codec's
rendering of input sample `j`, so the original is delayed by exactly as much (a FIFO indexed by sample) and
the A/B switch never jumps in time; it crossfades over 5 ms like the player's.

The decoder's first output is a burst of its warm-up frames (7 frames, 93 ms at 24 kHz: the model reflects
the start of the signal). Playing that burst would add its length to the latency for the whole session, so
only its last frame is played; the recording keeps everything.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from codec.models.encodec import EncodecModel, EncodedAudio
from codec.realtime import StreamingDecoder, StreamingEncoder

#: A/B crossfade, as in `app.player`.
CROSSFADE_S = 0.005


@dataclass
class Take:
    """What a stopped session recorded: the codes (at `bandwidth`) of every sample that came in."""

    encoded: EncodedAudio


class LiveProcessor:
    """Input [n, C] float32 blocks at the model rate in, monitor output [m, C] out (m is a multiple of the hop).

    `bandwidth` is what you hear and may change at any time; `record_bandwidth` (None: no recording) is
    fixed for the take. The encoder runs at the larger of the two and each side takes the codebooks it needs:
    residual quantization makes the first K codebooks the same whatever the total.
    """

    def __init__(self, model: EncodecModel, bandwidth: float, record_bandwidth: float | None = None) -> None:
        self.spec = model.spec
        self.hop = self.spec.hop_length
        self.record_bandwidth = record_bandwidth
        self._record_codebooks = (
            0 if record_bandwidth is None else self.spec.codebooks_for_bandwidth(record_bandwidth)
        )
        self.encoder = StreamingEncoder(model, bandwidth)
        self.decoder = StreamingDecoder(model)
        self.bandwidth = bandwidth
        self._lock = threading.Lock()
        self._original = np.zeros((0, self.spec.channels), np.float32)
        self._original_start = 0  # input index of self._original[0]
        #: Input index of the next output sample (the warm-up burst is skipped, so it starts above 0).
        self.output_index = 0
        self._started = False
        self._codec_gain = 1.0
        self._target_gain = 1.0
        self._fade_step = 1.0 / max(1, round(CROSSFADE_S * self.spec.sample_rate))
        self._recorded: list[torch.Tensor] = []

    # -- controls (call from the thread that calls `process`, or between calls) ---------------------

    @property
    def bandwidth(self) -> float:
        return self._bandwidth

    @bandwidth.setter
    def bandwidth(self, value: float) -> None:
        live = self.spec.codebooks_for_bandwidth(value)
        use_record = self.record_bandwidth is not None and live < self._record_codebooks
        self.encoder.bandwidth = self.record_bandwidth if use_record else value  # type: ignore[assignment]
        self._live_codebooks = live
        self._bandwidth = value

    @property
    def monitor_codec(self) -> bool:
        """True: you hear the codec (B); False: the original, delayed to line up (A)."""
        return self._target_gain == 1.0

    @monitor_codec.setter
    def monitor_codec(self, value: bool) -> None:
        self._target_gain = 1.0 if value else 0.0
        if not self._started:  # nothing heard yet: start on the chosen side, no fade
            self._codec_gain = self._target_gain

    @property
    def input_length(self) -> int:
        return self.encoder.length

    @property
    def delay(self) -> int:
        """Samples between an input sample's arrival and its output, at the least (one hop + decoder delay)."""
        return self.hop + self.decoder.delay

    # -- processing ---------------------------------------------------------------------------------

    def process(self, block: np.ndarray) -> np.ndarray:
        """Monitor output that `block` [n, C] completes: [m, C], where m may be 0."""
        return self.decode(self.encode(block))

    def encode(self, block: np.ndarray) -> torch.Tensor:
        """The first half of `process`: codes [K, frames] (K: what you hear) of the frames `block` completes.

        `encode` and `decode` may run on two threads (one each, in order): only the original's FIFO is shared.
        """
        block = np.asarray(block, np.float32).reshape(-1, self.spec.channels)
        with self._lock:
            self._original = np.concatenate([self._original, block])
        codes = self.encoder.encode(torch.from_numpy(np.ascontiguousarray(block.T)))
        if self._record_codebooks and codes.shape[-1]:
            self._recorded.append(codes[: self._record_codebooks])
        return codes[: self._live_codebooks]

    def decode(self, codes: torch.Tensor) -> np.ndarray:
        """The second half of `process`: the monitor output [m, C] of `codes`."""
        audio = self.decoder.decode(codes).numpy().T  # [m, C]
        if audio.shape[0] == 0:
            return audio
        first = self.decoder.length - audio.shape[0]  # decoded sample j renders input sample j
        if not self._started:
            self._started = True
            skip = max(0, audio.shape[0] - self.hop)
            audio, first = audio[skip:], first + skip
        original = self._take_original(first, audio.shape[0])
        self.output_index = first + audio.shape[0]
        return self._mix(audio, original)

    def _take_original(self, first: int, count: int) -> np.ndarray:
        with self._lock:
            offset = first - self._original_start
            original = self._original[offset : offset + count]
            self._original = self._original[offset + count :]
            self._original_start = first + count
        return original

    def _mix(self, codec: np.ndarray, original: np.ndarray) -> np.ndarray:
        gain, target = self._codec_gain, self._target_gain
        if gain == target:
            return codec if gain == 1.0 else original.copy()
        direction = 1.0 if target > gain else -1.0
        ramp = np.clip(gain + direction * self._fade_step * np.arange(1, codec.shape[0] + 1), 0.0, 1.0)
        ramp = ramp.astype(np.float32)[:, None]
        self._codec_gain = float(ramp[-1, 0])
        return ramp * codec + (1.0 - ramp) * original

    def finish(self) -> Take | None:
        """End the stream; the recorded take (codes of every sample, the last partial frame included)."""
        codes = self.encoder.flush()
        if not self._record_codebooks or self.encoder.length == 0:
            return None
        if codes.shape[-1]:
            self._recorded.append(codes[: self._record_codebooks])
        assert self.record_bandwidth is not None
        encoded = EncodedAudio(
            self.spec.name, self.record_bandwidth, self.encoder.length, [torch.cat(self._recorded, dim=-1)]
        )
        return Take(encoded)
