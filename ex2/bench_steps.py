"""For `make bench`: training steps timed side by side on one thread's CPU clock (see `ex2.bench`):
the exercise's pipeline against this project's, and step variants of the models the book trains
most."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from ex2 import train
from ex2.data import TRAIN_IMAGES, ensure_mnist, load_mnist, shuffled_batches
from ex2.models import Classifier, ConvAutoencoder

BATCH = 256
WARMUP = 3  # untimed steps first: allocator and kernel caches warm, as they are in a real epoch
STEPS_PER_EPOCH = train.steps_per_epoch(TRAIN_IMAGES, BATCH)


def seconds_per_step(step, steps: int) -> float:
    """CPU seconds of this thread per call of `step`, after WARMUP untimed calls."""
    for _ in range(WARMUP):
        step()
    start = time.thread_time()
    for _ in range(steps):
        step()
    return (time.thread_time() - start) / steps


# --------------------------------------------------------------------------- 1. pipelines


def exercise_step(dataset):
    """One step of the exercise's loop: DataLoader over PIL images, `.item()` per batch."""
    batches = iter(DataLoader(dataset, batch_size=BATCH, shuffle=True))
    torch.manual_seed(0)
    model = ConvAutoencoder(16, 16).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []

    def step():
        x, _ = next(batches)
        loss = F.l1_loss(model(x), x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    return step


def project_step():
    """One step of `train.train_one_epoch`, as the book trains the (16, 16) autoencoder."""
    images = load_mnist().train_images
    torch.manual_seed(0)
    model = train.place_model(ConvAutoencoder(16, 16), images.device, True)
    cfg = train.TrainConfig(epochs=1, lr=2e-3, batch_size=BATCH)
    optimizer, schedule = train.make_optimizer(model, cfg, STEPS_PER_EPOCH)
    batches = iter(shuffled_batches(len(images), BATCH, torch.Generator().manual_seed(0)))
    args = (model, optimizer, schedule, images, images, train.RECONSTRUCTION)
    return lambda: train.train_one_epoch(*args, [next(batches)])


def flops_per_step() -> int:
    model = ConvAutoencoder(16, 16).train()
    x = torch.rand(BATCH, 1, 28, 28)
    with FlopCounterMode(display=False) as counter:
        F.l1_loss(model(x), x).backward()
    return counter.get_total_flops()


def matmul_gflops(n: int = 1024, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    start = time.thread_time()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.thread_time() - start) / 1e9


def time_pipelines(repeats: int, steps: int) -> dict[str, list[float]]:
    from torchvision import datasets, transforms

    root = str(ensure_mnist())
    dataset = datasets.MNIST(root, train=True, download=False, transform=transforms.ToTensor())
    times = {"exercise": [], "project": [], "matmul_gflops": []}
    for r in range(repeats):
        times["exercise"].append(seconds_per_step(exercise_step(dataset), steps))
        times["project"].append(seconds_per_step(project_step(), steps))
        times["matmul_gflops"].append(matmul_gflops())
        print(
            f"pipelines {r + 1}/{repeats}: exercise {1e3 * times['exercise'][-1]:.1f} ms/step, "
            f"project {1e3 * times['project'][-1]:.1f} ms/step, "
            f"matmul {times['matmul_gflops'][-1]:.0f} GFLOP/s",
            flush=True,
        )
    return times


# --------------------------------------------------------------------------- 2. step variants

# The models the book trains most, at their batch sizes: Q1's autoencoders, Q2's classifier.
MODELS = {
    "ae16": (lambda: ConvAutoencoder(16, 16), BATCH),
    "ae4": (lambda: ConvAutoencoder(4, 4), BATCH),
    "classifier16": (lambda: Classifier(16, 16), 64),
}
# name: (channels_last, bf16 autocast), None: as the book chooses for the model. The layout is
# measured against "plain" fp32, bf16 on top of what the book does ("book").
VARIANTS = {
    "plain": (False, False),
    "channels_last": (True, False),
    "book": (None, False),
    "bf16_autocast": (None, True),
}
BASELINE = {"channels_last": "plain", "bf16_autocast": "book"}


def variant_step(model_name: str, variant: str):
    build, batch = MODELS[model_name]
    channels_last, bf16 = VARIANTS[variant]
    data = load_mnist()
    torch.manual_seed(0)
    model = build().train()
    images = data.train_images
    if channels_last is None:
        channels_last = train.prefers_channels_last(model.encoder.base_channels)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    batches = iter(shuffled_batches(len(images), batch, torch.Generator().manual_seed(0)))
    reconstruct = isinstance(model, ConvAutoencoder)

    def step():
        idx = next(batches)
        x = images[idx]
        target = x if reconstruct else data.train_labels[idx]
        with autocast:
            out = model(x)
        loss = (F.l1_loss if reconstruct else F.cross_entropy)(out.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def time_variants(repeats: int, steps: int) -> dict[str, dict[str, list[float]]]:
    times = {m: {v: [] for v in VARIANTS} for m in MODELS}
    for r in range(repeats):
        for model_name, by_variant in times.items():
            for variant, ts in by_variant.items():
                ts.append(seconds_per_step(variant_step(model_name, variant), steps))
        print(
            f"variants {r + 1}/{repeats}: "
            + "; ".join(
                f"{m} " + ", ".join(f"{v} {1e3 * t[-1]:.1f}" for v, t in by.items())
                for m, by in times.items()
            ),
            flush=True,
        )
    return times
