"""Checked claims: every sentence of the book that states a measured result is a `Claim`.

A claim holds the sentence as the book prints it (numbers filled in from this build), the measured
values it rests on, where they come from, and a condition over those values, written as a Python
expression. The condition may use the words of `VOCABULARY`: each word a result sentence uses
("lower", "far", "clearly ahead", "memorised", ...) is a predicate here, with its threshold written
once, so that a sentence can only be as strong as its words are defined. The condition is
evaluated on the values: the same text is what the Claims appendix and `python -m ex2 claims`
show. Under the full profile a false claim fails the page that states it (and so the build); under
the smoke profile, whose numbers mean nothing, it is shown as FAIL only.

A claim checks numbers, not wording: whether the sentence's words say what its condition tests is
the job of the vocabulary (one meaning per word) and of review. An explanation that no measurement
of this build tests is an `Interpretation`: printed apart, in an admonition, and counted apart.
A `Check` is a claim without a sentence: a consistency check between numbers the book prints in
several places, or a sanity bound that a number read from the wrong run or split would break.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ex2.config import profile

# --------------------------------------------------------------------------- the vocabulary
# Effect sizes. Each is used by the words below and nowhere else.

MIN_EFFECT = 0.05
""""lower", "higher", "helps", of a loss or a ratio measured on single runs: they differ by at
least 5 %. The check `q4.check.noise` shows that this is at least twice the difference between two
decoders trained apart on the same code (retraining noise measured in this build). Accuracies are
compared with the tests below instead, whose thresholds come from the spread of the data."""

FAR = 3.0
""""far more", "far less", "far smaller": one value is at least 3 times the other."""

SIGNIFICANCE = 0.05
"""Paired comparisons over draws or seeds: a two-sided test at 5 % (t test on the paired
differences; F test on two spreads)."""

CORRELATION = 0.3
""""the more ..., the more ...": a rank correlation of at least 0.3 (Cohen's "medium"),
significant at SIGNIFICANCE."""

SETTLED = 0.01
"""A run has settled when its last epoch changed the test loss by less than 1 %."""

MEMORISED_TRAIN = 0.99
""""memorised": at least 99 % accuracy on the training images..."""

TRANSFER_GAP = 0.10
"""...and at least 10 points more than on the test set."""


def lower(a, b) -> bool:
    """a is lower than b by at least MIN_EFFECT of b."""
    return a <= (1 - MIN_EFFECT) * b


def higher(a, b) -> bool:
    """a is higher than b by at least MIN_EFFECT of b."""
    return a >= (1 + MIN_EFFECT) * b


def far(a, b) -> bool:
    """a is at least FAR times b."""
    return a >= FAR * b


def settled(change) -> bool:
    return abs(change) < SETTLED


def t_threshold(n: int) -> float:
    """The t statistic a mean of n paired differences must exceed (two-sided SIGNIFICANCE)."""
    return float(stats.t.ppf(1 - SIGNIFICANCE / 2, n - 1))


def below(a, b, n) -> bool:
    """Accuracy a is below accuracy b, both measured on n images: the difference exceeds the
    two-sided SIGNIFICANCE quantile of its binomial standard error."""
    se = math.sqrt((a * (1 - a) + b * (1 - b)) / n)
    return b - a > stats.norm.ppf(1 - SIGNIFICANCE / 2) * se


def clearly_ahead(diffs) -> bool:
    """Paired differences whose mean is positive and significant: t = mean / (std / sqrt(n))
    above t_threshold(n)."""
    d = np.asarray(diffs, dtype=float)
    if len(d) < 2 or d.std(ddof=1) == 0:
        return len(d) >= 2 and d.mean() > 0
    return d.mean() / (d.std(ddof=1) / math.sqrt(len(d))) > t_threshold(len(d))


def clearly_behind(diffs) -> bool:
    return clearly_ahead([-v for v in diffs])


def different_spread(a, b) -> bool:
    """An F test tells the variances of the values a and b apart (two-sided SIGNIFICANCE)."""
    va, vb = np.var(a, ddof=1), np.var(b, ddof=1)
    f = va / vb if vb > 0 else math.inf
    upper = stats.f.ppf(1 - SIGNIFICANCE / 2, len(a) - 1, len(b) - 1)
    lower = stats.f.ppf(SIGNIFICANCE / 2, len(a) - 1, len(b) - 1)
    return bool(f > upper or f < lower)


def far_more_spread(a, b) -> bool:
    """The values a vary far more than the values b: a standard deviation at least FAR times
    b's, and the F test tells the two apart."""
    return bool(np.std(a, ddof=1) >= FAR * np.std(b, ddof=1) and different_spread(a, b))


def goes_with(rho, p) -> bool:
    """A rank correlation rho (with its p-value p) that supports "the more ..., the more ..."."""
    return rho >= CORRELATION and p < SIGNIFICANCE


def memorised(train_accuracy, test_accuracy) -> bool:
    return train_accuracy >= MEMORISED_TRAIN and train_accuracy - test_accuracy >= TRANSFER_GAP


SAME = 1e-6
"""Two computations of one number (recorded in training, recomputed from a cached measurement)
agree to this relative tolerance: float32 rounding, far below any printed digit."""


def same(*values) -> bool:
    """Every value equal to the first, to SAME (lists element by element)."""

    def close(a, b) -> bool:
        if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
            return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
        return abs(a - b) <= SAME * max(1.0, abs(a), abs(b))

    return all(close(v, values[0]) for v in values)


@dataclass(frozen=True)
class Word:
    function: object
    meaning: str


VOCABULARY = {
    "lower": Word(lower, f"at least {100 * MIN_EFFECT:.0f} % below"),
    "higher": Word(higher, f"at least {100 * MIN_EFFECT:.0f} % above"),
    "far": Word(far, f"at least {FAR:g} times"),
    "settled": Word(settled, f"last-epoch change under {100 * SETTLED:.0f} %"),
    "below": Word(
        below,
        f"accuracy lower by more than the binomial noise, two-sided {100 * SIGNIFICANCE:.0f} %",
    ),
    "clearly_ahead": Word(
        clearly_ahead, f"paired t test, mean difference > 0, two-sided {100 * SIGNIFICANCE:.0f} %"
    ),
    "clearly_behind": Word(
        clearly_behind, f"paired t test, mean difference < 0, two-sided {100 * SIGNIFICANCE:.0f} %"
    ),
    "different_spread": Word(
        different_spread, f"F test of the variances, two-sided {100 * SIGNIFICANCE:.0f} %"
    ),
    "far_more_spread": Word(far_more_spread, f"std at least {FAR:g} times, and different_spread"),
    "goes_with": Word(
        goes_with,
        f"rank correlation ≥ {CORRELATION:g}, significant at {100 * SIGNIFICANCE:.0f} %",
    ),
    "memorised": Word(
        memorised,
        f"train accuracy ≥ {100 * MEMORISED_TRAIN:.0f} % and ≥ {100 * TRANSFER_GAP:.0f} points "
        "above test",
    ),
    "same": Word(same, f"equal, to a relative {SAME:g}"),
}


def mean(values) -> float:
    return float(np.mean(values))


def std(values) -> float:
    """The sample standard deviation, the one `formatting.pm` prints."""
    return float(np.std(values, ddof=1))


# What a condition may call besides arithmetic and comparisons: a few builtins, the statistics a
# condition recomputes to check a printed one, and the vocabulary.
SAFE_FUNCTIONS = {
    "mean": mean,
    "std": std,
    "abs": abs,
    "zip": zip,
    "all": all,
    "any": any,
    "len": len,
    "max": max,
    "min": min,
    "sorted": sorted,
    "sum": sum,
    "set": set,
    **{name: word.function for name, word in VOCABULARY.items()},
}


class ClaimFailed(AssertionError):
    """A claim that the book states is false of this build's numbers."""


@dataclass(frozen=True)
class Claim:
    id: str  # "q1.c.latent": chapter, question, topic
    text: str  # the sentence, as printed
    condition: str  # a Python expression over `values`
    values: dict = field(default_factory=dict)
    source: str = ""  # where the values come from: runs, split, draws or seeds, statistic
    short: str = ""  # the answer's short form for the glance table (same condition and values)

    @property
    def holds(self) -> bool:
        """The condition on the values; one that cannot be evaluated (an empty list, a division
        by zero in a degenerate smoke build) does not hold."""
        try:
            # the values as globals, so that a comprehension's body sees them too
            scope = {**self.values, "__builtins__": SAFE_FUNCTIONS}
            return bool(eval(self.condition, scope))
        except (ArithmeticError, ValueError, TypeError, IndexError):
            return False

    @property
    def question(self) -> str:
        return self.id.split(".")[0]

    @property
    def words(self) -> list[str]:
        """The vocabulary words the condition uses."""
        used = set(re.findall(r"[A-Za-z_]+", self.condition))
        return [w for w in VOCABULARY if w in used]

    def line(self) -> str:
        shown = ", ".join(f"{k}={short(v)}" for k, v in self.values.items())
        return f"{'PASS' if self.holds else 'FAIL'} {self.id}: {self.condition} [{shown}]"


class Check(Claim):
    """A consistency check or sanity bound: a claim whose text is not printed as a sentence."""


@dataclass(frozen=True)
class Interpretation:
    """An explanation that no measurement of this build tests: printed in an "Interpretation"
    admonition, never as a result."""

    id: str
    text: str
    untested: str  # what would test it (shown in the appendix)

    @property
    def question(self) -> str:
        return self.id.split(".")[0]


def short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(short(v) for v in value) + "]"
    return str(value)


def enforce(claims: list[Claim]) -> list[Claim]:
    """Raise ClaimFailed for false claims under the full profile; return the claims."""
    failed = [c for c in claims if not c.holds]
    if failed and profile() == "full":
        raise ClaimFailed("false claims in this build:\n" + "\n".join(c.line() for c in failed))
    return claims


def by_id(claims: list) -> dict:
    ids = [c.id for c in claims]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"claim ids used twice: {', '.join(duplicates)}")
    return {c.id: c for c in claims}
