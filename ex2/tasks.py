"""What a run *is*: its model, its data and how it trains, as functions of its RunConfig.

This module, with `config`, `data`, `models` and `train`, shapes every trained result, so the
experiment cache keys each run by the source of these five (`experiments.RESULT_MODULES`).
"""

from __future__ import annotations

import torch
from torch import nn

from ex2 import models
from ex2.config import RunConfig
from ex2.data import TRAIN_IMAGES, MnistTensors, random_subset
from ex2.train import CLASSIFICATION, RECONSTRUCTION, History, encode, fit


def subset_of(cfg: RunConfig) -> torch.Tensor | None:
    if cfg.subset_size is None:
        return None
    return random_subset(TRAIN_IMAGES, cfg.subset_size, cfg.subset_seed)


def build_model(cfg: RunConfig) -> nn.Module:
    """The untrained model of a run, initialised from the run's seed."""
    torch.manual_seed(cfg.seed)
    if cfg.task in ("autoencoder", "decoder"):
        return models.ConvAutoencoder(cfg.base, cfg.latent)
    return models.Classifier(cfg.base, cfg.latent)


def train_run(
    cfg: RunConfig, model: nn.Module, mnist: MnistTensors, frozen: nn.Module | None = None, log=None
) -> History:
    """Train `model` (from `build_model`) as `cfg` says, with the training loop `fit`.

    Q1 autoencoder: image -> image, L1 loss. Q2 classifier: image -> digit, cross-entropy, on all
    images or a seeded subset. Q3 head and Q4 decoder: the encoder takes the weights of `frozen`
    (the upstream run's encoder) and stays fixed, so its codes are computed once and only the
    linear head (codes -> digit) or the decoder (codes -> image) trains on them.
    """
    images, labels = mnist.train_images, mnist.train_labels
    subset = subset_of(cfg)
    if subset is not None:
        subset = subset.to(images.device)
        images, labels = images[subset], labels[subset]
    inputs, test_inputs = images, mnist.test_images
    if cfg.encoder is not None:  # a head or a decoder
        model.encoder.load_state_dict(frozen.state_dict())
        inputs, test_inputs = encode(model.encoder, images), encode(model.encoder, test_inputs)
        model = model.head if cfg.task == "head" else model.decoder
    if cfg.task in ("autoencoder", "decoder"):
        targets, test_targets, objective = images, mnist.test_images, RECONSTRUCTION
    else:
        targets, test_targets, objective = labels, mnist.test_labels, CLASSIFICATION
    return fit(model, inputs, targets, test_inputs, test_targets, objective, cfg, log)
