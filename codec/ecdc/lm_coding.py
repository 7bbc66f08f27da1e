"""Entropy coding of code segments with the language model, byte-compatible with `encodec` 0.1.1.

Per segment the LM starts afresh; frame t's distributions come from frame t-1's codes, and codebook k of
frame t is coded with the quantized CDF of its distribution, k = 0..K-1, in one arithmetic-coded stream
flushed to a byte at the segment's end.

Coding knows every frame in advance, so it advances the LM a block of frames at a time, and steps
segments of equal length (48 kHz) together. Decoding needs frame t's codes before it can predict frame t+1
and cannot know where a segment ends before decoding it, so it goes frame by frame, segment by segment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from codec.ecdc.arithmetic import ArithmeticDecoder, ArithmeticEncoder, quantized_cdfs
from codec.errors import CheckpointError
from codec.models.lm import LanguageModel
from codec.specs import ModelSpec

Tick = Callable[[int], None]  # called with the number of frames just coded; may raise Cancelled

# LM coding runs at one thread: a multiply's rounding can depend on how many threads share it (the
# reference's small multiplies do), and one thread is what the reference is usually run and compared at.
CODING_THREADS = 1

# Frames per LM block while coding: the block's probabilities and CDFs take about 20 MB at any K, and a
# block's key/value multiply stays within the sizes `exact_min_rows` checks (up to the context window).
_BLOCK_SYMBOLS = 1024
_MAX_BLOCK_FRAMES = 256
# Segments stepped together while coding (their caches are allocated together).
_MAX_GROUP = 16
# Frames between progress ticks while decoding.
_DECODE_TICK = 32


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with `count` intra-op threads (PyTorch's setting is per calling thread with OpenMP)."""
    previous = torch.get_num_threads()
    if previous == count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def check_lm(lm: LanguageModel, spec: ModelSpec, num_codebooks: int) -> None:
    """Raise CheckpointError unless `lm` can code `num_codebooks` codebooks of `spec`."""
    if lm.card != spec.codebook_size or lm.n_q < num_codebooks:
        raise CheckpointError(
            f"The language model ({lm.n_q} codebooks of {lm.card}) does not fit {spec.name} "
            f"at {num_codebooks} codebooks."
        )
    if lm.model_name is not None and lm.model_name != spec.name:
        raise CheckpointError(f"The language model is for {lm.model_name}, not {spec.name}.")


def encode_segments(lm: LanguageModel, segments: list[np.ndarray], tick: Tick) -> list[bytes]:
    """Arithmetic-coded bytes of each segment's codes [K, T_i]."""
    with torch_threads(CODING_THREADS):
        return _encode_segments(lm.on_cpu(), segments, tick)


def _encode_segments(lm: LanguageModel, segments: list[np.ndarray], tick: Tick) -> list[bytes]:
    blocks = lm.exact_plan().blocks
    out: list[bytes] = [b""] * len(segments)
    for group in _equal_length_groups(segments, _MAX_GROUP if blocks else 1):
        coded = _encode_group(lm, np.stack([segments[i] for i in group]), tick, blocks)
        for index, data in zip(group, coded):
            out[index] = data
    return out


def _equal_length_groups(segments: list[np.ndarray], size: int) -> list[list[int]]:
    groups: list[list[int]] = []
    for index, codes in enumerate(segments):
        last = groups[-1] if groups else None
        if last and len(last) < size and segments[last[0]].shape == codes.shape:
            last.append(index)
        else:
            groups.append([index])
    return groups


def _encode_group(lm: LanguageModel, codes: np.ndarray, tick: Tick, blocks: bool) -> list[bytes]:
    batch, num_codebooks, frames = codes.shape
    stream = lm.stream(batch, num_codebooks, max_steps=frames)
    encoders = [ArithmeticEncoder() for _ in range(batch)]
    by_frame = codes.transpose(0, 2, 1)  # [B, T, K]
    previous = np.concatenate([np.full((batch, 1, num_codebooks), -1, dtype=np.int64), by_frame[:, :-1]], 1)
    block = min(_MAX_BLOCK_FRAMES, max(1, _BLOCK_SYMBOLS // num_codebooks)) if blocks else 1
    for start in range(0, frames, block):
        stop = min(frames, start + block)
        probas = stream.advance(np.ascontiguousarray(previous[:, start:stop]))  # [B, n, card, K]
        cdf = quantized_cdfs(probas.numpy().swapaxes(-1, -2))  # [B, n, K, card]
        symbols = by_frame[:, start:stop, :, None]
        highs = np.take_along_axis(cdf, symbols, -1)[..., 0] - 1
        lows = np.take_along_axis(cdf, np.maximum(symbols - 1, 0), -1)[..., 0]
        lows[symbols[..., 0] == 0] = 0
        for b, encoder in enumerate(encoders):
            encoder.push_many(lows[b].reshape(-1).tolist(), highs[b].reshape(-1).tolist())
        tick(batch * (stop - start))
    return [encoder.finish() for encoder in encoders]


def decode_segment(
    lm: LanguageModel, data: bytes, start: int, num_codebooks: int, frames: int, tick: Tick
) -> tuple[np.ndarray, int]:
    """Codes [K, frames] of the segment starting at byte `start` of `data` (bytes in MSB-first bit order,
    see `ArithmeticDecoder`), and the index of the byte after the segment.

    Storage grows with the frames actually decoded, never from `frames` up front: a damaged header may
    promise far more frames than the data holds, and decoding stops when the bits run out.
    """
    decoder = ArithmeticDecoder(data, 8 * start)
    lm = lm.on_cpu()
    stream = lm.stream(1, num_codebooks, max_steps=min(frames, 4096))
    card = lm.card
    offsets = [k * card for k in range(num_codebooks)]
    previous = np.full((1, 1, num_codebooks), -1, dtype=np.int64)
    blocks: list[np.ndarray] = []
    block = np.empty((_DECODE_TICK, num_codebooks), dtype=np.int64)
    filled = 0
    for _ in range(frames):
        probas = stream.advance(previous)[0, 0]  # [card, K]
        cdf = memoryview(quantized_cdfs(probas.numpy().T).reshape(-1))
        row = [decoder.pull(cdf, offset, card) for offset in offsets]
        block[filled] = row
        previous = block[filled].reshape(1, 1, num_codebooks)
        filled += 1
        if filled == _DECODE_TICK:
            blocks.append(block)
            block = np.empty_like(block)
            filled = 0
            tick(_DECODE_TICK)
    if filled:
        blocks.append(block[:filled])
        tick(filled)
    return np.concatenate(blocks).T.copy(), decoder.end_byte
