"""Training loops. One loop (`fit`) does the work; the four tasks only say what goes in and out.

- `train_autoencoder`: image -> image, L1 loss, pixel accuracy.
- `train_classifier`: image -> digit, cross entropy, accuracy (full data or a subset).
- `train_head_on_frozen_encoder`: frozen encoder's latent codes -> digit (linear head only).
- `train_decoder_on_frozen_encoder`: frozen encoder's latent codes -> image (decoder only).

A frozen encoder in eval mode is a fixed function, so its codes are computed once and the head or
decoder trains on them directly: same gradients, no encoder forward pass per step.

Data stays in memory as tensors on the training device and is batched by a seeded permutation.
Losses and counts are summed on the device and read back once per epoch (no per-batch sync).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ex2.data import MnistTensors, shuffled_batches

# A reconstructed pixel counts as "accurate" when it is within this distance of the input pixel
# (pixels are in [0, 1]). The exercise reports such a pixel accuracy next to the L1 loss.
PIXEL_TOLERANCE = 0.1


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    lr: float
    batch_size: int
    seed: int = 0
    weight_decay: float = 0.0
    lr_schedule: str = "constant"  # or "cosine": decay to zero over the run
    passes_per_epoch: int = (
        1  # >1 for tiny training sets: an "epoch" is then several passes over the data
    )
    max_batches: int | None = (
        None  # stop each epoch after this many batches (dry runs, smoke tests)
    )
    eval_batch_size: int = 2000
    channels_last: bool = False  # on the CPU: see prefers_channels_last


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite: nothing trained is worth keeping."""


