"""Q1 (a) and (d), read from the models themselves: which (c, d) pairs build, which layers see d,
the encoder's receptive fields and activation sizes."""

from __future__ import annotations

import math

import torch

from ex2 import analysis, formatting
from ex2.claims import Claim
from ex2.formatting import Table
from ex2.models import ConvAutoencoder, count_parameters

SHAPE_GRID = [(c, d) for c in (1, 4, 16, 32) for d in (2, 4, 16, 64)]


def shape_rows() -> list[list]:
    """(a): every (c, d) pair of a grid builds, and maps a batch to codes and images."""
    rows, x = [], torch.rand(2, 1, 28, 28)
    for c, d in SHAPE_GRID:
        model = ConvAutoencoder(c, d).eval()
        with torch.no_grad():
            z, x_hat = model.encoder(x), model(x)
        shapes = ["×".join(map(str, t.shape)) for t in (z, x_hat)]
        rows.append([c, d, *shapes, count_parameters(model.encoder), count_parameters(model)])
    return rows


def numbers(model) -> dict[str, str]:
    field = analysis.receptive_fields(model.encoder)[-1]
    return {"q1_receptive_field": str(field), "q1_pairs": str(len(SHAPE_GRID))}


def shape_table() -> Table:
    headers = ["c", "d", "code shape", "output shape", "encoder parameters", "parameters"]
    return Table(headers, shape_rows(), [8, 8, 16, 22, 24, 22])


def layer_table(rows: list[list]) -> Table:
    headers = ["layer", "type", "output", "kernel", "stride", "padding", "parameters"]
    return Table(headers, rows, [30, 17, 13, 9, 9, 10, 12])  # room for the layer names


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
