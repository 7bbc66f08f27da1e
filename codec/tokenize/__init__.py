"""Corpus-scale tokenization: audio datasets in, Parquet shards of EnCodec codes out (and back).

`codec.tokenize.pipeline` runs a tokenization and its executors, `codec.tokenize.sources` lists clips
(folders, file lists, `datasets` datasets), `codec.tokenize.shards` is the on-disk layout and the
row <-> `EncodedAudio` mapping, `codec.tokenize.detokenize` decodes rows back to audio. Importing this
package is cheap; pyarrow, torch and the sources load on first use of a name.
"""

from __future__ import annotations

import importlib
from typing import Any

from codec.tokenize.config import EXECUTORS, TokenizeConfig, TokenizeError

_LAZY = {
    "tokenize": "codec.tokenize.pipeline",
    "TokenizeProgress": "codec.tokenize.pipeline",
    "TokenizeSummary": "codec.tokenize.pipeline",
    "detokenize": "codec.tokenize.detokenize",
    "DetokenizeSummary": "codec.tokenize.detokenize",
    "encoded_of": "codec.tokenize.shards",
    "SourceError": "codec.tokenize.sources",
    "open_source": "codec.tokenize.sources",
}

__all__ = ["EXECUTORS", "TokenizeConfig", "TokenizeError", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codec.tokenize' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
