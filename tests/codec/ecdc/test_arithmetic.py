import io
import random

import numpy as np
import pytest
import torch

from codec.ecdc.arithmetic import REVERSE_BITS, ArithmeticDecoder, ArithmeticEncoder, quantized_cdfs
from codec.errors import EcdcFormatError
from tests.oracles import import_reference_encodec


def reference_ac():
    import_reference_encodec()
    from encodec.quantization import ac  # noqa: PLC0415

    return ac


def distributions(seed: int, count: int, card: int = 1024) -> torch.Tensor:
    """Softmax rows from flat to extremely peaked, plus exact one-hot and uniform rows."""
    generator = torch.Generator().manual_seed(seed)
    temperature = torch.logspace(-1, 2.5, count)[:, None]
    rows = torch.softmax(torch.randn(count, card, generator=generator) * temperature, dim=-1)
    rows[0] = 0.0
    rows[0, 3] = 1.0
    rows[1] = 1.0 / card
    return rows


def test_quantized_cdfs_equal_reference_row_by_row():
    ac = reference_ac()
    pdfs = distributions(0, 64)
    ours = quantized_cdfs(pdfs.numpy())
    for row, cdf in zip(pdfs, ours):
        # check=False as in the reference's compress: a one-hot row sums to 2**24 + 1 and fails the check.
        expected = ac.build_stable_quantized_cdf(row, 24, check=False)
        np.testing.assert_array_equal(cdf, expected.numpy())


def test_quantized_cdfs_of_strided_softmax_output():
    # The LM's probabilities come as [card, K] columns; the reference takes probas[0, :, k, 0].
    ac = reference_ac()
    probas = torch.softmax(torch.randn(1, 1024, 8, 1) * 4, dim=1)
    ours = quantized_cdfs(probas[0, :, :, 0].numpy().T)
    for k in range(8):
        expected = ac.build_stable_quantized_cdf(probas[0, :, k, 0], 24, check=False)
        np.testing.assert_array_equal(ours[k], expected.numpy())


def reference_encode(pdfs: torch.Tensor, symbols: list[int]) -> bytes:
    ac = reference_ac()
    fo = io.BytesIO()
    coder = ac.ArithmeticCoder(fo)
    for pdf, symbol in zip(pdfs, symbols):
        coder.push(symbol, ac.build_stable_quantized_cdf(pdf, 24, check=False))
    coder.flush()
    return fo.getvalue()


def encode(cdfs: np.ndarray, symbols: list[int]) -> bytes:
    encoder = ArithmeticEncoder()
    for cdf, symbol in zip(cdfs, symbols):
        encoder.push(int(cdf[symbol - 1]) if symbol else 0, int(cdf[symbol]) - 1)
    return encoder.finish()


def decode(data: bytes, cdfs: np.ndarray) -> list[int]:
    decoder = ArithmeticDecoder(data.translate(REVERSE_BITS))
    flat = memoryview(np.ascontiguousarray(cdfs).reshape(-1))
    card = cdfs.shape[1]
    out = [decoder.pull(flat, i * card, card) for i in range(len(cdfs))]
    assert decoder.end_byte == len(data)  # a segment consumes exactly its bytes
    return out


@pytest.mark.parametrize("seed", range(6))
def test_coder_bytes_equal_reference_both_ways(seed):
    rng = random.Random(seed)
    count = rng.randrange(1, 300)
    pdfs = distributions(seed, count)
    # Mostly likely symbols, sometimes very unlikely ones (they drain the range fastest).
    symbols = [
        int(torch.multinomial(p, 1)) if rng.random() < 0.8 else rng.choice([0, 1023, rng.randrange(1024)])
        for p in pdfs
    ]
    cdfs = quantized_cdfs(pdfs.numpy())
    data = encode(cdfs, symbols)
    assert data == reference_encode(pdfs, symbols)
    assert decode(data, cdfs) == symbols
    ac = reference_ac()
    decoder = ac.ArithmeticDecoder(io.BytesIO(data))
    assert [decoder.pull(ac.build_stable_quantized_cdf(p, 24, check=False)) for p in pdfs] == symbols


def test_segments_are_byte_aligned_and_independent():
    pdfs = distributions(9, 40)
    cdfs = quantized_cdfs(pdfs.numpy())
    first, second = list(range(40)), [1023 - s for s in range(40)]
    a, b = encode(cdfs, first), encode(cdfs, second)
    decoder = ArithmeticDecoder((a + b).translate(REVERSE_BITS))
    flat = memoryview(cdfs.reshape(-1))
    assert [decoder.pull(flat, i * 1024, 1024) for i in range(40)] == first
    assert decoder.end_byte == len(a)
    decoder = ArithmeticDecoder((a + b).translate(REVERSE_BITS), 8 * len(a))
    assert [decoder.pull(flat, i * 1024, 1024) for i in range(40)] == second


def test_running_out_of_bits_raises():
    cdfs = quantized_cdfs(distributions(1, 50).numpy())
    data = encode(cdfs, [7] * 50)
    with pytest.raises(EcdcFormatError, match="ends early"):
        decode(data[: len(data) // 2], cdfs)


def decoder_in_state(low: int, high: int, current: int, max_bit: int) -> ArithmeticDecoder:
    decoder = ArithmeticDecoder(b"")
    decoder.low, decoder.high, decoder.current, decoder.max_bit = low, high, current, max_bit
    return decoder


def test_value_in_a_gap_between_intervals_raises():
    # With a range 1.5 * 2**24 wide, interval ends are rounded apart and leave values no symbol owns;
    # only damaged data lands there (the reference's binary search fails on it).
    pdf = np.zeros((1, 1024), dtype=np.float32)
    pdf[0, 0] = 1.0
    cdf = quantized_cdfs(pdf)
    delta = 3 << 23
    end_of_first = ((int(cdf[0, 0]) - 1) * delta) >> 24
    start_of_second = (int(cdf[0, 0]) * delta + (1 << 24) - 1) >> 24
    assert start_of_second > end_of_first + 1
    view = memoryview(cdf.reshape(-1))
    assert decoder_in_state(0, delta - 1, end_of_first, 24).pull(view, 0, 1024) == 0
    assert decoder_in_state(0, delta - 1, start_of_second, 24).pull(view, 0, 1024) == 1
    with pytest.raises(EcdcFormatError, match="inconsistent"):
        decoder_in_state(0, delta - 1, end_of_first + 1, 24).pull(view, 0, 1024)


def test_value_past_the_last_interval_raises():
    cdf = quantized_cdfs(distributions(2, 8).numpy()[5:6])
    assert int(cdf[0, -1]) < 1 << 24  # rounding down left the top of the range unowned
    with pytest.raises(EcdcFormatError, match="inconsistent"):
        decoder_in_state(0, (1 << 24) - 1, (1 << 24) - 1, 23).pull(memoryview(cdf.reshape(-1)), 0, 1024)


def test_reverse_bits_table():
    assert REVERSE_BITS[0b00000001] == 0b10000000
    assert REVERSE_BITS[0b10110000] == 0b00001101
    assert bytes(range(256)).translate(REVERSE_BITS).translate(REVERSE_BITS) == bytes(range(256))
