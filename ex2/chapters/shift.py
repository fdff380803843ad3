"""Beyond the exercise: how the Q2(i) classifier copes with translated test digits."""

from __future__ import annotations

from dataclasses import dataclass

from ex2 import formatting
from ex2.chapters import runs as R
from ex2.claims import Claim
from ex2.measurements import shift_robustness

MAX_SHIFT = 4


def runs():
    return []


def measurements():
    return [(shift_robustness, (R.classifiers()["full"], MAX_SHIFT))]


@dataclass
class Shift:
    curve: list[float]  # test accuracy at shifts 0..MAX_SHIFT pixels
    consistency: float
    numbers: dict[str, str]
    claims: list[Claim]


def results() -> Shift:
    measured = shift_robustness(R.classifiers()["full"], MAX_SHIFT)
    curve, consistency = measured["curve"], measured["consistency"]
    numbers = {f"shift_acc_{k}": formatting.pct(a) for k, a in enumerate(curve)}
    numbers["shift_consistency"] = formatting.pct(consistency)
    return Shift(curve, consistency, numbers, [falls_claim(curve), consistency_claim(consistency)])


def falls_claim(curve) -> Claim:
    text = (
        f"Accuracy falls with every pixel of shift, from {formatting.pct(curve[0])} unshifted "
        f"to {formatting.pct(curve[1])}, {formatting.pct(curve[2])} and "
        f"{formatting.pct(curve[MAX_SHIFT])} at 1, 2 and {MAX_SHIFT} pixels: the classifier "
        "is not invariant to translation, and a 4-pixel shift costs a third of the digits."
    )
    return Claim(
        "shift.falls",
        text,
        "all(a > b for a, b in zip(curve, curve[1:])) and curve[0] - curve[-1] > 0.2",
        {"curve": list(curve)},
    )


def consistency_claim(consistency: float) -> Claim:
    text = (
        f"Even one pixel matters: two random shifts of at most one pixel of the same digit get "
        f"the same prediction only {formatting.pct(consistency)} of the time."
    )
    return Claim("shift.consistency", text, "consistency < 0.99", {"consistency": consistency})
