import pytest
import torch

from ex2 import report
from ex2.models import ConvAutoencoder


def blobs(spread: float, n_per_class: int = 40, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(10).repeat(n_per_class)
    centres = torch.eye(10) * 10
    return centres[labels] + spread * torch.randn(len(labels), 10, generator=gen), labels


def test_class_spread_separates_tight_from_loose_clusters():
    tight = report.class_spread(*blobs(0.1))
    loose = report.class_spread(*blobs(10.0))
    assert tight["ratio"] > 10 > 1 > loose["ratio"]
    assert tight["between"] == pytest.approx(10 * 2**0.5, rel=0.02)  # centres 10 * e_i


def test_class_spread_with_shuffled_labels_has_no_separation():
    points, labels = blobs(0.1)
    shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))]
    assert report.class_spread(points, shuffled)["ratio"] < 0.3


def test_examples_per_digit_are_of_that_digit(small_mnist):
    idx = report.examples_per_digit(small_mnist, per_digit=3, seed=0)
    assert small_mnist.test_labels[idx].tolist() == [d for d in range(10) for _ in range(3)]
    assert torch.equal(idx, report.examples_per_digit(small_mnist, per_digit=3, seed=0))


def test_architecture_rows_follow_the_shapes():
    rows = report.architecture_rows(ConvAutoencoder(4, 8))
    shapes = [r[2] for r in rows if r[1] in ("Conv2d", "ConvTranspose2d", "Linear")]
    assert shapes == ["4×14×14", "8×7×7", "16×4×4", "8", "256", "8×7×7", "4×14×14", "1×28×28"]
    assert sum(r[3] for r in rows) == sum(p.numel() for p in ConvAutoencoder(4, 8).parameters())


def test_markdown_table_formats_floats_and_aligns_columns():
    table = report.markdown_table(["a", "b"], [[1, 0.123456], ["x", 2.0]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | 0.1235 |", "| x | 2.0000 |"]


def test_unknown_chapter_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid chapters: intro, q1, q2"):
        report.rerun_chapter("q9")


def test_chapter_configs_share_the_subset_and_the_pretrained_encoder():
    q2, q3, q4 = report.q2_configs(), report.q3_configs(), report.q4_configs()
    assert (q2["subset"].subset_size, q2["subset"].subset_seed) == (q3["subset"].subset_size, q3["subset"].subset_seed)
    assert q3["full"].encoder == report.pretrained_autoencoder() == q4["autoencoder"].encoder
    assert q4["classifier"].encoder == q2["full"]
    assert q2["subset"].seed == q2["full"].seed and q2["subset"] != q2["full"]  # a fresh run, not a continuation


def test_mean_std_uses_the_sample_deviation_and_handles_one_value():
    assert report.mean_std([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0))
    assert report.mean_std([5.0]) == (5.0, 0.0)
