"""LM entropy coding and plain packing: reference `encodec` 0.1.1 against ours, same weights, same codes.

Run from the repository root: `.venv/bin/python bench/bench_lm.py [--seconds-24 30] [--seconds-48 10]`.
One thread. Both sides code the same random codes at 6 kbps with the same random-weights LM; the bytes are
checked equal. Prints real-time factors (audio seconds per second of work; wall clock and this thread's CPU
time, the latter less disturbed by other processes on a shared machine) and our speed-up.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codec.ecdc import decode_bytes, encode_bytes  # noqa: E402
from codec.ecdc.header import segment_lengths  # noqa: E402
from codec.models.encodec import EncodedAudio  # noqa: E402
from codec.models.lm import LanguageModel  # noqa: E402
from codec.specs import get_spec  # noqa: E402
from tests.codec.ecdc.reference import reference_compress, reference_decompress  # noqa: E402


class _Patch:
    """The slice of pytest's monkeypatch that `reference_decompress` uses, undone on exit."""

    def __init__(self) -> None:
        self._undo: list = []

    def setitem(self, mapping: dict, key: str, value: object) -> None:
        self._undo.append((mapping, key, mapping[key]))
        mapping[key] = value

    def __enter__(self) -> _Patch:
        return self

    def __exit__(self, *exc: object) -> None:
        for mapping, key, value in reversed(self._undo):
            mapping[key] = value


def timed(fn):
    wall, cpu = time.perf_counter(), time.thread_time()
    result = fn()
    return result, time.perf_counter() - wall, time.thread_time() - cpu


def random_codes(name: str, seconds: float, bandwidth: float, seed: int = 0) -> EncodedAudio:
    spec = get_spec(name)
    length = int(seconds * spec.sample_rate)
    num_codebooks = spec.codebooks_for_bandwidth(bandwidth)
    generator = torch.Generator().manual_seed(seed)
    codes = [
        torch.randint(0, spec.codebook_size, (num_codebooks, spec.frames_for_length(n)), generator=generator)
        for n in segment_lengths(spec, length)
    ]
    scales = [0.1 + 0.01 * i for i in range(len(codes))] if spec.normalize else None
    return EncodedAudio(name, bandwidth, length, codes, scales)


def row(label: str, seconds: float, ref: tuple[float, float], ours: tuple[float, float]) -> None:
    ref_wall, ref_cpu = ref
    our_wall, our_cpu = ours
    print(
        f"  {label:<16} reference {seconds / ref_wall:8.2f}x RT ({seconds / ref_cpu:8.2f}x cpu)   "
        f"ours {seconds / our_wall:8.2f}x RT ({seconds / our_cpu:8.2f}x cpu)   "
        f"speed-up {ref_wall / our_wall:5.2f}x wall, {ref_cpu / our_cpu:5.2f}x cpu"
    )


def bench(name: str, seconds: float, bandwidth: float = 6.0) -> None:
    spec = get_spec(name)
    encoded = random_codes(name, seconds, bandwidth)
    lm = LanguageModel.random(spec, seed=1)
    plan = lm.exact_plan()  # the one-off self-check, not part of coding
    print(
        f"{name}: {seconds:g} s at {bandwidth:g} kbps, {encoded.num_codebooks} codebooks, {encoded.num_frames} frames"
    )
    print(f"  {plan}")

    ref_bytes, *ref_enc = timed(lambda: reference_compress(encoded, lm))
    our_bytes, *our_enc = timed(lambda: encode_bytes(encoded, lm=lm))
    assert our_bytes == ref_bytes, "LM bytes differ from the reference"
    row("LM compress", seconds, ref_enc, our_enc)

    with _Patch() as patch:
        (ref_codes, _), *ref_dec = timed(lambda: reference_decompress(ref_bytes, lm, patch))
    decoded, *our_dec = timed(lambda: decode_bytes(our_bytes, lm_loader=lambda _: lm))
    assert all(torch.equal(a, b) for a, b in zip(decoded.codes, encoded.codes)), "LM decode mismatch"
    row("LM decompress", seconds, ref_dec, our_dec)

    raw_ref, *ref_pack = timed(lambda: reference_compress(encoded))
    raw_ours, *our_pack = timed(lambda: encode_bytes(encoded))
    assert raw_ours == raw_ref, "packed bytes differ from the reference"
    row("pack (no LM)", seconds, ref_pack, our_pack)
    with _Patch() as patch:
        _, *ref_unpack = timed(lambda: reference_decompress(raw_ref, None, patch))
    _, *our_unpack = timed(lambda: decode_bytes(raw_ours))
    row("unpack (no LM)", seconds, ref_unpack, our_unpack)
    print(f"  sizes: {len(raw_ours)} bytes packed, {len(our_bytes)} bytes LM-coded (random codes, random LM)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-24", type=float, default=30.0)
    parser.add_argument("--seconds-48", type=float, default=10.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread")
    if args.seconds_24 > 0:
        bench("encodec_24khz", args.seconds_24)
    if args.seconds_48 > 0:
        bench("encodec_48khz", args.seconds_48)


if __name__ == "__main__":
    main()
