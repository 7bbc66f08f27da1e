"""Reference implementations used as test oracles: Meta's `encodec` 0.1.1 and transformers' EncodecModel.

`encodec` imports torchaudio at module level for audio I/O it never uses in our tests; torchaudio has no
CPU wheel for our torch, so a stub module stands in for it.
"""

from __future__ import annotations

import sys
import types

import torch


def import_reference_encodec() -> types.ModuleType:
    if "torchaudio" not in sys.modules:
        stub = types.ModuleType("torchaudio")
        stub.transforms = types.SimpleNamespace()  # type: ignore[attr-defined]
        sys.modules["torchaudio"] = stub
    import encodec  # noqa: PLC0415
    import encodec.compress  # noqa: F401, PLC0415

    return encodec


def randomise_codebooks(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every codebook random entries (both references start from zeros, making every code 0)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("embed") or name.endswith("embed_avg"):
                buffer.copy_(torch.randn(buffer.shape, generator=generator))
            elif name.endswith("inited"):
                buffer.fill_(1.0)
        # embed_avg is training state; keep embed and embed_avg equal so either layout loads the same.
        for name, buffer in model.named_buffers():
            if name.endswith("embed_avg"):
                buffer.copy_(dict(model.named_buffers())[name[: -len("_avg")]])


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
