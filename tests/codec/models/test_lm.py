"""The entropy-coding LM: reference layout and numerics, and the cached streaming paths' bit-exactness."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codec.errors import CheckpointError
from codec.models.lm import LanguageModel, load_lm_state
from codec.modules.transformer import (
    REFERENCE_PLAN,
    ExactPlan,
    TransformerStream,
    batched_linear,
    exact_min_rows,
)
from codec.specs import get_spec
from tests.oracles import import_reference_encodec, torch_threads

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = ["encodec_24khz", "encodec_48khz"]


@pytest.fixture
def one_thread():
    with torch_threads(1):
        yield


def reference_lm_class():
    return import_reference_encodec().model.LMModel


def twin(name: str, seed: int = 0, past_context: int | None = None) -> tuple[LanguageModel, torch.nn.Module]:
    """Our LM with random weights and the reference LMModel holding the same weights."""
    spec = get_spec(name)
    overrides = {} if past_context is None else {"past_context": past_context}
    ours = LanguageModel.random(spec, seed=seed, **overrides)
    reference = reference_lm_class()(
        spec.max_codebooks,
        spec.codebook_size,
        num_layers=5,
        dim=200,
        past_context=ours.config["past_context"],
    )
    reference.load_state_dict(ours.state_dict())
    return ours, reference.eval()


def reference_probabilities(reference: torch.nn.Module, codes: torch.Tensor) -> torch.Tensor:
    """[B, T, card, K] from stepping the reference one frame at a time, per sequence, as its coder does."""
    out = []
    with torch.no_grad():
        for b in range(codes.shape[0]):
            states, offset, frames = None, 0, []
            inputs = torch.zeros(1, codes.shape[1], 1, dtype=torch.long)
            for t in range(codes.shape[2]):
                probas, states, offset = reference(inputs, states, offset)
                frames.append(probas[0, :, :, 0])
                inputs = 1 + codes[b : b + 1, :, t : t + 1]
            out.append(torch.stack(frames))
    return torch.stack(out)


def previous_frames(codes: torch.Tensor) -> np.ndarray:
    """[B, T, K] codes of the frame before each frame (-1 before the first), as `LMStream.advance` takes."""
    batch, num_codebooks, _ = codes.shape
    shifted = torch.cat([torch.full((batch, num_codebooks, 1), -1), codes[:, :, :-1]], dim=2)
    return shifted.permute(0, 2, 1).contiguous().numpy()


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_layout_equals_reference(name):
    spec = get_spec(name)
    ours = LanguageModel.from_spec(spec).state_dict()
    reference = reference_lm_class()(
        spec.max_codebooks, spec.codebook_size, num_layers=5, dim=200, past_context=spec.lm_past_context
    ).state_dict()
    assert list(ours) == list(reference)
    assert all(ours[key].shape == reference[key].shape for key in ours)
    assert (
        "transformer.layers.4.self_attn.in_proj_weight" in ours
        and f"linears.{spec.max_codebooks - 1}.bias" in ours
    )


def test_architecture_from_spec():
    lm = LanguageModel.from_spec(get_spec("encodec_48khz"))
    assert (lm.n_q, lm.card, lm.dim) == (16, 1024, 200)
    assert lm.transformer.past_context == 525 and len(lm.transformer.layers) == 5
    assert get_spec("encodec_24khz").lm_past_context == 262


def test_random_does_not_touch_the_global_generator():
    state = torch.random.get_rng_state()
    LanguageModel.random(get_spec("encodec_24khz"), seed=3, dim=16, num_layers=1, num_heads=2)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize("name", NAMES)
def test_forward_equals_reference(name):
    ours, reference = twin(name, seed=1)
    indices = torch.randint(0, 1025, (1, 4, 1), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        states, offset, ref_states, ref_offset = None, 0, None, 0
        for _ in range(3):
            probas, states, offset = ours(indices, states, offset)
            expected, ref_states, ref_offset = reference(indices, ref_states, ref_offset)
            assert torch.equal(probas, expected) and offset == ref_offset


@pytest.mark.parametrize("name, num_codebooks", [("encodec_24khz", 8), ("encodec_48khz", 4)])
def test_stream_is_bit_exact_frame_by_frame_and_in_blocks(name, num_codebooks):
    # A short past context (real shapes otherwise) makes full windows, sliding windows and cache moves
    # happen within 70 frames.
    ours, reference = twin(name, seed=2, past_context=20)
    codes = torch.randint(0, 1024, (2, num_codebooks, 70), generator=torch.Generator().manual_seed(1))
    expected = reference_probabilities(reference, codes)
    previous = previous_frames(codes)
    plan = ours.exact_plan()
    assert plan.min_rows is not None and plan.batched_rows and plan.blocks  # the fast paths are in use

    one = ours.stream(1, num_codebooks)
    frames = [one.advance(previous[:1, t : t + 1]) for t in range(70)]
    assert torch.equal(torch.cat(frames, dim=1)[0], expected[0])

    both = ours.stream(2, num_codebooks)
    blocks = [both.advance(previous[:, a:b]) for a, b in [(0, 1), (1, 6), (6, 30), (30, 31), (31, 70)]]
    assert torch.equal(torch.cat(blocks, dim=1), expected)


def test_stream_with_the_real_context_is_bit_exact():
    # 290 frames: the 263-row window fills and slides at the real 24 kHz context.
    ours, reference = twin("encodec_24khz", seed=3)
    codes = torch.randint(0, 1024, (1, 2, 290), generator=torch.Generator().manual_seed(2))
    expected = reference_probabilities(reference, codes)
    previous = previous_frames(codes)
    stream = ours.stream(1, 2)
    decoded = torch.cat([stream.advance(previous[:, t : t + 1]) for t in range(290)], dim=1)
    assert torch.equal(decoded, expected)
    block = ours.stream(1, 2)
    coded = torch.cat([block.advance(previous[:, a:b]) for a, b in [(0, 100), (100, 290)]], dim=1)
    assert torch.equal(coded, expected)


def test_reference_plan_is_exact_too():
    # Without any shortcut (what a CPU failing the self-check gets), streams still match the reference.
    ours, reference = twin("encodec_24khz", seed=4, past_context=12)
    codes = torch.randint(0, 1024, (1, 3, 20), generator=torch.Generator().manual_seed(3))
    expected = reference_probabilities(reference, codes)
    previous = previous_frames(codes)
    stream = ours.stream(1, 3, plan=REFERENCE_PLAN)
    assert torch.equal(
        torch.cat([stream.advance(previous[:, t : t + 1]) for t in range(20)], dim=1), expected
    )
    stream = ours.stream(1, 3, plan=ExactPlan(min_rows=None, batched_rows=False, blocks=True))
    assert torch.equal(stream.advance(previous), expected)


def test_transformer_stream_capacity_grows_and_slides():
    ours, _ = twin("encodec_48khz", seed=5, past_context=30)
    plan = ours.exact_plan()
    x = torch.randn(1, 200, 200, generator=torch.Generator().manual_seed(4))
    small = TransformerStream(ours.transformer, 1, plan, max_steps=10)  # grows past its first size
    big = TransformerStream(ours.transformer, 1, plan)
    out_small = torch.cat([small.advance(x[:, t : t + 1]) for t in range(200)], dim=1)
    out_big = torch.cat([big.advance(x[:, a:b]) for a, b in [(0, 37), (37, 38), (38, 200)]], dim=1)
    assert torch.equal(out_small, out_big)


def test_exactness_self_check_finds_a_padded_size():
    lm = LanguageModel.from_spec(get_spec("encodec_24khz"))
    rows = exact_min_rows(lm.transformer)
    assert rows is not None and 9 <= rows <= 64


def test_batched_linear_rows_equal_one_row_linears():
    generator = torch.Generator().manual_seed(5)
    weight, bias = torch.randn(800, 200, generator=generator), torch.randn(800, generator=generator)
    x = torch.randn(23, 200, generator=generator)
    rows = torch.cat([torch.nn.functional.linear(x[i : i + 1], weight, bias) for i in range(23)])
    assert torch.equal(batched_linear(x, weight, bias, batched=True), rows)
    assert torch.equal(batched_linear(x, weight, bias, batched=False), rows)


def test_embedding_sum_order_matches_reference():
    # The reference adds the K embeddings one after another from 0; the stream sums them in numpy.
    ours, reference = twin("encodec_24khz", seed=6, past_context=8)
    indices = torch.randint(0, 1025, (1, 32, 1), generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        expected = sum([reference.emb[k](indices[:, k]) for k in range(32)])
    tables, _, _ = ours.codebook_tables(32)
    summed = np.add.reduce(tables[np.arange(32), indices[0, :, 0].numpy()], axis=0, initial=np.float32(0.0))
    assert torch.equal(torch.from_numpy(summed), expected[0, 0])


# -- checkpoints ---------------------------------------------------------------------------------------------


def test_load_lm_state_from_file_and_dict(tmp_path):
    spec = get_spec("encodec_48khz")
    source = LanguageModel.random(spec, seed=7)
    path = tmp_path / "encodec_lm_48khz-test.th"
    torch.save(source.state_dict(), path)
    for loaded in (load_lm_state(path, spec), load_lm_state(source.state_dict(), spec)):
        assert all(
            torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), source.state_dict().values())
        )
        assert not loaded.training and loaded.model_name == spec.name


def test_load_lm_state_refuses_what_does_not_fit(tmp_path):
    spec = get_spec("encodec_24khz")
    state = LanguageModel.from_spec(spec).state_dict()
    missing = {k: v for k, v in state.items() if k != "emb.3.weight"}
    with pytest.raises(CheckpointError, match="missing"):
        load_lm_state(missing, spec)
    with pytest.raises(CheckpointError, match="unexpected"):
        load_lm_state({**state, "extra.weight": torch.zeros(1)}, spec)
    with pytest.raises(CheckpointError, match=r"linears.0.weight is \(1024, 199\)"):
        load_lm_state({**state, "linears.0.weight": torch.zeros(1024, 199)}, spec)
    # The 48 kHz LM has 16 codebooks: it does not fit the 24 kHz model.
    with pytest.raises(CheckpointError, match="does not fit encodec_24khz"):
        load_lm_state(LanguageModel.from_spec(get_spec("encodec_48khz")).state_dict(), spec)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_lm_state(tmp_path / "absent.th", spec)
    garbage = tmp_path / "garbage.th"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not be read"):
        load_lm_state(garbage, spec)
    listed = tmp_path / "list.th"
    torch.save([1, 2], listed)
    with pytest.raises(CheckpointError, match="state dict"):
        load_lm_state(listed, spec)
    with pytest.raises(CheckpointError, match="no entropy-coding"):
        load_lm_state(state, get_spec("encodec_32khz"))


def test_new_weights_reset_the_cached_tables():
    spec = get_spec("encodec_24khz")
    lm = LanguageModel.random(spec, seed=8, dim=16, num_layers=1, num_heads=2)
    before = lm.codebook_tables(2)[0].copy()
    other = LanguageModel.random(spec, seed=9, dim=16, num_layers=1, num_heads=2)
    lm.load_state_dict(other.state_dict())
    assert not np.array_equal(lm.codebook_tables(2)[0], before)
