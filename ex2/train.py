"""The training loop: `fit` trains a model on inputs and targets in memory, epoch by epoch, and
evaluates it on the test split after each epoch. What goes in and out for each task (image ->
image, image -> digit, frozen codes -> digit or image) is `tasks.train_run`'s business.

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

from ex2.data import shuffled_batches

# A reconstructed pixel counts as "accurate" when it is within this distance of the input pixel
# (pixels are in [0, 1]). The exercise reports such a pixel accuracy next to the L1 loss.
PIXEL_TOLERANCE = 0.1
EVAL_BATCH = 2000


@dataclass(frozen=True)
class TrainConfig:
    """The loop's settings for a model trained outside the run cache (`semi`'s methods); a
    `RunConfig` has the same fields and is what the book's runs pass."""

    epochs: int
    lr: float
    batch_size: int
    seed: int = 0
    lr_schedule: str = "constant"  # or "cosine": decay to zero over the run
    passes_per_epoch: int = 1  # >1 for tiny training sets: an epoch is several passes
    max_batches: int | None = None  # stop each epoch after this many batches (smoke, dry runs)
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
        i, loss, metric = epoch - 1, self.loss_name, self.metric_name
        return (
            f"[{epoch:02d}/{epochs}] train {loss}={self.train_loss[i]:.4f} "
            f"train {metric}={self.train_metric[i]:.4f} test {loss}={self.test_loss[i]:.4f} "
            f"test {metric}={self.test_metric[i]:.4f} ({self.seconds[i]:.1f}s)"
        )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Objective:
    """What a task optimises and what it counts as correct."""

    loss_name: str
    metric_name: str
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # mean over the batch
    n_correct: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # correct units in the batch
    n_units: Callable[[torch.Tensor], int]  # units in the batch


RECONSTRUCTION = Objective(
    "L1",
    "pixel_accuracy",
    F.l1_loss,
    n_correct=lambda out, target: ((out - target).abs() < PIXEL_TOLERANCE).sum(),
    n_units=lambda target: target.numel(),
)
CLASSIFICATION = Objective(
    "CE",
    "accuracy",
    F.cross_entropy,
    n_correct=lambda logits, labels: (logits.argmax(dim=1) == labels).sum(),
    n_units=lambda labels: labels.shape[0],
)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def fit(
    model: nn.Module,
    train_inputs: torch.Tensor,
    train_targets: torch.Tensor,
    test_inputs: torch.Tensor,
    test_targets: torch.Tensor,
    objective: Objective,
    cfg,
    log: Callable[[str], None] | None = print,
) -> History:
    """Train for `cfg.epochs` (a RunConfig or TrainConfig), evaluating on the test split after
    each; returns the history. `log` gets one line per epoch."""
    place_model(model, train_inputs.device, cfg.channels_last)
    n = len(train_inputs)
    steps = steps_per_epoch(n, cfg.batch_size, cfg.passes_per_epoch, cfg.max_batches)
    optimizer, schedule = make_optimizer(model, cfg, steps)
    batch_order = torch.Generator().manual_seed(cfg.seed)  # model init is seeded by the caller
    history = History(objective.loss_name, objective.metric_name)

    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        batches = [
            b
            for _ in range(cfg.passes_per_epoch)
            for b in shuffled_batches(n, cfg.batch_size, batch_order)
        ][: cfg.max_batches]
        train_loss, train_metric = train_one_epoch(
            model, optimizer, schedule, train_inputs, train_targets, objective, batches
        )
        test_loss, test_metric = evaluate(model, test_inputs, test_targets, objective)
        history.train_loss.append(train_loss)
        history.train_metric.append(train_metric)
        history.test_loss.append(test_loss)
        history.test_metric.append(test_metric)
        history.seconds.append(time.perf_counter() - start)
        if not math.isfinite(train_loss):
            raise TrainingDiverged(
                f"training diverged in epoch {epoch}: the {objective.loss_name} "
                f"loss is {train_loss} (use a smaller learning rate, --lr)"
            )
        if log:
            log(history.epoch_line(epoch, cfg.epochs))
    return history


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
    loss_sum = torch.zeros((), device=inputs.device)
    correct = torch.zeros((), device=inputs.device, dtype=torch.long)
    seen = units = 0
    for idx in batches:
        idx = idx.to(inputs.device)
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


@torch.inference_mode()
def evaluate(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, objective: Objective
) -> tuple[float, float]:
    """Mean loss and metric over a whole split (per-batch sums, read back once)."""
    outputs = forward_in_batches(model, inputs)
    loss_sum = torch.zeros((), device=inputs.device)
    correct = torch.zeros((), device=inputs.device, dtype=torch.long)
    units = 0
    for start in range(0, len(inputs), EVAL_BATCH):
        out, y = outputs[start : start + EVAL_BATCH], targets[start : start + EVAL_BATCH]
        loss_sum += objective.loss(out, y) * len(y)
        correct += objective.n_correct(out, y)
        units += objective.n_units(y)
    return loss_sum.item() / len(inputs), correct.item() / units


def make_optimizer(model: nn.Module, cfg, steps_per_epoch: int):
    """Adam on the trainable parameters, and the learning-rate schedule (stepped once per batch).

    "cosine" decays the rate to zero over the run: the classifiers overfit early and their test
    accuracy jitters from epoch to epoch at a constant rate, so small final steps make the last
    epoch's model a good one. The autoencoders are still improving after 10 epochs and keep the
    exercise's constant rate. (`config.check_config` refuses any other name.)
    """
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr)
    if cfg.lr_schedule == "cosine":
        total = cfg.epochs * steps_per_epoch
        return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    return optimizer, torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)


def steps_per_epoch(images: int, batch_size: int, passes: int = 1, max_batches=None) -> int:
    """Batches in an epoch of `passes` over `images`, at most `max_batches`."""
    steps = passes * -(-images // batch_size)
    return min(steps, max_batches or steps)


def prefers_channels_last(base_channels: int) -> bool:
    """On the CPU, the 16-channel (and wider) conv stacks train faster in channels_last memory
    layout, the 4-channel ones not (`make bench`, the Performance appendix)."""
    return base_channels >= 16


def place_model(model: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    """Move the model to the training device, in the memory layout that trains fastest there."""
    model.to(device)
    if channels_last and device.type == "cpu":
        model.to(memory_format=torch.channels_last)
    return model


def forward_in_batches(
    model: nn.Module, inputs: torch.Tensor, batch_size: int = EVAL_BATCH, for_training=False
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


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    return (predictions(model, images) == labels).float().mean().item()


def encode(encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Latent codes [N, d] of a frozen encoder (eval mode, no gradients), ready to train a layer
    on: a frozen encoder is a fixed function, so its codes are computed once."""
    encoder.eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    encoder.to(images.device)
    return forward_in_batches(encoder, images, for_training=True)
