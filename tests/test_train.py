import pytest
import torch

from ex2 import train as T
from ex2.config import make
from ex2.data import MnistTensors
from ex2.models import Classifier, ConvAutoencoder
from ex2.tasks import train_run

SHAPE = dict(base=4, latent=8)
SHORT = make("autoencoder", **SHAPE, epochs=2, lr=2e-3, batch_size=64, seed=3, max_batches=3)


def fresh(cls, seed=0, base=4, latent=8):
    torch.manual_seed(seed)
    return cls(base, latent)


def with_small_test_set(mnist) -> MnistTensors:
    """All 60,000 training images (a subset indexes them), 256 test images."""
    return MnistTensors(
        mnist.train_images, mnist.train_labels, mnist.test_images[:256], mnist.test_labels[:256]
    )


def test_same_seed_gives_identical_history_and_weights(small_mnist):
    runs = []
    for _ in range(2):
        model = fresh(ConvAutoencoder)
        history = train_run(SHORT, model, small_mnist)
        runs.append((history, model.state_dict()))
    (h1, w1), (h2, w2) = runs
    for key in ("train_loss", "train_metric", "test_loss", "test_metric"):
        assert getattr(h1, key) == getattr(h2, key)
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


def test_different_seed_gives_different_batches(small_mnist):
    h = [
        train_run(make("classifier", **SHAPE, epochs=1, seed=s), fresh(Classifier), small_mnist)
        for s in (0, 1)
    ]
    assert h[0].train_loss != h[1].train_loss


def test_autoencoder_learns_and_history_is_complete(small_mnist):
    cfg = make("autoencoder", **SHAPE, epochs=3, lr=2e-3, batch_size=64)
    lines = []
    history = train_run(cfg, fresh(ConvAutoencoder), small_mnist, log=lines.append)
    assert (history.loss_name, history.metric_name) == ("L1", "pixel_accuracy")
    assert all(
        len(getattr(history, k)) == 3 for k in ("train_loss", "test_loss", "test_metric", "seconds")
    )
    assert history.test_loss[-1] < history.test_loss[0]
    assert 0 <= min(history.test_metric) and max(history.test_metric) <= 1
    assert lines[0].startswith("[01/3] train L1=") and "test pixel_accuracy=" in lines[0]


def test_classifier_short_smoke_run_beats_chance(small_mnist):
    cfg = make("classifier", base=8, latent=8, epochs=3, lr=3e-3, batch_size=32)
    history = train_run(cfg, fresh(Classifier, base=8), small_mnist)
    assert (history.loss_name, history.metric_name) == ("CE", "accuracy")
    assert history.test_metric[-1] > 0.3  # chance is 0.1


def test_subset_training_sees_only_the_subset(mnist):
    cfg = make("classifier", **SHAPE, epochs=2, batch_size=8, subset_size=20)
    seen = []
    model = fresh(Classifier)
    model.register_forward_pre_hook(
        lambda m, args: seen.append(args[0].shape[0]) if m.training else None
    )
    train_run(cfg, model, with_small_test_set(mnist))
    assert sum(seen) == 2 * 20


def test_max_batches_limits_an_epoch(small_mnist):
    seen = []
    model = fresh(ConvAutoencoder)
    model.register_forward_pre_hook(lambda m, args: seen.append(1) if m.training else None)
    cfg = make("autoencoder", **SHAPE, epochs=1, batch_size=16, max_batches=3)
    train_run(cfg, model, small_mnist)
    assert len(seen) == 3


@pytest.mark.parametrize("task", ["head", "decoder"])
def test_frozen_encoder_weights_and_bn_stats_do_not_change(small_mnist, task):
    source = fresh(ConvAutoencoder, seed=1)
    upstream = make("autoencoder", **SHAPE, epochs=1)
    train_run(upstream, source, small_mnist)
    model = fresh(Classifier if task == "head" else ConvAutoencoder, seed=2)
    before = {k: v.clone() for k, v in source.encoder.state_dict().items()}
    other = model.head if task == "head" else model.decoder
    other_before = {k: v.clone() for k, v in other.state_dict().items()}
    cfg = make(task, encoder=upstream, epochs=2, lr=1e-2, batch_size=32)
    train_run(cfg, model, small_mnist, frozen=source.encoder)
    after = model.encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # includes BN running stats
    assert any(not torch.equal(other_before[k], v) for k, v in other.state_dict().items())


