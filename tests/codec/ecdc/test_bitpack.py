import io

import numpy as np
import pytest

from codec.ecdc.bitpack import pack, packed_size, unpack
from tests.oracles import import_reference_encodec


def reference_pack(codes: np.ndarray, bits: int) -> bytes:
    binary = import_reference_encodec().binary
    fo = io.BytesIO()
    packer = binary.BitPacker(bits, fo)
    for frame in codes.T:
        for value in frame.tolist():
            packer.push(value)
    packer.flush()
    return fo.getvalue()


@pytest.mark.parametrize(
    "bits, num_codebooks, frames",
    # the last two span several of the packer's chunks (CHUNK_FRAMES), with an odd tail
    [(10, 2, 1), (10, 8, 75), (10, 3, 7), (11, 4, 13), (1, 5, 3), (10, 3, 2 * 4096 + 5), (11, 1, 4096 + 1)],
)
def test_pack_equals_reference_bit_packer(bits, num_codebooks, frames):
    rng = np.random.default_rng(bits * 100 + frames)
    codes = rng.integers(0, 2**bits, (num_codebooks, frames))
    data = pack(codes, bits)
    assert data == reference_pack(codes, bits)
    assert len(data) == packed_size(num_codebooks * frames, bits)


@pytest.mark.parametrize("bits", [10, 11])
def test_unpack_inverts_pack(bits):
    rng = np.random.default_rng(bits)
    codes = rng.integers(0, 2**bits, (5, 33))
    codes[0, 0], codes[-1, -1] = 0, 2**bits - 1  # extremes
    back = unpack(pack(codes, bits), bits, 5, 33)
    assert back.dtype == np.int64 and back.shape == (5, 33)
    np.testing.assert_array_equal(back, codes)


def test_unpack_reads_reference_bytes():
    binary = import_reference_encodec().binary
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 1024, (4, 9))
    data = reference_pack(codes, 10)
    unpacker = binary.BitUnpacker(10, io.BytesIO(data))
    expected = [unpacker.pull() for _ in range(codes.size)]
    np.testing.assert_array_equal(unpack(data, 10, 4, 9).T.reshape(-1), expected)


def test_empty():
    assert pack(np.zeros((3, 0), dtype=np.int64), 10) == b""
    assert unpack(b"", 10, 3, 0).shape == (3, 0)


@pytest.mark.parametrize("bits, frames", [(10, 2 * 4096 + 5), (11, 4096)])
def test_unpack_inverts_pack_across_chunks(bits, frames):
    codes = np.random.default_rng(frames).integers(0, 2**bits, (3, frames))
    assert np.array_equal(unpack(pack(codes, bits), bits, 3, frames), codes)
