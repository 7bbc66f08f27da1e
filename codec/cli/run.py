"""`ecdc [options] INPUT... [OUTPUT]`: plan the jobs (inputs -> outputs, every clash found first), load the
models, run each job with a bar on a terminal, and report per file."""

from __future__ import annotations

import argparse
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from codec.cli.messages import PROG, about, one_line
from codec.cli.parser import BITS
from codec.cli.progress import ProgressBar
from codec.errors import CodecError, WeightsError
from codec.fileio import OutputExistsError, PathError, check_input, check_output, same_path
from codec.filetypes import AUDIO_OUTPUT_FORMATS, ECDC_SUFFIX, is_ecdc, output_path_for
from codec.specs import MODELS, format_bandwidth
from codec.units import format_bytes, format_duration

SUFFIX = ECDC_SUFFIX
AUDIO_OUTPUTS = tuple(AUDIO_OUTPUT_FORMATS)


@dataclass(frozen=True)
class Job:
    kind: str  # "compress", "decompress", "roundtrip"
    src: Path
    dst: Path


def _plan(args: argparse.Namespace) -> list[Job]:
    paths: list[Path] = args.paths
    folder: Path | None = None
    output: Path | None = None
    if len(paths) >= 2 and paths[-1].is_dir():
        inputs, folder = paths[:-1], paths[-1]
    elif len(paths) == 2:
        inputs, output = paths[:1], paths[1]
    else:
        inputs = paths
        if len(paths) >= 3 and not paths[-1].exists():
            raise PathError(
                f"{paths[-1]} does not exist; with several inputs, the last path must be an existing "
                "output folder (or an input file)."
            )
    for src in inputs:
        check_input(src)
    jobs = []
    for src in inputs:
        decompress = is_ecdc(src)
        if output is not None:
            suffix = output.suffix.lower()
            if decompress and suffix not in AUDIO_OUTPUTS:
                raise PathError(f"Output {output} must end in .wav or .flac to decompress {src.name}.")
            if not decompress and suffix not in (SUFFIX, *AUDIO_OUTPUTS):
                raise PathError(f"Output {output} must end in .ecdc, .wav or .flac.")
            kind = "decompress" if decompress else ("compress" if suffix == SUFFIX else "roundtrip")
            jobs.append(Job(kind, src, output))
            continue
        if decompress:
            jobs.append(Job("decompress", src, output_path_for(src, folder, ".wav", args.decompress_suffix)))
        else:
            jobs.append(Job("compress", src, output_path_for(src, folder, SUFFIX)))
    return jobs


def _check_outputs(jobs: list[Job], force: bool, subtype: str) -> None:
    """Find every output clash, and audio outputs that cannot hold `subtype`, before any work starts."""
    from codec.audio import output_format  # noqa: PLC0415

    inputs = [job.src for job in jobs]
    for i, job in enumerate(jobs):
        for other in jobs[:i]:
            if same_path(job.dst, other.dst):
                raise PathError(f"{other.src} and {job.src} would both be written to {job.dst}.")
        try:
            check_output(job.dst, inputs=inputs, overwrite=force)
        except OutputExistsError:
            raise OutputExistsError(
                f"Output file {job.dst} already exists; use -f / --force to overwrite."
            ) from None
        if job.kind != "compress":
            output_format(job.dst, subtype)


def _model_choice(args: argparse.Namespace) -> str:
    if args.hq and args.model not in (None, "encodec_48khz"):
        raise CodecError(f"-q / --hq selects encodec_48khz; it cannot be combined with --model {args.model}.")
    return "encodec_48khz" if args.hq else (args.model or "encodec_24khz")


def _bandwidth_choice(args: argparse.Namespace, model: str) -> float:
    spec = MODELS[model]
    bandwidth = args.bandwidth
    if bandwidth is None:
        bandwidth = 6.0 if 6.0 in spec.bandwidths else spec.bandwidths[0]
    spec.check_bandwidth(bandwidth)
    return bandwidth


def _pool(args: argparse.Namespace) -> Any:
    from codec.device import resolve_device  # noqa: PLC0415
    from codec.model_pool import ModelPool  # noqa: PLC0415

    resolve_device(args.device)  # an unavailable device fails before any loading
    for path in (args.weights, args.lm_weights):
        if path is not None and not path.exists():
            raise PathError(f"Weights {path} do not exist.")
    # --weights applies to whichever model a job needs; a checkpoint for another model fails to load
    # with a clear error rather than silently using the wrong weights.
    weights = {name: args.weights for name in MODELS} if args.weights else None
    lm_weights = (
        {name: args.lm_weights for name in MODELS if MODELS[name].has_lm} if args.lm_weights else None
    )
    # Like Meta's `encodec`, the command downloads missing weights (with a bar on a terminal).
    return ModelPool(
        device=args.device,
        weights=weights,
        lm_weights=lm_weights,
        allow_download=True,
        exact=True if args.exact else None,  # else each model's default (ECDC_EXACT=1 makes that exact)
    )


