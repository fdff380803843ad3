"""Checked claims: every sentence of an answer that compares or explains is a `Claim`.

A claim holds the sentence as the book prints it (numbers filled in from this build), the measured
values it rests on, and a condition over those values, written as a Python expression. The
condition is evaluated here, on the values: the same text is what the Claims appendix and
`python -m ex2 claims` show. Under the full profile a false claim fails the page that states it
(and so the build); under the smoke profile, whose numbers mean nothing, it is shown as FAIL only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ex2.config import profile

# What a condition may call besides arithmetic and comparisons.
SAFE_FUNCTIONS = {
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
}


class ClaimFailed(AssertionError):
    """A claim that the book states is false of this build's numbers."""


@dataclass(frozen=True)
class Claim:
    id: str  # "q1.c.latent": chapter, question, topic
    text: str  # the sentence, as printed
    condition: str  # a Python expression over `values`
    values: dict = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        """The condition on the values; one that cannot be evaluated (an empty list, a division
        by zero in a degenerate smoke build) does not hold."""
        try:
            return bool(eval(self.condition, {"__builtins__": SAFE_FUNCTIONS}, dict(self.values)))
        except (ArithmeticError, ValueError, TypeError, IndexError):
            return False

    @property
    def question(self) -> str:
        return self.id.split(".")[0]

    def line(self) -> str:
        shown = ", ".join(f"{k}={short(v)}" for k, v in self.values.items())
        return f"{'PASS' if self.holds else 'FAIL'} {self.id}: {self.condition} [{shown}]"


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


def by_id(claims: list[Claim]) -> dict[str, Claim]:
    ids = [c.id for c in claims]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"claim ids used twice: {', '.join(duplicates)}")
    return {c.id: c for c in claims}


def either(condition_holds: bool, if_true: str, if_false: str) -> str:
    """Choose a sentence's wording from the data (the claim's condition then guards the rest)."""
    return if_true if condition_holds else if_false
