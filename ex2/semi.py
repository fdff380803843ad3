"""How far can 100 labels go? Methods that add the 59,900 unlabelled training images, step by step.

Every method sees the training images, the indices of the labelled ones and *their* labels only
(`LabelledPool`); the test set is used only to score the finished classifier. Settings were fixed
before looking at any test result (those of `iterated_spread` by cross-validation on the 100
labels). The other training labels enter one function, `spreading.spread_diagnosis`, which
scores spread labels after the fact, as the test set scores a finished model; no method calls it.

1. (the Q3 baseline, frozen autoencoder encoder + linear layer, is a run of `experiments`)
2. `finetune`        start from the autoencoder's encoder and train the whole classifier on the 100.
3. `finetune_aug`    the same with random translations and rotations of the 100 images.
4. `label_spread`    label spreading on a k-NN graph of the autoencoder codes of all 60,000 images.
5. `iterated_spread` label spreading with per-class seed mass on a graph of the encoder's conv
                     features, then rounds of training the classifier on all 60,000 images with
                     the spread labels weighted by certainty and re-spreading on its own codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

from ex2 import spreading, train
from ex2.config import RunConfig, profile
from ex2.data import load_mnist, random_subset
from ex2.experiments import cached_measurement, run
from ex2.models import Classifier
from ex2.train import forward_in_batches

METHODS = ("finetune", "finetune_aug", "label_spread", "iterated_spread")  # step 1 is Q3(ii)
SPREADING = ("label_spread", "iterated_spread")  # the methods that use the unlabelled images


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
    neighbours: int = 10  # k of the k-NN graphs for label spreading
    alpha: float = 0.99  # label spreading: weight of the neighbours vs the seeds (Zhou et al. 2004)
    spread_iterations: int = 50  # label_spread's spreading on the autoencoder codes
    # iterated_spread, chosen by cross-validation on the 100 labels (5 folds of 80 + 20 per draw)
    graph_dims: int = 50  # the first graph: on this many principal components of the conv features
    propagation_rounds: int = 3  # spread, then train the classifier, on its own codes' graph
    propagation_epochs: int = 2  # epochs over all 60,000 images per round
    propagation_iterations: int = 30  # spreading iterations per round
    propagation_batch: int = 256
    propagation_lr: float = 2e-3
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
        size = torch.tensor([w, h], device=x.device)
        move = (torch.rand(n, 2, device=x.device) * 2 - 1) * self.shift * 2 / size
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


def finetune(pool: LabelledPool, encoder: nn.Module, s: SemiSettings, seed: int, augment, test):
    """The whole classifier, initialised from the autoencoder's encoder, trained on the 100."""
    model = pretrained_classifier(encoder, seed)
    model = with_augmentation(model) if augment else model
    passes = max(1, s.steps * s.batch_size // len(pool.labelled_idx))
    cfg = train.TrainConfig(
        epochs=1,
        lr=s.lr,
        batch_size=s.batch_size,
        seed=seed,
        lr_schedule="cosine",
        passes_per_epoch=passes,
        max_batches=s.max_batches,
        channels_last=train.prefers_channels_last(encoder.base_channels),
    )
    labelled = pool.images[pool.labelled_idx]
    train.fit(model, labelled, pool.labelled_targets, *test, train.CLASSIFICATION, cfg, log=None)
    return model


def label_spread(pool: LabelledPool, encoder: nn.Module, s: SemiSettings, neighbours, test_images):
    """Label spreading over the graph of the autoencoder codes of all training images (their
    `neighbours`), then a k-NN classifier on the spread labels: the spread class of every
    training image, and the predicted class of every test image."""
    codes, scale = spreading.scaled_codes(encoder, pool.images)
    seeds = spreading.seed_classes(len(pool.images), pool.labelled_idx, pool.labelled_targets)
    graph = spreading.neighbour_graph(neighbours)
    labels = spreading.label_spreading(graph, seeds, s.alpha, s.spread_iterations).argmax(1)
    knn = KNeighborsClassifier(n_neighbors=s.neighbours).fit(codes, labels)
    test_codes = train.encode(encoder, test_images).numpy().astype(np.float64)
    return labels, knn.predict(test_codes / scale)


def certain_labels(dist: np.ndarray, pool: LabelledPool):
    """Each image's most likely class, and a weight 1 - H/log(10) that is 1 for a sure label and
    0 for a uniform one (Iscen et al. 2019), and 0 for an image no label reached; the 100 true
    labels win, with weight 1."""
    entropy = -(dist * np.log(np.maximum(dist, 1e-12))).sum(1)
    reached = dist.sum(1) > 0
    weights = torch.as_tensor((1 - entropy / np.log(10)) * reached, dtype=torch.float32)
    labels = torch.as_tensor(dist.argmax(1))
    labels[pool.labelled_idx] = pool.labelled_targets
    weights[pool.labelled_idx] = 1.0
    return labels, weights


def train_weighted(model, images, labels, weights, epochs: int, s: SemiSettings, seed: int):
    """Epochs of Adam (cosine decay) on every image with augmentation, each image's cross entropy
    scaled by its weight."""
    augment = RandomShiftRotate()
    optimizer = torch.optim.Adam(model.parameters(), lr=s.propagation_lr)
    batches = train.steps_per_epoch(len(images), s.propagation_batch, 1, s.max_batches)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * batches)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator).split(s.propagation_batch)
        for idx in order[:batches]:
            losses = F.cross_entropy(model(augment(images[idx])), labels[idx], reduction="none")
            loss = (losses * weights[idx]).sum() / weights[idx].sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()


