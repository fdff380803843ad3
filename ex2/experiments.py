"""Experiments: pure functions of a config, cached on disk under a hash of that config.

A run lives in `runs/<kind>-<hash>/` (`$EX2_RUNS_DIR` overrides `runs/`) as `checkpoint.pt` (weights,
config, history) and `metrics.json` (config, history, final metrics, subset indices). The hash
covers the config *and* the source of the code that trains (data, models, train), so editing a
training loop retrains, while rebuilding the book with nothing changed trains nothing.

`EX2_PROFILE=smoke` shrinks every experiment (1 epoch of a few batches) so the whole book builds in
minutes; smoke configs hash differently, so they never mix with full runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ex2 import train as T
from ex2.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ex2.data import REPO_ROOT, MnistTensors, atomic_write_bytes, load_mnist, random_subset
from ex2.models import Classifier, ConvAutoencoder

CODE_FILES = ("data.py", "models.py", "train.py")
MEASUREMENT_FILES = ("analysis.py", "report.py", "semi.py")  # also shape what `cached_json` stores
SMOKE_MAX_BATCHES = 4


# --------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class AutoencoderConfig:
    base: int = 16
    latent: int = 16
    epochs: int = 10
    lr: float = 2e-3
    batch_size: int = 256
    seed: int = 0
    lr_schedule: str = "constant"
    max_batches: int | None = None
    kind: str = field(default="autoencoder", init=False)


@dataclass(frozen=True)
class ClassifierConfig:
    base: int = 16
    latent: int = 16
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 64
    seed: int = 0
    lr_schedule: str = "cosine"
    passes_per_epoch: int = 1
    subset_size: int | None = None  # None: the full 60k
    subset_seed: int = 0
    max_batches: int | None = None
    kind: str = field(default="classifier", init=False)


@dataclass(frozen=True)
class HeadConfig:
    """A linear head on the frozen encoder of a trained autoencoder."""

    encoder: AutoencoderConfig = AutoencoderConfig()
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 64
    seed: int = 0
    lr_schedule: str = "cosine"
    passes_per_epoch: int = 1
    subset_size: int | None = None
    subset_seed: int = 0
    max_batches: int | None = None
    kind: str = field(default="head", init=False)


@dataclass(frozen=True)
class DecoderConfig:
    """A fresh decoder on the frozen encoder of a trained autoencoder or classifier."""

    encoder: AutoencoderConfig | ClassifierConfig = AutoencoderConfig()
    epochs: int = 10
    lr: float = 2e-3
    batch_size: int = 256
    seed: int = 0
    lr_schedule: str = "constant"
    max_batches: int | None = None
    kind: str = field(default="decoder", init=False)


Config = AutoencoderConfig | ClassifierConfig | HeadConfig | DecoderConfig


def profile() -> str:
    name = os.environ.get("EX2_PROFILE", "full")
    if name not in ("full", "smoke"):
        raise ValueError(f"EX2_PROFILE must be 'full' or 'smoke', got {name!r}")
    return name


def for_profile(cfg: Config) -> Config:
    """The config as the active profile runs it (smoke: one short epoch, upstream encoders too)."""
    if profile() == "full":
        return cfg
    changes = {"epochs": 1, "max_batches": SMOKE_MAX_BATCHES}
    if hasattr(cfg, "encoder"):
        changes["encoder"] = for_profile(cfg.encoder)
    return replace(cfg, **changes)


def config_dict(cfg: Config) -> dict:
    return asdict(cfg)


def code_fingerprint(files: tuple[str, ...] = CODE_FILES) -> str:
    digest = hashlib.sha256()
    for name in files:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:12]


def config_hash(cfg: Config) -> str:
    blob = json.dumps({"config": config_dict(cfg), "code": code_fingerprint()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def runs_root() -> Path:
    return Path(os.environ.get("EX2_RUNS_DIR", REPO_ROOT / "runs")).resolve()


def run_dir(cfg: Config) -> Path:
    return runs_root() / f"{cfg.kind}-{config_hash(cfg)}"


# --------------------------------------------------------------------------- results


@dataclass
class RunResult:
    config: Config
    model: nn.Module            # on the CPU, eval mode
    history: T.History
    run_dir: Path
    subset_indices: list[int] | None
    train_seconds: float        # wall time of the training when it ran (not of the cache hit)
    cached: bool

    @property
    def final(self) -> dict:
        return final_metrics(self.history)


def final_metrics(history: T.History) -> dict:
    if isinstance(history, T.ReconstructionHistory):
        out = {"test_l1": history.test_loss[-1], "test_pixel_accuracy": history.test_metric[-1],
               "train_l1": history.train_loss[-1]}
    else:
        out = {"test_accuracy": history.test_metric[-1], "test_loss": history.test_loss[-1],
               "train_accuracy": history.train_metric[-1]}
    out["seconds_per_epoch"] = sum(history.seconds) / len(history.seconds)
    return out


def metrics_json(cfg: Config, history: T.History, subset: torch.Tensor | None, seconds: float) -> dict:
    return {
        "kind": cfg.kind,
        "config": config_dict(cfg),
        "history": history.to_dict(),
        "final": final_metrics(history),
        "train_seconds": seconds,
        "subset_indices": None if subset is None else subset.tolist(),
        "device": str(T.default_device()),
        "torch": torch.__version__,
    }


def write_json(path: Path, payload: dict) -> None:
    atomic_write_bytes(Path(path), (json.dumps(payload, indent=1) + "\n").encode())


# --------------------------------------------------------------------------- the runs


def data_on_device() -> MnistTensors:
    return load_mnist().to(T.default_device())


def train_config(cfg: Config) -> T.TrainConfig:
    return T.TrainConfig(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, seed=cfg.seed,
                         lr_schedule=cfg.lr_schedule, passes_per_epoch=getattr(cfg, "passes_per_epoch", 1),
                         max_batches=cfg.max_batches)


def subset_of(cfg: Config) -> torch.Tensor | None:
    if getattr(cfg, "subset_size", None) is None:
        return None
    return random_subset(60000, cfg.subset_size, cfg.subset_seed)


def build_model(cfg: Config) -> nn.Module:
    """The untrained model of a run, initialised from the run's seed."""
    torch.manual_seed(cfg.seed)
    if isinstance(cfg, AutoencoderConfig):
        return ConvAutoencoder(cfg.base, cfg.latent)
    if isinstance(cfg, ClassifierConfig):
        return Classifier(cfg.base, cfg.latent)
    enc = cfg.encoder
    return Classifier(enc.base, enc.latent) if isinstance(cfg, HeadConfig) else ConvAutoencoder(enc.base, enc.latent)


