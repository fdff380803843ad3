"""The result of checking one claim of the theory answers.

Every check in this package ends in a :class:`ClaimResult`: what was claimed
(in words), what was measured, how large it was, the tolerance it was judged
against and the data needed to show it in the book.

Two kinds of claims are checked:

* ``expect="holds"`` -- an identity such as ``f(Sx) == S f(x)``.  The measured
  error must be *at most* the tolerance (1e-12 for exact float64 identities).
* ``expect="fails"`` -- a negative statement such as "strided pooling is not
  shift-equivariant".  The check passes only when a concrete violation *larger*
  than the tolerance was found; the violating input is kept in ``data``.

A NaN error never passes, whatever is expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

EXACT_TOL = 1e-12
"""Tolerance for identities that hold exactly in float64 (rounding only)."""

VIOLATION_TOL = 1e-6
"""A violation must exceed this to count as real (far above float64 rounding)."""


@dataclass(frozen=True)
class ClaimResult:
    question: str  # "T1", "T2a", ..., "T3c"
    claim: str  # the claim in words
    quantity: str  # what was measured, e.g. "max |f(Sx) - S f(x)|"
    error: float  # the measured value of `quantity`
    tolerance: float
    expect: str  # "holds": error <= tolerance; "fails": error > tolerance
    passed: bool
    data: dict = field(default_factory=dict, compare=False, repr=False)

    def line(self) -> str:
        """One line for the CLI: question, claim, measured error, tolerance, verdict."""
        relation = "<=" if self.expect == "holds" else ">"
        verdict = "PASS" if self.passed else "FAIL"
        tol = f"{self.tolerance:.0e}" if self.tolerance else "0"
        return (
            f"{self.question:<4} {self.claim}  |  {self.quantity} = {self.error:.3g}"
            f" (need {relation} {tol})  {verdict}"
        )


def judge(error: float, tolerance: float, expect: str) -> bool:
    """Pass/fail rule shared by every check."""
    if expect not in ("holds", "fails"):
        raise ValueError(f"expect must be 'holds' or 'fails', got {expect!r}")
    error = float(error)
    if math.isnan(error):
        return False
    if expect == "holds":
        return error <= tolerance
    return error > tolerance


def make_result(
    question: str,
    claim: str,
    quantity: str,
    error: float,
    tolerance: float,
    expect: str = "holds",
    data: dict | None = None,
) -> ClaimResult:
    """Build a ClaimResult, deciding `passed` with :func:`judge`."""
    error = float(error)
    return ClaimResult(
        question=question,
        claim=claim,
        quantity=quantity,
        error=error,
        tolerance=float(tolerance),
        expect=expect,
        passed=judge(error, tolerance, expect),
        data=dict(data or {}),
    )
