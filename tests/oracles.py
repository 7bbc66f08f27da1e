"""Reference implementations used as test oracles: Meta's `encodec` 0.1.1 and transformers' EncodecModel.

`encodec` imports torchaudio at module level for audio I/O it never uses in our tests; torchaudio has no
CPU wheel for our torch, so a stub module stands in for it.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from codec.quantization.init import fill_codebooks_from_latents, probe_latents


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with torch's intra-op thread count at `count`, restored after.

    Bit-exact comparisons need it at 1: the reference's own results change with the thread count (its
    reductions are split differently), while our 48 kHz segments and LM run single-threaded.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def import_reference_encodec() -> types.ModuleType:
    if "torchaudio" not in sys.modules:
        stub = types.ModuleType("torchaudio")
        # A spec, so libraries that probe for torchaudio (transformers) see a module, not a broken one.
        stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", loader=None)
        stub.transforms = types.SimpleNamespace()  # type: ignore[attr-defined]
        sys.modules["torchaudio"] = stub
    import encodec  # noqa: PLC0415
    import encodec.compress  # noqa: F401, PLC0415

    return encodec


def randomise_codebooks(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every codebook random entries that the encoder's latents actually reach.

    Both references start from zero codebooks, which makes every code 0; unit-Gaussian entries are no
    better (every frame picks the same entry), so each stage is drawn from the residuals it really sees.
    Works for the reference, transformers and our own model (anything with `.encoder` and `...embed` buffers).
    """
    generator = torch.Generator().manual_seed(seed)
    buffers = dict(model.named_buffers())
    embeds = [buffer for name, buffer in buffers.items() if name.endswith(".embed")]
    config = getattr(model, "config", None)
    channels = getattr(model, "channels", None) or getattr(config, "audio_channels", 1)
    sample_rate = getattr(model, "sample_rate", None) or getattr(config, "sampling_rate", 24000)
    latents = probe_latents(model.encoder, channels, sample_rate, generator)
    fill_codebooks_from_latents(embeds, latents, generator)
    with torch.no_grad():
        for name, buffer in buffers.items():
            if name.endswith("embed_avg"):
                buffer.copy_(buffers[name[: -len("_avg")]])  # training state; keep it consistent
            elif name.endswith("inited"):
                buffer.fill_(1.0)


def reference_model(name: str, seed: int = 0) -> torch.nn.Module:
    """A random-weights reference EnCodec model (`encodec_24khz` / `encodec_48khz`) named like the real one."""
    encodec = import_reference_encodec()
    torch.manual_seed(seed)
    factory = {
        "encodec_24khz": encodec.EncodecModel.encodec_model_24khz,
        "encodec_48khz": encodec.EncodecModel.encodec_model_48khz,
    }[name]
    model = factory(pretrained=False)
    model.name = name
    randomise_codebooks(model, seed)
    # Non-trivial norm parameters, so a wrongly mapped GroupNorm affine shows up.
    with torch.no_grad():
        for pname, param in model.named_parameters():
            if pname.endswith("norm.weight") or pname.endswith("norm.bias"):
                param.add_(0.1 * torch.randn_like(param))
    return model.eval()
