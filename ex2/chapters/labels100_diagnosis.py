"""The labels100 page's diagnosis of label spreading (`spreading.spread_diagnosis`): where step 4's
spread goes wrong, on every draw and on its worst, what each change of step 5 does to it, and
step 5's own worst draw. Scored on the unlabelled training images, by their true labels."""

from __future__ import annotations

import numpy as np

from ex2 import formatting, spreading
from ex2.claims import Claim

SPREADS = {  # the spreads of spreading.spread_diagnosis, each one change from the one before
    "step4": "step 4: AE codes, seeds as labelled",
    "seed_mass": "+ per-class seed mass",
    "iterations": "+ step 5's iterations",
    "step5": "+ conv features' graph = step 5's first spread",
}


def spread_rows(diagnosis, settings: dict) -> list[list]:
    """Per spread: its iterations, its accuracy on the unlabelled images of each draw, and their
    mean ± std."""
    rows = []
    for name, label in SPREADS.items():
        accs = spread_accuracy(diagnosis, name)
        iterations = settings[spreading.SPREADS[name][2]]
        rows.append([label, iterations, *[f"{100 * a:.2f}" for a in accs], formatting.pm(accs)])
    return rows


def spread_accuracy(diagnosis, name: str) -> list[float]:
    counts = [np.asarray(d["confusion"][name]) for d in diagnosis["draws"]]
    return [float(np.trace(c) / c.sum()) for c in counts]


def spread_gain(diagnosis, name: str, before: str) -> list[float]:
    """Per draw, how much spread `name` adds to the accuracy of spread `before`."""
    gain = np.asarray(spread_accuracy(diagnosis, name))
    return (gain - np.asarray(spread_accuracy(diagnosis, before))).tolist()


def share_of(counts, true: int, spread: int) -> float:
    """The share of the true class's unlabelled images that the spread labels `spread`."""
    counts = np.asarray(counts)
    return float(counts[true, spread] / counts[true].sum())


def largest_confusion(counts) -> tuple[int, int, float]:
    """The (true class, spread class) pair with the most images, and `share_of` it."""
    counts = np.asarray(counts)
    off = counts - np.diag(np.diag(counts))
    true, spread = np.unravel_index(off.argmax(), off.shape)
    return int(true), int(spread), share_of(counts, true, spread)


def source(diagnosis) -> str:
    return (
        f"spreading.spread_diagnosis on draws 0..{len(diagnosis['draws']) - 1}: the 59,900 "
        "unlabelled training images of each draw scored by their true labels after the spreading"
    )


def diagnosis_claims(diagnosis, label_spread_test) -> list[Claim]:
    """Where step 4's spread goes wrong (on every draw and on its worst, the draw of step 4's
    lowest test accuracy), and what each change of step 5 does to it."""
    worst = int(np.argmin(label_spread_test))
    return [
        imbalance_claim(diagnosis),
        worst_draw_claim(diagnosis, worst, label_spread_test[worst]),
        worst_draw_fixed_claim(diagnosis, worst),
        spread_gain_claim(diagnosis),
    ]


def imbalance_claim(diagnosis) -> Claim:
    draws = diagnosis["draws"]
    pairs = [largest_confusion(d["confusion"]["step4"])[:2] for d in draws]
    return Claim(
        "labels100.imbalance",
        f"On each of the {len(draws)} draws, the largest confusion of step 4's spread sends "
        "unlabelled images of one class to a class with more labels among the 100 (true "
        f"class → spread class: {', '.join(f'{t}→{s}' for t, s in pairs)}).",
        "all(counts[s] > counts[t] for counts, (t, s) in zip(label_counts, pairs))",
        {"label_counts": [d["label_counts"] for d in draws], "pairs": pairs},
        source(diagnosis),
    )


def worst_draw_claim(diagnosis, worst: int, test_accuracy: float) -> Claim:
    draw = diagnosis["draws"][worst]
    true, spread, share = largest_confusion(draw["confusion"]["step4"])
    counts = draw["label_counts"]
    return Claim(
        "labels100.worst_draw",
        f"On draw {worst}, step 4's worst ({100 * test_accuracy:.2f} % on the test set), its "
        f"spread labels {formatting.pct(share)} of the unlabelled {true}s as {spread}s, the class "
        f"with more labels: the draw's 100 labels hold {counts[spread]} of class {spread} and "
        f"{counts[true]} of class {true}.",
        "counts_to > counts_from",
        {"counts_to": counts[spread], "counts_from": counts[true], "share": share},
        source(diagnosis) + f"; draw {worst}, the lowest test accuracy of step 4",
    )