def iterated_spreading(pool: LabelledPool, encoder, s: SemiSettings, seed: int, neighbours):
    """Rounds of: spread the 100 labels (per class) over a graph, train the classifier on the
    spread labels weighted by certainty, rebuild the graph on the classifier's own codes. The
    first graph joins the conv-feature `neighbours`."""
    partial = spreading.seed_classes(len(pool.images), pool.labelled_idx, pool.labelled_targets)
    graph = spreading.neighbour_graph(neighbours)
    model = pretrained_classifier(encoder, seed)
    model.to(memory_format=torch.channels_last)
    for r in range(s.propagation_rounds):
        dist = spreading.label_spreading(
            graph, partial, s.alpha, s.propagation_iterations, per_class=True
        )
        labels, weights = certain_labels(dist, pool)
        train_weighted(model, pool.images, labels, weights, s.propagation_epochs, s, seed + r)
        if r + 1 < s.propagation_rounds:
            codes = forward_in_batches(model.encoder, pool.images).numpy()
            graph = spreading.knn_graph(codes, s.neighbours)
    return model


def labelled_pool(images: torch.Tensor, labels: torch.Tensor, subset: torch.Tensor) -> LabelledPool:
    """The only place training labels are read: those of the drawn subset, nothing else."""
    return LabelledPool(images, subset, labels[subset].clone())


def run_method(
    method: str, pool, encoder, s: SemiSettings, seed, test_images, test_labels, neighbours=None
):
    """Train one method on the pool and score it on the test set. `neighbours`: those of
    `spreading.first_neighbours` (found here when not given)."""
    test = (test_images, test_labels)
    if method == "finetune" or method == "finetune_aug":
        model = finetune(pool, encoder, s, seed, method == "finetune_aug", test)
        return {"test_accuracy": test_accuracy(model, *test)}
    if method in SPREADING and neighbours is None:
        neighbours = spreading.first_neighbours(pool.images, encoder, s.neighbours, s.graph_dims)
    if method == "label_spread":
        _, predicted = label_spread(pool, encoder, s, neighbours["codes"], test_images)
        return {"test_accuracy": float((predicted == test_labels.numpy()).mean())}
    if method == "iterated_spread":
        model = iterated_spreading(pool, encoder, s, seed, neighbours["conv"])
        return {"test_accuracy": test_accuracy(model, *test)}
    raise ValueError(f"unknown method {method!r}; methods: {', '.join(METHODS)}")


def settings_for_profile() -> SemiSettings:
    if profile() == "full":
        return SemiSettings()
    return SemiSettings(steps=20, propagation_rounds=1, propagation_epochs=1, max_batches=4)


@cached_measurement
def method_result(method: str, draw: int, encoder_run: RunConfig, settings: dict, subset_size=100):
    """One method on one seeded draw of labels (draw k: subset seed k, model seed k), on the
    encoder of the autoencoder run `encoder_run`. Only `labelled_pool` reads training labels, and
    only the drawn ones; the test set only scores the finished model. The seconds exclude the
    first graphs' neighbours, found once for every draw (`spreading.neighbour_lists`)."""
    mnist = load_mnist()
    encoder = run(encoder_run).model.encoder
    subset = random_subset(len(mnist.train_labels), subset_size, draw)
    pool = labelled_pool(mnist.train_images, mnist.train_labels, subset)
    neighbours = spreading.stored_neighbours(encoder_run, settings) if method in SPREADING else None
    s, test = SemiSettings(**settings), (mnist.test_images, mnist.test_labels)
    result, elapsed = spreading.timed(run_method, method, pool, encoder, s, draw, *test, neighbours)
    return {**result, **elapsed}
