"""Q1: four convolutional autoencoders (c, d) trained for 10 epochs; what the Q1 page shows."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ex2 import analysis, experiments, formatting
from ex2.chapters import runs as R
from ex2.claims import Claim, either
from ex2.data import load_mnist
from ex2.experiments import RunResult
from ex2.measurements import reconstruction_quality
from ex2.models import ConvAutoencoder, count_parameters
from ex2.train import forward_in_batches

SHAPE_GRID = [(c, d) for c in (1, 4, 16, 32) for d in (2, 4, 16, 64)]
STILL_FALLING = 0.01  # a run whose test L1 fell by more than 1 % in its last epoch


def runs():
    return R.autoencoders()


def measurements():
    classifier = R.classifiers()["full"]
    return [(reconstruction_quality, (cfg, classifier)) for cfg in runs()]


def name(cfg) -> str:
    return f"c={cfg.base}, d={cfg.latent}"


@dataclass
class Q1:
    runs: dict[tuple[int, int], RunResult]
    quality: dict[tuple[int, int], dict]
    shape_rows: list[list]
    examples: torch.Tensor  # one test image of each digit
    reconstructions: dict[str, torch.Tensor]
    architecture_rows: list[list]
    numbers: dict[str, str]
    claims: list[Claim]


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


def results() -> Q1:
    mnist = load_mnist()
    trained = {(c.base, c.latent): experiments.run(c) for c in runs()}
    quality = {
        key: reconstruction_quality(r.config, R.classifiers()["full"]) for key, r in trained.items()
    }
    examples = mnist.test_images[analysis.examples_per_digit(mnist.test_labels, 1)]
    recon = {"input": examples}
    recon.update({name(r.config): forward_in_batches(r.model, examples) for r in trained.values()})
    final = {key: r.final for key, r in trained.items()}
    numbers, claims = describe(trained, final, quality)
    return Q1(
        trained,
        quality,
        shape_rows(),
        examples,
        recon,
        analysis.architecture_rows(trained[(16, 16)].model),
        numbers,
        claims,
    )


def relative(a: float, b: float) -> float:
    return (b - a) / a


def describe(trained, final, quality) -> tuple[dict, list[Claim]]:
    l1 = {k: f["test_l1"] for k, f in final.items()}
    numbers = {f"q1_l1_{c}_{d}": formatting.l1(v) for (c, d), v in l1.items()}
    numbers |= {
        f"q1_recognised_{c}_{d}": formatting.pct(q["recognised"]) for (c, d), q in quality.items()
    }
    latent = {c: relative(l1[(c, 4)], l1[(c, 16)]) for c in (4, 16)}
    channels = {d: relative(l1[(4, d)], l1[(16, d)]) for d in (4, 16)}
    for c, v in latent.items():
        numbers[f"q1_latent_effect_c{c}"] = f"{100 * v:+.1f} %"
    for d, v in channels.items():
        numbers[f"q1_channel_effect_d{d}"] = f"{100 * v:+.1f} %"
    numbers["q1_receptive_field"] = str(
        analysis.receptive_fields(trained[(16, 16)].model.encoder)[-1]
    )
    numbers["q1_worst_over_best"] = formatting.ratio(l1[(4, 4)] / l1[(16, 16)])
    claims = [
        any_pair_claim(),
        latent_claim(latent),
        channel_claim(channels),
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
    )


def latent_claim(latent) -> Claim:
    text = (
        f"A larger code helps at both channel counts: going from $d=4$ to $d=16$ lowers the "
        f"test L1 by {100 * -latent[4]:.1f} % with $c=4$ and {100 * -latent[16]:.1f} % with "
        "$c=16$."
    )
    return Claim(
        "q1.c.latent",
        text,
        "change_c4 < 0 and change_c16 < 0",
        {"change_c4": latent[4], "change_c16": latent[16]},
    )


def channel_claim(channels) -> Claim:
    text = (
        f"More channels help too: going from $c=4$ to $c=16$ lowers the test L1 by "
        f"{100 * -channels[4]:.1f} % at $d=4$ and {100 * -channels[16]:.1f} % at $d=16$."
    )
    return Claim(
        "q1.c.channels",
        text,
        "change_d4 < 0 and change_d16 < 0",
        {"change_d4": channels[4], "change_d16": channels[16]},
    )


def knob_claim(latent, channels) -> Claim:
    mean_latent, mean_channels = sum(latent.values()) / 2, sum(channels.values()) / 2
    stronger = either(mean_latent < mean_channels, "latent dimension", "channel count")
    text = (
        f"Of the two knobs, the **{stronger}** moves the loss more in these runs (mean change "
        f"{100 * min(mean_latent, mean_channels):+.1f} % against "
        f"{100 * max(mean_latent, mean_channels):+.1f} %)."
    )
    return Claim(
        "q1.c.stronger_knob",
        text,
        "abs(stronger) > abs(weaker)",
        {"stronger": min(mean_latent, mean_channels), "weaker": max(mean_latent, mean_channels)},
    )


def gap_claim(final) -> Claim:
    ratios = [f["test_l1"] / f["train_l1"] for f in final.values()]
    text = (
        f"No model overfits: for each of them the test L1 is below, or within 2 % of, the "
        f"training L1 (largest ratio {max(ratios):.3f}; the training value is averaged over "
        "the last epoch). What limits them is what fits through the bottleneck and what the "
        "layers can draw, not memorised training images."
    )
    return Claim(
        "q1.c.no_overfitting", text, "max(test_over_train) < 1.02", {"test_over_train": ratios}
    )


def falling_claim(trained) -> Claim:
    change = {
        name(r.config): relative(r.history.test_loss[-2], r.history.test_loss[-1])
        for r in trained.values()
        if len(r.history.test_loss) > 1
    }
    falling = [n for n, v in change.items() if v < -STILL_FALLING]
    listed = ", ".join(f"{n} ({100 * change[n]:+.1f} %)" for n in falling)
    text = either(
        bool(falling),
        "Ten epochs is a fixed budget, and not every run had settled: "
        f"in its last epoch the test L1 still fell by more than 1 % for {listed}.",
        "Every run's test L1 changed by less than 1 % in its last epoch.",
    )
    condition = "min(changes) < -0.01" if falling else "all(c >= -0.01 for c in changes)"
    return Claim("q1.c.still_falling", text, condition, {"changes": list(change.values())})


def quality_claims(quality) -> list[Claim]:
    q = quality
    stroke_share = {k: 1 - v["error_share"]["background"] for k, v in q.items()}
    stroke_pixels = 1 - q[(16, 16)]["pixel_share"]["background"]
    border = {k: v["error"]["border"] for k, v in q.items()}
    core = {k: v["error"]["core"] for k, v in q.items()}
    border_text = (
        f"The error sits on the digit, not on the background: the stroke pixels "
        f"($x > 0$, {100 * stroke_pixels:.0f} % of the image) hold "
        f"{100 * min(stroke_share.values()):.0f}–{100 * max(stroke_share.values()):.0f} % "
        "of the error in all four models. Per pixel, the $c=16$ models err most on the "
        "anti-aliased stroke borders ($0 < x < 0.5$), the $c=4$ models in the stroke "
        "cores, which they draw too faint."
    )
    recog = {k: v["recognised"] for k, v in q.items()}
    recog_text = (
        f"A 4-number code does not always keep the digit's identity: the Q2(i) "
        f"classifier recognises the input's digit in {100 * recog[(16, 4)]:.1f} % of the "
        f"$c=16, d=4$ reconstructions and {100 * recog[(4, 4)]:.1f} % of the $c=4, d=4$ "
        f"ones, against {100 * recog[(16, 16)]:.1f} % with $c=16, d=16$."
    )
    bright = {k: v["core_brightness"] for k, v in q.items()}
    bright_text = (
        f"The $c=4$ models draw faint strokes: the mean reconstructed intensity of "
        f"stroke-core pixels is {bright[(4, 4)]:.2f} and {bright[(4, 16)]:.2f} for "
        f"$c=4$, against {bright[(16, 4)]:.2f} and {bright[(16, 16)]:.2f} for $c=16$ "
        f"(inputs: {q[(16, 16)]['input_core_brightness']:.2f})."
    )
    return [
        Claim(
            "q1.c.error_on_strokes",
            border_text,
            "min(stroke_share) > 0.75 and all(b > c for b, c in zip(border_c16, core_c16)) "
            "and all(c > b for b, c in zip(border_c4, core_c4))",
            {
                "stroke_share": list(stroke_share.values()),
                "border_c16": [border[(16, 4)], border[(16, 16)]],
                "core_c16": [core[(16, 4)], core[(16, 16)]],
                "border_c4": [border[(4, 4)], border[(4, 16)]],
                "core_c4": [core[(4, 4)], core[(4, 16)]],
            },
        ),
        Claim(
            "q1.c.small_code_loses_identity",
            recog_text,
            "d4_c16 < d16_c16 and d4_c4 < d16_c16",
            {"d4_c4": recog[(4, 4)], "d4_c16": recog[(16, 4)], "d16_c16": recog[(16, 16)]},
        ),
        Claim(
            "q1.c.faint_c4",
            bright_text,
            "max(c4) < min(c16)",
            {"c4": [bright[(4, 4)], bright[(4, 16)]], "c16": [bright[(16, 4)], bright[(16, 16)]]},
        ),
    ]


def receptive_field_claim(model) -> Claim:
    fields = analysis.receptive_fields(model.encoder)
    text = (
        f"The receptive field of the three convolutions grows to {fields[0]}, {fields[1]} and "
        f"{fields[2]} pixels: no convolution sees the whole $28 \\times 28$ digit; only the "
        "linear layer to the code combines every position."
    )
    return Claim("q1.d.receptive_field", text, "last_conv < 28", {"last_conv": fields[-1]})


def final_rows(trained: dict[tuple[int, int], RunResult]) -> list[list]:
    rows = []
    for (c, d), r in trained.items():
        f = r.final
        rows.append(
            [
                c,
                d,
                formatting.l1(f["test_l1"]),
                formatting.l1(f["train_l1"]),
                formatting.pct(f["test_pixel_accuracy"]),
                formatting.seconds(f["seconds_per_epoch"]),
            ]
        )
    return rows
