"""The prose lint: no sentence of a page states a measured result outside a checked claim.

A page's own prose may describe what was done; a sentence that compares, quantifies or explains a
result ("more", "only", "never", "far", "typical", "because", "most", "all", ...) must be a
claim's text (glued from `ex2.claims`) or an interpretation (glued into an "Interpretation"
admonition). The lint reads each page's Markdown with code cells, glued text, math, inline code,
captions of tables and figures and questions removed, splits it into sentences, and reports
those that use result vocabulary. `ALLOWED` lists, with a reason, the few method sentences that
need such a word.

The theory chapter and its verification appendix state derivations checked by `verify`, not
measured results; the code listing and provenance appendix describe the build; the performance
appendix has its own claims (ex2.chapters.performance). Those pages are not linted.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
NOT_LINTED = {
    "theory.md",
    "verification.md",
    "claims.md",
    "code.md",
    "provenance.md",
    "performance.md",
}

RESULT_WORDS = (
    "more|less|fewer|most|least|only|never|always|all|every|none|far|much|typical|typically|"
    "because|better|worse|best|worst|higher|lower|faster|slower|larger|smaller|clearly|beats?|"
    "helps?|improves?|falls?|rises?|loses?|keeps?|memoris\\w*|overfits?|underfits?|cannot|"
    "strongly|weakly|significant\\w*|robust\\w*|sensitive|invariant|little|"
    "smallest|largest|highest|lowest|weakest|strongest|clearest|closest|farthest|fewest"
)
WORD = re.compile(rf"\b({RESULT_WORDS})\b", re.IGNORECASE)

# Method sentences that need a result word, each with the reason it states no result.
ALLOWED = {
    "Numbers not marked as training-set numbers are measured on the 10,000 test images, which are "
    "never used for training.": ("how the code uses the split, not a result"),
    'To put a number on "looks like a typical member of its class", the test images of each '
    "digit are ranked by their Euclidean distance to the digit's mean image (near 0 %: typical, "
    "near 100 %: unusual), and each decoder's reconstructions of the digit are ranked the same way "
    "among themselves, so that a decoder that draws blurrier images is not counted as drawing "
    "more typical ones.": "defines the measurement behind the word 'typical'",
    "This chapter measures what that means for the trained Q2(i) classifier: its test accuracy on "
    "test digits translated by MATH pixels (zero fill, averaged over up, down, left and right), "
    "and, as in {cite:t} CODE , its consistency: how often two random shifts of the same digit by "
    "up to one pixel in each direction get the same predicted class.": (
        "the method, and the paper it follows"
    ),
}


def sentences_of(markdown: str) -> list[str]:
    """The page's own prose, as sentences (see the module docstring for what is removed)."""
    text = re.sub(r"\A---\n.*?\n---\n", "", markdown, flags=re.S)  # front matter
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # code cells and directives
    text = re.sub(r"^:::.*?^:::", "", text, flags=re.S | re.M)  # admonitions (interpretations)
    text = re.sub(r"\$\$.*?\$\$", " MATH ", text, flags=re.S)
    text = re.sub(r"\$[^$]+\$", " MATH ", text)
    text = re.sub(r"\{glue:\w+\}`[^`]*`", " GLUED ", text)  # claims, numbers
    text = re.sub(r"\{\w+\}`[^`]*`", " REF ", text)  # other roles: doc, numref, ref
    text = re.sub(r"`[^`]*`", " CODE ", text)
    text = re.sub(r"^\(.*\)=$", "", text, flags=re.M)  # labels
    text = re.sub(r"^#+ .*$", "", text, flags=re.M)  # headings
    text = re.sub(r"^\s*(-|\d+\.) ", "\n\nITEM ", text, flags=re.M)  # list items: sentences
    text = text.replace("**", "")
    text = re.sub(r"\n\s*\n", " \x00 ", text)  # paragraphs end sentences
    text = re.sub(r"\s+", " ", text)
    parts = re.split(r"(?<=[.!?:])\s+(?=[A-Z*(])|\x00", text)
    parts = [p.strip().removeprefix("ITEM ").strip() for p in parts]
    return [p for p in parts if p and not p.endswith("?")]


def lint(markdown: str) -> list[str]:
    """The sentences that use result vocabulary and are not allowed."""
    return [s for s in sentences_of(markdown) if WORD.search(s) and s not in ALLOWED]


PAGES = sorted(p.name for p in BOOK.glob("*.md") if p.name not in NOT_LINTED)


@pytest.mark.parametrize("page", PAGES)
def test_no_result_sentence_outside_a_claim(page):
    flagged = lint((BOOK / page).read_text())
    assert flagged == [], "\n".join(flagged)


def test_every_allowed_sentence_has_a_reason_and_is_still_used():
    text = " ".join(" ".join(sentences_of((BOOK / p).read_text())) for p in PAGES)
    for sentence, reason in ALLOWED.items():
        assert reason, f"no reason given for {sentence!r}"
        assert sentence in text, f"allowed sentence no longer on any page: {sentence!r}"


def test_a_planted_result_sentence_fails_the_lint():
    page = (BOOK / "q4.md").read_text()
    assert lint(page) == []
    anchor = "The two decoders were trained with"
    assert anchor in page  # else the plant would change nothing
    planted = page.replace(anchor, "The autoencoder's encoder is far better at this. " + anchor)
    assert lint(planted) == ["The autoencoder's encoder is far better at this."]


def test_claims_math_code_and_interpretations_are_not_prose():
    page = (
        "---\nkernelspec: x\n---\n# Title with all words\n\n"
        "A {glue:md}`claim_q1_x:myst` B uses $a < b$ and `all(x)`.\n\n"
        ":::{admonition} Interpretation\n{glue:md}`interp_x:myst` because of everything\n:::\n\n"
        "```{code-cell} ipython3\nx = 'more'\n```\n\nWhich is better?\n"
    )
    assert lint(page) == []
    assert lint(page + "\nIt helps.\n") == ["It helps."]