def worst_draw_fixed_claim(diagnosis, worst: int) -> Claim:
    """On the worst draw, the share of step 4's largest confusion after each change, and how
    often the two classes meet in each graph."""
    confused = diagnosis["draws"][worst]["confusion"]
    true, spread, _ = largest_confusion(confused["step4"])
    shares = {name: share_of(confused[name], true, spread) for name in SPREADS}
    edges = {g: diagnosis["edge_classes"][g][true][spread] for g in ("codes", "conv")}
    pct = formatting.pct
    return Claim(
        "labels100.worst_draw_fixed",
        f"Per-class seed mass on the same graph cuts that share far, to "
        f"{pct(shares['seed_mass'])}. With step 5's iterations it is "
        f"{pct(shares['iterations'])} on the codes' graph and lower, "
        f"{pct(shares['step5'])}, on the conv features' graph (step 5's first spread), "
        f"where {pct(edges['conv'])} of the {true}s' edges end at {spread}s, against "
        f"{pct(edges['codes'])} in the codes' graph.",
        "far(step4, seed_mass) and lower(step5, iterations) and lower(conv_edges, codes_edges)",
        shares | {"codes_edges": edges["codes"], "conv_edges": edges["conv"]},
        source(diagnosis)
        + f"; draw {worst}; graphs' edges between the two classes' training images",
    )


def spread_gain_claim(diagnosis) -> Claim:
    seed_gain = spread_gain(diagnosis, "seed_mass", "step4")
    conv_gain = spread_gain(diagnosis, "step5", "iterations")
    return Claim(
        "labels100.spread_gain",
        "Over the draws, per-class seed mass adds "
        f"{formatting.pm(seed_gain, decimals=2)} points to the accuracy of step 4's spread on "
        "the unlabelled images, and the conv features' graph adds "
        f"{formatting.pm(conv_gain, decimals=2)} points to that of the same spread on the "
        "codes' graph (both with step 5's iterations).",
        "clearly_ahead(seed_gain) and clearly_ahead(conv_gain)",
        {"seed_gain": seed_gain, "conv_gain": conv_gain},
        source(diagnosis),
    )


def step5_worst_claim(diagnosis, step5_test) -> Claim:
    """Step 5's lowest draw against the draw with the scarcest class, and that class in step 5's
    first spread on it."""
    counts = np.asarray([d["label_counts"] for d in diagnosis["draws"]])
    lowest, scarcest = int(np.argmin(step5_test)), int(np.argmin(counts.min(1)))
    scarce_class = int(counts[scarcest].argmin())
    confused = np.asarray(diagnosis["draws"][lowest]["confusion"]["step5"], dtype=float)
    errors = 1 - np.diag(confused) / confused.sum(1)
    error_all = 1 - np.trace(confused) / confused.sum()
    text = (
        f"Step 5's lowest draw, draw {lowest} ({100 * step5_test[lowest]:.2f} %), is the draw "
        f"whose 100 labels hold the fewest images of one class ({counts[scarcest].min()} of "
        f"class {scarce_class}), and on that draw class {scarce_class} is the class that step "
        f"5's first spread labels wrong most often: {formatting.pct(errors[scarce_class])} of "
        f"its unlabelled images, against {formatting.pct(error_all)} over the ten classes."
    )
    return Claim(
        "labels100.step5_worst_draw",
        text,
        "lowest == scarcest and worst_class == scarce_class and higher(error_class, error_all)",
        {
            "lowest": lowest,
            "scarcest": scarcest,
            "worst_class": int(errors.argmax()),
            "scarce_class": scarce_class,
            "error_class": float(errors[scarce_class]),
            "error_all": float(error_all),
        },
        "method 5's test accuracy per draw; the class counts of each draw's 100 labels; "
        "spreading.spread_diagnosis, step 5's first spread on that draw's unlabelled images",
    )
