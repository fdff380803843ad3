"""Pure functions of tensors and trained models (no training, no cache): class geometry,
nearest-neighbour baselines, latent-space metrics and embeddings, shifted images, and the
architecture table. `measurements` calls them on the cached runs."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

from ex2.train import accuracy, forward_in_batches


def class_distances(images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Geometry of a set of items (images or codes, flattened) grouped by digit, Euclidean.

    within: mean pairwise distance between two items of the same digit, averaged over digits;
    between: mean distance between the per-digit means; ratio: between / within.
    """
    flat = images.reshape(len(images), -1)
    within, centroids = [], []
    for digit in range(10):
        group = flat[labels == digit]
        d = torch.cdist(group, group)
        within.append(d.sum().item() / (len(group) * (len(group) - 1)))
        centroids.append(group.mean(0))
    between = torch.pdist(torch.stack(centroids)).mean().item()
    within_mean = sum(within) / len(within)
    return {"within": within_mean, "between": between, "ratio": between / within_mean}


def class_means(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The mean item of each digit 0..9, flattened: [10, features]."""
    flat = images.reshape(len(images), -1)
    return torch.stack([flat[labels == digit].mean(0) for digit in range(10)])


def distance_to_class_mean(
    items: torch.Tensor, labels: torch.Tensor, means: torch.Tensor
) -> torch.Tensor:
    """Each item's Euclidean distance to the mean of its digit (`means` from `class_means`)."""
    return (items.reshape(len(items), -1) - means[labels]).norm(dim=1)


def centre_of_mass_offsets(images: torch.Tensor, centre: tuple[float, float]) -> torch.Tensor:
    """How far each image's centre of mass (pixel intensity as mass) lies from `centre` (row,
    column, 0-based pixel indices), in pixels: the larger of the row and the column offset."""
    h, w = images.shape[-2:]
    mass = images.reshape(len(images), h, w).double()  # float64: a centre to well under 1e-6 px
    total = mass.sum(dim=(1, 2))
    rows = (mass.sum(2) * torch.arange(h)).sum(1) / total
    cols = (mass.sum(1) * torch.arange(w)).sum(1) / total
    return torch.maximum((rows - centre[0]).abs(), (cols - centre[1]).abs())


def confusion(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Counts[true digit, predicted digit] over 0..9."""
    counts = np.zeros((10, 10), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts


def examples_per_digit(labels: torch.Tensor, per_digit: int, seed: int = 0) -> torch.Tensor:
    """Indices of `per_digit` items of each digit 0..9 (seeded), ordered digit by digit."""
    gen = torch.Generator().manual_seed(seed)
    picks = []
    for digit in range(10):
        candidates = torch.nonzero(labels == digit).flatten()
        picks.append(candidates[torch.randperm(len(candidates), generator=gen)[:per_digit]])
    return torch.cat(picks)


def recall_per_class(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Fraction of each digit's items predicted correctly, digits 0..9."""
    return np.array([(predictions[labels == d] == d).mean() for d in range(10)])


def architecture_rows(model: nn.Module, input_shape=(1, 1, 28, 28)) -> list[list]:
    """One row per layer that does something: name, type, output shape, kernel, stride, padding,
    parameters (a dash where a layer has no kernel)."""
    rows = []

    def hook(name):
        def record(module, args, out):
            conv = [getattr(module, a, None) for a in ("kernel_size", "stride", "padding")]
            conv = ["–" if v is None else "×".join(map(str, v)) for v in conv]
            rows.append(
                [
                    f"`{name}`",
                    type(module).__name__,
                    "×".join(map(str, out.shape[1:])),
                    *conv,
                    sum(p.numel() for p in module.parameters(recurse=False)),
                ]
            )

        return record

    leaves = [(n, m) for n, m in model.named_modules() if len(list(m.children())) == 0]
    handles = [m.register_forward_hook(hook(n)) for n, m in leaves]
    try:
        forward_in_batches(model, torch.zeros(input_shape))
    finally:
        for h in handles:
            h.remove()
    return rows


def receptive_fields(encoder: nn.Module) -> list[int]:
    """Side of the input window each conv layer's output sees, conv by conv (r += (k-1) * jump)."""
    field, jump, fields = 1, 1, []
    for m in encoder.modules():
        if isinstance(m, nn.Conv2d):
            field += (m.kernel_size[0] - 1) * jump
            jump *= m.stride[0]
            fields.append(field)
    return fields


def nearest_neighbour_accuracy(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    k: int = 1,
) -> float:
    """k-NN classifier (Euclidean) on flattened inputs: fraction of test items classified right."""
    knn = KNeighborsClassifier(n_neighbors=k)
    knn.fit(train_x.reshape(len(train_x), -1).numpy(), train_y.numpy())
    return float((knn.predict(test_x.reshape(len(test_x), -1).numpy()) == test_y.numpy()).mean())


SILHOUETTE_SAMPLE = 2000  # test codes the silhouette is computed on (it costs O(n^2))


def latent_metrics(
    train_codes: torch.Tensor,
    train_labels: torch.Tensor,
    test_codes: torch.Tensor,
    test_labels: torch.Tensor,
    k: int = 5,
    silhouette_sample: int = SILHOUETTE_SAMPLE,
) -> dict[str, float]:
    """Geometry of codes grouped by digit, measured on the test codes.

    within/between/ratio: see `class_distances`; silhouette: sklearn's mean silhouette of the
    digit labels (1: tight, separate clusters; 0: overlapping; < 0: mixed up), on a seeded sample of
    `silhouette_sample` test codes (it costs O(n^2)); knn_accuracy: a k-NN classifier fitted on the
    training codes, scored on the test codes.
    """
    spread = class_distances(test_codes, test_labels)
    sample = min(silhouette_sample, len(test_codes))
    return {
        **spread,
        "silhouette": float(
            silhouette_score(
                test_codes.numpy(), test_labels.numpy(), sample_size=sample, random_state=0
            )
        ),
        "knn_accuracy": nearest_neighbour_accuracy(
            train_codes, train_labels, test_codes, test_labels, k=k
        ),
    }


def embed_2d(codes: torch.Tensor, method: str, seed: int = 0) -> np.ndarray:
    """2-D embedding of codes for a scatter plot: "pca" or "tsne" (scikit-learn, seeded)."""
    x = codes.numpy().astype(np.float64)
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(x)
    if method == "tsne":
        return TSNE(n_components=2, init="pca", perplexity=30, random_state=seed).fit_transform(x)
    raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")


def shift_images(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate [N, 1, H, W] images by (dy, dx) pixels, filling with 0 (the MNIST background)."""
    out = torch.zeros_like(images)
    h, w = images.shape[-2:]
    src_y, dst_y = (
        (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    )
    src_x, dst_x = (
        (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    )
    out[..., dst_y, dst_x] = images[..., src_y, src_x]
    return out


SHIFT_DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1))  # down, up, right, left (dy, dx)


def accuracy_under_shift(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, max_shift: int = 4
) -> list[list[float]]:
    """Test accuracy for shifts of 0..max_shift pixels: at 0 one value, at k > 0 one per
    direction of `SHIFT_DIRECTIONS`."""
    curve = [[accuracy(model, images, labels)]]
    for k in range(1, max_shift + 1):
        curve.append(
            [
                accuracy(model, shift_images(images, k * dy, k * dx), labels)
                for dy, dx in SHIFT_DIRECTIONS
            ]
        )
    return curve


def shift_consistency(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, max_offset: int = 1, seed: int = 0
) -> dict[str, float]:
    """How often two random small shifts of the same image get the same prediction.

    As in Zhang (2019), "Making convolutional networks shift-invariant again": each image is shifted
    twice by offsets drawn uniformly from [-max_offset, max_offset]^2, and the consistency is the
    fraction of images whose two predicted classes agree. Also the accuracy of each shifted copy.
    """
    gen = torch.Generator().manual_seed(seed)
    offsets = torch.randint(-max_offset, max_offset + 1, (2, len(images), 2), generator=gen)
    preds = []
    for pair in offsets:
        shifted = torch.empty_like(images)
        for dy in range(-max_offset, max_offset + 1):
            for dx in range(-max_offset, max_offset + 1):
                mask = (pair[:, 0] == dy) & (pair[:, 1] == dx)
                if mask.any():
                    shifted[mask] = shift_images(images[mask], dy, dx)
        preds.append(forward_in_batches(model, shifted).argmax(1))
    return {
        "consistency": (preds[0] == preds[1]).float().mean().item(),
        "shifted_accuracy": [(p == labels).float().mean().item() for p in preds],
    }
