"""Beyond the exercise: how the Q2(i) classifier copes with translated test digits."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ex2 import formatting
from ex2.chapters import configs
from ex2.claims import Check, Claim, Interpretation
from ex2.data import TEST_IMAGES
from ex2.measurements import MNIST_CENTRE, centre_offsets, shift_robustness

MAX_SHIFT = 4
DIRECTIONS = 4  # as the page and the claims say: up, down, left and right
SOURCE = "the Q2(i) classifier (seed 0); test set (10,000 images)"


def runs():
    return []


def measurements():
    return [(shift_robustness, (configs.classifiers()["full"], MAX_SHIFT)), (centre_offsets, ())]


@dataclass
class Shift:
    curve: list[float]  # test accuracy at shifts 0..MAX_SHIFT pixels, mean over directions
    consistency: float
    numbers: dict[str, str]
    claims: list[Claim]
    checks: list[Check]
    interpretations: list[Interpretation]
    shared: dict


INTERPRETATIONS = [
    Interpretation(
        "shift.why",
        "Two things would leave it sensitive: it was trained on centred digits only (above), and "
        "its architecture: the stride-2 layers make "
        "its features depend on where the digit sits relative to the sampling grid (the "
        "non-equivariance that the theory chapter measures), and the fully connected layer to "
        "the code reads each feature at a fixed position, so nothing in the network is built to "
        "be invariant to translation.",
        "no variant with global pooling or trained on shifted digits was run",
    )
]


@functools.cache
def results() -> Shift:
    measured = shift_robustness(configs.classifiers()["full"], MAX_SHIFT)
    curve, consistency = measured["curve"], measured["consistency"]
    unshifted = curve[0]
    offsets = centre_offsets()
    numbers = {}
    claims = [centred_claim(offsets), falls_claim(curve), consistency_claim(consistency, unshifted)]
    checks = [directions_check(measured), centre_check(offsets)]
    shared = {"q2.full.test_accuracy": unshifted}
    return Shift(curve, consistency, numbers, claims, checks, INTERPRETATIONS, shared)


def centred_claim(offsets) -> Claim:
    text = (
        f"MNIST centres each digit by its centre of mass: in the training set, every one of "
        f"the {formatting.count(offsets['images'])} digits has its centre of mass within "
        f"{offsets['max']:.2f} pixels of pixel {MNIST_CENTRE}, in rows and in columns: less "
        "than a pixel."
    )
    return Claim(
        "shift.centred",
        text,
        "largest_offset < 1",
        {"largest_offset": offsets["max"]},
        "the 60,000 training images; centre of mass of the pixel intensities",
    )


def falls_claim(curve) -> Claim:
    text = (
        f"Accuracy falls with every pixel of shift, from {formatting.pct(curve[0])} unshifted "
        f"to {formatting.pct(curve[1])}, {formatting.pct(curve[2])} and "
        f"{formatting.pct(curve[MAX_SHIFT])} at 1, 2 and {MAX_SHIFT} pixels: the classifier "
        f"is not invariant to translation, and {MAX_SHIFT} pixels cost "
        f"{100 * (curve[0] - curve[MAX_SHIFT]):.0f} points."
    )
    return Claim(
        "shift.falls",
        text,
        "all(below(b, a, n) for a, b in zip(curve, curve[1:]))",
        {"curve": list(curve), "n": TEST_IMAGES},
        SOURCE + "; mean over shifts up, down, left and right (zero fill)",
    )


def consistency_claim(consistency: float, accuracy: float) -> Claim:
    text = (
        f"Even one pixel matters: two random shifts of up to one pixel of the same digit get "
        f"different predictions for {formatting.pct(1 - consistency)} of the test digits, "
        f"{(1 - consistency) / (1 - accuracy):.1f} times the classifier's error rate on unshifted "
        f"digits ({formatting.pct(1 - accuracy)})."
    )
    return Claim(
        "shift.consistency",
        text,
        "below(consistency, accuracy, n)",
        {"consistency": consistency, "accuracy": accuracy, "n": TEST_IMAGES},
        SOURCE + "; each image shifted twice by offsets drawn from {-1, 0, 1}² (seeded)",
    )


def directions_check(measured) -> Check:
    """Each shifted point of the curve is the mean over the four directions it states."""
    by_direction, curve = measured["by_direction"], measured["curve"]
    counts = [len(a) for a in by_direction]
    means = [sum(a) / len(a) for a in by_direction]
    return Check(
        "shift.check.directions",
        f"every shifted point of the curve averages the {DIRECTIONS} directions it states",
        f"counts == [1] + [{DIRECTIONS}] * (len(counts) - 1) "
        "and all(abs(a - b) < 1e-9 for a, b in zip(means, curve))",
        {"counts": counts, "means": means, "curve": curve},
        SOURCE,
    )


def centre_check(offsets) -> Check:
    """The centres of mass agree with scipy's on the first training images."""
    return Check(
        "shift.check.centre",
        "the centre-of-mass offsets agree with scipy.ndimage's on the first training images",
        "same(first, first_by_scipy)",
        {"first": offsets["first"], "first_by_scipy": offsets["first_by_scipy"]},
        "the first training images",
    )
