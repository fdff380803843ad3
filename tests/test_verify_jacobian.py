"""T3: closed-form Jacobians vs autograd -- claims, properties, negative tests."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from verify import jacobian as jac

PROPS = settings(derandomize=True, max_examples=30, deadline=None, database=None)


def test_every_jacobian_claim_passes():
    results = jac.jacobian_claims()
    failed = [r.line() for r in results if not r.passed]
    assert not failed, "\n".join(failed)
    assert {r.question for r in results} == {"T3a", "T3b", "T3c"}


def test_closed_forms_are_exact_numbers():
    """Spot check of the formula on a hand-worked case: K=3, p=1, n=4, stride 1."""
    J = jac.toeplitz_conv1d([1.0, 2.0, 3.0], 4, padding=1, stride=1)
    expected = np.array([[2, 3, 0, 0], [1, 2, 3, 0], [0, 1, 2, 3], [0, 0, 1, 2]], dtype=float)
    assert np.array_equal(J, expected)
    # stride 2 keeps rows 0 and 2; circular padding wraps the corners
    assert np.array_equal(jac.toeplitz_conv1d([1.0, 2.0, 3.0], 4, 1, 2), expected[::2])
    C = jac.toeplitz_conv1d([1.0, 2.0, 3.0], 4, 1, 1, padding_mode="circular")
    assert C[0, 3] == 1 and C[3, 0] == 3


def test_pair_for_the_book():
    derived, auto = jac.conv2d_jacobian_pair()
    assert derived.shape == auto.shape == (2 * 5 * 5, 5 * 5)
    assert np.max(np.abs(derived - auto)) <= 1e-12
    assert np.count_nonzero(derived) > 0


# ------------------------------------------------------------ properties --


@PROPS
@given(
    c_in=st.integers(1, 2), c_out=st.integers(1, 2), K=st.integers(1, 5), n=st.integers(1, 10),
    stride=st.integers(1, 3), dilation=st.integers(1, 2), seed=st.integers(0, 10**6), data=st.data(),
)
def test_conv1d_jacobian_is_the_toeplitz_formula(c_in, c_out, K, n, stride, dilation, seed, data):
    padding = data.draw(st.integers(0, K + 1))
    assume(jac.conv_output_length(n, K, padding, stride, dilation) >= 1)
    r = jac.check_conv1d_jacobian(
        n_in=n, kernel_size=K, padding=padding, stride=stride, dilation=dilation,
        c_in=c_in, c_out=c_out, seed=seed,
    )
    assert r.passed, r.line()


@PROPS
@given(K=st.integers(1, 5), n=st.integers(2, 10), stride=st.integers(1, 3), seed=st.integers(0, 10**6), data=st.data())
def test_circular_conv1d_jacobian_is_circulant(K, n, stride, seed, data):
    padding = data.draw(st.integers(0, min(K, n)))  # circular padding must not exceed n
    assume(jac.conv_output_length(n, K, padding, stride) >= 1)
    r = jac.check_conv1d_jacobian(n_in=n, kernel_size=K, padding=padding, stride=stride,
                                  padding_mode="circular", seed=seed)
    assert r.passed, r.line()


@PROPS
@given(
    c_in=st.integers(1, 2), c_out=st.integers(1, 2), kh=st.integers(1, 3), kw=st.integers(1, 3),
    h=st.integers(1, 6), w=st.integers(1, 6), ph=st.integers(0, 2), pw=st.integers(0, 2),
    sh=st.integers(1, 2), sw=st.integers(1, 2), seed=st.integers(0, 10**6),
)
def test_conv2d_jacobian_is_doubly_block_toeplitz(c_in, c_out, kh, kw, h, w, ph, pw, sh, sw, seed):
    assume(jac.conv_output_length(h, kh, ph, sh) >= 1 and jac.conv_output_length(w, kw, pw, sw) >= 1)
    r = jac.check_conv2d_jacobian(h=h, w=w, padding=(ph, pw), stride=(sh, sw), c_in=c_in, c_out=c_out,
                                  kernel_size=(kh, kw), seed=seed)
    assert r.passed, r.line()


@PROPS
@given(h=st.integers(2, 6), w=st.integers(2, 6), k=st.integers(1, 3), p=st.integers(0, 2), seed=st.integers(0, 10**6))
def test_stride1_conv2d_autograd_jacobian_has_the_structure(h, w, k, p, seed):
    assume(h + 2 * p >= k and w + 2 * p >= k)
    assert jac.check_block_toeplitz_structure(h=h, w=w, kernel_size=k, padding=p, seed=seed).passed


@PROPS
@given(K=st.integers(1, 4), n=st.integers(1, 9), stride=st.integers(1, 3), seed=st.integers(0, 10**6), data=st.data())
def test_kernel_jacobian_and_toeplitz_structure(K, n, stride, seed, data):
    padding = data.draw(st.integers(0, K))
    assume(jac.conv_output_length(n, K, padding, stride) >= 1)
    assert jac.check_conv1d_kernel_jacobian(n_in=n, kernel_size=K, padding=padding, stride=stride, seed=seed).passed
    assert jac.check_toeplitz_structure(n_in=n, kernel_size=K, padding=padding, seed=seed).passed
    assert jac.check_stride_subsamples_rows(n_in=n, kernel_size=K, padding=padding, stride=stride, seed=seed).passed


@PROPS
@given(m=st.integers(1, 6), n=st.integers(1, 6), seed=st.integers(0, 10**6))
def test_bias_and_matmul_jacobians(m, n, seed):
    assert jac.check_bias_jacobian(n=n, seed=seed).passed
    assert jac.check_bias_param_jacobian(n=n, seed=seed).passed
    assert jac.check_matmul_jacobian(m=m, n=n, seed=seed).passed
    assert jac.check_matmul_param_jacobian(m=m, n=n, seed=seed).passed


# ------------------------------------------------------- negative tests --


def off_by_one_toeplitz(kernel, n_in, padding, stride):
    """The formula with the kernel index off by one: h_{j - i s + p + 1}."""
    h = np.asarray(kernel, dtype=float).reshape(-1)
    n_out = jac.conv_output_length(n_in, len(h), padding, stride)
    J = np.zeros((n_out, n_in))
    for i in range(n_out):
        for j in range(n_in):
            k = j - i * stride + padding + 1
            if 0 <= k < len(h):
                J[i, j] = h[k]
    return J


def flipped_kernel_toeplitz(kernel, n_in, padding, stride):
    """True convolution (flipped kernel) instead of PyTorch's cross-correlation."""
    k = np.asarray(kernel, dtype=float)
    return jac.toeplitz_conv1d(k[..., ::-1], n_in, padding, stride)


