"""verify.report (the book's tables and sentences) and the two pages that use it."""

import ast
import math
import re
from pathlib import Path

import numpy as np
import pytest

import verify
from verify import report
from verify.results import make_result

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "book" / "theory.md", REPO / "book" / "verification.md"]


def results():
    return [
        make_result("T1.exact", "conv commutes", "max |a - b|", 0.0),
        make_result("T1.rounding", "conv commutes, 2D", "max |a - b|", 1.78e-15),
        make_result("T2c.pool_not", "pool | breaks_it <x>", "min_s min_t", 7.0, expect="fails"),
        make_result("T3c.sym", "sympy", "entries", 0, 0),
    ]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EX2_DATA_ROOT", str(tmp_path_factory.mktemp("empty")))
        return report.Report(verify.run_all())


def test_results_are_found_by_id_only():
    rep = report.Report(results())
    assert rep["T2c.pool_not"].error == 7.0
    assert "T1.exact" in rep and "conv commutes" not in rep
    with pytest.raises(KeyError, match="no claim 'T1.conv'"):
        rep["T1.conv"]  # a prefix of the text or of an id is no id
    assert [r.id for r in rep.of("T1")] == ["T1.exact", "T1.rounding"]
    assert rep.questions == ["T1", "T2c", "T3c"]
    assert rep.passed == 4


def test_duplicate_ids_are_refused():
    with pytest.raises(ValueError, match="unique"):
        report.Report(results() + results()[:1])


def test_require_all_pass_names_the_failed_claim():
    report.Report(results()).require_all_pass()
    bad = make_result("T1.bad", "wrong", "max", 1.0)
    with pytest.raises(AssertionError, match="T1.bad"):
        report.Report(results() + [bad]).require_all_pass()


def table_rows(md):
    """The rows of a MyST list-table, as lists of cell texts (header first)."""
    rows = []
    for line in md.splitlines():
        if line.startswith("* - "):
            rows.append([line[4:]])
        elif line.startswith("  - "):
            rows[-1].append(line[4:])
    return rows


def test_full_table_escapes_the_claim_and_shows_the_bound():
    bad = make_result("T3c.bad", "wrong", "max", 1.0)
    md = report.full_table(report.Report(results() + [bad]), "T2c", "T3c", caption="T2c, T3c")
    assert md.startswith("::::{list-table} T2c, T3c")
    rows = table_rows(md)
    assert rows[1] == [
        "`T2c.pool_not`: pool \\| breaks\\_it \\<x\\>",
        "`min_s min_t`",
        "$7$",
        r"$> 10^{-6}$",
        "**PASS**",
    ]
    assert rows[2][3] == "$= 0$"  # a symbolic claim
    assert rows[3][-1] == "**FAIL**"


def test_summary_table_counts_per_question():
    bad = make_result("T1.bad", "wrong", "max", 1.0)
    rows = table_rows(report.summary_table(report.Report(results() + [bad])))
    assert rows[1][0] == "T1" and rows[1][2:] == ["3", "2"]
    assert rows[-1] == ["**all**", "every claim above", "5", "4"]


def test_exact_or_rounding_says_exactly_zero_only_for_zero():
    rep = report.Report(results())
    assert report.exact_or_rounding(rep, "T1.exact") == "is exactly $0$"
    text = report.exact_or_rounding(rep, "T1.exact", "T1.rounding")
    assert text.startswith(r"is at most $1.78\times 10^{-15}$") and "exactly" not in text


def test_mnist_sentence_with_and_without_the_claim():
    assert "skipped" in report.mnist_sentence(report.Report(results()))
    mnist = make_result("T2d.cnn_mnist_not_equivariant", "c", "q", 0.328, expect="fails")
    text = report.mnist_sentence(report.Report([mnist]))
    assert "$0.328$" in text and "skipped" not in text


# ------------------------------------------------------ live results --


def test_pooling_table_shows_the_counterexample(live):
    rows = table_rows(
        report.pooling_table(
            live, "T2c.max_pool_1d_counterexample", "T2c.avg_pool_1d_counterexample"
        )
    )
    d = live["T2c.max_pool_1d_counterexample"].data
    by_label = {r[0]: r[1:] for r in rows}
    assert by_label["shift $s$"][0] == "$1$"
    values = [float(v) for v in re.findall(r"[-\d.]+", by_label["input $x$"][0])]
    assert values == list(np.ravel(d["input"]))


def test_sentences_for_the_figures_and_sympy(live):
    assert report.total_stride(live["T2d.cnn_not_equivariant"]) == 4
    assert report.shifts_text(live["T2d.cnn_not_equivariant"]).startswith("$(1, 0)$, $(0, 1)$")
    assert report.sizes_math(live["T3c.sympy_strided"]) == r"N = 7,\ K = 4,\ p = 2,\ s = 2"
    text = report.conv2d_sentence(live["T3c.conv2d_doubly_block_toeplitz"])
    assert "1 input and 2 output channels" in text and r"$50 \times 25$" in text
    assert r"\frac{\partial}{\partial x_j}" in report.general_derivative_math(
        live["T3c.sympy_general"]
    )


# --------------------------------------------------------------- pages --


def code_cells(page):
    return re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", page.read_text(), re.S)


# ex2.chapters: the page module, which glues figures as the other chapters do
ALLOWED_IMPORTS = (
    "verify",
    "ex2.formatting",
    "ex2.chapters",
    "ex2.plots",
    "myst_nb",
    "IPython",
    "matplotlib",
)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_are_thin(page):
    """No function over 5 lines; imports only verify, ex2.formatting and the display modules."""
    for cell in code_cells(page):
        body = "\n".join(ln for ln in cell.splitlines() if not ln.startswith(":tags:"))
        for node in ast.walk(ast.parse(body)):
            if isinstance(node, (ast.FunctionDef, ast.Lambda)):
                assert node.end_lineno - node.lineno + 1 <= 5, f"{page.name}: long function"
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.startswith(ALLOWED_IMPORTS), f"{page.name} imports {name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_id_a_page_names_is_a_claim(page, live):
    """The pages find results by id: a renamed claim must fail here, not only in the book."""
    text = page.read_text()
    named = set(re.findall(r"\bT[123][a-d]?\.[a-z0-9_]+", text))
    assert named, f"{page.name} names no claim"
    assert named - {r.id for r in live.results} <= {"T2d.cnn_mnist_not_equivariant"}


def test_theory_page_asserts_that_every_check_passes():
    cells = "\n".join(code_cells(PAGES[0]))
    assert "rep.require_all_pass()" in cells and "report.summary_table(rep" in cells
    assert "{glue:text}`theory_passed` of {glue:text}`theory_total` checks pass" in (
        PAGES[0].read_text()
    )


@pytest.mark.parametrize(
    "value,expected",
    [
        (0, "0"),
        (7.0, "7"),
        (3.75, "3.75"),
        (1.78e-15, r"1.78\times 10^{-15}"),
        (1e-20, "10^{-20}"),
        (2.5e7, r"2.5\times 10^{7}"),
        (math.nan, r"\mathrm{NaN}"),
        (math.inf, r"\infty"),
    ],
)
def test_tex_numbers(value, expected):
    assert report.tex(value) == expected


def test_verify_imports_nothing_of_ex2():
    """`verify` stands alone: no module of it imports `ex2`."""
    for path in sorted((REPO / "verify").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n == "ex2" or n.startswith("ex2.") for n in names), path.name
