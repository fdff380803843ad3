"""Measurements on trained runs, cached as JSON (see `experiments.cached_measurement`).

Each takes the configs of the runs it measures (they come from the run cache) and returns plain
numbers; the chapters turn them into tables, figures and claims. All of them use the test set.
"""

from __future__ import annotations

import torch

from ex2 import analysis
from ex2.config import RunConfig
from ex2.data import load_mnist, random_subset
from ex2.experiments import cached_measurement, run
from ex2.train import encode, forward_in_batches, predictions

# Pixel classes of an input image, by its intensity: the background is exactly 0 in MNIST; the
# anti-aliased border of a stroke is in between; its core is bright.
STROKE_CORE = 0.5


@cached_measurement
def reconstruction_quality(autoencoder: RunConfig, classifier: RunConfig) -> dict:
    """Where an autoencoder's error sits (background, stroke border, stroke core: mean |error| per
    pixel), how bright it draws stroke cores, and how often the classifier still recognises the
    input's digit in the reconstruction."""
    mnist = load_mnist()
    x = mnist.test_images
    x_hat = forward_in_batches(run(autoencoder).model, x)
    error = (x_hat - x).abs()
    regions = {
        "background": x == 0,
        "border": (x > 0) & (x < STROKE_CORE),
        "core": x >= STROKE_CORE,
    }
    recognised = predictions(run(classifier).model, x_hat) == mnist.test_labels
    return {
        "error": {name: error[mask].mean().item() for name, mask in regions.items()},
        "error_share": {
            name: (error[mask].sum() / error.sum()).item() for name, mask in regions.items()
        },
        "pixel_share": {name: mask.float().mean().item() for name, mask in regions.items()},
        "core_brightness": x_hat[regions["core"]].mean().item(),
        "input_core_brightness": x[regions["core"]].mean().item(),
        "recognised": recognised.float().mean().item(),
    }


@cached_measurement
def shift_robustness(classifier: RunConfig, max_shift: int = 4) -> dict:
    """Test accuracy on digits shifted by 0..max_shift pixels, and the consistency of the
    predictions under two random one-pixel shifts (Zhang 2019)."""
    model, mnist = run(classifier).model, load_mnist()
    curve = analysis.accuracy_under_shift(model, mnist.test_images, mnist.test_labels, max_shift)
    return {"curve": curve, "consistency": analysis.shift_consistency(model, mnist.test_images)}


@cached_measurement
def one_nn_accuracy(subset_size: int, draw: int) -> float:
    """1-nearest-neighbour test accuracy in pixel space on a seeded draw of training images."""
    mnist = load_mnist()
    idx = random_subset(60000, subset_size, draw)
    return analysis.nearest_neighbour_accuracy(
        mnist.train_images[idx], mnist.train_labels[idx], mnist.test_images, mnist.test_labels
    )


@cached_measurement
def latent_geometry(encoder_run: RunConfig, embed_n: int) -> dict:
    """Digit geometry of an encoder's test codes (class spread, silhouette, 5-NN accuracy fitted on
    the training codes) and their 2-D maps: PCA of all, t-SNE of the first `embed_n`."""
    mnist = load_mnist()
    encoder = run(encoder_run).model.encoder
    train_codes, test_codes = (
        encode(encoder, mnist.train_images),
        encode(encoder, mnist.test_images),
    )
    metrics = analysis.latent_metrics(
        train_codes, mnist.train_labels, test_codes, mnist.test_labels
    )
    return {
        "metrics": metrics,
        "pca": analysis.embed_2d(test_codes, "pca").tolist(),
        "tsne": analysis.embed_2d(test_codes[:embed_n], "tsne").tolist(),
    }


def class_spreads(items: dict[str, torch.Tensor], labels: torch.Tensor) -> dict[str, dict]:
    """`analysis.class_spread` of several sets of items with the same labels."""
    return {name: analysis.class_spread(x, labels) for name, x in items.items()}
