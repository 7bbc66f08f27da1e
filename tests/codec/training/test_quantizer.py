"""EMA codebook training: updates follow the data, dead codes are re-seeded, dropout uses fewer stages."""

from __future__ import annotations

import torch

from codec.quantization.rvq import ResidualVectorQuantizer
from codec.training.quantizer import EmaQuantizerTrainer


def _clusters(generator: torch.Generator, centres: torch.Tensor, count: int) -> torch.Tensor:
    picks = torch.randint(0, centres.shape[0], (count,), generator=generator)
    return centres[picks] + 0.01 * torch.randn(count, centres.shape[1], generator=generator)


def test_ema_codebooks_learn_the_data_and_cut_the_error():
    generator = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(8, 4, generator=generator)
    rvq = ResidualVectorQuantizer(dimension=4, num_quantizers=2, codebook_size=16)
    trainer = EmaQuantizerTrainer(rvq, decay=0.8)
    data = _clusters(generator, centres, 512).T[None]  # [1, D, T]

    def error() -> float:
        quantized, _ = trainer(data, torch.tensor([1]), update=False)
        return float((quantized - data).pow(2).mean())

    trainer(data, torch.tensor([2]))  # first call seeds the codebooks from the data
    first = error()
    for _ in range(30):
        trainer(_clusters(generator, centres, 512).T[None], torch.tensor([2]))
    assert error() < 0.5 * first
    assert error() < 0.05  # one stage of 16 entries resolves 8 tight clusters


def test_dead_codes_are_reseeded_from_the_batch():
    rvq = ResidualVectorQuantizer(dimension=2, num_quantizers=1, codebook_size=4)
    trainer = EmaQuantizerTrainer(rvq, decay=0.5, dead_code_threshold=2.0)
    data = torch.tensor([[1.0, 1.0]]).repeat(64, 1).T[None]
    trainer(data, torch.tensor([1]))
    far = torch.full((2,), 100.0)
    rvq.layers[0].codebook.embed[1:] = far  # three entries nobody will ever pick
    for _ in range(3):
        trainer(data, torch.tensor([1]))
    embed = rvq.layers[0].codebook.embed
    assert torch.all((embed - 1.0).abs() < 1e-3)  # every entry was moved back onto the data


def test_quantizer_dropout_uses_only_the_items_stages_and_passes_gradients():
    generator = torch.Generator().manual_seed(1)
    rvq = ResidualVectorQuantizer(dimension=3, num_quantizers=4, codebook_size=8)
    trainer = EmaQuantizerTrainer(rvq)
    latent = torch.randn(2, 3, 10, generator=generator, requires_grad=True)
    trainer(latent.detach(), torch.tensor([4, 4]))  # seed all stages
    quantized, commitment = trainer(latent, torch.tensor([1, 3]), update=False)
    codes_1 = rvq.encode(latent[:1].detach(), 1)
    codes_3 = rvq.encode(latent[1:].detach(), 3)
    torch.testing.assert_close(quantized[:1].detach(), rvq.decode(codes_1))
    torch.testing.assert_close(quantized[1:].detach(), rvq.decode(codes_3))
    (quantized.sum() + commitment).backward()
    assert latent.grad is not None and float(latent.grad.abs().sum()) > 0
