"""How the book prints its recurring kinds of number, and its tables (a claim's sentence may
print a one-off statistic, a p-value or a ratio, with a format of its own).

- accuracies are percentages with 2 decimals (`pct`), given as fractions in [0, 1];
- L1 losses 4 decimals (`l1`); seconds at most 1 decimal (`seconds`); counts as integers (`count`);
- a mean ± sample std over draws or seeds (`mean_std`, `pm`; in points: `points`).

Tables are MyST list-tables: unlike pipe tables they fix column widths in the PDF, so headers do
not hyphenate mid-word.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of a list of numbers."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def pct(fraction: float) -> str:
    """An accuracy (a fraction) as a percentage: 0.99071 -> '99.07 %'."""
    return f"{100 * fraction:.2f} %"


def points(mean: float, std: float, sign: str = "+") -> str:
    """A mean ± std of differences of accuracies, in percentage points: '+3.20 ± 1.05 points'
    (`sign=""`: no plus sign)."""
    return f"{100 * mean:{sign}.2f} ± {100 * std:.2f} points"


def l1(value: float) -> str:
    return f"{value:.4f}"


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def count(value) -> str:
    """An integer with thousands separators: 60000 -> '60,000'."""
    return f"{int(round(value)):,}"


def ratio(value: float) -> str:
    return f"{value:.2f}"


def pm(values, scale: float = 100.0, decimals: int = 2) -> str:
    """Mean ± std of values (fractions by default, printed as percentages without the sign)."""
    m, s = mean_std(np.asarray(values, dtype=float) * scale)
    return f"{m:.{decimals}f} ± {s:.{decimals}f}"


class Table(NamedTuple):
    """A table whole: its headers, rows and column widths (percent); the page adds the caption
    and label: `page.table(*table, caption=..., label=...)`."""

    headers: list[str]
    rows: list[list]
    widths: list[int]


LIST_MARKER = re.compile(r"^(\d+)([.)])(?=\s)|^([-+*])(?=\s)")


def cell(value) -> str:
    """A table cell: strings as they are (except that a leading list marker, "3. " or "+ ", is
    escaped: a list-table cell is Markdown, and would become a list), integers as integers, other
    floats to 4 digits."""
    if isinstance(value, str):
        return LIST_MARKER.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", value)
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer()):
        return count(value)
    return f"{value:.4g}"


def escape(text: str) -> str:
    """Backslash-escape Markdown punctuation that would otherwise format (|, _, *, <, ...)."""
    return re.sub(r"([\\`*_\[\]<>|#~])", r"\\\1", text)


def table(
    headers: list[str],
    rows: list[list],
    widths: list[int] | None = None,
    caption: str = "",
    label: str = "",
) -> str:
    """A MyST list-table (numbered when it has a caption), cells formatted by `cell`."""
    fence = ":" * 4  # a colon fence: its caption may hold `code` (a backtick fence's may not)
    lines = [f"{fence}{{list-table}} {caption}".rstrip(), ":header-rows: 1"]
    if label:
        lines.append(f":name: {label}")
    if widths:
        lines.append(":widths: " + " ".join(map(str, widths)))
    lines.append("")
    for row in [headers, *rows]:
        lines += [("* - " if i == 0 else "  - ") + (cell(v) or " ") for i, v in enumerate(row)]
    return "\n".join(lines + [fence])
