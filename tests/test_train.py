import pytest
import torch

from ex2 import train as T
from ex2.data import MnistTensors, random_subset
from ex2.models import Classifier, ConvAutoencoder

SHORT = T.TrainConfig(epochs=2, lr=2e-3, batch_size=64, seed=3, max_batches=3)


def fresh(cls, seed=0, base=4, latent=8):
    torch.manual_seed(seed)
    return cls(base, latent)


def test_same_seed_gives_identical_history_and_weights(small_mnist):
    runs = []
    for _ in range(2):
        model = fresh(ConvAutoencoder)
        history = T.train_autoencoder(model, small_mnist, SHORT, log=None)
        runs.append((history, model.state_dict()))
    (h1, w1), (h2, w2) = runs
    for key in ("train_loss", "train_metric", "test_loss", "test_metric"):
        assert getattr(h1, key) == getattr(h2, key)
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


def test_different_seed_gives_different_batches(small_mnist):
    h = [
        T.train_classifier(
            fresh(Classifier), small_mnist, T.TrainConfig(1, 1e-3, 64, seed=s), log=None
        )
        for s in (0, 1)
    ]
    assert h[0].train_loss != h[1].train_loss


def test_autoencoder_learns_and_history_is_complete(small_mnist):
    cfg = T.TrainConfig(epochs=3, lr=2e-3, batch_size=64)
    lines = []
    history = T.train_autoencoder(fresh(ConvAutoencoder), small_mnist, cfg, log=lines.append)
    assert isinstance(history, T.ReconstructionHistory)
    assert all(
        len(getattr(history, k)) == 3 for k in ("train_loss", "test_loss", "test_metric", "seconds")
    )
    assert history.test_loss[-1] < history.test_loss[0]
    assert 0 <= min(history.test_metric) and max(history.test_metric) <= 1
    assert lines[0].startswith("[01/3] train L1=") and "test pixel_accuracy=" in lines[0]


def test_classifier_short_smoke_run_beats_chance(small_mnist):
    cfg = T.TrainConfig(epochs=3, lr=3e-3, batch_size=32)
    history = T.train_classifier(fresh(Classifier, base=8), small_mnist, cfg, log=None)
    assert isinstance(history, T.ClassificationHistory)
    assert history.test_metric[-1] > 0.3  # chance is 0.1


def test_subset_training_sees_only_the_subset(small_mnist):
    subset = random_subset(len(small_mnist.train_labels), 20, seed=0)
    seen = []
    model = fresh(Classifier)
    model.register_forward_pre_hook(
        lambda m, args: seen.append(args[0].shape[0]) if m.training else None
    )
    T.train_classifier(model, small_mnist, T.TrainConfig(2, 1e-3, 8), subset=subset, log=None)
    assert sum(seen) == 2 * 20


def test_max_batches_limits_an_epoch(small_mnist):
    seen = []
    model = fresh(ConvAutoencoder)
    model.register_forward_pre_hook(lambda m, args: seen.append(1) if m.training else None)
    T.train_autoencoder(model, small_mnist, T.TrainConfig(1, 1e-3, 16, max_batches=3), log=None)
    assert len(seen) == 3


@pytest.mark.parametrize("task", ["head", "decoder"])
def test_frozen_encoder_weights_and_bn_stats_do_not_change(small_mnist, task):
    source = fresh(ConvAutoencoder, seed=1)
    T.train_autoencoder(source, small_mnist, T.TrainConfig(1, 2e-3, 64), log=None)
    model = fresh(Classifier if task == "head" else ConvAutoencoder, seed=2)
    model.encoder.load_state_dict(source.encoder.state_dict())
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    other = model.head if task == "head" else model.decoder
    other_before = {k: v.clone() for k, v in other.state_dict().items()}
    cfg = T.TrainConfig(2, 1e-2, 32)
    if task == "head":
        T.train_head_on_frozen_encoder(model.encoder, model.head, small_mnist, cfg, log=None)
    else:
        T.train_decoder_on_frozen_encoder(model.encoder, model.decoder, small_mnist, cfg, log=None)
    after = model.encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # includes BN running stats
    assert any(not torch.equal(other_before[k], v) for k, v in other.state_dict().items())


def test_cosine_schedule_ends_at_zero_and_constant_stays(small_mnist):
    for schedule, last_lr in (("cosine", 0.0), ("constant", 1e-3)):
        cfg = T.TrainConfig(epochs=2, lr=1e-3, batch_size=128, lr_schedule=schedule)
        model = fresh(ConvAutoencoder)
        optimizer, sched = T.make_optimizer(model, cfg, steps_per_epoch=4)
        for _ in range(8):
            optimizer.step()
            sched.step()
        assert optimizer.param_groups[0]["lr"] == pytest.approx(last_lr, abs=1e-12)
    with pytest.raises(ValueError, match="lr_schedule"):
        T.make_optimizer(fresh(ConvAutoencoder), T.TrainConfig(1, 1e-3, 8, lr_schedule="step"), 1)


def test_passes_per_epoch_repeats_the_data_within_an_epoch(small_mnist):
    subset = random_subset(len(small_mnist.train_labels), 20, seed=0)
    seen = []
    model = fresh(Classifier)
    model.register_forward_pre_hook(
        lambda m, args: seen.append(args[0].shape[0]) if m.training else None
    )
    history = T.train_classifier(
        model, small_mnist, T.TrainConfig(2, 1e-3, 10, passes_per_epoch=3), subset=subset, log=None
    )
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
        histories.append(T.train_classifier(fresh(Classifier, base=16), small_mnist, cfg, log=None))
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
    cfg = T.TrainConfig(1, 1e-3, 32, max_batches=2)
    with pytest.raises(T.TrainingDiverged, match="diverged in epoch 1: .* loss is nan .*--lr"):
        if task == "autoencoder":
            T.train_autoencoder(
                fresh(ConvAutoencoder), poisoned(small_mnist), cfg, log=lines.append
            )
        else:
            T.train_classifier(fresh(Classifier), poisoned(small_mnist), cfg, log=lines.append)
    assert lines == []  # no epoch line for a diverged epoch
    assert issubclass(T.TrainingDiverged, ValueError)  # the CLI reports it in one line
