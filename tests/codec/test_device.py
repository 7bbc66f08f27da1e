"""Device choice: cpu always works, auto picks something available, a missing device is refused clearly."""

import pytest
import torch

from codec.device import available_devices, resolve_device
from codec.errors import CodecError


def test_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in available_devices()


def test_unknown_device():
    with pytest.raises(CodecError, match="Unknown device 'tpu'"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_unavailable_device_is_refused():
    with pytest.raises(CodecError, match="not available here"):
        resolve_device("cuda")
