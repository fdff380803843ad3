"""Beyond the exercise: Q2 and Q3 repeated over draws of 100 images and over seeds, with the
1-nearest-neighbour floor on the same draws, and the draw told apart from the seed."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ex2 import experiments, formatting
from ex2.chapters import configs, q2, q3
from ex2.claims import SIGNIFICANCE, Check, Claim
from ex2.formatting import Table
from ex2.measurements import one_nn_accuracy

METHODS = {"q2": "CNN from scratch (Q2)", "q3": "frozen AE + linear (Q3)", "nn": "1-NN on pixels"}


def spread_configs():
    return {"q2": configs.repeated(configs.classifiers()), "q3": configs.repeated(configs.heads())}


def sweeps():
    """The Q2(ii) classifier over draws with model seed 0, and over model seeds on draw 0."""
    subset = configs.classifiers()["subset"]
    return {"draw": configs.draw_sweep(subset), "seed": configs.seed_sweep(subset)}


def runs():
    """The repeats; draw 0 and seed 0 are the runs of Q2 and Q3 themselves."""
    own = q2.runs() + q3.runs()
    repeats = [c for parts in spread_configs().values() for cfgs in parts.values() for c in cfgs]
    swept = [c for cfgs in sweeps().values() for c in cfgs]
    return list(dict.fromkeys(c for c in repeats + swept if c not in own))


def measurements():
    return [(one_nn_accuracy, (configs.SUBSET_SIZE, k)) for k in range(configs.spread_draws())]


@dataclass
class Spread:
    subset: dict[str, list[float]]  # test accuracy per draw, by method
    full: dict[str, list[float]]  # test accuracy per seed
    swept: dict[str, list[float]]  # the Q2(ii) classifier: over draws (seed 0), over seeds (draw 0)
    numbers: dict[str, str]
    claims: list[Claim]
    checks: list[Check]
    interpretations: list
    shared: dict


def test_accuracies(cfgs) -> list[float]:
    return [experiments.run(c).final["test_accuracy"] for c in cfgs]


@functools.cache
def results() -> Spread:
    cfgs = spread_configs()
    acc = {
        who: {part: test_accuracies(cs) for part, cs in parts.items()}
        for who, parts in cfgs.items()
    }
    subset = {
        "q2": acc["q2"]["subset"],
        "q3": acc["q3"]["subset"],
        "nn": [one_nn_accuracy(configs.SUBSET_SIZE, k) for k in range(configs.spread_draws())],
    }
    full = {"q2": acc["q2"]["full"], "q3": acc["q3"]["full"]}
    swept = {k: test_accuracies(cs) for k, cs in sweeps().items()}
    numbers = {"spread_draws": str(len(subset["q2"])), "spread_seeds": str(len(full["q2"]))}
    numbers |= {f"spread_swept_{k}": formatting.pm(v) + " %" for k, v in swept.items()}
    claims = [floor_claim(subset), draw_vs_seed_claim(swept, subset["q2"])]
    checks = [sweeps_check(sweeps())]
    shared = {
        "q2.full.test_accuracy": full["q2"][0],
        "q2.subset.test_accuracy": subset["q2"][0],
        "q3.subset.test_accuracy": subset["q3"][0],
        "draws": len(subset["q2"]),
        "seeds": len(full["q2"]),
        "spread.q2.subset": subset["q2"],
        "spread.q3.subset": subset["q3"],
        "spread.q2.full": full["q2"],
        "spread.q3.full": full["q3"],
    }
    return Spread(subset, full, swept, numbers, claims, checks, [], shared)


def per_draw_table(groups: dict[str, list[float]], repeat: str) -> Table:
    """Test accuracy (%) of each method (a column) on each draw or seed (a row), and the mean."""
    n = len(next(iter(groups.values())))
    rows = [[k, *[f"{100 * v[k]:.2f}" for v in groups.values()]] for k in range(n)]
    rows.append(["mean ± std (%)", *[formatting.pm(v) for v in groups.values()]])
    widths = {3: [16, 28, 28, 28], 2: [20, 40, 40]}[len(groups)]
    return Table([repeat, *[METHODS[k] for k in groups]], rows, widths)


def floor_claim(subset) -> Claim:
    diffs = {k: np.asarray(subset[k]) - np.asarray(subset["nn"]) for k in ("q2", "q3")}
    stats = {k: formatting.mean_std(v) for k, v in diffs.items()}
    text = (
        f"Both learned models clear the 1-NN floor on every draw: by "
        f"{formatting.points(*stats['q2'])} (CNN from scratch) "
        f"and {formatting.points(*stats['q3'])} (frozen "
        "encoder), paired over the same draws."
    )
    return Claim(
        "spread.floor",
        text,
        "min(q2_minus_nn) > 0 and min(q3_minus_nn) > 0 "
        "and clearly_ahead(q2_minus_nn) and clearly_ahead(q3_minus_nn)",
        {"q2_minus_nn": diffs["q2"].tolist(), "q3_minus_nn": diffs["q3"].tolist()},
        f"Q2(ii), Q3(ii) and 1-NN on draws 0..{len(subset['nn']) - 1} (draw k: subset seed k, "
        "model seed k); test set",
    )


def draw_vs_seed_claim(swept, both: list[float]) -> Claim:
    draw_std = formatting.mean_std(swept["draw"])[1]
    seed_std = formatting.mean_std(swept["seed"])[1]
    n_draws, n_seeds = len(swept["draw"]), len(swept["seed"])
    text = (
        f"With 100 images, the draw does not dominate the model seed: with the draw fixed, the "
        f"CNN's test accuracy varies by {100 * seed_std:.2f} points (std over {n_seeds} seeds); "
        f"with the seed fixed, by {100 * draw_std:.2f} points (std over {n_draws} draws), and "
        f"an F test of the two variances does not tell them apart at "
        f"{100 * SIGNIFICANCE:.0f} % (with so few of each, only a large difference would show). "
        f"Varied together (draw $k$ with seed $k$), the accuracy "
        f"spreads by {100 * formatting.mean_std(both)[1]:.2f} points."
    )
    return Claim(
        "spread.draw_vs_seed",
        text,
        "not different_spread(over_draws, over_seeds) and not far_more_spread(over_draws, "
        "over_seeds)",
        {"over_draws": swept["draw"], "over_seeds": swept["seed"]},
        f"the Q2(ii) classifier on draws 0..{n_draws - 1} with model seed 0, and with model "
        f"seeds 0..{n_seeds - 1} on draw 0; test set",
    )


def sweeps_check(swept_configs) -> Check:
    """The sweep over draws holds one model seed, the sweep over seeds one draw."""
    over_draws, over_seeds = swept_configs["draw"], swept_configs["seed"]
    return Check(
        "spread.check.sweeps",
        "the runs 'over draws' share one model seed and differ in the draw; the runs 'over "
        "seeds' share one draw and differ in the model seed",
        "len(set(draws_seeds)) == 1 and len(set(draws_draws)) == len(draws_draws) "
        "and len(set(seeds_draws)) == 1 and len(set(seeds_seeds)) == len(seeds_seeds)",
        {
            "draws_seeds": [c.seed for c in over_draws],
            "draws_draws": [c.subset_seed for c in over_draws],
            "seeds_draws": [c.subset_seed for c in over_seeds],
            "seeds_seeds": [c.seed for c in over_seeds],
        },
        "the run configs of the two sweeps",
    )
