"""Label spreading (Zhou et al. 2004) on k-NN graphs of the training images, for steps 4 and 5 of
`semi`: the graphs, the spreading, and the diagnosis of what it gets wrong.

`spread_diagnosis` is the one function that reads the true labels of the unlabelled images: it
scores spread labels after the fact, as the test set scores a finished model; no method calls it.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from scipy import sparse
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from torch import nn

from ex2 import train
from ex2.config import RunConfig
from ex2.data import load_mnist, random_subset
from ex2.experiments import cached_measurement, run


def nearest_neighbours(points: np.ndarray, k: int) -> np.ndarray:
    """Each point's k nearest other points (Euclidean), nearest first: [n, k] indices."""
    return NearestNeighbors(n_neighbors=k).fit(points).kneighbors(return_distance=False)


def knn_graph(points: np.ndarray, k: int) -> sparse.csr_matrix:
    return neighbour_graph(nearest_neighbours(points, k))


def neighbour_graph(neighbours: np.ndarray) -> sparse.csr_matrix:
    """The symmetric graph that joins each point to its neighbours (rows of `nearest_neighbours`),
    normalised as S = D^-1/2 W D^-1/2 (built as scikit-learn's kneighbors_graph builds it)."""
    n, k = neighbours.shape
    graph = sparse.csr_matrix(
        (np.ones(n * k), neighbours.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n)
    )
    graph = graph.maximum(graph.T)  # symmetric: an outlier's neighbours also reach the outlier
    degree = np.asarray(graph.sum(1)).ravel()
    inv_sqrt = sparse.diags(1.0 / np.sqrt(np.maximum(degree, 1e-12)))
    return (inv_sqrt @ graph @ inv_sqrt).tocsr()


def label_spreading(graph, partial: np.ndarray, alpha: float, iterations: int, per_class=False):
    """Zhou et al. (2004): spread the known labels over a normalised graph S (`knn_graph`).

    `partial` holds a class for labelled points and -1 elsewhere. Iterates
    F <- alpha S F + (1 - alpha) Y; returns the class distribution of every point (rows sum to 1,
    or 0 for a point no label reached). `per_class`: every class's seeds share a mass of 1, so a
    class with many labels does not push its label further than one with few.
    """
    y = np.zeros((graph.shape[0], 10))
    known = partial >= 0
    y[np.nonzero(known)[0], partial[known]] = 1.0
    if per_class:
        y /= np.maximum(y.sum(0, keepdims=True), 1.0)
    f = y.copy()
    for _ in range(iterations):
        f = alpha * (graph @ f) + (1 - alpha) * y
    total = f.sum(1, keepdims=True)
    return np.divide(f, total, out=np.zeros_like(f), where=total > 0)


def seed_classes(n: int, labelled_idx, labelled_targets) -> np.ndarray:
    """Every image's class for `label_spreading`: the label of the labelled ones, -1 elsewhere."""
    partial = np.full(n, -1)
    partial[np.asarray(labelled_idx)] = np.asarray(labelled_targets)
    return partial


def scaled_codes(encoder: nn.Module, images: torch.Tensor):
    """The images' autoencoder codes, each dimension scaled to unit spread (so that no dimension
    dominates the distances), and the scale."""
    codes = train.encode(encoder, images).numpy().astype(np.float64)
    scale = codes.std(0, keepdims=True) + 1e-8
    return codes / scale, scale


def conv_features(encoder: nn.Module, images: torch.Tensor, dims: int) -> np.ndarray:
    """The first `dims` principal components of the encoder's conv features (1024 numbers per
    image, before the 16-d bottleneck)."""
    features = train.encode(encoder.features, images).numpy()
    return PCA(min(dims, *features.shape), random_state=0).fit_transform(features)


def first_neighbours(images: torch.Tensor, encoder: nn.Module, k: int, dims: int) -> dict:
    """The nearest neighbours of every image on the autoencoder codes (step 4's graph) and on the
    conv features (step 5's first graph). They do not depend on the labels."""
    return {
        "codes": nearest_neighbours(scaled_codes(encoder, images)[0], k),
        "conv": nearest_neighbours(conv_features(encoder, images, dims), k),
    }