def train_run(cfg: Config, model: nn.Module, log) -> T.History:
    """Train `model` (built by `build_model`) as `cfg` says. Upstream encoders come from the cache."""
    data, tc, subset = data_on_device(), train_config(cfg), subset_of(cfg)
    if isinstance(cfg, AutoencoderConfig):
        return T.train_autoencoder(model, data, tc, log=log)
    if isinstance(cfg, ClassifierConfig):
        return T.train_classifier(model, data, tc, subset=subset, log=log)
    model.encoder.load_state_dict(run(cfg.encoder, log=log).model.encoder.state_dict())
    if isinstance(cfg, HeadConfig):
        return T.train_head_on_frozen_encoder(model.encoder, model.head, data, tc, subset=subset, log=log)
    return T.train_decoder_on_frozen_encoder(model.encoder, model.decoder, data, tc, log=log)


def run(cfg: Config, log: Callable[[str], None] | None = None, force: bool = False) -> RunResult:
    """Train `cfg` once and cache it; later calls load the cached checkpoint."""
    folder = run_dir(cfg)
    model = build_model(cfg)
    if not force and (folder / "metrics.json").exists():
        try:
            payload = load_checkpoint(folder / "checkpoint.pt", model, config_dict(cfg))
        except CheckpointError as err:
            raise CheckpointError(f"{err} (or delete {folder} to retrain)") from None
        metrics = json.loads((folder / "metrics.json").read_text())
        history = history_from_dict(payload["history"])
        return RunResult(cfg, model.cpu().eval(), history, folder, metrics["subset_indices"],
                         metrics["train_seconds"], cached=True)

    start = time.perf_counter()
    history = train_run(cfg, model, log)
    seconds = time.perf_counter() - start
    subset = subset_of(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(folder / "checkpoint.pt", model, config_dict(cfg), history.to_dict())
    write_json(folder / "metrics.json", metrics_json(cfg, history, subset, seconds))  # last: marks the run complete
    return RunResult(cfg, model.cpu().eval(), history, folder,
                     None if subset is None else subset.tolist(), seconds, cached=False)


def history_from_dict(d: dict) -> T.History:
    cls = T.ReconstructionHistory if d["loss_name"] == "L1" else T.ClassificationHistory
    return cls.from_dict(d)


def cached_json(name: str, key: dict, compute: Callable[[], dict]) -> dict:
    """A measurement on trained models (no training), cached like a run: `runs/<name>-<hash>.json`.

    `key` must pin down everything the result depends on (typically the configs of the runs used).
    """
    blob = json.dumps({"key": key, "code": code_fingerprint(CODE_FILES + MEASUREMENT_FILES)},
                      sort_keys=True, default=str)
    path = runs_root() / f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}.json"
    if path.exists():
        return json.loads(path.read_text())
    result = compute()
    write_json(path, result)
    return result
