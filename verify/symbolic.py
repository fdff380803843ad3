"""T3c with sympy: the 1D convolution's Jacobian is the Toeplitz matrix, exactly.

Two symbolic derivations, both without floating point:

1. Concrete sizes.  Build the output of a zero-padded, strided 1D convolution
   (PyTorch's cross-correlation) from symbols x_0..x_{n-1} and h_0..h_{K-1},
       y_i = sum_k h_k x_{i s + k - p}     (x_q = 0 outside 0..n-1),
   let sympy differentiate it (``Matrix.jacobian``) and compare each entry
   with the Toeplitz formula  J_ij = h_{j - i s + p}  (0 if the index is not
   in 0..K-1).  The difference of every entry must expand to exactly 0.  The
   symbolic model itself is checked against ``F.conv1d`` numerically.

2. General sizes.  With symbolic i, j, s, p, K and indexed x, h, sympy
   differentiates  sum_{k=0}^{K-1} h_k x_{i s + k - p}  with respect to x_j:
   d x_{i s + k - p} / d x_j = KroneckerDelta(j, i s + k - p), and summing
   over k leaves  Piecewise((h_{j - i s + p}, 0 <= j - i s + p <= K - 1), (0, True)),
   which is the formula.  The sympy result is compared with the formula
   exactly at every integer point of a grid of (K, s, p, i, j).
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp
import torch
import torch.nn.functional as F

from verify._threads import single_thread
from verify.results import IDENTITY_TOL, SYMBOLIC_TOL, ClaimResult, make_result
from verify.toeplitz import conv_output_length


def symbolic_conv1d(n_in: int, kernel_size: int, padding: int = 0, stride: int = 1):
    """Symbols x (n_in), h (K) and the output column y of the conv, as a sympy Matrix."""
    x = sp.symbols(f"x0:{n_in}")
    h = sp.symbols(f"h0:{kernel_size}")
    n_out = conv_output_length(n_in, kernel_size, padding, stride)

    def x_at(q):  # the zero-padded input
        return x[q] if 0 <= q < n_in else sp.Integer(0)

    y = sp.Matrix(
        [
            sum(h[k] * x_at(i * stride + k - padding) for k in range(kernel_size))
            for i in range(n_out)
        ]
    )
    return x, h, y


def symbolic_toeplitz(h, n_in: int, padding: int = 0, stride: int = 1) -> sp.Matrix:
    """The derived formula J_ij = h_{j - i s + p} (0 outside the kernel), as a sympy Matrix."""
    K = len(h)
    n_out = conv_output_length(n_in, K, padding, stride)

    def entry(i, j):
        k = j - i * stride + padding
        return h[k] if 0 <= k < K else sp.Integer(0)

    return sp.Matrix(n_out, n_in, entry)


def _sizes(n_in, kernel_size, padding, stride) -> dict:
    return {"N": n_in, "K": kernel_size, "p": padding, "s": stride}


@single_thread()
def check_symbolic_jacobian(
    claim_id="T3c.sympy_toeplitz",
    formula=symbolic_toeplitz,
    n_in=6,
    kernel_size=3,
    padding=1,
    stride=1,
) -> ClaimResult:
    """sympy's Jacobian of the symbolic conv == formula(h, n_in, padding, stride), entrywise."""
    x, h, y = symbolic_conv1d(n_in, kernel_size, padding, stride)
    J = y.jacobian(x)
    T = formula(h, n_in, padding, stride)
    if J.shape != T.shape:
        mismatches = float("inf")
    else:
        mismatches = sum(1 for a, b in zip(J, T, strict=True) if sp.expand(a - b) != 0)
    sizes = _sizes(n_in, kernel_size, padding, stride)
    config = f"N={n_in}, K={kernel_size}, pad {padding}, stride {stride}"
    return make_result(
        claim_id,
        f"sympy: d(conv1d)/dx ({config}) equals the Toeplitz formula exactly",
        "entries with J_sympy - J_formula != 0",
        mismatches,
        SYMBOLIC_TOL,
        data={"jacobian": J, "formula": T, "jacobian_latex": sp.latex(J), "sizes": sizes},
    )


