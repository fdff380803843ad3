import pytest
import torch

from ex2 import semi
from ex2.data import MnistTensors, random_subset
from ex2.models import Encoder

TINY = semi.SemiSettings(
    steps=20,
    batch_size=10,
    rounds=1,
    pseudo_epochs=1,
    pseudo_batch=64,
    max_batches=3,
    confidence=0.0,
)


def small_pool_data(mnist, n_train=2000, n_test=300):
    return MnistTensors(
        mnist.train_images[:n_train],
        mnist.train_labels[:n_train],
        mnist.test_images[:n_test],
        mnist.test_labels[:n_test],
    )


def run_all_methods(data, subset):
    torch.manual_seed(0)
    encoder = Encoder(4, 8).eval()
    pool = semi.labelled_pool(data.train_images, data.train_labels, subset)
    return {
        m: semi.run_method(m, pool, encoder, TINY, 0, data.test_images, data.test_labels)
        for m in semi.METHODS
    }


def test_unlabelled_images_labels_never_reach_training(mnist):
    """Scrambling every label outside the 100 leaves every method's result unchanged."""
    data = small_pool_data(mnist)
    subset = random_subset(len(data.train_labels), 100, seed=0)
    scrambled = data.train_labels.clone()
    outside = torch.ones(len(scrambled), dtype=torch.bool)
    outside[subset] = False
    scrambled[outside] = (scrambled[outside] + 1 + torch.randint(0, 9, (int(outside.sum()),))) % 10
    assert (scrambled[outside] != data.train_labels[outside]).all()
    fake = MnistTensors(data.train_images, scrambled, data.test_images, data.test_labels)
    real = run_all_methods(data, subset)
    assert set(real) == {"finetune", "finetune_aug", "label_spread", "pseudo_label"}
    assert real == run_all_methods(fake, subset)
    # and the 100 labels themselves do matter: scrambling them changes the results
    wrong_100 = scrambled.clone()
    wrong_100[subset] = (wrong_100[subset] + 1) % 10
    wrong = MnistTensors(data.train_images, wrong_100, data.test_images, data.test_labels)
    assert run_all_methods(wrong, subset) != real


def test_pool_holds_only_the_subset_labels(mnist):
    subset = random_subset(60000, 100, seed=3)
    pool = semi.labelled_pool(mnist.train_images, mnist.train_labels, subset)
    assert pool.labelled_targets.shape == (100,) and torch.equal(
        pool.labelled_targets, mnist.train_labels[subset]
    )
    assert pool.images.shape[0] == 60000


def test_augmentation_is_identity_in_eval_and_moves_pixels_in_training(mnist):
    aug = semi.RandomShiftRotate()
    x = mnist.test_images[:8]
    assert torch.equal(aug.eval()(x), x)
    torch.manual_seed(0)
    moved = aug.train()(x)
    assert moved.shape == x.shape and not torch.allclose(moved, x)
    assert (
        abs(moved.sum().item() - x.sum().item()) / x.sum().item() < 0.15
    )  # ink is moved, not made


def test_label_spreading_recovers_well_separated_classes():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat(60)
    points = (torch.eye(10)[labels] * 10 + 0.3 * torch.randn(600, 10, generator=gen)).reshape(
        600, 1, 1, 10
    )

    class Flatten(torch.nn.Module):
        def forward(self, x):
            return x.reshape(len(x), -1)

    subset = torch.arange(10)  # one label per class
    pool = semi.labelled_pool(points, labels, subset)
    spread, confidence, _ = semi.spread_labels(pool, Flatten(), semi.SemiSettings())
    assert (torch.as_tensor(spread) == labels).float().mean() > 0.99


def test_unknown_method_lists_the_methods(mnist):
    pool = semi.labelled_pool(mnist.train_images[:200], mnist.train_labels[:200], torch.arange(10))
    with pytest.raises(ValueError, match="methods: finetune, finetune_aug, label_spread"):
        semi.run_method("frozen_head", pool, Encoder(2, 4), TINY, 0, None, None)


def test_smoke_settings_are_smaller_than_the_full_ones(monkeypatch):
    full = semi.settings_for_profile()
    assert full == semi.SemiSettings()
    monkeypatch.setenv("EX2_PROFILE", "smoke")
    smoke = semi.settings_for_profile()
    assert smoke.steps < full.steps and smoke.rounds < full.rounds and smoke.max_batches