def _run_job(
    job: Job,
    args: argparse.Namespace,
    pool: Any,
    model: str,
    bandwidth: float,
    progress: Any,
    header: Any = None,
) -> Any:
    from codec import jobs  # noqa: PLC0415

    common: dict[str, Any] = dict(pool=pool, overwrite=args.force, progress=progress)
    decoded: dict[str, Any] = dict(subtype=BITS[args.bits], rescale=args.rescale)
    if job.kind == "decompress":
        return jobs.decompress_file(job.src, job.dst, header=header, **decoded, **common)
    encoding: dict[str, Any] = dict(
        model_name=model, bandwidth=bandwidth, use_lm=args.lm, lm_format=args.lm_format
    )
    if job.kind == "compress":
        return jobs.compress_file(job.src, job.dst, **encoding, **common)
    return jobs.roundtrip_file(job.src, job.dst, **encoding, **decoded, **common)


def _summary(job: Job, result: Any) -> str:
    what = f"{job.src.name} -> {job.dst.name}"
    sizes = f"{format_bytes(result.input_bytes)} -> {format_bytes(result.output_bytes)}"
    rate = f"{format_bandwidth(result.bandwidth)} kbps nominal, {result.bitrate_kbps:.2f} kbps actual"
    return f"{what}: {sizes} ({result.ratio:.1f}:1, {rate}) in {result.seconds_taken:.1f} s"


def _preload(job: Job, args: argparse.Namespace, pool: Any, model: str, stderr: TextIO) -> Any:
    """Load (downloading if needed) what `job` needs, with its own bar: a download can take minutes.
    The input is checked first, so a file that is not audio says so rather than failing a download.
    Returns the header of a `.ecdc` input (the job reuses it), else None."""
    use_lm = args.lm
    header = None
    if job.kind != "decompress":
        from codec.audio import info_audio  # noqa: PLC0415

        info_audio(job.src)
    else:
        from codec.ecdc import read_header  # noqa: PLC0415

        header = read_header(job.src)  # not an .ecdc file: one clear EcdcFormatError
        model, use_lm = header.model, header.use_lm
    bar = ProgressBar(f"loading {model}", stderr) if stderr.isatty() else None
    try:
        pool.model(model, progress=bar)
        if use_lm:
            pool.lm(model, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    return header


def run_codec(args: argparse.Namespace, stderr: TextIO) -> int:
    from codec.audio import ClippingWarning  # noqa: PLC0415

    jobs = _plan(args)
    model = _model_choice(args)
    bandwidth = 0.0
    if any(job.kind != "decompress" for job in jobs):
        bandwidth = _bandwidth_choice(args, model)
        if args.lm and not MODELS[model].has_lm:
            raise CodecError(f"{model} has no language model; drop -l / --lm.")
    _check_outputs(jobs, args.force, BITS[args.bits])
    pool = _pool(args)
    tty = stderr.isatty()
    failures = 0
    for job in jobs:
        bar = None
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                header = _preload(job, args, pool, model, stderr)
                bar = ProgressBar(job.src.name, stderr) if tty else None
                result = _run_job(job, args, pool, model, bandwidth, bar, header)
        except CodecError as exc:
            if isinstance(exc, WeightsError):
                raise  # every other job would fail the same way
            if bar is not None:
                bar.close()
            failures += 1
            stderr.write(f"{PROG}: error: {about(job.src, exc)}\n")
            continue
        finally:
            if bar is not None:
                bar.close()
        for warning in caught:
            if issubclass(warning.category, ClippingWarning):
                hint = "" if args.rescale else " (use -r / --rescale to scale it down instead)"
                stderr.write(f"{PROG}: warning: {one_line(str(warning.message))}{hint}\n")
        for start, stop in getattr(result, "lost_s", ()):
            # A lost tail is left out (the output ends early); a lost stretch inside is muted.
            where = (
                "the output ends before it" if start >= result.duration_s else "it is silent in the output"
            )
            stderr.write(
                f"{PROG}: warning: {job.src.name}: audio from {format_duration(start, 2)} to {format_duration(stop, 2)} "
                f"was damaged and could not be decoded; {where}.\n"
            )
        if tty:
            stderr.write(_summary(job, result) + "\n")
    if failures and len(jobs) > 1:
        stderr.write(f"{PROG}: error: {failures} of {len(jobs)} files failed.\n")
    return 1 if failures else 0
