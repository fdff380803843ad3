"""The numbers of the "Answers at a glance" table: the key number of every answer, taken from the
chapters' own results (so the summary can never disagree with the chapter it links to)."""

from __future__ import annotations

import verify
from ex2.chapters import q1, q2, q3, q4


def numbers() -> dict[str, str]:
    out: dict[str, str] = {}
    for chapter in (q1, q2, q3, q4):
        out |= chapter.results().numbers
    out["glance_shape_pairs"] = str(len(q1.SHAPE_GRID))
    checks = verify.run_all()
    out["glance_theory_checks"] = f"{sum(c.passed for c in checks)} of {len(checks)}"
    return out
