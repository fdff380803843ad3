import pytest
import torch
from torch import nn

from ex2 import analysis as A


def blobs(spread: float, n_per_class: int = 30, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(10).repeat(n_per_class)
    return torch.eye(10)[labels] * 10 + spread * torch.randn(len(labels), 10, generator=gen), labels


def test_latent_metrics_high_for_separated_blobs_near_zero_for_shuffled_labels():
    x, y = blobs(0.3)
    xt, yt = blobs(0.3, seed=1)
    good = A.latent_metrics(x, y, xt, yt)
    assert good["silhouette"] > 0.8 and good["knn_accuracy"] == 1.0 and good["ratio"] > 5
    perm = torch.randperm(len(yt), generator=torch.Generator().manual_seed(2))
    bad = A.latent_metrics(x, y[torch.randperm(len(y), generator=torch.Generator().manual_seed(3))], xt, yt[perm])
    assert abs(bad["silhouette"]) < 0.1 and bad["knn_accuracy"] < 0.25 and bad["ratio"] < 0.3


def test_nearest_neighbour_is_perfect_on_its_own_training_points():
    x, y = blobs(1.0)
    assert A.nearest_neighbour_accuracy(x, y, x, y) == 1.0


def test_shift_images_moves_pixels_and_fills_with_zero():
    img = torch.zeros(1, 1, 5, 5)
    img[0, 0, 2, 2] = 1.0
    moved = A.shift_images(img, 1, -2)
    assert moved[0, 0, 3, 0] == 1.0 and moved.sum() == 1.0
    assert A.shift_images(img, 0, 3)[0, 0, 2].tolist() == [0, 0, 0, 0, 0]  # pushed out of the frame
    assert torch.equal(A.shift_images(A.shift_images(img, 1, 1), -1, -1), img)


class CentreMass(nn.Module):
    """A 'classifier' whose answer is the column of the brightest pixel: maximally shift-sensitive."""

    def forward(self, x):
        cols = x.sum(dim=(1, 2)).argmax(dim=1)
        return nn.functional.one_hot(cols.clamp(max=9), 10).float()


class Constant(nn.Module):
    def forward(self, x):
        return torch.zeros(len(x), 10).index_fill_(1, torch.tensor([3]), 1.0)


def test_shift_measures_separate_invariant_from_sensitive_models():
    images = torch.zeros(20, 1, 10, 10)
    for i in range(20):
        images[i, 0, 4, 3 + i % 5] = 1.0
    labels = (3 + torch.arange(20) % 5)
    sensitive, invariant = CentreMass(), Constant()
    curve = A.accuracy_under_shift(sensitive, images, labels, max_shift=2)
    assert curve[0] == 1.0 and curve[1] < 1.0
    assert A.accuracy_under_shift(invariant, images, torch.full((20,), 3), max_shift=2) == [1.0, 1.0, 1.0]
    assert A.shift_consistency(invariant, images) == 1.0
    assert A.shift_consistency(sensitive, images) < 0.8


def test_embed_2d_shapes_and_bad_method():
    x, _ = blobs(1.0, n_per_class=6)
    assert A.embed_2d(x, "pca").shape == (60, 2)
    assert A.embed_2d(x, "tsne").shape == (60, 2)
    with pytest.raises(ValueError):
        A.embed_2d(x, "umap")
