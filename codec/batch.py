"""Batched encoding and decoding: many clips of different lengths in, per-clip results out.

`encode_batch(model, clips, bandwidth)` returns exactly what `model.encode(clip, bandwidth)` returns for
each clip, bit for bit; `decode_batch(model, encoded)` returns exactly what `model.decode` does. Only the
parts that stay exact are batched, which was measured, not assumed (tests/codec/tokenize/test_batch.py):

- Convolutions compute every output sample the same way whatever the batch size or the tensor's length,
  so the convolution stack up to the LSTM runs on a batch. The 24 kHz model is causal: a clip padded on
  the right with zeros has the same first `length // hop` frames as the clip alone. Its last frame (when
  the length is not a multiple of the hop) depends on the reflect padding at the clip's own end; it is
  recomputed from the clip's last few frames alone (`_TAIL_FRAMES` of context, more than the receptive
  field), which gives the same bits. The 48 kHz model is not causal and normalises over each 1 s
  segment, so only segments of equal length share a batch (all but each clip's last one).
- The LSTM is not exact batched: torch's CPU matrix product takes another code path for a single row
  (batch 1) than for several, and rounds differently. It runs clip by clip unless `exact=False`, which
  batches it too (faster on a GPU; codes may then differ from `encode` in rare near-ties).
- The quantizer runs clip by clip for the same reason (its distance product's row count).
- Decoding (24 kHz): the LSTM runs clip by clip, the upsampling stack, which is causal, runs on the batch
  padded on the right. 48 kHz clips decode through `model.decode`, which already batches segments.

On a CPU batching does not pay: one clip's activations already fill the cache, and padded batches of
8 clips of 1-5 s ran at half the speed of one clip at a time (bench/bench_tokenize.py). `batch_size`
therefore defaults to 1 on the CPU, which runs exactly the ops of `model.encode` (measured as fast), and
to 16 on an accelerator, where batching is what makes it pay (not measured here: no GPU was available).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from codec.models.encodec import EncodecModel, EncodedAudio, _lstm_index, segment_bounds

# Frames of context recomputed before a 24 kHz clip's last frame: the convolutions up to the LSTM reach
# back more than one frame and less than two (one gives other bits, two the same), so 8 is ample.
_TAIL_FRAMES = 8

# The upsampling stack's first transposed convolution is a matrix product with one row per frame; torch
# takes another path (and rounds differently) for one to three rows, so such short clips decode alone.
_MIN_DECODE_BATCH_FRAMES = 8

DEFAULT_GPU_BATCH = 16


def default_batch_size(model: EncodecModel) -> int:
    """Clips per batch when none is given: 1 on the CPU (no gain there), 16 on an accelerator."""
    return 1 if model.device.type == "cpu" else DEFAULT_GPU_BATCH


def _unit_batches(lengths: list[int], batch_size: int, equal_only: bool) -> list[list[int]]:
    """Indices grouped for batching: by length (longest first, little padding), equal lengths only when
    padding would change the result."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    for index in order:
        group = groups[-1] if groups else None
        if (
            group is not None
            and len(group) < batch_size
            and (not equal_only or lengths[group[0]] == lengths[index])
        ):
            group.append(index)
        else:
            groups.append([index])
    return groups


def _padded(units: list[torch.Tensor], indices: list[int]) -> torch.Tensor:
    length = max(units[i].shape[-1] for i in indices)
    x = units[indices[0]].new_zeros(len(indices), units[indices[0]].shape[0], length)
    for row, i in enumerate(indices):
        x[row, :, : units[i].shape[-1]] = units[i]
    return x


@torch.inference_mode()
def encode_batch(
    model: EncodecModel,
    clips: Sequence[torch.Tensor] | torch.Tensor,
    bandwidth: float,
    *,
    lengths: Sequence[int] | None = None,
    batch_size: int | None = None,
    exact: bool = True,
) -> list[EncodedAudio]:
    """Encode each `[C, T]` clip (model rate and channels); the same result as `model.encode` on each alone.

    `clips` is a list of clips, or a padded batch `[B, C, T]` with each clip's `lengths`. `batch_size`
    bounds how many clips (48 kHz: 1 s segments) run together; `exact=False` also batches the LSTM and the
    quantizer, faster on accelerators but no longer bit-identical to `model.encode`.
    """
    if isinstance(clips, torch.Tensor):
        if clips.dim() != 3 or lengths is None or len(lengths) != clips.shape[0]:
            raise ValueError(
                "A padded batch is shaped [batch, channels, samples] and needs one length per clip."
            )
        if any(not 0 < n <= clips.shape[-1] for n in lengths):
            raise ValueError(f"Lengths must lie in 1..{clips.shape[-1]} (the padded batch's length).")
        clips = [clip[:, :n] for clip, n in zip(clips, lengths)]
    spec = model.spec
    num_codebooks = spec.codebooks_for_bandwidth(bandwidth)
    batch_size = batch_size or default_batch_size(model)
    prepared = [model._prepare_input(clip) for clip in clips]
    if not prepared:
        return []
    if not (spec.causal or spec.segment is not None):
        # Non-causal, unsegmented (32 kHz): padding changes every frame; only equal lengths could share.
        return [model.encode(clip, bandwidth) for clip in prepared]

    # Units: whole clips (24 kHz), or every clip's 1 s segments normalised as `encode_segments` does.
    units: list[torch.Tensor] = []
    owners: list[tuple[int, float | None]] = []
    for index, clip in enumerate(prepared):
        for offset, length in segment_bounds(spec, clip.shape[-1]):
            segment = clip[:, offset : offset + length]
            scale = None
            if spec.normalize:
                x = segment[None]
                volume = x.mean(dim=1, keepdim=True).pow(2).mean(dim=2, keepdim=True).sqrt()
                scale_tensor = 1e-8 + volume
                segment = (x / scale_tensor)[0]
                scale = float(scale_tensor.flatten()[0])
            units.append(segment)
            owners.append((index, scale))

    layers = model.encoder.layers
    split = _lstm_index(layers)
    head, tail = layers[:split], layers[split:]
    hidden = _encoder_heads(head, units, spec.hop_length, spec.causal, batch_size)
    latents = _run_tail(tail, hidden, batch_size if not exact else 1, spec.causal)
    codes = _quantize(model, latents, num_codebooks, batch_size if not exact else 1)

    results: list[EncodedAudio] = []
    for index, clip in enumerate(prepared):
        mine = [u for u, (owner, _) in enumerate(owners) if owner == index]
        scales = [s for u in mine if (s := owners[u][1]) is not None] if spec.normalize else None
        results.append(EncodedAudio(spec.name, bandwidth, clip.shape[-1], [codes[u] for u in mine], scales))
    return results


