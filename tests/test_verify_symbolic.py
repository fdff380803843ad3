"""T3c with sympy: exact symbolic Jacobian of the 1D convolution."""

import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from verify import symbolic as sym
from verify.jacobian import conv_output_length

PROPS = settings(derandomize=True, max_examples=20, deadline=None, database=None)


def test_every_symbolic_claim_passes():
    failed = [r.line() for r in sym.symbolic_claims() if not r.passed]
    assert not failed, "\n".join(failed)


def test_symbolic_jacobian_by_hand():
    x, h, y = sym.symbolic_conv1d(4, 3, padding=1, stride=1)
    J = y.jacobian(x)
    h0, h1, h2 = h
    assert J == sp.Matrix([[h1, h2, 0, 0], [h0, h1, h2, 0], [0, h0, h1, h2], [0, 0, h0, h1]])


def test_general_derivative_is_the_formula():
    d = sym.general_derivative()
    assert isinstance(d, sp.Piecewise)
    expr, _ = d.args[0]
    assert expr == sym._h[sym.J - sym.I * sym.S + sym.P]


@PROPS
@given(n=st.integers(1, 7), K=st.integers(1, 4), stride=st.integers(1, 3), data=st.data())
def test_symbolic_jacobian_matches_for_random_sizes(n, K, stride, data):
    p = data.draw(st.integers(0, K))
    assume(conv_output_length(n, K, p, stride) >= 1)
    assert sym.check_symbolic_jacobian(n_in=n, kernel_size=K, padding=p, stride=stride).passed
    assert sym.check_symbolic_model(n_in=n, kernel_size=K, padding=p, stride=stride).passed


# ------------------------------------------------------- negative tests --


def transposed(h, n_in, padding, stride):
    return sym.symbolic_toeplitz(h, n_in, padding, stride).T


def off_by_one(h, n_in, padding, stride):
    n_out = conv_output_length(n_in, len(h), padding, stride)

    def entry(i, j):
        k = j - i * stride + padding + 1
        return h[k] if 0 <= k < len(h) else 0

    return sp.Matrix(n_out, n_in, entry)


def flipped(h, n_in, padding, stride):
    return sym.symbolic_toeplitz(tuple(reversed(h)), n_in, padding, stride)


def test_wrong_symbolic_formulas_fail():
    for wrong in (transposed, off_by_one, flipped):
        r = sym.check_symbolic_jacobian(formula=wrong, n_in=6, kernel_size=3, padding=1, stride=1)
        assert not r.passed and r.error > 0, wrong.__name__
    # transposed of a non-square (strided) matrix: wrong shape
    r = sym.check_symbolic_jacobian(formula=transposed, n_in=7, kernel_size=4, padding=2, stride=2)
    assert not r.passed and r.error == float("inf")


def test_wrong_general_formula_fails():
    m = sym.J - sym.I * sym.S + sym.P
    wrong_index = sp.Piecewise((sym._h[m + 1], sp.And(m >= 0, m < sym.K)), (0, True))
    wrong_range = sp.Piecewise((sym._h[m], sp.And(m >= 0, m <= sym.K)), (0, True))
    transposed_idx = sp.Piecewise(
        (
            sym._h[sym.I - sym.J * sym.S + sym.P],
            sp.And(sym.I - sym.J * sym.S + sym.P >= 0, sym.I - sym.J * sym.S + sym.P < sym.K),
        ),
        (0, True),
    )
    for wrong in (wrong_index, wrong_range, transposed_idx):
        r = sym.check_general_derivative(formula=wrong)
        assert not r.passed and r.error > 0
