"""The result of checking one claim of the theory answers, and the tolerances of every check.

Every check in this package ends in a :class:`ClaimResult`: a stable id, what was claimed (in
words), what was measured, how large it was, the tolerance it was judged against and the data
needed to show it in the book.  The book finds a result by its id, never by its wording.

Ids read ``<question>.<name>``, e.g. ``T2c.max_pool_1d_not_equivariant``: the question (T1, T2a
.. T2d, T3a .. T3c), a dot, then lower-case letters, digits and underscores.

Three kinds of claims, one tolerance each (all defined here and nowhere else):

* ``expect="holds"`` -- a float64 identity such as ``f(Sx) == S f(x)``.  The measured error must
  be *at most* ``IDENTITY_TOL`` (rounding only; most errors are exactly 0).
* ``expect="fails"`` -- a negative statement such as "strided pooling is not shift-equivariant".
  It passes only when a concrete violation *larger* than ``VIOLATION_TOL`` was found; the
  violating input is kept in ``data``.
* symbolic identities (sympy) count the entries that differ; ``SYMBOLIC_TOL`` is 0.

A NaN error never passes, whatever is expected.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

IDENTITY_TOL = 1e-12
"""An identity that holds exactly in float64 may differ by rounding only."""

VIOLATION_TOL = 1e-6
"""A violation must exceed this to count as real (far above float64 rounding)."""

SYMBOLIC_TOL = 0
"""A symbolic (sympy) identity: the number of differing entries must be 0."""

ID_PATTERN = re.compile(r"T[123][a-d]?\.[a-z0-9_]+")


@dataclass(frozen=True)
class ClaimResult:
    id: str  # "T2c.max_pool_1d_not_equivariant": question, dot, name
    claim: str  # the claim in words
    quantity: str  # what was measured, e.g. "max |f(S_s x) - S_s f(x)|"
    error: float  # the measured value of `quantity`
    tolerance: float
    expect: str  # "holds": error <= tolerance; "fails": error > tolerance
    passed: bool
    data: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def question(self) -> str:
        """The exercise question the claim answers: "T1", "T2a", ..., "T3c"."""
        return self.id.partition(".")[0]

    def line(self) -> str:
        """One line for the CLI: id, claim, measured error, tolerance, verdict."""
        relation = "<=" if self.expect == "holds" else ">"
        verdict = "PASS" if self.passed else "FAIL"
        tol = f"{self.tolerance:.0e}" if self.tolerance else "0"
        return (
            f"{self.id}  {self.claim}  |  {self.quantity} = {self.error:.3g}"
            f" (need {relation} {tol})  {verdict}"
        )


def default_tolerance(expect: str) -> float:
    """The tolerance of a float64 check: IDENTITY_TOL for "holds", VIOLATION_TOL for "fails"."""
    if expect not in ("holds", "fails"):
        raise ValueError(f"expect must be 'holds' or 'fails', got {expect!r}")
    return IDENTITY_TOL if expect == "holds" else VIOLATION_TOL


def judge(error: float, tolerance: float, expect: str) -> bool:
    """Pass/fail rule shared by every check."""
    default_tolerance(expect)  # validates `expect`
    error = float(error)
    if math.isnan(error):
        return False
    if expect == "holds":
        return error <= tolerance
    return error > tolerance


def make_result(
    claim_id: str,
    claim: str,
    quantity: str,
    error: float,
    tolerance: float | None = None,
    expect: str = "holds",
    data: dict | None = None,
) -> ClaimResult:
    """Build a ClaimResult, deciding `passed` with :func:`judge`.

    tolerance None: the float64 default of `expect` (:func:`default_tolerance`).
    """
    if not ID_PATTERN.fullmatch(claim_id):
        raise ValueError(f"claim id {claim_id!r} is not <question>.<name>, e.g. 'T1.conv1d'")
    tolerance = default_tolerance(expect) if tolerance is None else float(tolerance)
    error = float(error)
    return ClaimResult(
        id=claim_id,
        claim=claim,
        quantity=quantity,
        error=error,
        tolerance=tolerance,
        expect=expect,
        passed=judge(error, tolerance, expect),
        data=dict(data or {}),
    )