def _encoder_heads(
    head: nn.Module, units: list[torch.Tensor], hop: int, causal: bool, batch_size: int
) -> list[torch.Tensor]:
    """The convolutions before the LSTM, [1, D, frames] per unit, batched where that stays exact."""
    out: list[torch.Tensor | None] = [None] * len(units)
    lengths = [u.shape[-1] for u in units]
    for group in _unit_batches(lengths, batch_size, equal_only=not causal):
        if len(group) == 1:
            out[group[0]] = head(units[group[0]][None])
            continue
        hidden = head(_padded(units, group))
        for row, i in enumerate(group):
            frames = -(-lengths[i] // hop)
            if not causal:
                out[i] = hidden[row : row + 1, :, :frames]
                continue
            exact_frames = lengths[i] // hop  # these never saw the padding
            if exact_frames == frames:
                out[i] = hidden[row : row + 1, :, :frames]
                continue
            start = max(0, exact_frames - _TAIL_FRAMES)  # context, discarded: it saw our left padding
            end = head(units[i][None, :, start * hop :])[..., exact_frames - start :]
            out[i] = torch.cat([hidden[row : row + 1, :, :exact_frames], end], dim=-1)
    return [h for h in out if h is not None]


def _run_tail(
    tail: nn.Module, hidden: list[torch.Tensor], batch_size: int, causal: bool
) -> list[torch.Tensor]:
    """LSTM and the last convolution: one unit at a time (exact), or batched (`batch_size` > 1)."""
    if batch_size <= 1:
        return [tail(h) for h in hidden]
    frames = [h.shape[-1] for h in hidden]
    out: list[torch.Tensor | None] = [None] * len(hidden)
    squeezed = [h[0] for h in hidden]
    for group in _unit_batches(frames, batch_size, equal_only=not causal):
        latent = tail(_padded(squeezed, group))
        for row, i in enumerate(group):
            out[i] = latent[row : row + 1, :, : frames[i]]
    return [x for x in out if x is not None]


def _quantize(
    model: EncodecModel, latents: list[torch.Tensor], num_codebooks: int, batch_size: int
) -> list[torch.Tensor]:
    if batch_size <= 1:
        return [model.quantizer.encode(latent, num_codebooks)[:, 0].cpu() for latent in latents]
    # Frames are independent in the quantizer: concatenate along time, split back.
    out: list[torch.Tensor] = []
    for start in range(0, len(latents), batch_size):
        chunk = latents[start : start + batch_size]
        codes = model.quantizer.encode(torch.cat(chunk, dim=-1), num_codebooks)[:, 0].cpu()
        out.extend(torch.split(codes, [latent.shape[-1] for latent in chunk], dim=-1))
    return out


@torch.inference_mode()
def decode_batch(
    model: EncodecModel,
    encoded: Sequence[EncodedAudio],
    *,
    batch_size: int | None = None,
) -> list[torch.Tensor]:
    """Waveforms [C, length] of each item; the same samples as `model.decode` on each alone."""
    spec = model.spec
    for item in encoded:
        if item.model != spec.name:
            raise ValueError(f"These codes were made by {item.model}, not {spec.name}.")
    batch_size = batch_size or default_batch_size(model)
    if spec.segment is not None or not spec.causal or batch_size <= 1:
        return [model.decode(item) for item in encoded]
    layers = model.decoder.layers
    split = _lstm_index(layers) + 1
    head, tail = layers[:split], layers[split:]
    hidden = [head(model.quantizer.decode(item.codes[0][:, None].to(model.device)))[0] for item in encoded]
    out: list[torch.Tensor | None] = [None] * len(encoded)
    frames = [h.shape[-1] for h in hidden]
    alone = [i for i in range(len(frames)) if frames[i] < _MIN_DECODE_BATCH_FRAMES]
    for i in alone:
        out[i] = tail(hidden[i][None])[0, :, : encoded[i].length].cpu()
    rest = [i for i in range(len(frames)) if frames[i] >= _MIN_DECODE_BATCH_FRAMES]
    for subgroup in _unit_batches([frames[i] for i in rest], batch_size, equal_only=False):
        group = [rest[j] for j in subgroup]
        if len(group) == 1:
            audio = tail(hidden[group[0]][None])
        else:
            audio = tail(_padded(hidden, group))
        for row, i in enumerate(group):
            out[i] = audio[row, :, : encoded[i].length].cpu()
    return [x for x in out if x is not None]