@dataclass
class History:
    """Per-epoch curves. Losses are means per sample (per pixel for L1); metrics are fractions."""

    loss_name: str = ""
    metric_name: str = ""
    train_loss: list[float] = field(default_factory=list)
    train_metric: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_metric: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def epoch_line(self, epoch: int, epochs: int) -> str:
        i = epoch - 1
        return (
            f"[{epoch:02d}/{epochs}] "
            f"train {self.loss_name}={self.train_loss[i]:.4f} "
            f"train {self.metric_name}={self.train_metric[i]:.4f} "
            f"test {self.loss_name}={self.test_loss[i]:.4f} "
            f"test {self.metric_name}={self.test_metric[i]:.4f} "
            f"({self.seconds[i]:.1f}s)"
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(**d)


@dataclass
class ReconstructionHistory(History):
    loss_name: str = "L1"
    metric_name: str = "pixel_accuracy"


@dataclass
class ClassificationHistory(History):
    loss_name: str = "CE"
    metric_name: str = "accuracy"


@dataclass(frozen=True)
class Objective:
    """What a task optimises and what it counts as correct."""

    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # mean over the batch
    n_correct: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # correct units in the batch
    n_units: Callable[[torch.Tensor], int]  # units in the batch
    history: type[History]


RECONSTRUCTION = Objective(
    loss=F.l1_loss,
    n_correct=lambda out, target: ((out - target).abs() < PIXEL_TOLERANCE).sum(),
    n_units=lambda target: target.numel(),
    history=ReconstructionHistory,
)
CLASSIFICATION = Objective(
    loss=F.cross_entropy,
    n_correct=lambda logits, labels: (logits.argmax(dim=1) == labels).sum(),
    n_units=lambda labels: labels.shape[0],
    history=ClassificationHistory,
)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def forward_in_batches(
    model: nn.Module, inputs: torch.Tensor, batch_size: int = 2000, for_training: bool = False
) -> torch.Tensor:
    """The model's outputs for all `inputs`, in eval mode and in large batches, without gradients.

    `for_training`: the outputs feed a layer that is being trained (a frozen encoder's codes), so
    they are made under `no_grad`; otherwise under the cheaper `inference_mode`.
    """
    model.eval()
    with torch.no_grad() if for_training else torch.inference_mode():
        return torch.cat(
            [model(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]
        )


def predictions(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Predicted classes [N] of a classifier."""
    return forward_in_batches(model, images).argmax(dim=1)


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    objective: Objective,
    batch_size: int = 2000,
) -> tuple[float, float]:
    """Mean loss and metric over a whole split (per-batch sums, read back once)."""
    outputs = forward_in_batches(model, inputs, batch_size)
    loss_sum = torch.zeros((), device=inputs.device)
    correct = torch.zeros((), device=inputs.device, dtype=torch.long)
    units = 0
    for start in range(0, len(inputs), batch_size):
        out, y = outputs[start : start + batch_size], targets[start : start + batch_size]
        loss_sum += objective.loss(out, y) * len(y)
        correct += objective.n_correct(out, y)
        units += objective.n_units(y)
    return loss_sum.item() / len(inputs), correct.item() / units


def make_optimizer(model: nn.Module, cfg: TrainConfig, steps_per_epoch: int):
    """Adam on the trainable parameters, and the learning-rate schedule (stepped once per batch).

    "cosine" decays the rate to zero over the run: the classifiers overfit early and their test
    accuracy jitters from epoch to epoch at a constant rate, so small final steps make the last
    epoch's model a good one. The autoencoders are still improving after 10 epochs and keep the
    exercise's constant rate.
    """
    if cfg.lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {cfg.lr_schedule!r}")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.lr_schedule == "cosine":
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=cfg.epochs * steps_per_epoch
        )
    else:
        schedule = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)
    return optimizer, schedule


def train_one_epoch(
    model: nn.Module,
    optimizer,
    schedule,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    objective: Objective,
    batches: list[torch.Tensor],
) -> tuple[float, float]:
    """One pass over `batches` (index tensors); returns the mean training loss and metric."""
    model.train()
    device = inputs.device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = units = 0
    for idx in batches:
        idx = idx.to(device)
        x, y = inputs[idx], targets[idx]
        out = model(x)
        loss = objective.loss(out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        loss_sum += loss.detach() * len(idx)  # summed on the device: no host sync per batch
        correct += objective.n_correct(out.detach(), y)
        seen += len(idx)
        units += objective.n_units(y)
    return loss_sum.item() / seen, correct.item() / units


def steps_per_epoch(images: int, batch_size: int, passes: int = 1, max_batches=None) -> int:
    """Batches in an epoch of `passes` over `images`, at most `max_batches`."""
    steps = passes * -(-images // batch_size)
    return min(steps, max_batches or steps)


def prefers_channels_last(base_channels: int) -> bool:
    """On the CPU, the 16-channel (and wider) conv stacks train faster in channels_last memory
    layout, the 4-channel ones not (`make bench`, the Performance appendix);
    `TrainConfig.channels_last` carries the choice to `fit`."""
    return base_channels >= 16


def place_model(model: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    """Move the model to the training device, in the memory layout that trains fastest there."""
    model.to(device)
    if channels_last and device.type == "cpu":
        model.to(memory_format=torch.channels_last)
    return model


def fit(
    model: nn.Module,
    train_inputs: torch.Tensor,
    train_targets: torch.Tensor,
    test_inputs: torch.Tensor,
    test_targets: torch.Tensor,
    objective: Objective,
    cfg: TrainConfig,
    log: Callable[[str], None] | None = print,
) -> History:
    """Train for `cfg.epochs`, evaluating on the test split after each; returns the history.
    `log` gets one line per epoch (the command line prints it, `prepare` reads the progress)."""
    place_model(model, train_inputs.device, cfg.channels_last)
    steps = steps_per_epoch(
        len(train_inputs), cfg.batch_size, cfg.passes_per_epoch, cfg.max_batches
    )
    optimizer, schedule = make_optimizer(model, cfg, steps)
    generator = torch.Generator().manual_seed(
        cfg.seed
    )  # batch order; model init is seeded by the caller
    history = objective.history()

    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        batches = [
            b
            for _ in range(cfg.passes_per_epoch)
            for b in shuffled_batches(len(train_inputs), cfg.batch_size, generator)
        ][: cfg.max_batches]
        train_loss, train_metric = train_one_epoch(
            model, optimizer, schedule, train_inputs, train_targets, objective, batches
        )
        test_loss, test_metric = evaluate(
            model, test_inputs, test_targets, objective, cfg.eval_batch_size
        )
        history.train_loss.append(train_loss)
        history.train_metric.append(train_metric)
        history.test_loss.append(test_loss)
        history.test_metric.append(test_metric)
        history.seconds.append(time.perf_counter() - start)
        if not math.isfinite(train_loss):
            raise TrainingDiverged(
                f"training diverged in epoch {epoch}: the {history.loss_name} "
                f"loss is {train_loss} (use a smaller learning rate, --lr)"
            )
        if log:
            log(history.epoch_line(epoch, cfg.epochs))
    return history


# --------------------------------------------------------------------------- the four tasks


def train_autoencoder(
    model: nn.Module,
    data: MnistTensors,
    cfg: TrainConfig,
    log: Callable[[str], None] | None = print,
) -> ReconstructionHistory:
    return fit(
        model,
        data.train_images,
        data.train_images,
        data.test_images,
        data.test_images,
        RECONSTRUCTION,
        cfg,
        log,
    )


def train_classifier(
    model: nn.Module,
    data: MnistTensors,
    cfg: TrainConfig,
    subset: torch.Tensor | None = None,
    log: Callable[[str], None] | None = print,
) -> ClassificationHistory:
    images, labels = select(data.train_images, data.train_labels, subset)
    return fit(
        model,
        images,
        labels,
        data.test_images,
        data.test_labels,
        CLASSIFICATION,
        cfg,
        log,
    )


def train_head_on_frozen_encoder(
    encoder: nn.Module,
    head: nn.Module,
    data: MnistTensors,
    cfg: TrainConfig,
    subset: torch.Tensor | None = None,
    log: Callable[[str], None] | None = print,
) -> ClassificationHistory:
    images, labels = select(data.train_images, data.train_labels, subset)
    train_codes = encode(encoder, images, cfg.eval_batch_size)
    test_codes = encode(encoder, data.test_images, cfg.eval_batch_size)
    return fit(
        head,
        train_codes,
        labels,
        test_codes,
        data.test_labels,
        CLASSIFICATION,
        cfg,
        log,
    )


def train_decoder_on_frozen_encoder(
    encoder: nn.Module,
    decoder: nn.Module,
    data: MnistTensors,
    cfg: TrainConfig,
    log: Callable[[str], None] | None = print,
) -> ReconstructionHistory:
    train_codes = encode(encoder, data.train_images, cfg.eval_batch_size)
    test_codes = encode(encoder, data.test_images, cfg.eval_batch_size)
    return fit(
        decoder,
        train_codes,
        data.train_images,
        test_codes,
        data.test_images,
        RECONSTRUCTION,
        cfg,
        log,
    )


def select(images: torch.Tensor, labels: torch.Tensor, subset: torch.Tensor | None):
    if subset is None:
        return images, labels
    subset = subset.to(images.device)
    return images[subset], labels[subset]


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode (BatchNorm uses its running statistics) and no gradients."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def encode(encoder: nn.Module, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Latent codes [N, d] of a frozen encoder, ready to train a layer on."""
    freeze(encoder).to(images.device)
    return forward_in_batches(encoder, images, batch_size, for_training=True)
