"""Q4: fresh decoders on the frozen encoders of the Q1 autoencoder and the Q2 classifier."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ex2 import analysis, experiments, formatting
from ex2.chapters import runs as R
from ex2.claims import Claim
from ex2.data import load_mnist
from ex2.experiments import RunResult
from ex2.train import encode, forward_in_batches

LABELS = {
    "autoencoder": "AE encoder + new decoder",
    "classifier": "classifier encoder + new decoder",
}
PER_DIGIT = 4


def runs():
    return list(R.decoders().values())


def measurements():
    return []


@dataclass
class Q4:
    runs: dict[str, RunResult]
    blocks: dict[str, torch.Tensor]  # [10, PER_DIGIT, 1, 28, 28]: inputs and reconstructions
    spread_rows: list[list]
    numbers: dict[str, str]
    claims: list[Claim]


def results() -> Q4:
    mnist = load_mnist()
    trained = {k: experiments.run(c) for k, c in R.decoders().items()}
    recon = {k: forward_in_batches(r.model, mnist.test_images) for k, r in trained.items()}
    codes = {k: encode(r.model.encoder, mnist.test_images) for k, r in trained.items()}
    spread = {"input": analysis.class_spread(mnist.test_images, mnist.test_labels)}
    for k in trained:
        spread[f"recon {k}"] = analysis.class_spread(recon[k], mnist.test_labels)
        spread[f"code {k}"] = analysis.class_spread(codes[k], mnist.test_labels)
    idx = analysis.examples_per_digit(mnist.test_labels, PER_DIGIT, seed=1)
    blocks = {"input": mnist.test_images[idx]} | {LABELS[k]: recon[k][idx] for k in trained}
    blocks = {k: v.reshape(10, PER_DIGIT, 1, 28, 28) for k, v in blocks.items()}
    own = experiments.run(R.pretrained_autoencoder()).final["test_l1"]
    numbers, claims = describe(trained, spread, own)
    claims.append(instance_claim(blocks))
    return Q4(trained, blocks, spread_rows(trained, spread), numbers, claims)


def spread_rows(trained, spread) -> list[list]:
    s = spread
    rows = [["test images (pixels)", "–", *map(formatting.ratio, s["input"].values())]]
    for k, r in trained.items():
        rows.append(
            [
                f"reconstructions, {LABELS[k]}",
                formatting.l1(r.final["test_l1"]),
                *map(formatting.ratio, s[f"recon {k}"].values()),
            ]
        )
    for k in trained:
        rows.append(
            [f"latent codes, {k} encoder", "–", *map(formatting.ratio, s[f"code {k}"].values())]
        )
    return rows


def describe(trained, spread, own_l1) -> tuple[dict, list[Claim]]:
    l1 = {k: r.final["test_l1"] for k, r in trained.items()}
    numbers = {f"q4_{k}_l1": formatting.l1(v) for k, v in l1.items()}
    numbers["q4_l1_ratio"] = formatting.ratio(l1["classifier"] / l1["autoencoder"])
    within = {k: spread[f"recon {k}"]["within"] / spread["input"]["within"] for k in trained}
    numbers |= {f"q4_within_vs_input_{k}": f"{100 * v:.0f} %" for k, v in within.items()}
    claims = [
        better_claim(l1),
        own_decoder_claim(l1["autoencoder"], own_l1),
        variability_claim(within),
        separation_claim(spread),
    ]
    return numbers, claims


def instance_claim(blocks: dict[str, torch.Tensor]) -> Claim:
    """Q4(b) by example: the shown digit that the classifier's encoder redraws least faithfully."""
    x = blocks["input"]
    err = {k: (blocks[LABELS[k]] - x).abs().mean(dim=(2, 3, 4)) for k in LABELS}  # [10, PER_DIGIT]
    gap = err["classifier"] - err["autoencoder"]
    digit, column = divmod(int(gap.argmax()), PER_DIGIT)
    ae, clf = err["autoencoder"][digit, column].item(), err["classifier"][digit, column].item()
    ordinal = ("first", "second", "third", "fourth")[column]
    text = (
        f"The clearest case in the figure is the {ordinal} {digit} of its row: through the "
        f"classifier's encoder it comes back far less like itself (L1 {clf:.3f}) than through "
        f"the autoencoder's (L1 {ae:.3f})."
    )
    return Claim("q4.b.instance", text, "classifier > 1.5 * ae", {"ae": ae, "classifier": clf})


def better_claim(l1) -> Claim:
    text = (
        f"The **AE encoder** gives the better reconstructions: test L1 "
        f"{formatting.l1(l1['autoencoder'])} against {formatting.l1(l1['classifier'])} through "
        f"the classifier's encoder, {l1['classifier'] / l1['autoencoder']:.2f} times lower."
    )
    return Claim(
        "q4.a.better",
        text,
        "ae < classifier",
        {"ae": l1["autoencoder"], "classifier": l1["classifier"]},
    )


def own_decoder_claim(fresh: float, own: float) -> Claim:
    text = (
        f"A fresh decoder on the AE's frozen encoder reaches {formatting.l1(fresh)}, within "
        f"{100 * abs(fresh - own) / own:.1f} % of the {formatting.l1(own)} of the Q1 "
        "autoencoder's own decoder: the code, not the decoder, limits the reconstruction."
    )
    return Claim(
        "q4.a.own_decoder", text, "abs(fresh - own) / own < 0.05", {"fresh": fresh, "own": own}
    )


def variability_claim(within) -> Claim:
    text = (
        f"The in-class variability is higher through the **AE encoder**: its reconstructions of "
        f"one digit are {100 * within['autoencoder']:.0f} % as spread out as the input images "
        f"of that digit (mean pairwise distance), those through the classifier's encoder "
        f"{100 * within['classifier']:.0f} %. Both are smoother than their inputs; the "
        "classifier's code keeps less of what makes two 4s differ, though far from nothing."
    )
    return Claim(
        "q4.c.variability",
        text,
        "classifier < ae < 1",
        {"ae": within["autoencoder"], "classifier": within["classifier"]},
    )


def separation_claim(spread) -> Claim:
    code = {k: spread[f"code {k}"]["ratio"] for k in ("autoencoder", "classifier")}
    recon = {k: spread[f"recon {k}"]["ratio"] for k in ("autoencoder", "classifier")}
    text = (
        f"The inter-class separation is higher through the **classifier's encoder**: the ratio "
        f"of between-digit to within-digit distance is {code['classifier']:.2f} in its code "
        f"against {code['autoencoder']:.2f} in the AE's, and {recon['classifier']:.2f} against "
        f"{recon['autoencoder']:.2f} in the reconstructions."
    )
    return Claim(
        "q4.d.separation",
        text,
        "code_classifier > code_ae and recon_classifier > recon_ae",
        {
            "code_classifier": code["classifier"],
            "code_ae": code["autoencoder"],
            "recon_classifier": recon["classifier"],
            "recon_ae": recon["autoencoder"],
        },
    )
