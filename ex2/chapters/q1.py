"""Q1: four convolutional autoencoders (c, d) trained for 10 epochs; what the Q1 page shows."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from ex2 import analysis, experiments, formatting
from ex2.chapters import configs
from ex2.claims import SETTLED, Check, Claim, Interpretation
from ex2.data import load_mnist
from ex2.experiments import RunResult
from ex2.formatting import Table
from ex2.measurements import reconstruction_quality
from ex2.models import ConvAutoencoder, count_parameters
from ex2.train import forward_in_batches

SHAPE_GRID = [(c, d) for c in (1, 4, 16, 32) for d in (2, 4, 16, 64)]
SHAPE_HEADERS = ["c", "d", "code shape", "output shape", "encoder parameters", "parameters"]


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
    quality: dict[tuple[int, int], dict]
    shapes: Table
    examples: torch.Tensor  # one test image of each digit
    reconstructions: dict[str, torch.Tensor]
    architecture: Table
    losses: Table
    numbers: dict[str, str]
    claims: list[Claim]
    checks: list[Check]
    interpretations: list[Interpretation]
    shared: dict


def shape_rows() -> list[list]:
    """(a): every (c, d) pair of a grid builds, and maps a batch to codes and images."""
    rows, x = [], torch.rand(2, 1, 28, 28)
    for c, d in SHAPE_GRID:
        model = ConvAutoencoder(c, d).eval()
        with torch.no_grad():
            z, x_hat = model.encoder(x), model(x)
        rows.append(
            [
                c,
                d,
                "×".join(map(str, z.shape)),
                "×".join(map(str, x_hat.shape)),
                count_parameters(model.encoder),
                count_parameters(model),
            ]
        )
    return rows


@functools.cache
def results() -> Q1:
    mnist = load_mnist()
    trained = {(c.base, c.latent): experiments.run(c) for c in runs()}
    quality = {
        key: reconstruction_quality(r.config, configs.classifiers()["full"])
        for key, r in trained.items()
    }
    examples = mnist.test_images[analysis.examples_per_digit(mnist.test_labels, 1)]
    recon = {"input": examples}
    recon.update({name(r.config): forward_in_batches(r.model, examples) for r in trained.values()})
    final = {key: r.final for key, r in trained.items()}
    architecture = analysis.architecture_rows(trained[(16, 16)].model)
    layers = ["layer", "type", "output", "kernel", "stride", "padding", "parameters"]
    numbers, claims = describe(trained, final, quality)
    claims.append(activations_claim(architecture))
    return Q1(
        trained,
        quality,
        Table(SHAPE_HEADERS, shape_rows(), [8, 8, 16, 22, 24, 22]),
        examples,
        recon,
        Table(layers, architecture, [30, 17, 13, 9, 9, 10, 12]),
        loss_table(trained),
        numbers,
        claims,
        [quality_check(quality)],
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

SOURCE = "the four Q1 runs (seed 0, 10 epochs), test set (10,000 images), final epoch"


def relative(a: float, b: float) -> float:
    return (b - a) / a


def describe(trained, final, quality) -> tuple[dict, list[Claim]]:
    l1 = {k: f["test_l1"] for k, f in final.items()}
    numbers = {"q1_l1_16_16": formatting.l1(l1[(16, 16)])}
    latent = {c: relative(l1[(c, 4)], l1[(c, 16)]) for c in (4, 16)}
    channels = {d: relative(l1[(4, d)], l1[(16, d)]) for d in (4, 16)}
    numbers["q1_latent_effect_c16"] = f"{100 * latent[16]:+.1f} %"
    numbers["q1_receptive_field"] = str(
        analysis.receptive_fields(trained[(16, 16)].model.encoder)[-1]
    )
    numbers["q1_pairs"] = str(len(SHAPE_GRID))
    claims = [
        any_pair_claim(),
        latent_layers_claim(),
        latent_claim(l1),
        channel_claim(l1),
        knob_claim(latent, channels),
        gap_claim(final),
        falling_claim(trained),
        *quality_claims(quality),
        receptive_field_claim(trained[(16, 16)].model),
    ]
    return numbers, claims


def any_pair_claim() -> Claim:
    shapes = [(row[2], row[3]) for row in shape_rows()]
    expected = [(f"2×{d}", "2×1×28×28") for _, d in SHAPE_GRID]
    text = (
        f"All {len(SHAPE_GRID)} pairs of the grid build, map a batch of two images to codes of "
        "shape $2 \\times d$ and reconstruct images of the input's shape."
    )
    as_expected = sum(got == want for got, want in zip(shapes, expected))
    return Claim(
        "q1.a.any_pair",
        text,
        "as_expected == pairs",
        {"pairs": len(SHAPE_GRID), "as_expected": as_expected},
        "untrained models of each pair, a batch of two random images",
        short="any $(c, d)$ pair works",
    )


def layers_that_see_d(c: int = 4) -> list[str]:
    """The layers of an autoencoder whose parameter shapes change with d (two values of d)."""
    a, b = ConvAutoencoder(c, 4), ConvAutoencoder(c, 16)
    shapes = {n: p.shape for n, p in b.named_parameters()}
    return sorted({n.rsplit(".", 1)[0] for n, p in a.named_parameters() if p.shape != shapes[n]})


def latent_layers_claim() -> Claim:
    layers = layers_that_see_d()
    text = (
        f"Only {len(layers)} layers have a shape that depends on $d$: the encoder's last linear "
        "layer, $\\mathbb{R}^{64c} \\to \\mathbb{R}^{d}$, and the decoder's first,"
        " $\\mathbb{R}^{d} \\to \\mathbb{R}^{64c}$; the convolutions depend on $c$ alone."
    )
    return Claim(
        "q1.a.latent_layers",
        text,
        "layers == ['decoder.from_latent.0', 'encoder.to_latent']",
        {"layers": layers},
        "parameter shapes of untrained autoencoders with d = 4 and d = 16 (c = 4)",
        short="only the linear layers next to the code see $d$",
    )


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
        {
            "c4_d4": l1[(4, 4)],
            "c4_d16": l1[(4, 16)],
            "c16_d4": l1[(16, 4)],
            "c16_d16": l1[(16, 16)],
        },
        SOURCE + ", L1 per pixel",
        short="a larger code and more channels both lower the loss",
    )


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
        {
            "c4_d4": l1[(4, 4)],
            "c16_d4": l1[(16, 4)],
            "c4_d16": l1[(4, 16)],
            "c16_d16": l1[(16, 16)],
        },
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
        "Ten epochs is a fixed budget, and not every run had settled: in its last epoch the "
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


QUALITY_SOURCE = SOURCE + "; pixels grouped by the input's intensity"


def quality_claims(quality) -> list[Claim]:
    return [strokes_claim(quality), identity_claim(quality), faint_claim(quality)]


def strokes_claim(q) -> Claim:
    stroke_share = {k: 1 - v["error_share"]["background"] for k, v in q.items()}
    border_and_core = [v["error_share"]["border"] + v["error_share"]["core"] for v in q.values()]
    stroke_pixels = 1 - q[(16, 16)]["pixel_share"]["background"]
    border = {k: v["error"]["border"] for k, v in q.items()}
    background = max(v["error"]["background"] for v in q.values())
    core = {k: v["error"]["core"] for k, v in q.items()}
    text = (
        f"The error sits on the digit, not on the background: the stroke pixels "
        f"($x > 0$, {100 * stroke_pixels:.0f} % of the image) hold "
        f"{100 * min(stroke_share.values()):.0f}–{100 * max(stroke_share.values()):.0f} % "
        "of the error in all four models. Per pixel, the $c=16$ models err most on the "
        "anti-aliased stroke borders ($0 < x < 0.5$), the $c=4$ models in the stroke "
        "cores."
    )
    return Claim(
        "q1.c.error_on_strokes",
        text,
        "all(far(s, stroke_pixels) for s in stroke_share) "
        "and all(higher(b, c) for b, c in zip(border_c16, core_c16)) "
        "and all(higher(c, b) for b, c in zip(border_c4, core_c4)) "
        "and higher(min(border_c16 + core_c4), background) "
        "and same(stroke_share, border_and_core)",
        {
            "stroke_pixels": stroke_pixels,
            "border_and_core": border_and_core,
            "background": background,
            "stroke_share": list(stroke_share.values()),
            "border_c16": [border[(16, 4)], border[(16, 16)]],
            "core_c16": [core[(16, 4)], core[(16, 16)]],
            "border_c4": [border[(4, 4)], border[(4, 16)]],
            "core_c4": [core[(4, 4)], core[(4, 16)]],
        },
        QUALITY_SOURCE + "; share of the summed |error|, and mean |error| per pixel",
    )


def identity_claim(q) -> Claim:
    missed = {k: 1 - v["recognised"] for k, v in q.items()}
    m = {"d4_c4": missed[(4, 4)], "d4_c16": missed[(16, 4)], "d16_c16": missed[(16, 16)]}
    text = (
        f"A 4-number code loses the digit's identity far more often: the Q2(i) "
        f"classifier fails to recognise the input's digit in {100 * m['d4_c16']:.1f} % of "
        f"the $c=16, d=4$ reconstructions and {100 * m['d4_c4']:.1f} % of the $c=4, d=4$ "
        f"ones, against {100 * m['d16_c16']:.1f} % with $c=16, d=16$."
    )
    return Claim(
        "q1.c.small_code_loses_identity",
        text,
        "far(d4_c4, d16_c16) and far(d4_c16, d16_c16)",
        m,
        SOURCE + "; the Q2(i) classifier's predictions on the reconstructions",
        short="a 4-number code loses the digit far more often",
    )


def faint_claim(q) -> Claim:
    bright = {k: v["core_brightness"] for k, v in q.items()}
    text = (
        f"The $c=4$ models draw faint strokes: the mean reconstructed intensity of "
        f"stroke-core pixels is {bright[(4, 4)]:.2f} and {bright[(4, 16)]:.2f} for "
        f"$c=4$, against {bright[(16, 4)]:.2f} and {bright[(16, 16)]:.2f} for $c=16$ "
        f"(inputs: {q[(16, 16)]['input_core_brightness']:.2f})."
    )
    return Claim(
        "q1.c.faint_c4",
        text,
        "lower(max(c4), min(c16))",
        {"c4": [bright[(4, 4)], bright[(4, 16)]], "c16": [bright[(16, 4)], bright[(16, 16)]]},
        QUALITY_SOURCE + " (stroke core: input x >= 0.5), mean reconstructed intensity",
    )


def quality_check(quality) -> Check:
    """The error shares of each model add up to 1 and its per-pixel errors to its L1."""
    totals = [sum(q["error_share"].values()) for q in quality.values()]
    return Check(
        "q1.check.error_shares",
        "the error shares of background, border and core add up to 1 for every model",
        "all(abs(t - 1) < 1e-6 for t in totals)",
        {"totals": totals},
        SOURCE,
    )


def receptive_field_claim(model) -> Claim:
    fields = analysis.receptive_fields(model.encoder)
    text = (
        f"The receptive field of the three convolutions grows to {fields[0]}, {fields[1]} and "
        f"{fields[2]} pixels: no convolution sees the whole $28 \\times 28$ digit; only the "
        "linear layer to the code combines every position."
    )
    return Claim(
        "q1.d.receptive_field",
        text,
        "last_conv < 28",
        {"last_conv": fields[-1]},
        "the (16, 16) encoder's kernels and strides",
    )


def activations_claim(architecture: list[list]) -> Claim:
    sizes = [
        math.prod(int(v) for v in row[2].split("×")) for row in architecture if row[1] == "Conv2d"
    ]
    text = (
        "The channels double ($c \\to 2c \\to 4c$) as the side halves, which does not keep the "
        "activations per image constant: a halved side leaves a quarter of the positions, so "
        "each stride-2 layer of the $(16, 16)$ encoder holds fewer values than the last, "
        f"{' → '.join(formatting.count(v) for v in sizes)}."
    )
    return Claim(
        "q1.d.activations",
        text,
        "all(a > b for a, b in zip(sizes, sizes[1:]))",
        {"sizes": sizes},
        "output shapes of the (16, 16) encoder's convolutions",
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
