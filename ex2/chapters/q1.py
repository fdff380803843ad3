"""Q1: four convolutional autoencoders (c, d) trained for 10 epochs; what the Q1 page shows."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from ex2 import analysis, experiments, formatting
from ex2.chapters import configs, q1_architecture, q1_errors
from ex2.chapters.q1_errors import SOURCE
from ex2.claims import SETTLED, Check, Claim, Interpretation
from ex2.data import load_mnist
from ex2.experiments import RunResult
from ex2.formatting import Table
from ex2.measurements import reconstruction_quality
from ex2.train import forward_in_batches


def runs():
    return configs.autoencoders()


def measurements():
    classifier = configs.classifiers()["full"]
    return [(reconstruction_quality, (cfg, classifier)) for cfg in runs()]


def name(cfg) -> str:
    return f"c={cfg.base}, d={cfg.latent}"


@dataclass
class Q1:
    runs: dict[tuple[int, int], RunResult]
    shapes: Table
    reconstructions: dict[str, torch.Tensor]  # one test image of each digit, and its redrawings
    architecture: Table
    losses: Table
    numbers: dict[str, str]
    claims: list[Claim]
    checks: list[Check]
    interpretations: list[Interpretation]
    shared: dict


@functools.cache
def results() -> Q1:
    mnist = load_mnist()
    trained = {(c.base, c.latent): experiments.run(c) for c in runs()}
    classifier = configs.classifiers()["full"]
    quality = {key: reconstruction_quality(r.config, classifier) for key, r in trained.items()}
    examples = mnist.test_images[analysis.examples_per_digit(mnist.test_labels, 1)]
    recon = {"input": examples} | {
        name(r.config): forward_in_batches(r.model, examples) for r in trained.values()
    }
    final = {key: r.final for key, r in trained.items()}
    architecture = analysis.architecture_rows(trained[(16, 16)].model)
    numbers, claims = describe(trained, final, quality)
    claims.append(q1_architecture.activations_claim(architecture))
    return Q1(
        trained,
        q1_architecture.shape_table(),
        recon,
        q1_architecture.layer_table(architecture),
        loss_table(trained),
        numbers,
        claims,
        [q1_errors.quality_check(quality)],
        INTERPRETATIONS,
        {"q1.16_16.test_l1": final[(16, 16)]["test_l1"]},
    )


INTERPRETATIONS = [
    Interpretation(
        "q1.c.bottleneck",
        "The code is the only path from input to output, so $d$ bounds how much of the image "
        "survives; the channel count $c$ sets how rich the features are that feed the code and "
        "how well the decoder can draw from it. With no gap between training and test loss, "
        "what limits these models after ten epochs is the training budget, what fits through "
        "the bottleneck and what the layers can draw, not memorised training images.",
        "no model of a third width, no information measure of the code",
    )
]


def relative(a: float, b: float) -> float:
    return (b - a) / a


def describe(trained, final, quality) -> tuple[dict, list[Claim]]:
    l1 = {k: f["test_l1"] for k, f in final.items()}
    numbers = {"q1_l1_16_16": formatting.l1(l1[(16, 16)])}
    latent = {c: relative(l1[(c, 4)], l1[(c, 16)]) for c in (4, 16)}
    channels = {d: relative(l1[(4, d)], l1[(16, d)]) for d in (4, 16)}
    numbers["q1_latent_effect_c16"] = f"{100 * latent[16]:+.1f} %"
    numbers |= q1_architecture.numbers(trained[(16, 16)].model)
    claims = [
        q1_architecture.any_pair_claim(),
        q1_architecture.latent_layers_claim(),
        latent_claim(l1),
        channel_claim(l1),
        knob_claim(latent, channels),
        gap_claim(final),
        falling_claim(trained),
        *q1_errors.claims(quality),
        q1_architecture.receptive_field_claim(trained[(16, 16)].model),
    ]
    return numbers, claims


def latent_claim(l1) -> Claim:
    text = (
        f"A larger code helps at both channel counts: going from $d=4$ to $d=16$ lowers the "
        f"test L1 from {formatting.l1(l1[(4, 4)])} to {formatting.l1(l1[(4, 16)])} "
        f"({100 * relative(l1[(4, 4)], l1[(4, 16)]):+.1f} %) with $c=4$ and from "
        f"{formatting.l1(l1[(16, 4)])} to {formatting.l1(l1[(16, 16)])} "
        f"({100 * relative(l1[(16, 4)], l1[(16, 16)]):+.1f} %) with $c=16$."
    )
    return Claim(
        "q1.c.latent",
        text,
        "lower(c4_d16, c4_d4) and lower(c16_d16, c16_d4)",
        per_model(l1),
        SOURCE + ", L1 per pixel",
        short="a larger code and more channels both lower the loss",
    )


def per_model(l1) -> dict[str, float]:
    """The four models' values under the names the claims' conditions use (c4_d16: c=4, d=16)."""
    return {f"c{c}_d{d}": l1[(c, d)] for c in (4, 16) for d in (4, 16)}


def channel_claim(l1) -> Claim:
    text = (
        f"More channels help too: going from $c=4$ to $c=16$ lowers the test L1 by "
        f"{100 * -relative(l1[(4, 4)], l1[(16, 4)]):.1f} % at $d=4$ and "
        f"{100 * -relative(l1[(4, 16)], l1[(16, 16)]):.1f} % at $d=16$."
    )
    return Claim(
        "q1.c.channels",
        text,
        "lower(c16_d4, c4_d4) and lower(c16_d16, c4_d16)",
        per_model(l1),
        SOURCE + ", L1 per pixel",
    )


def knob_claim(latent, channels) -> Claim:
    mean_latent, mean_channels = sum(latent.values()) / 2, sum(channels.values()) / 2
    text = (
        f"For the same fourfold step, the **latent dimension** moves the loss more than the "
        f"channel count in these runs: a mean change of {100 * mean_latent:+.1f} % against "
        f"{100 * mean_channels:+.1f} %."
    )
    return Claim(
        "q1.c.stronger_knob",
        text,
        "latent < 0 and channels < 0 and higher(abs(latent), abs(channels))",
        {"latent": mean_latent, "channels": mean_channels},
        SOURCE + ", relative change of the L1, mean of the two pairs",
    )


def gap_claim(final) -> Claim:
    ratios = [f["test_l1"] / f["train_l1"] for f in final.values()]
    text = (
        f"No model overfits: for each of them the test L1 is below, or within 2 % of, the "
        f"training L1 (largest ratio {max(ratios):.3f}; the training value is averaged over "
        "the last epoch)."
    )
    return Claim(
        "q1.c.no_overfitting",
        text,
        "max(test_over_train) < 1.02",
        {"test_over_train": ratios},
        SOURCE + "; training set, mean over the last epoch",
    )


def falling_claim(trained) -> Claim:
    change = {
        name(r.config): relative(r.history.test_loss[-2], r.history.test_loss[-1])
        for r in trained.values()
        if len(r.history.test_loss) > 1  # a one-epoch (smoke) run has no last-epoch change
    }
    falling = [n for n, v in change.items() if v <= -SETTLED]
    listed = ", ".join(f"{n} ({100 * change[n]:+.1f} %)" for n in falling)
    text = (
        "Ten epochs is a fixed budget: in its last epoch the "
        f"test L1 still fell by more than {100 * SETTLED:.0f} % in {len(falling)} of the "
        f"{len(change)} runs: {listed}."
    )
    return Claim(
        "q1.c.still_falling",
        text,
        "len(named) > 0 and all(c < 0 and not settled(c) for c in named) "
        "and all(settled(c) for c in others)",
        {
            "named": [change[n] for n in falling],
            "others": [v for n, v in change.items() if n not in falling],
        },
        SOURCE + "; relative change of the test L1 from epoch 9 to 10",
    )


def loss_table(trained: dict[tuple[int, int], RunResult]) -> Table:
    rows = []
    for (c, d), r in trained.items():
        f = r.final
        l1, acc = formatting.l1, formatting.pct
        time = formatting.seconds(f["seconds_per_epoch"])
        rows.append(
            [c, d, l1(f["test_l1"]), l1(f["train_l1"]), acc(f["test_pixel_accuracy"]), time]
        )
    headers = ["c", "d", "test L1", "train L1", "test pixel accuracy", "time per epoch"]
    return Table(headers, rows, [8, 8, 16, 16, 28, 24])
