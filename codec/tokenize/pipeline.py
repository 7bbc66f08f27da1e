"""Tokenize a corpus into codes: shards of clips run on a worker (in-process, local processes or Ray).

The driver owns the output folder: it splits the source into shards of `shard_size` clips (by position,
so a re-run makes the same shards), skips the shards already written, hands the others to the executor and
writes each result atomically as it arrives. A worker loads the model once and turns a shard's clips into
the Parquet bytes of its data and errors tables; it never writes, so a retried or duplicated task cannot
leave two copies, and the executors differ only in where `ShardWorker.run` executes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codec.errors import CodecError
from codec.fileio import StrPath
from codec.progress import CancelToken, check_cancel
from codec.specs import get_spec
from codec.tokenize.config import (
    BATCH_SAMPLES,
    DEFAULT_SHARD_SIZE,
    EXECUTORS,
    TokenizeConfig,
    TokenizeError,
    require,
)
from codec.tokenize.shards import (
    ERRORS_SCHEMA,
    FORMAT_VERSION,
    SCHEMA,
    data_path,
    errors_path,
    row_of,
    table_bytes,
    write_bytes,
    write_manifest,
)
from codec.tokenize.sources import ClipRef, Source, open_source, read_clip


@dataclass(frozen=True)
class ShardResult:
    index: int
    data: bytes
    errors: bytes | None  # Parquet bytes of the errors table, None when every clip was read
    clips: int
    failed: int
    audio_seconds: float


@dataclass
class TokenizeProgress:
    """Where a run stands; passed to the progress callback after every shard."""

    shards_total: int
    clips_total: int
    shards_done: int = 0
    shards_skipped: int = 0
    clips_done: int = 0
    clips_failed: int = 0
    audio_seconds: float = 0.0
    elapsed_s: float = 0.0

    @property
    def realtime_factor(self) -> float:
        """Audio hours coded per hour of wall time (seconds per second) in this run."""
        return self.audio_seconds / self.elapsed_s if self.elapsed_s else 0.0


@dataclass(frozen=True)
class TokenizeSummary:
    out: Path
    progress: TokenizeProgress
    executor: str
    workers: int
    shards_written: list[int] = field(default_factory=list)


ONEDNN_CACHE = 4


class ShardWorker:
    """Loads the model once; turns shards of clips into Parquet bytes. One per process or Ray actor."""

    def __init__(self, config: TokenizeConfig) -> None:
        # oneDNN caches compiled convolutions per input shape, and every clip length is a new shape: with
        # its default capacity (1024) a worker's memory grew all run long (468 -> 567 MB over 1100 short
        # clips), with 64 still slowly, with 4 it levels off (bench/bench_tokenize.py --memory). Creating
        # a primitive costs far less than running it; the cache changes no result. oneDNN reads this when
        # the process's first convolution runs, so a fresh worker process (local, Ray) honours it.
        os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(ONEDNN_CACHE))
        import torch  # noqa: PLC0415

        from codec.api import load_model  # noqa: PLC0415

        torch.set_num_threads(max(1, config.threads))
        self.config = config
        self.model = load_model(config.model, weights=config.weights, device=config.device)

    def run(self, index: int, clips: list[ClipRef]) -> ShardResult:
        import torch  # noqa: PLC0415

        from codec.batch import encode_batch  # noqa: PLC0415

        spec, config = self.model.spec, self.config
        rows: dict[int, dict[str, Any]] = {}
        errors: list[dict[str, str]] = []
        pending: list[tuple[int, ClipRef, Any, int, int]] = []
        seconds = 0.0

        def flush() -> None:
            if not pending:
                return
            tensors = [torch.from_numpy(audio) for _, _, audio, _, _ in pending]
            encoded = encode_batch(self.model, tensors, config.bandwidth, batch_size=config.batch_size)
            for (position, clip, _, rate, channels), item in zip(pending, encoded):
                rows[position] = row_of(clip.id, clip.path, item, rate, channels)
            pending.clear()

        for position, clip in enumerate(clips):
            try:
                long = self._long_clip(clip)
                if long is not None:
                    rows[position] = long
                    seconds += long["num_samples"] / spec.sample_rate
                    continue
                audio, rate, channels = read_clip(clip, spec.sample_rate, spec.channels)
            except (CodecError, OSError, ValueError, RuntimeError, MemoryError) as exc:
                errors.append({"id": clip.id, "path": clip.path, "reason": _reason(exc)})
                continue
            seconds += audio.shape[-1] / spec.sample_rate
            pending.append((position, clip, audio, rate, channels))
            if sum(p[2].shape[-1] for p in pending) >= BATCH_SAMPLES:
                flush()
        flush()
        ordered = [rows[p] for p in sorted(rows)]
        error_bytes = table_bytes(errors, ERRORS_SCHEMA) if errors else None
        return ShardResult(index, table_bytes(ordered, SCHEMA), error_bytes, len(clips), len(errors), seconds)

    def _long_clip(self, clip: ClipRef) -> dict[str, Any] | None:
        """A file longer than `stream_seconds` goes through `encode_stream`, as `ecdc` compresses it."""
        if clip.data is not None or not clip.path:
            return None
        import torch  # noqa: PLC0415

        from codec.audio import info_audio, iter_audio_blocks  # noqa: PLC0415
        from codec.jobs import ENCODE_BLOCK_SECONDS  # noqa: PLC0415

        info = info_audio(clip.path)
        if info.duration_s <= self.config.stream_seconds:
            return None
        spec = self.model.spec
        blocks = iter_audio_blocks(
            clip.path, ENCODE_BLOCK_SECONDS * spec.sample_rate, spec.sample_rate, spec.channels
        )
        encoded = self.model.encode_stream((torch.from_numpy(b) for b in blocks), self.config.bandwidth)
        return row_of(clip.id, clip.path, encoded, info.sample_rate, info.channels)


def _reason(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return message if isinstance(exc, CodecError) and message else f"{type(exc).__name__}: {message}"


# -------------------------------------------------------------------------------------------- executors

Shard = tuple[int, list[ClipRef]]
ShardIterator = Iterator[Shard]


def _inline(config: TokenizeConfig, shards: ShardIterator, workers: int, **_: Any) -> Iterator[ShardResult]:
    import torch  # noqa: PLC0415

    previous = torch.get_num_threads()  # the worker sets the thread count: give the caller theirs back
    try:
        worker = ShardWorker(config)
        for index, clips in shards:
            yield worker.run(index, clips)
    finally:
        torch.set_num_threads(previous)


_PROCESS_WORKER: ShardWorker | None = None


def _process_init(config: TokenizeConfig) -> None:
    global _PROCESS_WORKER
    _PROCESS_WORKER = ShardWorker(config)


def _process_run(index: int, clips: list[ClipRef]) -> ShardResult:
    assert _PROCESS_WORKER is not None
    return _PROCESS_WORKER.run(index, clips)


def _local(
    config: TokenizeConfig, shards: ShardIterator, workers: int, max_retries: int = 3, **_: Any
) -> Iterator[ShardResult]:
    """`workers` spawned processes, each loading the model once. A process that dies (killed, out of
    memory) breaks the pool: it is rebuilt and the shards it had in flight run again."""
    import multiprocessing  # noqa: PLC0415
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait  # noqa: PLC0415
    from concurrent.futures.process import BrokenProcessPool  # noqa: PLC0415

    context = multiprocessing.get_context("spawn")  # no forked torch state; the same on every OS
    retry: list[Shard] = []
    failures = 0
    source = iter(shards)
    while True:
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_process_init, initargs=(config,))
        in_flight: dict[Future[ShardResult], Shard] = {}
        broken = False
        try:
            while True:
                while len(in_flight) < 2 * workers:
                    shard = retry.pop() if retry else next(source, None)
                    if shard is None:
                        break
                    in_flight[pool.submit(_process_run, *shard)] = shard
                if not in_flight:
                    return
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    shard = in_flight.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        retry.append(shard)
                        broken = True
                        continue
                    yield result
                if broken:
                    retry.extend(in_flight.values())
                    in_flight.clear()
                    break
        finally:
            pool.shutdown(wait=not broken, cancel_futures=True)
        failures += 1
        if failures > max_retries:
            raise TokenizeError(f"Worker processes died {failures} times; giving up.")


class _RayShardActor:
    """A Ray Data actor: one `ShardWorker` (model loaded once) per actor. It fetches each shard's clips
    from the source itself, so audio bytes of a dataset never pile up in the driver."""

    def __init__(self, config: TokenizeConfig, source: Source) -> None:
        self.worker = ShardWorker(config)
        self.source = source

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import pickle  # noqa: PLC0415

        import numpy as np  # noqa: PLC0415

        results = [
            self.worker.run(int(i), self.source.items(int(a), int(b)))
            for i, a, b in zip(batch["shard"], batch["start"], batch["stop"])
        ]
        return {
            "shard": np.array([r.index for r in results], dtype=np.int64),
            "result": np.array([pickle.dumps(r) for r in results], dtype=object),
        }


def _ray(
    config: TokenizeConfig,
    shards: ShardIterator,
    workers: int,
    address: str | None = None,
    source: Source | None = None,
    ranges: list[tuple[int, int, int]] | None = None,
    **_: Any,
) -> Iterator[ShardResult]:
    """Ray Data: `map_batches` over shard ranges with a pool of `workers` actors (one GPU each when the
    device is CUDA). Ray restarts an actor whose process dies and retries its shard. The source travels
    to each actor once (a file list, or a dataset: by reference to its Arrow files when it was loaded
    from disk), so inputs must be readable at the same paths on every node."""
    import pickle  # noqa: PLC0415

    require("ray.data")
    import ray  # noqa: PLC0415
    import ray.data  # noqa: PLC0415

    if source is None or ranges is None:
        raise TokenizeError("The Ray executor needs the source and the shard ranges.")
    if not ranges:
        return
    started = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        started = True
    try:
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # one INFO line per run is noise here
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        items = [{"shard": index, "start": start, "stop": stop} for index, start, stop in ranges]
        gpus = 1 if config.device.startswith("cuda") else 0
        dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            _RayShardActor,
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=max(1, config.threads) if not gpus else 1,
            num_gpus=gpus,
            fn_constructor_kwargs={"config": config, "source": source},
        )  # Ray Data's actor pools restart dead actors and retry their tasks by default (max_restarts=-1)
        for batch in dataset.iter_batches(batch_size=1, batch_format="numpy", prefetch_batches=0):
            for blob in batch["result"]:
                yield pickle.loads(blob)
    finally:
        if started:
            ray.shutdown()


_EXECUTORS: dict[str, Callable[..., Iterator[ShardResult]]] = {
    "inline": _inline,
    "local": _local,
    "ray": _ray,
}


# -------------------------------------------------------------------------------------------- driver


def tokenize(
    src: Any,
    out: StrPath,
    config: TokenizeConfig | None = None,
    *,
    executor: str = "inline",
    workers: int = 1,
    address: str | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    audio_column: str = "audio",
    id_column: str | None = None,
    split: str | None = None,
    progress: Callable[[TokenizeProgress], None] | None = None,
    cancel: CancelToken | None = None,
) -> TokenizeSummary:
    """Tokenize `src` (folder, `.txt` file list, saved dataset folder, `datasets.Dataset`, list of paths)
    into Parquet shards under `out`. Re-running resumes: written shards are skipped. Bad clips land in the
    errors table and the run goes on. Cancelling (or Ctrl-C) leaves only complete shards."""
    config = config or TokenizeConfig()
    spec = get_spec(config.model)
    spec.check_bandwidth(config.bandwidth)
    config = TokenizeConfig(**{**asdict(config), "model": spec.name})
    if executor not in _EXECUTORS:
        raise TokenizeError(f"Unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}.")
    if workers < 1 or shard_size < 1:
        raise TokenizeError("workers and shard size must be at least 1.")
    source: Source = open_source(src, audio_column, id_column, split)
    out = Path(out)
    count = len(source)
    total_shards = -(-count // shard_size)
    write_manifest(
        out,
        {
            "format_version": FORMAT_VERSION,
            "model": spec.name,
            "bandwidth": config.bandwidth,
            "shard_size": shard_size,
            "clips": count,
            "shards": total_shards,
            "source": source.describe(),
        },
    )
    state = TokenizeProgress(total_shards, count)
    pending = [i for i in range(total_shards) if not data_path(out, i).exists()]
    state.shards_skipped = total_shards - len(pending)
    state.clips_done = sum(min(shard_size, count - i * shard_size) for i in range(total_shards)) - sum(
        min(shard_size, count - i * shard_size) for i in pending
    )

    def shards() -> ShardIterator:
        for index in pending:
            check_cancel(cancel)
            yield index, source.items(index * shard_size, min(count, (index + 1) * shard_size))

    started = time.monotonic()
    written: list[int] = []
    if not pending:
        return TokenizeSummary(out, state, executor, workers)
    ranges = [(i, i * shard_size, min(count, (i + 1) * shard_size)) for i in pending]
    runner = _EXECUTORS[executor](config, shards(), workers, address=address, source=source, ranges=ranges)
    try:
        for result in runner:
            check_cancel(cancel)
            if data_path(out, result.index).exists():  # a duplicate from a retried task: keep the first
                continue
            if result.errors is not None:
                write_bytes(errors_path(out, result.index), result.errors, overwrite=True)
            write_bytes(data_path(out, result.index), result.data, overwrite=False)
            written.append(result.index)
            state.shards_done += 1
            state.clips_done += result.clips
            state.clips_failed += result.failed
            state.audio_seconds += result.audio_seconds
            state.elapsed_s = time.monotonic() - started
            if progress is not None:
                progress(state)
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()
    state.elapsed_s = time.monotonic() - started
    return TokenizeSummary(out, state, executor, workers, shards_written=written)
