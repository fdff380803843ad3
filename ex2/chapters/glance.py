"""The "Answers at a glance" table, generated: each answer is the short form of the chapter's own
checked claims (or, for a question that asks for a method, not a result, the method), each key
number a number the chapter prints, and the theory rows the counts of their `verify` checks. So
the summary can never say more than, or differ from, the chapter it links to."""

from __future__ import annotations

from dataclasses import dataclass

import verify
from ex2.chapters import q1, q2, q3, q4
from ex2.claims import Claim, by_id
from ex2.formatting import Table


@dataclass(frozen=True)
class Row:
    label: str  # the question, linked to its answer
    anchor: str
    claims: tuple[str, ...]  # ids of the claims whose short forms answer it
    method: str  # the answer when the question asks what was done, not what was found
    key: str  # the key number: a format string over the chapters' numbers


ROWS = (
    Row("Q1(a)", "q1-a", ("q1.a.any_pair", "q1.a.latent_layers"), "", "{q1_pairs} pairs checked"),
    Row(
        "Q1(b)",
        "q1-b",
        (),
        "Four autoencoders, $c \\in \\{4, 16\\}$, $d \\in \\{4, 16\\}$, 10 epochs each.",
        "test L1 of $(16, 16)$: {q1_l1_16_16}",
    ),
    Row(
        "Q1(c)",
        "q1-c",
        ("q1.c.latent", "q1.c.small_code_loses_identity"),
        "",
        "$d = 4 \\to 16$ at $c = 16$: {q1_latent_effect_c16}",
    ),
    Row(
        "Q1(d)",
        "q1-d",
        (),
        "Three stride-2 $3\\times3$ convolutions with BatchNorm and ReLU, a linear bottleneck, "
        "a mirrored decoder, sigmoid output.",
        "receptive field of the last conv: {q1_receptive_field} px",
    ),
    Row(
        "Q2(i)",
        "q2-i",
        (),
        "Trained end to end on all 60,000 images.",
        "test accuracy {q2_full_acc}",
    ),
    Row(
        "Q2(ii)",
        "q2-ii",
        ("q2.ii.memorised", "q2.ii.draw_bias"),
        "",
        "test accuracy {q2_subset_acc}",
    ),
    Row(
        "Q3",
        "q3-verdict",
        ("q3.verdict.few_labels", "q3.verdict.all_labels"),
        "",
        "100 labels: {q3_gain_subset}; all: {q3_gain_full}",
    ),
    Row(
        "Q4(a)", "q4-answers", ("q4.a.better",), "", "L1 {q4_autoencoder_l1} vs {q4_classifier_l1}"
    ),
    Row(
        "Q4(b)",
        "q4-answers",
        ("q4.b.typical",),
        "",
        "rank kept: $\\rho$ {q4_rank_rho_classifier} vs {q4_rank_rho_autoencoder}",
    ),
    Row(
        "Q4(c)",
        "q4-answers",
        ("q4.c.variability",),
        "",
        "{q4_within_vs_input_autoencoder} vs {q4_within_vs_input_classifier} of the inputs' "
        "within-digit spread",
    ),
    Row(
        "Q4(d)",
        "q4-answers",
        ("q4.d.separation",),
        "",
        "code ratio {q4_code_ratio_classifier} vs {q4_code_ratio_autoencoder}",
    ),
)

THEORY = {  # the glance row of each theory question: its anchor and the verify questions
    "T1": ("theory-t1", ("T1",)),
    "T2": ("theory-t2", ("T2a", "T2b", "T2c", "T2d")),
    "T3": ("theory-t3", ("T3a", "T3b", "T3c")),
}


def sentence(parts: list[str]) -> str:
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def answer(row: Row, claims: dict[str, Claim]) -> str:
    if row.method:
        return row.method
    return sentence([claims[i].short or claims[i].text for i in row.claims])


def rows(claims: list[Claim], numbers: dict[str, str], checks) -> list[list[str]]:
    """The table's rows: question (linked), answer, key number."""
    by = by_id(claims)
    out = [
        [f"{{ref}}`{r.label} <{r.anchor}>`", answer(r, by), r.key.format(**numbers)] for r in ROWS
    ]
    from verify.report import TOPICS

    for label, (anchor, questions) in THEORY.items():
        mine = [c for c in checks if c.question in questions]
        topics = "; ".join(TOPICS[q] for q in questions)
        key = f"{sum(c.passed for c in mine)} of {len(mine)} {label} checks pass"
        out.append([f"{{ref}}`{label} <{anchor}>`", topics[:1].upper() + topics[1:] + ".", key])
    return out


def glance_claims() -> list[Claim]:
    """The claims the table quotes (they are checked again where the table is built)."""
    used = {i for r in ROWS for i in r.claims}
    return [c for ch in (q1, q2, q3, q4) for c in ch.results().claims if c.id in used]


def numbers() -> dict[str, str]:
    out: dict[str, str] = {}
    for chapter in (q1, q2, q3, q4):
        out |= chapter.results().numbers
    return out


def table() -> tuple[Table, list[Claim]]:
    """The table, and the claims it quotes."""
    claims = glance_claims()
    headers = ["", "Answer", "Key number"]
    return Table(headers, rows(claims, numbers(), verify.run_all()), [12, 58, 30]), claims
