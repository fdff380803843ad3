"""What the book shows of the checks: tables, numbers and sentences, looked up by claim id.

Imported by the theory chapter and its appendix only (``import verify`` does not import it).
Numbers are LaTeX from :func:`tex`, tables MyST list-tables from :func:`table` (the book's other
tables come from ``ex2.formatting``: ``verify`` depends on nothing of ``ex2``); every function
returns Markdown or LaTeX text, which the page wraps for display.

    rep = Report(verify.run_all())
    rep["T2c.max_pool_1d_counterexample"].error   # a result, by id
    full_table(rep, "T1")                         # claim, measured quantity, value, bound, result
"""

from __future__ import annotations

import math
import re

import numpy as np

from verify.results import ClaimResult

TOPICS = {
    "T1": "convolution: equivariant (circular, N outputs); zero padding: not at the border",
    "T2a": "additive constant: equivariant; per-position bias: not",
    "T2b": "pointwise nonlinearity: equivariant",
    "T2c": "strided pooling: equivariant only to multiples of k, if k | N",
    "T2d": "CNN: in general equivariant only to multiples of its total stride, if it divides N",
    "T3a": "bias: $J = I$ (also with respect to $b$)",
    "T3b": r"matrix product: $J = W$; $I_m \otimes x^\top$ with respect to $W$",
    "T3c": "convolution: Toeplitz, circulant, doubly block Toeplitz (stride 1)",
}


def tex(value: float) -> str:
    """A number as LaTeX: 0, 7, 3.75, 1.78\\times 10^{-15}."""
    v = float(value)
    if math.isnan(v):
        return r"\mathrm{NaN}"
    if math.isinf(v):
        return r"\infty"
    if v == 0:
        return "0"
    if v.is_integer() and abs(v) < 1e6:
        return str(int(v))
    if 1e-3 <= abs(v) < 1e4:
        return f"{v:.3g}"
    mantissa, exponent = f"{v:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa}\times {power}"


def escape(text: str) -> str:
    """Backslash-escape Markdown punctuation that would otherwise format (|, _, *, <, ...)."""
    return re.sub(r"([\\`*_\[\]<>|#~])", r"\\\1", text)


def table(headers: list[str], rows: list[list[str]], widths: list[int], caption: str = "") -> str:
    """A MyST list-table of text cells, in a colon fence (its caption may hold `code`)."""
    lines = [f"::::{{list-table}} {caption}".rstrip(), ":header-rows: 1"]
    lines += [":widths: " + " ".join(map(str, widths)), ""]
    for row in [headers, *rows]:
        lines += [("* - " if i == 0 else "  - ") + (v or " ") for i, v in enumerate(row)]
    return "\n".join(lines + ["::::"])


class Report:
    """The results of :func:`verify.run_all`, by id (ids must be unique)."""

    def __init__(self, results: list[ClaimResult]):
        self.results = list(results)
        self.by_id = {r.id: r for r in self.results}
        if len(self.by_id) != len(self.results):
            raise ValueError("claim ids are not unique")

    def __getitem__(self, claim_id: str) -> ClaimResult:
        if claim_id not in self.by_id:
            raise KeyError(f"no claim {claim_id!r}; known: {', '.join(self.by_id)}")
        return self.by_id[claim_id]

    def __contains__(self, claim_id: str) -> bool:
        return claim_id in self.by_id

    def of(self, *questions: str) -> list[ClaimResult]:
        """The results of these questions, in run order."""
        return [r for r in self.results if r.question in questions]

    @property
    def questions(self) -> list[str]:
        return list(dict.fromkeys(r.question for r in self.results))

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    def require_all_pass(self) -> None:
        """Raise AssertionError listing every failed claim (this fails the book build)."""
        failed = [r.line() for r in self.results if not r.passed]
        if failed:
            raise AssertionError("theory checks failed:\n" + "\n".join(failed))


def bound(r: ClaimResult) -> str:
    """The pass condition as LaTeX: '> 10^{-6}', '\\le 10^{-12}' or '= 0'."""
    if r.expect == "fails":
        return f"> {tex(r.tolerance)}"
    return "= 0" if r.tolerance == 0 else rf"\le {tex(r.tolerance)}"


def verdict(r: ClaimResult) -> str:
    return "**PASS**" if r.passed else "**FAIL**"


def full_table(rep: Report, *questions: str, caption: str = "") -> str:
    """Every detail of each claim: id and claim, measured quantity, value, bound, result."""
    rows = [
        [
            f"`{r.id}`: {escape(r.claim)}",
            f"`{r.quantity}`",
            f"${tex(r.error)}$",
            f"${bound(r)}$",
            verdict(r),
        ]
        for r in rep.of(*questions)
    ]
    headers = ["claim", "measured", "value", "bound", "result"]
    return table(headers, rows, [43, 22, 15, 12, 8], caption=caption)


