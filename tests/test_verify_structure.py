"""T3c structure: Toeplitz, circulant, strided rows, (doubly) block Toeplitz -- measured on
autograd alone; and the measures reject matrices of the wrong structure."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from verify import structure as stc
from verify import toeplitz as tp

PROPS = settings(derandomize=True, max_examples=30, deadline=None, database=None)
RNG = np.random.default_rng(0)


def as_layer(M):
    """A matrix as a 'layer' of the flat input, to hand a structure check any Jacobian."""
    M = torch.tensor(M)
    return lambda v: M @ v


def toeplitz(rows, cols, rng=RNG):
    """A random Toeplitz matrix: entry (i, j) = c[j - i]."""
    c = rng.standard_normal(rows + cols - 1)
    return np.array([[c[j - i + rows - 1] for j in range(cols)] for i in range(rows)])


def assemble(blocks):
    """blocks[i][a] -> one matrix."""
    return np.block([[b for b in row] for row in blocks])


def test_every_structure_claim_passes():
    results = stc.structure_claims()
    failed = [r.line() for r in results if not r.passed]
    assert not failed, "\n".join(failed)
    assert [r.id for r in results] == list(stc.STRUCTURE_CASES)
    expect = {r.id: r.expect for r in results}
    assert expect["T3c.stride_h_not_block_toeplitz"] == "fails"
    assert expect["T3c.stride_w_blocks_not_toeplitz"] == "fails"
    assert expect["T3c.stride_rows_2d_both"] == "holds"


# ------------------------------------------------------- the measures --


def test_deviation_helpers():
    T = tp.toeplitz_conv1d([1.0, 2.0, 3.0], 6, 1, 1)
    assert tp.toeplitz_deviation(T) == 0
    T[2, 2] += 1
    assert tp.toeplitz_deviation(T) == 1
    J = tp.block_toeplitz_conv2d(np.arange(9.0).reshape(3, 3), 4, 4, 1, 1)
    assert tp.block_toeplitz_deviations(J, 4, 4) == (0, 0)


def test_circulant_deviation():
    C = tp.toeplitz_conv1d([1.0, 2.0, 3.0], 5, 1, 1, padding_mode="circular")
    assert tp.circulant_deviation(C) == 0
    assert tp.circulant_deviation(tp.toeplitz_conv1d([1.0, 2.0, 3.0], 5, 1, 1)) == 3  # corners
    assert tp.circulant_deviation(C[::2]) == np.inf  # not square: not circulant at all
    assert tp.circulant_deviation(toeplitz(5, 5)) > 0  # Toeplitz is not enough


def test_block_toeplitz_with_non_toeplitz_blocks_is_rejected():
    """Block (i, a) depends only on a - i, but the blocks themselves are dense."""
    by_diagonal = {d: RNG.standard_normal((3, 4)) for d in range(-2, 3)}
    M = assemble([[by_diagonal[a - i] for a in range(3)] for i in range(3)])
    outer, inner = tp.block_toeplitz_deviations(M, 3, 4)
    assert outer == 0 and inner > 0.1
    assert tp.block_toeplitz_deviation(M, 3, 4) == inner
    r = stc.check_block_structure(h=3, w=4, kernel_size=(1, 2), padding=(0, 0), layer=as_layer(M))
    assert r.data["autograd"].shape == M.shape
    assert not r.passed and r.error == inner


def test_toeplitz_blocks_that_are_not_block_toeplitz_are_rejected():
    """Every block is Toeplitz, but each block position has its own."""
    M = assemble([[toeplitz(3, 4) for _ in range(3)] for _ in range(3)])
    outer, inner = tp.block_toeplitz_deviations(M, 3, 4)
    assert inner == 0 and outer > 0.1
    r = stc.check_block_structure(h=3, w=4, kernel_size=(1, 2), padding=(0, 0), layer=as_layer(M))
    assert not r.passed and r.error == outer
    # each part on its own: the inner check accepts it, the outer one rejects it
    inner_only = stc.check_block_structure(
        h=3, w=4, kernel_size=(1, 2), padding=(0, 0), part="inner", layer=as_layer(M)
    )
    outer_only = stc.check_block_structure(
        h=3, w=4, kernel_size=(1, 2), padding=(0, 0), part="outer", layer=as_layer(M)
    )
    assert inner_only.passed and not outer_only.passed


def test_a_dense_matrix_is_rejected_by_every_structure_check():
    dense = RNG.standard_normal((8, 8))
    assert not stc.check_toeplitz_structure(layer=as_layer(dense)).passed
    assert not stc.check_circulant_structure(layer=as_layer(dense)).passed
    dense2 = RNG.standard_normal((30, 30))
    r = stc.check_block_structure(h=5, w=6, kernel_size=3, padding=1, layer=as_layer(dense2))
    assert not r.passed and r.error > 0


def test_zero_padding_is_not_circulant():
    zero_padded = tp.toeplitz_conv1d(RNG.standard_normal(3), 8, 1, 1)
    r = stc.check_circulant_structure(layer=as_layer(zero_padded))
    assert not r.passed and r.error > 0


def test_wrong_row_selections_fail():
    r = stc.check_stride_subsamples_rows(select=lambda J1: J1[1::2])
    assert not r.passed and r.error > 0
    r = stc.check_conv2d_stride_rows(select=lambda J1: J1[::2])  # every other row, not block rows
    assert not r.passed and r.error > 0
    h1, w1 = 7, 5  # stride-1 output of the default 7x6 input, 3x2 kernel, padding (1, 0)
    swapped = tp.strided_rows_2d(h1, w1, (1, 2))  # s_h and s_w swapped
    r = stc.check_conv2d_stride_rows(select=lambda J1: J1[swapped])
    assert not r.passed


def test_strided_rows_2d():
    assert list(tp.strided_rows_2d(3, 4, (1, 1))) == list(range(12))
    assert list(tp.strided_rows_2d(3, 4, (2, 1))) == [0, 1, 2, 3, 8, 9, 10, 11]
    assert list(tp.strided_rows_2d(3, 4, (2, 3))) == [0, 3, 8, 11]


def test_grid_of_blocks_rejects_a_misfit():
    with pytest.raises(ValueError):
        tp.grid_of_blocks(np.zeros((5, 6)), 2, 3)


# ------------------------------------------------------------ properties --


@PROPS
@given(
    n=st.integers(1, 9),
    K=st.integers(1, 5),
    d=st.integers(1, 2),
    seed=st.integers(0, 10**6),
    data=st.data(),
)
def test_stride1_conv1d_is_toeplitz_and_circular_is_circulant_iff_square(n, K, d, seed, data):
    p = data.draw(st.integers(0, n))
    assume(tp.conv_output_length(n, K, p, 1, d) >= 1)
    assert stc.check_toeplitz_structure(
        n_in=n, kernel_size=K, padding=p, dilation=d, seed=seed
    ).passed
    circ = stc.check_circulant_structure(n_in=n, kernel_size=K, padding=p, dilation=d, seed=seed)
    assert circ.passed == (2 * p == d * (K - 1))


@PROPS
@given(
    n=st.integers(1, 12),
    K=st.integers(1, 5),
    stride=st.integers(1, 3),
    mode=st.sampled_from(["zeros", "circular"]),
    seed=st.integers(0, 10**6),
    data=st.data(),
)
def test_stride_keeps_every_s_th_row(n, K, stride, mode, seed, data):
    p = data.draw(st.integers(0, min(K, n)))
    assume(tp.conv_output_length(n, K, p, 1) >= 1)
    assert stc.check_stride_subsamples_rows(
        n_in=n, kernel_size=K, padding=p, stride=stride, padding_mode=mode, seed=seed
    ).passed


@PROPS
@given(
    h=st.integers(2, 8),
    w=st.integers(2, 8),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    ph=st.integers(0, 2),
    pw=st.integers(0, 2),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    seed=st.integers(0, 10**6),
)
def test_strided_conv2d_structure(h, w, kh, kw, ph, pw, sh, sw, seed):
    """J = selected rows of the stride-1 J; blocks Toeplitz iff s_w = 1; block Toeplitz iff s_h = 1.

    For "only if" the first output pixel must read a kernel tap (p_w < K_W, p_h < K_H) and the
    next row of blocks / of a block must exist: otherwise a strided J can be Toeplitz by accident
    (a single row, say).  Then J[0, 0] = h[p_h, p_w] and the entry one step down the diagonal
    is a different tap (or 0).
    """
    h_out, w_out = tp.conv_output_length(h, kh, ph, sh), tp.conv_output_length(w, kw, pw, sw)
    assume(h_out >= 1 and w_out >= 1)
    sizes = dict(h=h, w=w, kernel_size=(kh, kw), padding=(ph, pw), stride=(sh, sw), seed=seed)
    assert stc.check_conv2d_stride_rows(**sizes).passed
    inner = stc.check_block_structure(part="inner", **sizes)
    outer = stc.check_block_structure(part="outer", **sizes)
    first_pixel_reads_a_tap = pw < kw and ph < kh
    if sw == 1:
        assert inner.passed
    elif first_pixel_reads_a_tap and w_out >= 2 and w >= 2:
        assert not inner.passed
    if sh == 1:
        assert outer.passed
    elif first_pixel_reads_a_tap and h_out >= 2 and h >= 2:
        assert not outer.passed