def timed(compute, *args):
    """compute(*args), and the wall and CPU seconds it took."""
    start, cpu = time.perf_counter(), time.process_time()
    result = compute(*args)
    elapsed = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}
    return result, elapsed


@cached_measurement
def neighbour_lists(encoder_run: RunConfig, settings: dict) -> dict:
    """`first_neighbours` of the 60,000 training images (no labels), with the `neighbours` and
    `graph_dims` of `settings` (a `semi.SemiSettings` as a dict): the same for every draw, so
    found once for steps 4 and 5 and the diagnosis."""
    images = load_mnist().train_images
    encoder = run(encoder_run).model.encoder
    k, dims = settings["neighbours"], settings["graph_dims"]
    found, elapsed = timed(first_neighbours, images, encoder, k, dims)
    return {**{k: v.tolist() for k, v in found.items()}, **elapsed}


def stored_neighbours(encoder_run: RunConfig, settings: dict) -> dict[str, np.ndarray]:
    stored = neighbour_lists(encoder_run, settings)
    return {k: np.asarray(stored[k]) for k in ("codes", "conv")}


# Step 4's spread, then step 5's first spread one change at a time:
# name: (graph, per-class seed mass, the setting that holds its iterations)
SPREADS = {
    "step4": ("codes", False, "spread_iterations"),
    "seed_mass": ("codes", True, "spread_iterations"),
    "iterations": ("codes", True, "propagation_iterations"),
    "step5": ("conv", True, "propagation_iterations"),
}


def confusion(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Counts of (true class, predicted class)."""
    counts = np.zeros((10, 10), dtype=int)
    np.add.at(counts, (truth, predicted), 1)
    return counts


def edge_classes(graph: sparse.csr_matrix, truth: np.ndarray) -> np.ndarray:
    """Row i: the share of the graph's edges from images of class i that end at each class."""
    graph = graph.tocsr()
    sources = np.repeat(np.arange(graph.shape[0]), np.diff(graph.indptr))
    counts = confusion(truth[sources], truth[graph.indices]).astype(float)
    total = counts.sum(1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)


def diagnose_draw(graphs: dict, truth: np.ndarray, draw: int, settings: dict) -> dict:
    """The confusion counts of each spread of `SPREADS` on the unlabelled images of one draw, and
    the class counts of its 100 labels."""
    subset = random_subset(len(truth), 100, draw).numpy()
    seeds = seed_classes(len(truth), subset, truth[subset])
    unlabelled = np.ones(len(truth), dtype=bool)
    unlabelled[subset] = False
    found = {}
    for name, (graph, per_class, iterations) in SPREADS.items():
        dist = label_spreading(
            graphs[graph], seeds, settings["alpha"], settings[iterations], per_class
        )
        found[name] = confusion(truth[unlabelled], dist[unlabelled].argmax(1)).tolist()
    counts = np.bincount(truth[subset], minlength=10).tolist()
    return {"label_counts": counts, "confusion": found}


@cached_measurement
def spread_diagnosis(encoder_run: RunConfig, settings: dict, draws: int) -> dict:
    """What label spreading gets wrong, measured on the 59,900 unlabelled training images of each
    draw with their true labels, read here after the spreading and by no method: for each spread
    of `SPREADS`, the confusion counts per draw; per draw, the class counts of its 100 labels; per
    graph, which classes its edges join. The graphs are those of `neighbour_lists`."""
    truth = load_mnist().train_labels.numpy()
    neighbours = stored_neighbours(encoder_run, settings)  # timed apart

    def diagnose():
        graphs = {k: neighbour_graph(v) for k, v in neighbours.items()}
        return {
            "draws": [diagnose_draw(graphs, truth, draw, settings) for draw in range(draws)],
            "edge_classes": {k: edge_classes(g, truth).tolist() for k, g in graphs.items()},
        }

    result, elapsed = timed(diagnose)
    return {**result, **elapsed}
