"""What a page does with a chapter's results: glue its numbers, claims, interpretations and
figures, show its tables.

Numbers are glued as Markdown strings already formatted by `ex2.formatting`, so a page writes
`{glue:md}`key`` and never a format of its own; a claim's sentence is glued under `claim_<id>`
(dots become underscores) and written `{glue:md}`claim_q1_c_latent:myst``; an interpretation
under `interp_<id>`, which the page writes inside an "Interpretation" admonition. A figure is
glued under its key, and the line its caption ends with (the function that drew it, linked to its
listing in the Code appendix, and the runs it shows) under `<key>_source`.
"""

from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt
from IPython.display import Markdown
from myst_nb import glue

from ex2 import experiments, formatting
from ex2.claims import VOCABULARY, Claim, Interpretation, by_id, enforce, short
from ex2.config import RunConfig

PRINT_DPI = 300  # the images inside a vector figure (digits, dense scatter plots)
RUNS_NAMED = 4  # a caption names up to this many run folders, else counts them


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


class VectorFigure:
    """A figure's display data: SVG (what the HTML shows) and PDF (what LaTeX includes), both at
    the figure's own size; myst-nb picks the format per builder."""

    def __init__(self, fig):
        self.svg = self.render(fig, "svg").decode()
        self.pdf = base64.b64encode(self.render(fig, "pdf")).decode("ascii")

    @staticmethod
    def render(fig, fmt: str) -> bytes:
        out = io.BytesIO()
        undated = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
        fig.savefig(out, format=fmt, dpi=PRINT_DPI, metadata=undated)
        return out.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"image/svg+xml": self.svg, "application/pdf": self.pdf, "text/plain": "<figure>"}


def source_label(function_name: str) -> str:
    """The label of a drawing function's listing in the Code appendix (book/code.md):
    `ex2.plots.training_curves` -> `code-ex2-plots-training-curves`."""
    return "code-" + function_name.replace(".", "-").replace("_", "-")


def source_line(fig, runs=()) -> str:
    """The sentence a figure's caption ends with: the function that drew it (a link to its
    listing) and the run folders it shows."""
    drawn_by = fig.get_label()
    if not drawn_by:
        raise ValueError("the figure does not name the function that drew it (ex2.plots.drawn_by)")
    text = f"Drawn by {{ref}}`{drawn_by} <{source_label(drawn_by)}>`"
    folders = sorted(set(run_folders(runs)))
    if not folders:
        return text + "."
    if len(folders) <= RUNS_NAMED:
        named = ", ".join(f"`{f}`" for f in folders)
        return text + f" from the run{'s' if len(folders) > 1 else ''} {named}."
    return text + f" from {len(folders)} runs of {{numref}}`tab-prov-runs`."


def run_folders(runs) -> list[str]:
    """The cache folders of runs: RunResults or RunConfigs, alone or in (nested) lists and dicts."""
    if isinstance(runs, experiments.RunResult):
        return [runs.run_dir.name]
    if isinstance(runs, RunConfig):
        return [experiments.run_dir(runs).name]
    if isinstance(runs, dict):
        runs = runs.values()
    return [folder for run in runs for folder in run_folders(run)]


def figure(key: str, fig, runs=()) -> None:
    """Glue a figure for a `glue:figure` directive (numbered caption, alt text) as vector graphics,
    and its caption's last sentence under `<key>_source` (see `source_line`: `runs` are the runs
    the figure shows, as `run_folders` takes them); close the figure."""
    glue(key, VectorFigure(fig), display=False)
    glue(f"{key}_source", Markdown(source_line(fig, runs)), display=False)
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
        words = "; ".join(f"`{w}`: {formatting.escape(VOCABULARY[w].meaning)}" for w in c.words)
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
    rows = [[f"`{name}`", formatting.escape(w.meaning)] for name, w in VOCABULARY.items()]
    return table(["word", "meaning in a condition"], rows, [25, 75], caption, label)
