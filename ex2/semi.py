"""How far can 100 labels go? Methods that add the 59,900 unlabelled training images, step by step.

Every method sees the training images, the indices of the labelled ones and *their* labels only
(`LabelledPool`); the other training labels never enter this module. The test set is used only to
score the finished classifier. Settings were fixed before looking at any test result.

1. (the Q3 baseline, frozen autoencoder encoder + linear layer, is a run of `experiments`)
2. `finetune`       start from the autoencoder's encoder and train the whole classifier on the 100.
3. `finetune_aug`   the same with random translations and rotations of the 100 images.
4. `label_spread`   label spreading on a k-NN graph of the autoencoder's codes of all 60,000 images.
5. `pseudo_label`   self-training: a classifier (autoencoder encoder, augmentation) trained on all
                    the spread labels, then twice relabelling every image with its own confident
                    predictions and training a fresh one on those.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import sparse
from sklearn.neighbors import KNeighborsClassifier, kneighbors_graph
from torch import nn

from ex2 import train as T
from ex2.config import RunConfig, profile
from ex2.data import load_mnist, random_subset
from ex2.experiments import cached_measurement, run
from ex2.models import Classifier
from ex2.train import forward_in_batches

METHODS = (
    "finetune",
    "finetune_aug",
    "label_spread",
    "pseudo_label",
)  # trained here; step 1 is Q3(ii)


@dataclass(frozen=True)
class LabelledPool:
    """What a semi-supervised method may use: all training images, and labels for a few of them."""

    images: torch.Tensor  # [60000, 1, 28, 28]: every training image, labelled or not
    labelled_idx: torch.Tensor  # [100] indices into `images`
    labelled_targets: torch.Tensor  # [100] the labels of those images, and nothing else


@dataclass(frozen=True)
class SemiSettings:
    """Chosen a priori (no tuning on the test set). `steps` for the 100-image fine-tuning runs."""

    steps: int = 1000
    batch_size: int = 10
    lr: float = 1e-3
    neighbours: int = 10  # k of the k-NN graph for label spreading
    alpha: float = (
        0.99  # label spreading: weight of the neighbours vs the initial labels (Zhou et al. 2004)
    )
    confidence: float = 0.9  # rounds 2+: keep pseudo-labels the classifier gives this probability
    rounds: int = 3  # self-training rounds (the first on spread labels)
    pseudo_epochs: int = 2  # epochs over the pseudo-labelled images per round
    pseudo_batch: int = 256
    pseudo_lr: float = 2e-3
    max_batches: int | None = None  # smoke runs


class RandomShiftRotate(nn.Module):
    """Augmentation as a layer: in training mode, each image is moved by up to `shift` pixels and
    rotated by up to `degrees`; in eval mode it is the identity, so evaluation is unaffected."""

    def __init__(self, shift: float = 2.0, degrees: float = 10.0):
        super().__init__()
        self.shift, self.degrees = shift, degrees

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        n, _, h, w = x.shape
        angle = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(self.degrees)
        move = (
            (torch.rand(n, 2, device=x.device) * 2 - 1)
            * self.shift
            * 2
            / torch.tensor([w, h], device=x.device)
        )
        cos, sin = angle.cos(), angle.sin()
        theta = torch.stack(
            [torch.stack([cos, -sin, move[:, 0]], 1), torch.stack([sin, cos, move[:, 1]], 1)], 1
        )
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def pretrained_classifier(encoder: nn.Module, seed: int) -> Classifier:
    torch.manual_seed(seed)
    model = Classifier(encoder.base_channels, encoder.latent_dim)
    model.encoder.load_state_dict(encoder.state_dict())
    return model


def with_augmentation(model: nn.Module) -> nn.Module:
    return nn.Sequential(RandomShiftRotate(), model)


def test_accuracy(model: nn.Module, test_images: torch.Tensor, test_labels: torch.Tensor) -> float:
    return (forward_in_batches(model, test_images).argmax(1) == test_labels).float().mean().item()


def finetune(
    pool: LabelledPool,
    encoder: nn.Module,
    s: SemiSettings,
    seed: int,
    augment: bool,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
) -> nn.Module:
    """The whole classifier, initialised from the autoencoder's encoder, trained on the 100 images."""
    model = pretrained_classifier(encoder, seed)
    model = with_augmentation(model) if augment else model
    passes = max(1, s.steps * s.batch_size // len(pool.labelled_idx))
    cfg = T.TrainConfig(
        epochs=1,
        lr=s.lr,
        batch_size=s.batch_size,
        seed=seed,
        lr_schedule="cosine",
        passes_per_epoch=passes,
        max_batches=s.max_batches,
        channels_last=T.prefers_channels_last(encoder.base_channels),
    )
    T.fit(
        model,
        pool.images[pool.labelled_idx],
        pool.labelled_targets,
        test_images,
        test_labels,
        T.CLASSIFICATION,
        cfg,
        log=None,
    )
    return model


def label_spreading(
    points: np.ndarray, partial: np.ndarray, k: int, alpha: float, iterations: int = 50
):
    """Zhou et al. (2004): spread the known labels over a symmetric k-NN graph of the points.

    `partial` holds a class for labelled points and -1 elsewhere. Iterates F <- alpha S F + (1 - alpha) Y
    with S = D^-1/2 W D^-1/2; returns the class distribution of every point (rows sum to 1, or 0
    for a point no label reached).
    """
    graph = kneighbors_graph(points, n_neighbors=k, mode="connectivity", include_self=False)
    graph = graph.maximum(graph.T)  # symmetric: an outlier's neighbours also reach the outlier
    degree = np.asarray(graph.sum(1)).ravel()
    inv_sqrt = sparse.diags(1.0 / np.sqrt(np.maximum(degree, 1e-12)))
    s = inv_sqrt @ graph @ inv_sqrt
    y = np.zeros((len(points), 10))
    known = partial >= 0
    y[np.nonzero(known)[0], partial[known]] = 1.0
    f = y.copy()
    for _ in range(iterations):
        f = alpha * (s @ f) + (1 - alpha) * y
    total = f.sum(1, keepdims=True)
    return np.divide(f, total, out=np.zeros_like(f), where=total > 0)


def spread_labels(pool: LabelledPool, encoder: nn.Module, s: SemiSettings):
    """Label spreading over the autoencoder codes of all training images.

    Returns (labels, confidence) for every training image and a k-NN classifier on the spread
    labels that predicts new images from their codes.
    """
    codes = T.encode(encoder, pool.images).numpy().astype(np.float64)
    scale = codes.std(0, keepdims=True) + 1e-8
    partial = np.full(len(codes), -1)
    partial[pool.labelled_idx.numpy()] = pool.labelled_targets.numpy()
    dist = label_spreading(codes / scale, partial, s.neighbours, s.alpha)
    labels, confidence = dist.argmax(1), dist.max(1)
    knn = KNeighborsClassifier(n_neighbors=s.neighbours).fit(codes / scale, labels)
    knn.code_scale_ = scale
    return labels, confidence, knn


def spread_predict(knn, encoder: nn.Module, images: torch.Tensor) -> np.ndarray:
    codes = T.encode(encoder, images).numpy().astype(np.float64)
    return knn.predict(codes / knn.code_scale_)


def self_train(
    pool: LabelledPool,
    encoder: nn.Module,
    s: SemiSettings,
    seed: int,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
) -> tuple[nn.Module, list[dict]]:
    """Rounds of: train on confident pseudo-labels (+ the true 100), then relabel with the model."""
    labels, _, _ = spread_labels(pool, encoder, s)
    labels = torch.as_tensor(labels)
    # Spread scores are not probabilities (they are spread thin over many classes), so the first
    # round keeps every spread label; later rounds keep the classifier's confident predictions.
    confidence = torch.ones(len(labels))
    log = []
    model = None
    for r in range(s.rounds):
        keep = confidence >= s.confidence
        keep[pool.labelled_idx] = True
        targets = labels.clone()
        targets[pool.labelled_idx] = pool.labelled_targets  # the true labels always win
        idx = torch.nonzero(keep).flatten()
        model = with_augmentation(pretrained_classifier(encoder, seed + r))
        cfg = T.TrainConfig(
            epochs=s.pseudo_epochs,
            lr=s.pseudo_lr,
            batch_size=s.pseudo_batch,
            seed=seed + r,
            lr_schedule="cosine",
            max_batches=s.max_batches,
            channels_last=T.prefers_channels_last(encoder.base_channels),
        )
        T.fit(
            model,
            pool.images[idx],
            targets[idx],
            test_images,
            test_labels,
            T.CLASSIFICATION,
            cfg,
            log=None,
        )
        probs = forward_in_batches(model, pool.images).softmax(1)
        confidence, labels = probs.max(1)
        log.append(
            {
                "round": r + 1,
                "pseudo_labelled": len(idx),
                "test_accuracy": test_accuracy(model, test_images, test_labels),
            }
        )
    return model, log


def labelled_pool(images: torch.Tensor, labels: torch.Tensor, subset: torch.Tensor) -> LabelledPool:
    """The only place training labels are read: those of the drawn subset, nothing else."""
    return LabelledPool(images, subset, labels[subset].clone())


def run_method(
    method: str,
    pool: LabelledPool,
    encoder: nn.Module,
    s: SemiSettings,
    seed: int,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
) -> dict:
    """Train one method on the pool and score it on the test set."""
    if method == "finetune" or method == "finetune_aug":
        model = finetune(pool, encoder, s, seed, method == "finetune_aug", test_images, test_labels)
        return {"test_accuracy": test_accuracy(model, test_images, test_labels)}
    if method == "label_spread":
        _, _, spreader = spread_labels(pool, encoder, s)
        predicted = spread_predict(spreader, encoder, test_images)
        return {"test_accuracy": float((predicted == test_labels.numpy()).mean())}
    if method == "pseudo_label":
        model, rounds = self_train(pool, encoder, s, seed, test_images, test_labels)
        return {"test_accuracy": test_accuracy(model, test_images, test_labels), "rounds": rounds}
    raise ValueError(f"unknown method {method!r}; methods: {', '.join(METHODS)}")


def settings_for_profile() -> SemiSettings:
    if profile() == "full":
        return SemiSettings()
    return SemiSettings(steps=20, rounds=1, pseudo_epochs=1, max_batches=4)


@cached_measurement
def method_result(
    method: str, draw: int, encoder_run: RunConfig, settings: dict, subset_size: int = 100
) -> dict:
    """One method on one seeded draw of labels (draw k: subset seed k, model seed k), on the
    encoder of the autoencoder run `encoder_run`. Only `labelled_pool` reads training labels, and
    only the drawn ones; the test set only scores the finished model."""
    mnist = load_mnist()
    encoder = run(encoder_run).model.encoder
    subset = random_subset(len(mnist.train_labels), subset_size, draw)
    pool = labelled_pool(mnist.train_images, mnist.train_labels, subset)
    start = time.perf_counter()
    result = run_method(
        method, pool, encoder, SemiSettings(**settings), draw, mnist.test_images, mnist.test_labels
    )
    return {**result, "seconds": time.perf_counter() - start}
