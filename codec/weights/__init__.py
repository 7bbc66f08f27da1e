"""Model weights: the registry of known checkpoints, the models folder, verified resumable downloads and
offline import. Importing this package is cheap (no torch); torch is imported only to check a ``.th``.

```python
from codec.weights import ensure_weights
path = ensure_weights("encodec_24khz", progress=cb, cancel=token)   # .th file or Hugging Face folder
```
"""

from __future__ import annotations

from codec.weights.cache import models_dir, set_models_dir
from codec.weights.importer import import_weights
from codec.weights.manager import (
    ModelStatus,
    ensure_weights,
    find_installed,
    has_weights,
    list_models,
    remove,
)
from codec.weights.registry import REGISTRY, WeightsEntry, get_entry, required_weights

__all__ = [
    "REGISTRY",
    "ModelStatus",
    "WeightsEntry",
    "ensure_weights",
    "find_installed",
    "get_entry",
    "has_weights",
    "import_weights",
    "list_models",
    "models_dir",
    "remove",
    "required_weights",
    "set_models_dir",
]
