"""What a run *is*: its model, its training settings and its data, as functions of its RunConfig.

This module, with `config`, `data`, `models` and `train`, shapes every trained result, so the
experiment cache keys each run by the source of these five (`experiments.RESULT_MODULES`). The
cache's own plumbing (folders, locks, validation) lives in `experiments` and is not part of the key.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ex2 import models, train
from ex2.config import RunConfig
from ex2.data import load_mnist, random_subset


def subset_of(cfg: RunConfig) -> torch.Tensor | None:
    if cfg.subset_size is None:
        return None
    return random_subset(60000, cfg.subset_size, cfg.subset_seed)


def build_model(cfg: RunConfig) -> nn.Module:
    """The untrained model of a run, initialised from the run's seed."""
    torch.manual_seed(cfg.seed)
    if cfg.task in ("autoencoder", "decoder"):
        return models.ConvAutoencoder(cfg.base, cfg.latent)
    return models.Classifier(cfg.base, cfg.latent)


def train_config(cfg: RunConfig) -> train.TrainConfig:
    return train.TrainConfig(
        epochs=cfg.epochs,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        lr_schedule=cfg.lr_schedule,
        passes_per_epoch=cfg.passes_per_epoch,
        max_batches=cfg.max_batches,
        channels_last=train.prefers_channels_last(cfg.base),
    )


def train_run(
    cfg: RunConfig, model: nn.Module, log, upstream_encoder: Callable[[RunConfig], nn.Module]
) -> train.History:
    """Train `model` (built by `build_model`) as `cfg` says; a head or decoder starts from the
    encoder `upstream_encoder(cfg.encoder)` returns (the experiment cache's trained run)."""
    mnist = load_mnist().to(train.default_device())
    tc, subset = train_config(cfg), subset_of(cfg)
    if cfg.task == "autoencoder":
        return train.train_autoencoder(model, mnist, tc, log=log)
    if cfg.task == "classifier":
        return train.train_classifier(model, mnist, tc, subset=subset, log=log)
    model.encoder.load_state_dict(upstream_encoder(cfg.encoder).state_dict())
    if cfg.task == "head":
        return train.train_head_on_frozen_encoder(
            model.encoder, model.head, mnist, tc, subset=subset, log=log
        )
    return train.train_decoder_on_frozen_encoder(model.encoder, model.decoder, mnist, tc, log=log)
