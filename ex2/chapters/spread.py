"""Beyond the exercise: Q2 and Q3 repeated over draws of 100 images and over seeds, with the
1-nearest-neighbour floor on the same draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ex2 import experiments, formatting
from ex2.chapters import q2, q3
from ex2.chapters import runs as R
from ex2.claims import Claim
from ex2.measurements import one_nn_accuracy

METHODS = {"q2": "CNN from scratch (Q2)", "q3": "frozen AE + linear (Q3)", "nn": "1-NN on pixels"}


def spread_configs():
    return {"q2": R.repeated(R.classifiers()), "q3": R.repeated(R.heads())}


def runs():
    """The repeats; draw 0 and seed 0 are the runs of Q2 and Q3 themselves."""
    own = q2.runs() + q3.runs()
    return [
        c
        for parts in spread_configs().values()
        for cfgs in parts.values()
        for c in cfgs
        if c not in own
    ]


def measurements():
    return [(one_nn_accuracy, (R.SUBSET_SIZE, k)) for k in range(R.spread_draws())]


@dataclass
class Spread:
    subset: dict[str, list[float]]  # test accuracy per draw, by method
    full: dict[str, list[float]]  # test accuracy per seed
    numbers: dict[str, str]
    claims: list[Claim]


def results() -> Spread:
    cfgs = spread_configs()
    acc = {
        who: {
            part: [experiments.run(c).final["test_accuracy"] for c in cs]
            for part, cs in parts.items()
        }
        for who, parts in cfgs.items()
    }
    subset = {
        "q2": acc["q2"]["subset"],
        "q3": acc["q3"]["subset"],
        "nn": [one_nn_accuracy(R.SUBSET_SIZE, k) for k in range(R.spread_draws())],
    }
    full = {"q2": acc["q2"]["full"], "q3": acc["q3"]["full"]}
    numbers = {"spread_draws": str(len(subset["q2"])), "spread_seeds": str(len(full["q2"]))}
    numbers |= {f"spread_sub_{k}": formatting.pm(v) + " %" for k, v in subset.items()}
    numbers |= {f"spread_full_{k}": formatting.pm(v) + " %" for k, v in full.items()}
    claims = [floor_claim(subset), draw_matters_claim(subset, full)]
    return Spread(subset, full, numbers, claims)


def per_draw_rows(groups: dict[str, list[float]], first: str) -> list[list]:
    n = len(next(iter(groups.values())))
    rows = [[k, *[f"{100 * v[k]:.2f}" for v in groups.values()]] for k in range(n)]
    rows.append([f"mean ± std ({first})", *[formatting.pm(v) for v in groups.values()]])
    return rows


def floor_claim(subset) -> Claim:
    diffs = {k: np.asarray(subset[k]) - np.asarray(subset["nn"]) for k in ("q2", "q3")}
    stats = {k: formatting.mean_std(v) for k, v in diffs.items()}
    text = (
        f"Both learned models clear the 1-NN floor on every draw: by "
        f"{100 * stats['q2'][0]:+.2f} ± {100 * stats['q2'][1]:.2f} points (CNN from scratch) "
        f"and {100 * stats['q3'][0]:+.2f} ± {100 * stats['q3'][1]:.2f} points (frozen "
        "encoder), paired over the same draws."
    )
    return Claim(
        "spread.floor",
        text,
        "min(q2_minus_nn) > 0 and min(q3_minus_nn) > 0",
        {"q2_minus_nn": diffs["q2"].tolist(), "q3_minus_nn": diffs["q3"].tolist()},
    )


def draw_matters_claim(subset, full) -> Claim:
    sub_std = formatting.mean_std(subset["q2"])[1]
    full_std = formatting.mean_std(full["q2"])[1]
    text = (
        f"The draw of the 100 images moves the result far more than the seed does with all "
        f"labels: the CNN's test accuracy varies by {100 * sub_std:.2f} points (std) over the "
        f"draws, against {100 * full_std:.2f} over seeds on full data. One draw alone says "
        "little."
    )
    return Claim(
        "spread.draw_matters",
        text,
        "draw_std > 10 * seed_std",
        {"draw_std": sub_std, "seed_std": full_std},
    )
