"""`ecdc train ...`: build the corpus, train (resumable), evaluate, export; the LM on the model's codes.

    ecdc train corpus DIR                         rebuild the corpus from Debian packages + espeak-ng
    ecdc train fit --corpus DIR --run RUN [--hours H | --steps N] [--model NAME]
    ecdc train eval --corpus DIR (--run RUN | --weights FILE) [--stoi] [--json OUT]
    ecdc train export --run RUN OUT.safetensors
    ecdc train lm --corpus DIR --weights FILE OUT.safetensors [--minutes M] [--hours-of-codes H]

Training is slow on a CPU (docs/MODEL-CARD.md has the figures); runs resume from RUN/checkpoint.pt.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from codec.errors import CodecError


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train",
        help="train or fine-tune a model of your own",
        description="Build the corpus, train a model (resumable), evaluate and export it.",
    )
    steps = train.add_subparsers(dest="train_command", required=True, parser_class=type(train))

    corpus = steps.add_parser("corpus", help="build the training corpus (apt-get download + espeak-ng)")
    corpus.add_argument("out", type=Path, metavar="DIR")

    fit = steps.add_parser("fit", help="train, resuming from RUN/checkpoint.pt when it exists")
    fit.add_argument("--corpus", type=Path, required=True)
    fit.add_argument("--run", type=Path, required=True)
    fit.add_argument("--model", default="ecdc_small_24khz")
    limit = fit.add_mutually_exclusive_group(required=True)
    limit.add_argument("--hours", type=float, help="wall-clock hours to train this time")
    limit.add_argument("--steps", type=int, help="stop at this total step count")
    fit.add_argument("--threads", type=int, default=1)
    fit.add_argument("--batch-size", type=int, default=16)
    fit.add_argument("--learning-rate", type=float, default=1e-3)
    fit.add_argument("--decay-steps", type=int, default=15_000)

    evaluate = steps.add_parser("eval", help="quality on the held-out clips at every rung")
    evaluate.add_argument("--corpus", type=Path, required=True)
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", type=Path)
    source.add_argument("--weights", type=Path)
    evaluate.add_argument("--stoi", action="store_true", help="also STOI on speech (needs pystoi)")
    evaluate.add_argument("--json", type=Path, dest="json_out")

    export = steps.add_parser("export", help="write the run's model as a loadable .safetensors file")
    export.add_argument("--run", type=Path, required=True)
    export.add_argument("out", type=Path)

    lm = steps.add_parser("lm", help="train the entropy-coding LM on the model's codes")
    lm.add_argument("--corpus", type=Path, required=True)
    lm.add_argument("--weights", type=Path, required=True, help="the exported model")
    lm.add_argument("--minutes", type=float, default=15.0)
    lm.add_argument("--hours-of-codes", type=float, default=1.0)
    lm.add_argument("out", type=Path)


def run_train(args: argparse.Namespace) -> int:
    import torch

    from codec.api import model_from_checkpoint

    command = args.train_command
    if command == "corpus":
        from codec.training.corpus import build_corpus

        build_corpus(args.out)
        return 0
    if command == "fit":
        from codec.training.trainer import TrainConfig, train

        config = TrainConfig(
            corpus=args.corpus,
            run_dir=args.run,
            model=args.model,
            threads=args.threads,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            decay_steps=args.decay_steps,
        )
        _check_corpus(args.corpus)
        seconds = None if args.hours is None else args.hours * 3600
        train(config, max_seconds=seconds, max_steps=args.steps)
        return 0
    if command == "eval":
        from codec.training.evaluate import evaluate_clips, load_eval_clips

        _check_corpus(args.corpus)
        if args.run is not None:
            from codec.training.export import load_run

            model = load_run(args.run)[0]
        else:
            model = model_from_checkpoint(args.weights)
        torch.set_num_threads(1)
        rows = evaluate_clips(model, load_eval_clips(args.corpus / "eval"), with_stoi=args.stoi)
        for row in rows:
            print(json.dumps(row))
        if args.json_out is not None:
            args.json_out.write_text(json.dumps(rows, indent=1))
        return 0
    if command == "export":
        from codec.training.export import export_model

        print(export_model(args.run, args.out))
        return 0
    if command == "lm":
        from codec.training.export import export_lm
        from codec.training.lm import bits_per_frame, extract_codes, train_lm

        _check_corpus(args.corpus)
        model = model_from_checkpoint(args.weights)
        codes = extract_codes(model, args.corpus, args.hours_of_codes)
        held_out = codes[: max(1, len(codes) // 10)]
        lm = train_lm(model.spec, codes[len(held_out) :], seconds=args.minutes * 60)
        figures = {
            f"bits_per_frame_{n}": f"{bits_per_frame(lm, torch.cat(held_out, -1), n):.1f}"
            for n in (model.spec.codebooks_for_bandwidth(b) for b in model.spec.bandwidths)
        }
        print(json.dumps(figures))
        export_lm(lm, model.spec.name, args.out, figures)
        return 0
    raise CodecError(f"Unknown train command {command!r}.")


def _check_corpus(corpus: Path) -> None:
    if not (Path(corpus) / "train.npy").is_file():
        raise CodecError(
            f"{corpus} is not a corpus (no train.npy); build one with `ecdc train corpus {corpus}`."
        )
