"""The on-disk layout of a tokenized corpus: Parquet shards of codes, an errors table, a manifest.

    OUT/tokenize.json              what was asked for (model, bandwidth, shard size, clip count)
    OUT/data/shard-00000.parquet   one row per clip, in source order (see SCHEMA)
    OUT/errors/shard-00000.parquet clips of that shard that could not be read: id, path, reason

A data shard is written atomically and last, so its presence means the shard is complete: a re-run skips
it. `datasets.load_dataset("parquet", data_dir="OUT/data")`, `pyarrow.parquet.read_table` and
`pandas.read_parquet` all read the shards.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from codec.errors import CodecError
from codec.fileio import StrPath, atomic_write
from codec.models.encodec import EncodedAudio
from codec.specs import get_spec
from codec.tokenize.config import TokenizeError

MANIFEST = "tokenize.json"
DATA_DIR = "data"
ERRORS_DIR = "errors"
FORMAT_VERSION = 1

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("path", pa.string()),
        ("model", pa.string()),
        ("bandwidth", pa.float32()),
        ("sample_rate", pa.int32()),  # the model's rate: num_samples are at this rate
        ("channels", pa.int16()),
        ("num_samples", pa.int64()),
        ("num_frames", pa.int32()),
        ("num_codebooks", pa.int16()),
        ("codes", pa.list_(pa.list_(pa.int16()))),  # [num_codebooks][num_frames]
        ("segment_frames", pa.list_(pa.int32())),  # frames of each 1 s segment (48 kHz); null otherwise
        ("scales", pa.list_(pa.float32())),  # volume scale of each segment (48 kHz); null otherwise
        ("source_sample_rate", pa.int32()),
        ("source_channels", pa.int16()),
    ]
)
ERRORS_SCHEMA = pa.schema([("id", pa.string()), ("path", pa.string()), ("reason", pa.string())])


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.parquet"


def data_path(out: StrPath, index: int) -> Path:
    return Path(out) / DATA_DIR / shard_name(index)


def errors_path(out: StrPath, index: int) -> Path:
    return Path(out) / ERRORS_DIR / shard_name(index)


def row_of(
    clip_id: str, path: str, encoded: EncodedAudio, source_rate: int, source_channels: int
) -> dict[str, Any]:
    spec = encoded.spec
    codes = torch.cat(encoded.codes, dim=-1) if len(encoded.codes) > 1 else encoded.codes[0]
    segmented = spec.segment is not None
    return {
        "id": clip_id,
        "path": path,
        "model": encoded.model,
        "bandwidth": encoded.bandwidth,
        "sample_rate": spec.sample_rate,
        "channels": spec.channels,
        "num_samples": encoded.length,
        "num_frames": int(codes.shape[-1]),
        "num_codebooks": encoded.num_codebooks,
        "codes": codes.to(torch.int16).numpy(),  # [K, T]; `table_bytes` builds the list column from it
        "segment_frames": [int(c.shape[-1]) for c in encoded.codes] if segmented else None,
        "scales": list(encoded.scales) if encoded.scales is not None else None,
        "source_sample_rate": source_rate,
        "source_channels": source_channels,
    }


def encoded_of(row: dict[str, Any]) -> EncodedAudio:
    """The `EncodedAudio` a row holds (what `model.decode` takes)."""
    try:
        spec = get_spec(row["model"])
        codes = torch.as_tensor(np.asarray(row["codes"], dtype=np.int64))
        if codes.dim() != 2 or codes.shape[-1] != row["num_frames"]:
            raise ValueError("codes do not match num_frames")
        if codes.numel() and (codes.min() < 0 or codes.max() >= spec.codebook_size):
            raise ValueError("codes out of the codebook's range")
        sizes = row.get("segment_frames")
        segments = list(torch.split(codes, list(sizes), dim=-1)) if sizes else [codes]
        scales = row.get("scales")
        bandwidth = float(row["bandwidth"])
        bandwidth = min(spec.bandwidths, key=lambda b: abs(b - bandwidth))  # stored as float32
        return EncodedAudio(
            spec.name, bandwidth, int(row["num_samples"]), segments, list(scales) if scales else None
        )
    except (KeyError, TypeError, ValueError, RuntimeError, CodecError) as exc:
        raise TokenizeError(f"Row {row.get('id')!r} is not a valid tokenized clip ({exc}).") from None


def _codes_column(arrays: list[np.ndarray]) -> pa.Array:
    """list<list<int16>> from [K, T] int16 arrays, without a Python object per code (an hour at 24 kbps
    is 8.6 million codes)."""
    values = np.concatenate([a.reshape(-1) for a in arrays]) if arrays else np.zeros(0, np.int16)
    inner = np.concatenate([[0], np.cumsum([a.shape[1] for a in arrays for _ in range(a.shape[0])])])
    outer = np.concatenate([[0], np.cumsum([a.shape[0] for a in arrays])])
    rows = pa.ListArray.from_arrays(pa.array(inner, pa.int32()), pa.array(values, pa.int16()))
    return pa.ListArray.from_arrays(pa.array(outer, pa.int32()), rows)


def table_bytes(rows: list[dict[str, Any]], schema: pa.Schema) -> bytes:
    """A Parquet file's bytes (built where the work ran; written by whoever owns the output folder)."""
    if "codes" in schema.names:
        others = pa.schema([f for f in schema if f.name != "codes"])
        table = pa.Table.from_pylist(
            [{k: v for k, v in r.items() if k != "codes"} for r in rows], schema=others
        )
        codes = _codes_column([r["codes"] for r in rows]).cast(schema.field("codes").type)
        table = table.add_column(schema.get_field_index("codes"), schema.field("codes"), codes)
    else:
        table = pa.Table.from_pylist(rows, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _codes_array(value: pa.ListScalar) -> np.ndarray:
    """A row's codes as an int16 [K, T] array (ragged or null codes come back as a list for
    `encoded_of` to refuse)."""
    if not value.is_valid:
        return np.zeros((0, 0), np.int16)
    rows = value.values
    lengths = set(rows.value_lengths().to_pylist()) if len(rows) else set()
    if len(lengths) > 1 or rows.null_count:
        return np.asarray(rows.to_pylist(), dtype=object)
    return rows.flatten().to_numpy(zero_copy_only=False).reshape(len(rows), -1).astype(np.int16, copy=False)


def write_bytes(path: Path, data: bytes, overwrite: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, overwrite=overwrite) as fo:
        fo.write(data)


def write_manifest(out: StrPath, manifest: dict[str, Any]) -> None:
    """Record the run's settings, or check them against an earlier run's (a resume must not mix them)."""
    path = Path(out) / MANIFEST
    if path.exists():
        try:
            earlier = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TokenizeError(
                f"{path} is unreadable ({exc}); remove it or choose another folder."
            ) from None
        keys = ("model", "bandwidth", "shard_size", "clips")
        changed = [k for k in keys if earlier.get(k) != manifest.get(k)]
        if changed:
            what = ", ".join(f"{k} {earlier.get(k)!r} -> {manifest.get(k)!r}" for k in changed)
            raise TokenizeError(
                f"{out} holds another run ({what}); resume with the same settings or a new folder."
            )
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    write_bytes(path, json.dumps(manifest, indent=2).encode(), overwrite=False)


def data_files(folder: StrPath) -> list[Path]:
    """The data shards of a tokenized corpus (`OUT`, or `OUT/data` itself, or a single shard file)."""
    p = Path(folder)
    if p.is_file():
        return [p]
    if (p / DATA_DIR).is_dir():
        p = p / DATA_DIR
    files = sorted(p.glob("shard-*.parquet"))
    if not files:
        raise TokenizeError(f"{folder} holds no tokenized shards (data/shard-*.parquet).")
    return files


def iter_rows(files: Iterable[Path], batch_rows: int = 64) -> Iterable[dict[str, Any]]:
    """Rows of the shards, read a record batch at a time (memory bounded by `batch_rows` rows)."""
    for file in files:
        try:
            parquet = pq.ParquetFile(file)
            for batch in parquet.iter_batches(batch_size=batch_rows):
                names = [n for n in batch.schema.names if n != "codes"]
                plain = batch.select(names).to_pylist()
                codes = batch.column("codes") if "codes" in batch.schema.names else None
                for index, row in enumerate(plain):
                    if codes is not None:
                        row["codes"] = _codes_array(codes[index])
                    yield row
        except (OSError, pa.ArrowException) as exc:
            raise TokenizeError(f"Cannot read {file} as a tokenized shard ({exc}).") from None