def summary_table(rep: Report, caption: str = "") -> str:
    """Checks and passes per question, and in all."""
    rows = [
        [q, TOPICS.get(q, ""), str(len(rep.of(q))), str(sum(r.passed for r in rep.of(q)))]
        for q in rep.questions
    ]
    rows.append(["**all**", "every claim above", str(len(rep.results)), str(rep.passed)])
    return table(
        ["question", "answer", "checks", "passed"], rows, [11, 67, 11, 11], caption=caption
    )


def exact_or_rounding(rep: Report, *claim_ids: str) -> str:
    """'is exactly $0$' when every listed error is 0, else 'is at most $e$ (rounding)'."""
    worst = max(rep[c].error for c in claim_ids)
    return "is exactly $0$" if worst == 0 else f"is at most ${tex(worst)}$ (float64 rounding)"


def _vector(a) -> str:
    return "$(" + ", ".join(f"{v:g}" for v in np.ravel(a)) + ")$"


def pooling_table(rep: Report, max_id: str, avg_id: str, caption: str = "") -> str:
    """The 1D pooling counterexamples (max and mean), quantity by quantity."""
    d = {"max": rep[max_id].data, "avg": rep[avg_id].data}
    rows = [
        [label, *(_vector(d[k][key]) for k in d)]
        for label, key in [
            ("input $x$", "input"),
            ("shifted input $S_s x$", "shifted_input"),
            ("pooled $P(x)$", "f_input"),
            ("pooled shifted $P(S_s x)$", "f_shifted"),
            ("closest shifted pooled $S_t P(x)$", "shifted_f"),
        ]
    ]
    rows.insert(1, ["shift $s$", *(f"${d[k]['shift'][0]}$" for k in d)])
    rows.append(["closest output shift $t$", *(f"${d[k]['output_shift'][0]}$" for k in d)])
    rows.append(["violation", *(f"${tex(rep[i].error)}$" for i in (max_id, avg_id))])
    return table(["quantity", "max pooling", "mean pooling"], rows, [36, 32, 32], caption=caption)


def shifts_text(r: ClaimResult) -> str:
    """The shifts a check_not_equivariant result tried, as inline math: $(1, 0)$, $(0, 1)$."""
    return ", ".join(f"${tuple(s)}$" for s in r.data["violation_by_shift"])


def total_stride(r: ClaimResult) -> int:
    """Input side / output side of a check_not_equivariant result on images."""
    return r.data["input"].shape[-1] // r.data["f_input"].shape[-1]


def mnist_sentence(rep: Report, claim_id: str = "T2d.cnn_mnist_not_equivariant") -> str:
    if claim_id not in rep:
        return (
            "(The same check on an MNIST test digit is skipped in this build: the MNIST files "
            "are not downloaded.)"
        )
    return (
        f"On the first MNIST test digit the smallest violation is ${tex(rep[claim_id].error)}$ "
        f"(`{claim_id}`): a real digit breaks it too (one digit, random weights)."
    )


def sizes_math(r: ClaimResult) -> str:
    """'N = 6,\\ K = 3,\\ p = 1,\\ s = 1' from a sympy result's sizes."""
    return r",\ ".join(f"{k} = {v}" for k, v in r.data["sizes"].items())


def conv2d_sentence(r: ClaimResult) -> str:
    """The sizes of a check_conv2d_jacobian result, for the figure's lead-in."""
    s, rows, cols = r.data["sizes"], *r.data["derived"].shape
    plural = "s" if s["c_out"] > 1 else ""
    return (
        f"{s['c_in']} input and {s['c_out']} output channel{plural}, a ${s['h']} \\times "
        f"{s['w']}$ input, a ${s['kh']} \\times {s['kw']}$ kernel and padding "
        f"$({s['ph']}, {s['pw']})$: two ${rows} \\times {cols}$ matrices"
    )


def general_derivative_math(r: ClaimResult) -> str:
    """sympy's general derivative (check_general_derivative) as an aligned LaTeX equation."""
    return (
        r"\begin{aligned} & \frac{\partial}{\partial x_j} \sum_{k=0}^{K-1} h_k\, x_{is+k-p}"
        r" \\ & \qquad = " + r.data["derivative_latex"] + r" \end{aligned}"
    )


def controls_table(controls, caption: str = "") -> str:
    """The negative controls: what was planted, the verdict it got, caught or not."""
    rows = [
        [f"`{c.id}`", escape(c.planted), escape(c.detail), "**PASS**" if c.caught else "**FAIL**"]
        for c in controls
    ]
    return table(["control", "planted wrong", "verdict", "result"], rows, [22, 34, 34, 10], caption)
