import numpy as np
import pytest
import torch
from torch import nn

from ex2 import analysis as A
from ex2.models import ConvAutoencoder, Encoder


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
    bad = A.latent_metrics(
        x, y[torch.randperm(len(y), generator=torch.Generator().manual_seed(3))], xt, yt[perm]
    )
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
    """A 'classifier' whose answer is the column of the brightest pixel: shift-sensitive."""

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
    labels = 3 + torch.arange(20) % 5
    sensitive, invariant = CentreMass(), Constant()
    curve = A.accuracy_under_shift(sensitive, images, labels, max_shift=2)
    assert [len(c) for c in curve] == [1, 4, 4]  # unshifted, then one value per direction
    assert curve[0] == [1.0] and min(curve[1]) < 1.0
    # shifts up and down keep the column, left and right move it
    assert curve[1][:2] == [1.0, 1.0] and max(curve[1][2:]) < 1.0
    flat = A.accuracy_under_shift(invariant, images, torch.full((20,), 3), max_shift=2)
    assert flat == [[1.0], [1.0] * 4, [1.0] * 4]
    assert A.shift_consistency(invariant, images, torch.full((20,), 3))["consistency"] == 1.0
    sensitive_result = A.shift_consistency(sensitive, images, labels)
    assert sensitive_result["consistency"] < 0.8 and len(sensitive_result["shifted_accuracy"]) == 2


def test_class_means_and_distances_to_them():
    points = torch.zeros(20, 1, 1, 2)
    labels = torch.arange(10).repeat(2)
    points[:10, 0, 0, 0], points[10:, 0, 0, 0] = -1.0, 1.0  # each digit at -1 and +1
    points[:, 0, 0, 1] = labels.float()
    means = A.class_means(points, labels)
    assert means[:, 0].tolist() == [0.0] * 10 and means[:, 1].tolist() == list(range(10))
    assert A.distance_to_class_mean(points, labels, means).tolist() == [1.0] * 20


def test_centre_of_mass_offsets_is_the_larger_of_the_two_axes():
    images = torch.zeros(3, 1, 5, 5)
    images[0, 0, 2, 2] = 1.0  # at the centre
    images[1, 0, 2, 4] = 1.0  # two columns right
    images[2, 0, 0, 1] = 1.0
    images[2, 0, 0, 3] = 1.0  # two pixels two rows up, centred in the columns
    assert A.centre_of_mass_offsets(images, (2, 2)).tolist() == [0.0, 2.0, 2.0]


def test_confusion_counts_true_against_predicted():
    labels = np.array([0, 0, 1, 2, 2, 2])
    predictions = np.array([0, 1, 1, 2, 2, 0])
    counts = A.confusion(labels, predictions)
    assert counts.sum() == 6 and counts[0, 1] == 1 and counts[2, 0] == 1 and counts[2, 2] == 2


def test_embed_2d_shapes_and_bad_method():
    x, _ = blobs(1.0, n_per_class=6)
    assert A.embed_2d(x, "pca").shape == (60, 2)
    assert A.embed_2d(x, "tsne").shape == (60, 2)
    with pytest.raises(ValueError):
        A.embed_2d(x, "umap")


def test_class_distances_separates_tight_from_loose_clusters():
    tight = A.class_distances(*blobs(0.1))
    loose = A.class_distances(*blobs(10.0))
    assert tight["ratio"] > 10 > 1 > loose["ratio"]
    assert tight["between"] == pytest.approx(10 * 2**0.5, rel=0.02)  # centres 10 * e_i
    assert tight["ratio"] == pytest.approx(tight["between"] / tight["within"])


def test_class_distances_with_shuffled_labels_has_no_separation():
    points, labels = blobs(0.1)
    shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))]
    assert A.class_distances(points, shuffled)["ratio"] < 0.3


def test_class_distances_within_is_the_mean_pairwise_distance_of_a_digit():
    points = torch.zeros(20, 1, 2, 2)
    labels = torch.arange(10).repeat(2)
    points[10:, 0, 0, 0] = 3.0  # each digit: two items at distance 3
    points[:, 0, 1, 1] = 100 * labels.float()  # digits far apart
    assert A.class_distances(points, labels)["within"] == pytest.approx(3.0)


def test_examples_per_digit_are_of_that_digit_and_seeded(mnist):
    labels = mnist.test_labels
    idx = A.examples_per_digit(labels, per_digit=3, seed=0)
    assert labels[idx].tolist() == [d for d in range(10) for _ in range(3)]
    assert len(set(idx.tolist())) == 30
    assert torch.equal(idx, A.examples_per_digit(labels, per_digit=3, seed=0))
    assert not torch.equal(idx, A.examples_per_digit(labels, per_digit=3, seed=1))


def test_recall_per_class_is_the_fraction_of_each_digit_predicted_right():
    labels = np.repeat(np.arange(10), 4)
    predictions = labels.copy()
    predictions[labels == 3] = [3, 3, 5, 5]  # half of the 3s wrong
    predictions[labels == 7] = 1  # every 7 wrong
    recall = A.recall_per_class(labels, predictions)
    assert recall.tolist() == [1, 1, 1, 0.5, 1, 1, 1, 0, 1, 1]


def test_architecture_rows_follow_the_shapes():
    model = ConvAutoencoder(4, 8)
    rows = A.architecture_rows(model)
    assert all(len(r) == 7 for r in rows)
    shapes = [r[2] for r in rows if r[1] in ("Conv2d", "ConvTranspose2d", "Linear")]
    assert shapes == ["4×14×14", "8×7×7", "16×4×4", "8", "256", "8×7×7", "4×14×14", "1×28×28"]
    convs = [r[3:6] for r in rows if r[1] == "Conv2d"]
    assert convs == [["3×3", "2×2", "1×1"]] * 3
    assert [r[3:6] for r in rows if r[1] == "Linear"] == [["–", "–", "–"]] * 2
    assert sum(r[6] for r in rows) == sum(p.numel() for p in model.parameters())
    assert not any(m._forward_hooks for m in model.modules())  # hooks removed


def test_receptive_fields_grow_by_the_strided_kernels():
    assert A.receptive_fields(Encoder(4, 4)) == [3, 7, 15]
    two = nn.Sequential(nn.Conv2d(1, 1, 5), nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3))
    assert A.receptive_fields(two) == [5, 7, 11]