def test_cosine_schedule_ends_at_zero_and_constant_stays(small_mnist):
    for schedule, last_lr in (("cosine", 0.0), ("constant", 1e-3)):
        cfg = make("autoencoder", epochs=2, lr=1e-3, batch_size=128, lr_schedule=schedule)
        model = fresh(ConvAutoencoder)
        optimizer, sched = T.make_optimizer(model, cfg, steps_per_epoch=4)
        for _ in range(8):
            optimizer.step()
            sched.step()
        assert optimizer.param_groups[0]["lr"] == pytest.approx(last_lr, abs=1e-12)


def test_passes_per_epoch_repeats_the_data_within_an_epoch(mnist):
    cfg = make("classifier", **SHAPE, epochs=2, batch_size=10, subset_size=20, passes_per_epoch=3)
    seen = []
    model = fresh(Classifier)
    model.register_forward_pre_hook(
        lambda m, args: seen.append(args[0].shape[0]) if m.training else None
    )
    history = train_run(cfg, model, with_small_test_set(mnist))
    assert sum(seen) == 2 * 3 * 20 and len(history.test_loss) == 2


def test_memory_layout_follows_the_measured_rule():
    cpu = torch.device("cpu")
    assert T.prefers_channels_last(16) and T.prefers_channels_last(32)
    assert not T.prefers_channels_last(4)
    wide = T.place_model(ConvAutoencoder(16, 4), cpu, channels_last=T.prefers_channels_last(16))
    narrow = T.place_model(ConvAutoencoder(4, 4), cpu, channels_last=T.prefers_channels_last(4))
    wide_w = wide.encoder.features[1][0].weight
    narrow_w = narrow.encoder.features[1][0].weight
    assert wide_w.is_contiguous(memory_format=torch.channels_last) and not wide_w.is_contiguous()
    assert narrow_w.is_contiguous()


def test_channels_last_training_matches_the_default_layout(small_mnist):
    histories = []
    for channels_last in (False, True):
        cfg = T.TrainConfig(1, 1e-3, 32, max_batches=2, channels_last=channels_last)
        data = (small_mnist.train_images, small_mnist.train_labels)
        test = (small_mnist.test_images, small_mnist.test_labels)
        model = fresh(Classifier, base=16)
        histories.append(T.fit(model, *data, *test, T.CLASSIFICATION, cfg, log=None))
    assert histories[0].test_loss == pytest.approx(histories[1].test_loss, rel=1e-4)


def test_forward_in_batches_equals_one_forward_pass_in_eval_mode():
    model = fresh(Classifier)
    x = torch.rand(7, 1, 28, 28)
    model.train()
    out = T.forward_in_batches(model, x, batch_size=3)
    assert not model.training and out.shape == (7, 10)
    with torch.no_grad():
        assert torch.allclose(out, model(x), atol=1e-6)
    assert out.is_inference()  # cheap by default...
    codes = T.forward_in_batches(model.encoder, x, batch_size=3, for_training=True)
    assert not codes.is_inference() and not codes.requires_grad  # ...usable as training inputs
    assert torch.equal(T.predictions(model, x), out.argmax(dim=1))


def poisoned(data: MnistTensors) -> MnistTensors:
    images = data.train_images.clone()
    images[::2] = float("nan")
    return MnistTensors(images, data.train_labels, data.test_images, data.test_labels)


@pytest.mark.parametrize("task", ["autoencoder", "classifier"])
def test_non_finite_loss_raises_training_diverged(small_mnist, task):
    lines = []
    cfg = make(task, **SHAPE, epochs=1, batch_size=32, max_batches=2)
    model = fresh(ConvAutoencoder if task == "autoencoder" else Classifier)
    with pytest.raises(T.TrainingDiverged, match="diverged in epoch 1: .* loss is nan .*--lr"):
        train_run(cfg, model, poisoned(small_mnist), log=lines.append)
    assert lines == []  # no epoch line for a diverged epoch
    assert issubclass(T.TrainingDiverged, ValueError)  # the CLI reports it in one line