def transposed_toeplitz(kernel, n_in, padding, stride):
    return jac.toeplitz_conv1d(kernel, n_in, padding, stride).T


def stride_ignored_toeplitz(kernel, n_in, padding, stride):
    return jac.toeplitz_conv1d(kernel, n_in, padding, 1)


@pytest.mark.parametrize(
    "wrong, stride, finite",
    [
        (transposed_toeplitz, 1, True),  # square (n_out == n_in), so only the entries can differ
        (off_by_one_toeplitz, 1, True),
        (flipped_kernel_toeplitz, 1, True),
        (stride_ignored_toeplitz, 2, False),  # wrong shape -> infinite error
    ],
    ids=["transposed", "off-by-one", "flipped-kernel", "stride-ignored"],
)
def test_wrong_toeplitz_matrices_fail(wrong, stride, finite):
    r = jac.check_conv1d_jacobian(closed_form=wrong, n_in=8, kernel_size=3, padding=1, stride=stride)
    assert not r.passed and r.error > 0 and r.line().endswith("FAIL")
    assert np.isfinite(r.error) == finite


@pytest.mark.parametrize(
    "wrong",
    [lambda b: np.zeros((len(b), len(b))), lambda b: np.diag(b), lambda b: 2 * np.eye(len(b)),
     lambda b: np.ones((len(b), len(b)))],
    ids=["zeros", "diag(b)", "2I", "ones"],
)
def test_wrong_bias_jacobians_fail(wrong):
    for check in (jac.check_bias_jacobian, jac.check_bias_param_jacobian):
        r = check(closed_form=wrong)
        assert not r.passed and r.error > 0 and r.line().endswith("FAIL")


def test_wrong_matmul_jacobians_fail():
    r = jac.check_matmul_jacobian(closed_form=lambda W: W.T, m=5, n=5)
    assert not r.passed and 0 < r.error < np.inf
    r = jac.check_matmul_jacobian(closed_form=lambda W: W.T, m=4, n=6)
    assert not r.passed and r.error == np.inf  # shape mismatch
    r = jac.check_matmul_param_jacobian(closed_form=lambda W, x: np.kron(x[None, :], np.eye(W.shape[0])))
    assert not r.passed and r.error > 0


def test_wrong_block_toeplitz_fails():
    def blocks_transposed(weight, h, w, padding, stride):
        J = jac.block_toeplitz_conv2d(weight, h, w, padding, stride)
        return J.reshape(2, 5, 5, 5, 5).transpose(0, 1, 4, 3, 2).reshape(50, 25)  # inner blocks transposed

    def rows_reversed(weight, h, w, padding, stride):
        return jac.block_toeplitz_conv2d(np.asarray(weight)[:, :, ::-1, :], h, w, padding, stride)

    def plain_block_diagonal(weight, h, w, padding, stride):  # forgets the off-diagonal kernel rows
        W = np.array(weight)
        W[:, :, [0, 2], :] = 0
        return jac.block_toeplitz_conv2d(W, h, w, padding, stride)

    for wrong in (blocks_transposed, rows_reversed, plain_block_diagonal):
        r = jac.check_conv2d_jacobian(closed_form=wrong)
        assert not r.passed and r.error > 0, wrong.__name__


def test_wrong_kernel_jacobian_fails():
    r = jac.check_conv1d_kernel_jacobian(closed_form=lambda x, K, p, s: jac.conv1d_kernel_jacobian(x[::-1], K, p, s))
    assert not r.passed and r.error > 0


def test_structure_checks_can_fail():
    rng = np.random.default_rng(0)
    import torch

    dense = torch.tensor(rng.standard_normal((8, 8)))
    r = jac.check_toeplitz_structure(layer=lambda v: dense @ v)
    assert not r.passed and r.error > 0
    dense2 = torch.tensor(rng.standard_normal((30, 30)))
    r = jac.check_block_toeplitz_structure(h=5, w=6, kernel_size=3, padding=1, layer=lambda v: dense2 @ v)
    assert not r.passed and r.error > 0
    r = jac.check_stride_subsamples_rows(select=lambda J1: J1[1::2])
    assert not r.passed and r.error > 0


def test_deviation_helpers():
    T = jac.toeplitz_conv1d([1.0, 2.0, 3.0], 6, 1, 1)
    assert jac.toeplitz_deviation(T) == 0
    T[2, 2] += 1
    assert jac.toeplitz_deviation(T) == 1
    assert jac.block_toeplitz_deviation(jac.block_toeplitz_conv2d(np.arange(9.0).reshape(3, 3), 4, 4, 1, 1), 4, 4) == 0
