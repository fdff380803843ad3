"""What a page does with a chapter's results: glue its numbers and claims, show its tables.

Numbers are glued as Markdown strings already formatted by `ex2.formatting`, so a page writes
`{glue:md}`key`` and never a format of its own; a claim's sentence is glued under `claim_<id>`
(dots become underscores) and written `{glue:md}`claim_q1_c_latent:myst``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from IPython.display import Markdown
from myst_nb import glue

from ex2 import formatting
from ex2.claims import Claim, by_id, enforce, short


def claim_key(claim_id: str) -> str:
    return "claim_" + claim_id.replace(".", "_")


def publish(numbers: dict[str, str], claims: list[Claim] = ()) -> None:
    """Glue every number and every claim's sentence of a page; fail on a false claim (full
    profile), so a page can never show a sentence its own numbers contradict."""
    for key, text in numbers.items():
        glue(key, Markdown(str(text)), display=False)
    for claim in by_id(list(claims)).values():
        glue(claim_key(claim.id), Markdown(claim.text), display=False)
    enforce(list(claims))


def figure(key: str, fig) -> None:
    """Glue a figure for a `glue:figure` directive (numbered caption, alt text) and close it."""
    glue(key, fig, display=False)
    plt.close(fig)


def table(headers, rows, widths=None, caption="", label="") -> Markdown:
    return Markdown(formatting.table(headers, rows, widths, caption, label))


def claims_table(claims: list[Claim], caption: str = "", label: str = "") -> Markdown:
    """One row per claim: id, the measured values, the condition, PASS/FAIL."""
    rows = [
        [
            f"`{c.id}`",
            formatting.escape(
                ", ".join(
                    f"{k} = {v_short}"
                    for k, v_short in ((k, short(v)) for k, v in c.values.items())
                )
            ),
            f"`{c.condition}`",
            "**PASS**" if c.holds else "**FAIL**",
        ]
        for c in claims
    ]
    return table(
        ["claim", "measured", "condition", "result"], rows, [20, 40, 30, 10], caption, label
    )
