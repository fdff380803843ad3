"""What a page does with a chapter's results: glue its numbers, claims and interpretations, show
its tables.

Numbers are glued as Markdown strings already formatted by `ex2.formatting`, so a page writes
`{glue:md}`key`` and never a format of its own; a claim's sentence is glued under `claim_<id>`
(dots become underscores) and written `{glue:md}`claim_q1_c_latent:myst``; an interpretation
under `interp_<id>`, which the page writes inside an "Interpretation" admonition.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from IPython.display import Markdown
from myst_nb import glue

from ex2 import claims as C
from ex2 import formatting
from ex2.claims import Claim, Interpretation, by_id, enforce, short


def claim_key(claim_id: str) -> str:
    return "claim_" + claim_id.replace(".", "_")


def interpretation_key(interpretation_id: str) -> str:
    return "interp_" + interpretation_id.replace(".", "_")


def publish(
    numbers: dict[str, str],
    claims: list[Claim] = (),
    checks: list[Claim] = (),
    interpretations: list[Interpretation] = (),
) -> None:
    """Glue every number, claim sentence and interpretation of a page; fail on a false claim or
    check (full profile), so a page can never show a sentence its own numbers contradict."""
    for key, text in numbers.items():
        glue(key, Markdown(str(text)), display=False)
    for claim in by_id(list(claims)).values():
        glue(claim_key(claim.id), Markdown(claim.text), display=False)
    for item in by_id(list(interpretations)).values():
        glue(interpretation_key(item.id), Markdown(item.text), display=False)
    enforce(list(claims) + list(checks))


def show(r) -> None:
    """`publish` a chapter's results (see `ex2.chapters`)."""
    publish(r.numbers, r.claims, r.checks, r.interpretations)


def figure(key: str, fig) -> None:
    """Glue a figure for a `glue:figure` directive (numbered caption, alt text) and close it."""
    glue(key, fig, display=False)
    plt.close(fig)


def table(headers, rows, widths=None, caption="", label="") -> Markdown:
    return Markdown(formatting.table(headers, rows, widths, caption, label))


def measured(c: Claim) -> str:
    return formatting.escape(", ".join(f"{k} = {short(v)}" for k, v in c.values.items()))


def verdict(c: Claim) -> str:
    return "**PASS**" if c.holds else "**FAIL**"


def claims_table(claims: list[Claim], caption: str = "", label: str = "") -> Markdown:
    """One row per claim: id and where its numbers come from, the measured values, the
    condition with the meaning of its vocabulary words, PASS/FAIL."""
    rows = []
    for c in claims:
        words = "; ".join(f"`{w}`: {formatting.escape(C.VOCABULARY[w].meaning)}" for w in c.words)
        condition = f"`{c.condition}`" + (f" ({words})" if words else "")
        source = f" ({formatting.escape(c.source)})" if c.source else ""
        rows.append([f"`{c.id}`{source}", measured(c), condition, verdict(c)])
    return table(
        ["claim (source)", "measured", "condition", "result"],
        rows,
        [26, 34, 30, 10],
        caption,
        label,
    )


def checks_table(checks: list[Claim], caption: str = "", label: str = "") -> Markdown:
    rows = [
        [f"`{c.id}`", formatting.escape(c.text), measured(c), f"`{c.condition}`", verdict(c)]
        for c in checks
    ]
    headers = ["check", "what it checks", "measured", "condition", "result"]
    return table(headers, rows, [18, 26, 26, 20, 10], caption, label)


def interpretations_table(items: list[Interpretation], caption: str = "", label="") -> Markdown:
    rows = [[f"`{i.id}`", formatting.escape(i.untested)] for i in items]
    return table(["interpretation", "what would test it"], rows, [40, 60], caption, label)


def vocabulary_table(caption: str = "", label: str = "") -> Markdown:
    rows = [[f"`{name}`", formatting.escape(w.meaning)] for name, w in C.VOCABULARY.items()]
    return table(["word", "meaning in a condition"], rows, [25, 75], caption, label)
