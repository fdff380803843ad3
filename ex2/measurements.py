"""Measurements on trained runs, cached as JSON (see `experiments.cached_measurement`).

Each takes the configs of the runs it measures (they come from the run cache) and returns plain
numbers; the chapters turn them into tables, figures and claims. Every pass over the test set that
a page shows is one of these, so that pages only read cached results. All of them measure the test
set, except `centre_offsets`, which describes the training images.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from ex2 import analysis
from ex2.config import RunConfig
from ex2.data import TRAIN_IMAGES, load_mnist, random_subset
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
    """Test accuracy on digits shifted by 0..max_shift pixels in each direction (up, down, left,
    right; one entry at 0), its mean per shift, and the consistency of the predictions under two
    random one-pixel shifts (Zhang 2019), with how often each of the two is right."""
    model, mnist = run(classifier).model, load_mnist()
    x, y = mnist.test_images, mnist.test_labels
    by_direction = analysis.accuracy_under_shift(model, x, y, max_shift)
    consistency = analysis.shift_consistency(model, x, y)
    return {
        "by_direction": by_direction,
        "curve": [sum(a) / len(a) for a in by_direction],
        **consistency,
    }


@cached_measurement
def test_predictions(classifier: RunConfig) -> list[int]:
    """The digit a classifier run predicts for each test image."""
    return predictions(run(classifier).model, load_mnist().test_images).tolist()


@cached_measurement
def image_geometry() -> dict:
    """The test images grouped by digit (`analysis.class_distances`), each image's Euclidean
    distance to the mean test image of its digit, and the distances between those means."""
    mnist = load_mnist()
    x, y = mnist.test_images, mnist.test_labels
    means = analysis.class_means(x, y)
    return {
        "spread": analysis.class_distances(x, y),
        "to_mean": analysis.distance_to_class_mean(x, y, means).tolist(),
        "class_mean_distances": torch.cdist(means, means).tolist(),
    }


@cached_measurement
def decoder_geometry(decoder: RunConfig) -> dict:
    """A decoder on a frozen encoder, over the test set: the geometry of its codes and
    reconstructions grouped by digit, the L1 error of each reconstruction, and each
    reconstruction's distance to the mean of *this decoder's* reconstructions of its digit (how
    unusual it is among them)."""
    mnist = load_mnist()
    x, y = mnist.test_images, mnist.test_labels
    model = run(decoder).model
    recon, codes = forward_in_batches(model, x), encode(model.encoder, x)
    means = analysis.class_means(recon, y)
    return {
        "recon": analysis.class_distances(recon, y),
        "code": analysis.class_distances(codes, y),
        "l1": (recon - x).abs().mean(dim=(1, 2, 3)).tolist(),
        "to_mean": analysis.distance_to_class_mean(recon, y, means).tolist(),
    }


# MNIST places each digit so that its centre of mass falls on this pixel (row, column).
MNIST_CENTRE = (14, 14)
REFERENCE_IMAGES = 20


@cached_measurement
def centre_offsets() -> dict:
    """How far each training digit's centre of mass lies from `MNIST_CENTRE`, in pixels (the
    larger of the row and column offsets): the largest offset and the mean."""
    images = load_mnist().train_images
    offsets = analysis.centre_of_mass_offsets(images, MNIST_CENTRE)
    # the same for the first images by scipy's centre of mass, for a consistency check
    reference = [
        np.abs(np.asarray(ndimage.center_of_mass(img[0].double().numpy())) - MNIST_CENTRE).max()
        for img in images[:REFERENCE_IMAGES]
    ]
    return {
        "max": offsets.max().item(),
        "mean": offsets.mean().item(),
        "images": len(offsets),
        "first": offsets[:REFERENCE_IMAGES].tolist(),
        "first_by_scipy": [float(v) for v in reference],
    }


@cached_measurement
def one_nn_accuracy(subset_size: int, draw: int) -> float:
    """1-nearest-neighbour test accuracy in pixel space on a seeded draw of training images."""
    mnist = load_mnist()
    idx = random_subset(TRAIN_IMAGES, subset_size, draw)
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