@single_thread()
def check_symbolic_model(
    claim_id="T3c.sympy_model", n_in=6, kernel_size=3, padding=1, stride=1, seed=0
) -> ClaimResult:
    """The symbolic conv model (what sympy differentiates) computes what F.conv1d computes."""
    x, h, y = symbolic_conv1d(n_in, kernel_size, padding, stride)
    f = sp.lambdify([x, h], list(y), "math")
    rng = np.random.default_rng(seed)
    xv, hv = rng.standard_normal(n_in), rng.standard_normal(kernel_size)
    sym = np.array(f(list(xv), list(hv)), dtype=np.float64)
    ref = (
        F.conv1d(
            torch.tensor(xv).reshape(1, 1, -1),
            torch.tensor(hv).reshape(1, 1, -1),
            stride=stride,
            padding=padding,
        )
        .reshape(-1)
        .numpy()
    )
    error = float(np.max(np.abs(sym - ref))) if sym.shape == ref.shape else float("inf")
    config = f"N={n_in}, K={kernel_size}, pad {padding}, stride {stride}"
    return make_result(
        claim_id,
        f"sympy model y_i = sum_k h_k x_(i s + k - p) equals F.conv1d ({config})",
        "max |y_sympy - y_torch|",
        error,
        IDENTITY_TOL,
        data={"y": y, "sizes": _sizes(n_in, kernel_size, padding, stride)},
    )


I, J, S, P, K, k = sp.symbols("i j s p K k", integer=True)  # noqa: E741 (the paper's i)
_h, _x = sp.IndexedBase("h"), sp.IndexedBase("x")


def general_derivative() -> sp.Expr:
    """sympy's d/dx_j of sum_{k=0}^{K-1} h_k x_{i s + k - p}, for symbolic i, j, s, p, K."""
    y_i = sp.Sum(_h[k] * _x[I * S + k - P], (k, 0, K - 1))
    return sp.diff(y_i, _x[J]).doit()


def general_formula() -> sp.Expr:
    """The derived formula: h_{j - i s + p} if 0 <= j - i s + p < K, else 0."""
    m = J - I * S + P
    return sp.Piecewise((_h[m], sp.And(m >= 0, m < K)), (0, True))


@single_thread()
def check_general_derivative(
    formula=None, Ks=range(1, 5), strides=range(1, 4), paddings=range(0, 3), n=6
) -> ClaimResult:
    """sympy's general derivative == formula at every (K, s, p, i, j) of a grid (exact)."""
    derived = general_derivative()
    formula = general_formula() if formula is None else formula
    mismatches, points = 0, 0
    for Kv, sv, pv in itertools.product(Ks, strides, paddings):
        for iv, jv in itertools.product(range(n), range(n)):
            values = {K: Kv, S: sv, P: pv, I: iv, J: jv}
            points += 1
            if sp.expand(derived.xreplace(values) - formula.xreplace(values)) != 0:
                mismatches += 1
    return make_result(
        "T3c.sympy_general",
        "sympy, general sizes: d/dx_j sum_k h_k x_(i s+k-p) = h_(j-i s+p) on 0<=j-i s+p<K, else 0",
        f"grid points (of {points}) where derivative != formula",
        mismatches,
        SYMBOLIC_TOL,
        data={
            "derivative": derived,
            "formula": formula,
            "derivative_latex": sp.latex(derived),
            "points": points,
        },
    )


@single_thread()
def symbolic_claims() -> list[ClaimResult]:
    return [
        check_symbolic_model(),
        check_symbolic_model("T3c.sympy_model_strided", n_in=7, kernel_size=4, padding=2, stride=2),
        check_symbolic_jacobian(),
        check_symbolic_jacobian("T3c.sympy_strided", n_in=7, kernel_size=4, padding=2, stride=2),
        check_general_derivative(),
    ]
