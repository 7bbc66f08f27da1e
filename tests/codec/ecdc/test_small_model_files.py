"""`.ecdc` files of the bundled model: ours read them back, `ecdc info` names the model, Meta's tool refuses."""

from __future__ import annotations

import pytest
import torch

from codec.ecdc import decode_bytes, encode_bytes, read_header
from codec.models.encodec import EncodecModel
from tests.oracles import import_reference_encodec


@pytest.fixture(scope="module")
def small_bytes() -> tuple[bytes, object]:
    model = EncodecModel.random("ecdc_small_24khz", seed=1)
    audio = 0.1 * torch.randn(1, 24_000, generator=torch.Generator().manual_seed(0))
    encoded = model.encode(audio, 6.0)
    return encode_bytes(encoded), encoded


def test_header_names_our_model_and_codes_round_trip(small_bytes):
    data, encoded = small_bytes
    header = read_header(data)
    assert header.model == "ecdc_small_24khz" and header.num_codebooks == 8 and not header.use_lm
    back = decode_bytes(data)
    assert back.model == "ecdc_small_24khz" and back.length == encoded.length
    assert torch.equal(back.codes[0], encoded.codes[0])


def test_meta_encodec_refuses_them(small_bytes):
    data, _ = small_bytes
    encodec = import_reference_encodec()
    with pytest.raises(Exception) as caught:
        encodec.compress.decompress(data)
    assert not isinstance(caught.value, (MemoryError, RecursionError))
