"""What each book chapter runs, and the evaluation helpers the chapters share.

Chapters call these functions and only display what comes back; every training run goes through
`experiments.run`, so it is cached by config hash. `CHAPTERS` maps chapter names to the configs a
chapter owns (its own experiments, not the upstream ones it reuses): `python -m ex2 rerun q3`
retrains exactly those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from ex2 import experiments as E
from ex2.data import MnistTensors

Q1_PAIRS = [(4, 4), (4, 16), (16, 4), (16, 16)]  # (base channels, latent dim)
SUBSET_SIZE = 100
SUBSET_SEED = 0
# 100 images in batches of 10: an "epoch" here is 10 passes (100 steps), so both 100-image runs take
# the same 1000 steps and the 10,000 test images are evaluated 10 times, not 100.
SUBSET_TRAINING = dict(
    epochs=10, passes_per_epoch=10, batch_size=10, subset_size=SUBSET_SIZE, subset_seed=SUBSET_SEED
)


def q1_configs() -> list[E.AutoencoderConfig]:
    return [E.for_profile(E.AutoencoderConfig(base=b, latent=d)) for b, d in Q1_PAIRS]


def pretrained_autoencoder() -> E.AutoencoderConfig:
    """The Q1 (16, 16) autoencoder whose encoder Q3 and Q4 reuse."""
    return q1_configs()[-1]


def q2_configs() -> dict[str, E.ClassifierConfig]:
    full = E.ClassifierConfig(base=16, latent=16)
    return {"full": E.for_profile(full), "subset": E.for_profile(replace(full, **SUBSET_TRAINING))}


def q3_configs() -> dict[str, E.HeadConfig]:
    full = E.HeadConfig(encoder=pretrained_autoencoder())
    return {"full": E.for_profile(full), "subset": E.for_profile(replace(full, **SUBSET_TRAINING))}


def q4_configs() -> dict[str, E.DecoderConfig]:
    return {
        "autoencoder": E.for_profile(E.DecoderConfig(encoder=pretrained_autoencoder())),
        "classifier": E.for_profile(E.DecoderConfig(encoder=q2_configs()["full"])),
    }


SPREAD_DRAWS = 5  # seeded 100-image draws (subset seed = model seed = 0..4), the same for Q2 and Q3
FULL_DATA_SEEDS = 3  # model seeds of the full-data runs


def spread_configs(configs: dict) -> dict[str, list]:
    """The chapter's two runs repeated: over subset draws (100 images) and over seeds (full data)."""
    return {
        "subset": [replace(configs["subset"], subset_seed=k, seed=k) for k in range(SPREAD_DRAWS)],
        "full": [replace(configs["full"], seed=k) for k in range(FULL_DATA_SEEDS)],
    }


def q2_spread_configs() -> dict[str, list[E.ClassifierConfig]]:
    return spread_configs(q2_configs())


def q3_spread_configs() -> dict[str, list[E.HeadConfig]]:
    return spread_configs(q3_configs())


def all_configs(*groups: dict) -> list:
    """Configs of several {name: config or [configs]} dicts, in order, without repeats."""
    out = []
    for group in groups:
        for item in group.values():
            for cfg in item if isinstance(item, list) else [item]:
                if cfg not in out:
                    out.append(cfg)
    return out


CHAPTERS: dict[str, Callable[[], list]] = {
    "intro": lambda: [],
    "q1": q1_configs,
    "q2": lambda: all_configs(q2_configs(), q2_spread_configs()),
    "q3": lambda: all_configs(q3_configs(), q3_spread_configs()),
    "q4": lambda: list(q4_configs().values()),
    "labels100": lambda: [],  # its runs are cached measurements (`semi-*.json`), see CACHED_MEASUREMENTS
    "theory": lambda: [],
    "performance": lambda: [],
    "provenance": lambda: [],
}


# Measurements on trained models that a chapter caches with `experiments.cached_json`, by file prefix.
CACHED_MEASUREMENTS = {
    "q2": ("shift",),
    "q3": ("one-nn",),
    "q4": ("latent",),
    "labels100": ("semi",),
}


def rerun_chapter(name: str, log=print) -> list[E.RunResult]:
    """Retrain a chapter's own experiments (upstream runs it reuses come from the cache) and drop
    its cached measurements, so the next build recomputes them."""
    if name not in CHAPTERS:
        raise ValueError(f"unknown chapter {name!r}; valid chapters: {', '.join(CHAPTERS)}")
    for prefix in CACHED_MEASUREMENTS.get(name, ()):
        for path in E.runs_root().glob(f"{prefix}-*.json"):
            path.unlink()
    return [E.run(cfg, log=log, force=True) for cfg in CHAPTERS[name]()]


# --------------------------------------------------------------------------- evaluation on the test set


@torch.inference_mode()
def outputs(model: nn.Module, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    model.eval()
    return torch.cat([model(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


def predictions(model: nn.Module, images: torch.Tensor) -> np.ndarray:
    return outputs(model, images).argmax(dim=1).numpy()


def mean_l1(model: nn.Module, images: torch.Tensor) -> float:
    return (outputs(model, images) - images).abs().mean().item()


def examples_per_digit(data: MnistTensors, per_digit: int, seed: int = 0) -> torch.Tensor:
    """Indices of `per_digit` test images of each digit 0..9 (seeded), ordered digit by digit."""
    gen = torch.Generator().manual_seed(seed)
    picks = []
    for digit in range(10):
        candidates = torch.nonzero(data.test_labels == digit).flatten()
        picks.append(candidates[torch.randperm(len(candidates), generator=gen)[:per_digit]])
    return torch.cat(picks)


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of a list of numbers."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def markdown_table(headers: list[str], rows: list[list]) -> str:
    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def architecture_rows(model: nn.Module, input_shape=(1, 1, 28, 28)) -> list[list]:
    """One row per layer that does something: name, type, output shape, parameters, stride."""
    rows = []

    def hook(name):
        def record(module, args, out):
            stride = getattr(module, "stride", None)
            rows.append(
                [
                    f"`{name}`",
                    type(module).__name__,
                    "×".join(map(str, out.shape[1:])),
                    sum(p.numel() for p in module.parameters(recurse=False)),
                    "" if stride is None else stride[0],
                ]
            )

        return record

    handles = [
        m.register_forward_hook(hook(n))
        for n, m in model.named_modules()
        if len(list(m.children())) == 0
    ]
    try:
        outputs(model, torch.zeros(input_shape))
    finally:
        for h in handles:
            h.remove()
    return rows


def relative_change(before: float, after: float) -> float:
    """Percent change from `before` to `after` (negative: a reduction)."""
    return 100.0 * (after - before) / before


def class_spread(images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Pixel-space geometry of a set of images grouped by digit (Euclidean distances, flattened).

    within: mean pairwise distance between two images of the same digit, averaged over digits;
    between: mean distance between the per-digit mean images; ratio: between / within.
    """
    flat = images.reshape(len(images), -1)
    within, centroids = [], []
    for digit in range(10):
        group = flat[labels == digit]
        d = torch.cdist(group, group)
        within.append(d.sum().item() / (len(group) * (len(group) - 1)))
        centroids.append(group.mean(0))
    centroids = torch.stack(centroids)
    between = torch.pdist(centroids).mean().item()
    within_mean = sum(within) / len(within)
    return {"within": within_mean, "between": between, "ratio": between / within_mean}
