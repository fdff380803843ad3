"""Q4: fresh decoders on the frozen encoders of the Q1 autoencoder and the Q2 classifier."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from ex2 import analysis, experiments, formatting
from ex2.chapters import configs, q4_typical
from ex2.chapters.q4_typical import PER_DIGIT, SOURCE
from ex2.claims import MIN_EFFECT, Check, Claim, Interpretation
from ex2.data import load_mnist
from ex2.experiments import RunResult
from ex2.formatting import Table
from ex2.measurements import decoder_geometry, image_geometry
from ex2.train import forward_in_batches

LABELS = {
    "autoencoder": "AE encoder + new decoder",
    "classifier": "classifier encoder + new decoder",
}


def runs():
    return list(configs.decoders().values())


def measurements():
    return [(image_geometry, ())] + [(decoder_geometry, (cfg,)) for cfg in runs()]


@dataclass
class Q4:
    runs: dict[str, RunResult]
    blocks: dict[str, torch.Tensor]  # [10, PER_DIGIT, 1, 28, 28]: inputs and reconstructions
    marked: tuple[int, int]  # (digit, column) of the example the text cites
    geometry: Table
    numbers: dict[str, str]
    claims: list[Claim]
    checks: list[Check]
    interpretations: list[Interpretation]
    shared: dict


INTERPRETATIONS = [
    Interpretation(
        "q4.a.why",
        "The autoencoder's encoder was trained so that its 16 numbers suffice to redraw the "
        "image. The classifier's encoder was trained only to make the digit's class linearly "
        "readable: cross-entropy does not reward keeping stroke thickness, slant or the shape "
        "of a loop, so what the encoder keeps of them it keeps as a by-product, and what it did "
        "not keep no decoder can restore.",
        "no decoder on an encoder trained with both losses",
    ),
    Interpretation(
        "q4.d.why",
        "A classifier with a linear head is trained to push the classes apart in exactly this "
        "space, while the autoencoder's code places digits by appearance. (c) and (d) are then "
        "the same phenomenon seen from two sides: relative to the distance between classes, the "
        "classifier's code keeps less of the differences within a class.",
        "no encoder trained with a mixture of the two losses",
    ),
]


@functools.cache
def results() -> Q4:
    mnist = load_mnist()
    trained = {k: experiments.run(c) for k, c in configs.decoders().items()}
    inputs = image_geometry()
    measured = {k: decoder_geometry(c) for k, c in configs.decoders().items()}
    idx = analysis.examples_per_digit(mnist.test_labels, PER_DIGIT, seed=1)
    blocks = {"input": mnist.test_images[idx]}  # 40 images: shown, and cheap to redraw
    blocks |= {LABELS[k]: forward_in_batches(r.model, blocks["input"]) for k, r in trained.items()}
    blocks = {k: v.reshape(10, PER_DIGIT, 1, 28, 28) for k, v in blocks.items()}
    distances = {"input": inputs["spread"]}
    for k, m in measured.items():
        distances[f"recon {k}"], distances[f"code {k}"] = m["recon"], m["code"]
    own = experiments.run(configs.pretrained_autoencoder()).final["test_l1"]
    numbers, claims = describe(trained, distances, own)
    typical, marked = q4_typical.claims(inputs, measured, mnist.test_labels.numpy(), idx.numpy())
    claims[3:3] = typical
    for k in measured:
        numbers[f"q4_rank_rho_{k}"] = f"{typical[0].values[q4_typical.RHO_KEYS[k]]:.2f}"
    fresh = trained["autoencoder"].final["test_l1"]  # the AE encoder's new decoder
    checks = [l1_check(trained, measured), noise_check(fresh, own)]
    rows = geometry_table(trained, distances)
    shared = {"q1.16_16.test_l1": own}
    return Q4(trained, blocks, marked, rows, numbers, claims, checks, INTERPRETATIONS, shared)


def table(trained, distances) -> dict[str, list]:
    """The numbers of the geometry table, by row: test L1 (or None), within, between, ratio."""
    rows = {"test images (pixels)": [None, *distances["input"].values()]}
    for k, r in trained.items():
        recon = distances[f"recon {k}"].values()
        rows[f"reconstructions, {LABELS[k]}"] = [r.final["test_l1"], *recon]
    for k in trained:
        rows[f"latent codes, {k} encoder"] = [None, *distances[f"code {k}"].values()]
    return rows


def geometry_table(trained, distances) -> Table:
    rows = [
        [name, "–" if l1 is None else formatting.l1(l1), *map(formatting.ratio, geometry)]
        for name, (l1, *geometry) in table(trained, distances).items()
    ]
    headers = ["what", "test L1", "within-digit", "between-digit", "ratio"]
    return Table(headers, rows, [40, 14, 16, 16, 14])


def describe(trained, distances, own_l1) -> tuple[dict, list[Claim]]:
    l1 = {k: r.final["test_l1"] for k, r in trained.items()}
    numbers = {f"q4_{k}_l1": formatting.l1(v) for k, v in l1.items()}
    within = {k: distances[f"recon {k}"]["within"] / distances["input"]["within"] for k in trained}
    numbers |= {f"q4_within_vs_input_{k}": f"{100 * v:.0f} %" for k, v in within.items()}
    for k in trained:
        numbers[f"q4_code_ratio_{k}"] = formatting.ratio(distances[f"code {k}"]["ratio"])
    ratios = {name: row[3] for name, row in table(trained, distances).items()}
    claims = [
        better_claim(l1),
        own_decoder_claim(l1["autoencoder"], own_l1),
        variability_claim(within),
        separation_claim(distances, ratios),
    ]
    return numbers, claims


def better_claim(l1) -> Claim:
    text = (
        f"The **AE encoder** gives the better reconstructions: test L1 "
        f"{formatting.l1(l1['autoencoder'])} against {formatting.l1(l1['classifier'])} through "
        f"the classifier's encoder, {l1['classifier'] / l1['autoencoder']:.2f} times lower."
    )
    return Claim(
        "q4.a.better",
        text,
        "lower(ae, classifier)",
        {"ae": l1["autoencoder"], "classifier": l1["classifier"]},
        SOURCE + "; L1 per pixel, final epoch",
        short="the autoencoder's encoder gives the better reconstructions",
    )


def own_decoder_claim(fresh: float, own: float) -> Claim:
    text = (
        f"A fresh decoder on the AE's frozen encoder reaches {formatting.l1(fresh)}, "
        f"{100 * abs(fresh - own) / own:.1f} % {'below' if fresh < own else 'above'} the "
        f"{formatting.l1(own)} of the Q1 "
        "autoencoder's own decoder: a decoder trained anew on the frozen code ends within "
        f"{100 * MIN_EFFECT:.0f} % of the one trained with it."
    )
    return Claim(
        "q4.a.own_decoder",
        text,
        "not lower(fresh, own) and not higher(fresh, own)",
        {"fresh": fresh, "own": own},
        "the Q4 decoder on the AE encoder and the Q1 (16, 16) autoencoder; test set; L1 per pixel",
    )


def variability_claim(within) -> Claim:
    text = (
        f"The in-class variability is higher through the **AE encoder**: its reconstructions of "
        f"one digit are {100 * within['autoencoder']:.0f} % as spread out as the input images "
        f"of that digit (mean pairwise distance; within {100 * MIN_EFFECT:.0f} % of the "
        f"inputs), those through the classifier's encoder and its decoder "
        f"{100 * within['classifier']:.0f} %: less, but more than half of the inputs' spread."
    )
    return Claim(
        "q4.c.variability",
        text,
        "higher(ae, classifier) and not lower(ae, 1) and not higher(ae, 1) and classifier > 0.5",
        {"ae": within["autoencoder"], "classifier": within["classifier"]},
        SOURCE + "; mean pairwise Euclidean distance within a digit, averaged over digits, "
        "over that of the inputs",
        short="in-class variability is higher through the autoencoder's encoder",
    )


def separation_claim(distances, table_ratios: dict[str, float]) -> Claim:
    code = {k: distances[f"code {k}"]["ratio"] for k in ("autoencoder", "classifier")}
    recon = {k: distances[f"recon {k}"]["ratio"] for k in ("autoencoder", "classifier")}
    text = (
        f"The inter-class separation is higher through the **classifier's encoder**: the ratio "
        f"of between-digit to within-digit distance is {code['classifier']:.2f} in its code "
        f"against {code['autoencoder']:.2f} in the AE's, and {recon['classifier']:.2f} against "
        f"{recon['autoencoder']:.2f} in the reconstructions."
    )
    return Claim(
        "q4.d.separation",
        text,
        "higher(code_classifier, code_ae) and higher(recon_classifier, recon_ae) "
        "and same([code_classifier, code_ae, recon_classifier, recon_ae], table)",
        {
            "code_classifier": code["classifier"],
            "code_ae": code["autoencoder"],
            "recon_classifier": recon["classifier"],
            "recon_ae": recon["autoencoder"],
            "table": [
                table_ratios["latent codes, classifier encoder"],
                table_ratios["latent codes, autoencoder encoder"],
                table_ratios[f"reconstructions, {LABELS['classifier']}"],
                table_ratios[f"reconstructions, {LABELS['autoencoder']}"],
            ],
        },
        SOURCE + "; mean distance between digit means over mean distance within a digit "
        "(Table 'tab-q4-spread', column 'ratio')",
        short="inter-class separation is higher through the classifier's encoder",
    )


def l1_check(trained, measured) -> Check:
    """The mean of the per-image errors measured on the cached reconstructions is the test L1
    each decoder recorded when it trained."""
    recorded = [trained[k].final["test_l1"] for k in ("autoencoder", "classifier")]
    measured_l1 = [float(np.mean(measured[k]["l1"])) for k in ("autoencoder", "classifier")]
    return Check(
        "q4.check.l1",
        "the decoders' recorded test L1 equals the mean of the measured per-image errors",
        "all(abs(a - b) < 1e-4 * a for a, b in zip(recorded, measured))",
        {"recorded": recorded, "measured": measured_l1},
        SOURCE,
    )


def noise_check(fresh: float, own: float) -> Check:
    """The smallest effect the vocabulary calls "lower" or "higher" (`claims.MIN_EFFECT`) is at
    least twice the difference between two decoders trained apart on the same code: the
    retraining noise of an L1 measured in this build."""
    return Check(
        "q4.check.noise",
        "the smallest relative effect called 'lower' or 'higher' is at least twice the relative "
        "L1 difference of a fresh decoder on the frozen code and the autoencoder's own decoder",
        "min_effect >= 2 * abs(fresh - own) / own",
        {"min_effect": MIN_EFFECT, "fresh": fresh, "own": own},
        "the Q4 decoder on the AE encoder and the Q1 (16, 16) autoencoder's own decoder; test set",
    )
