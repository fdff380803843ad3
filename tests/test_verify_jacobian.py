"""T3: closed-form Jacobians vs autograd -- claims, properties, negative tests."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from verify import jacobian as jac
from verify import toeplitz as tp

PROPS = settings(derandomize=True, max_examples=30, deadline=None, database=None)


def test_every_jacobian_claim_passes():
    results = jac.jacobian_claims()
    failed = [r.line() for r in results if not r.passed]
    assert not failed, "\n".join(failed)
    assert {r.question for r in results} == {"T3a", "T3b", "T3c"}
    ids = [r.id for r in results]
    assert len(set(ids)) == len(ids)
    # the cases the brief asked to run in `python -m verify`, not only in pytest
    assert {
        "T3c.conv1d_circular_strided",
        "T3c.conv1d_circular_dilated",
        "T3c.conv1d_circular_k_gt_n",
        "T3c.im2col_strided",
        "T3c.conv1d_asymmetric_padding",
        "T3c.conv2d_strided_both",
    } <= set(ids)


def test_claim_text_names_the_structure_correctly():
    """A strided 2D conv's J is not called doubly block Toeplitz; circulant only for N_out = N."""
    by_id = {r.id: r for r in jac.jacobian_claims()}
    assert "doubly block Toeplitz" in by_id["T3c.conv2d_doubly_block_toeplitz"].claim
    for cid in ("T3c.conv2d_strided_channels", "T3c.conv2d_strided_both"):
        assert "doubly" not in by_id[cid].claim and "block rows 0" in by_id[cid].claim
    assert "rows 0, 2" in by_id["T3c.conv1d_circular_strided"].claim
    assert "not circulant" in jac.conv1d_shape(8, 3, 0, 1, 1, "circular", False)
    assert (
        jac.conv1d_shape(8, 3, 1, 1, 1, "circular", False) == "the circulant matrix of the kernel"
    )


def test_closed_forms_are_exact_numbers():
    """Spot check of the formula on a hand-worked case: K=3, p=1, n=4, stride 1."""
    J = tp.toeplitz_conv1d([1.0, 2.0, 3.0], 4, padding=1, stride=1)
    expected = np.array([[2, 3, 0, 0], [1, 2, 3, 0], [0, 1, 2, 3], [0, 0, 1, 2]], dtype=float)
    assert np.array_equal(J, expected)
    # stride 2 keeps rows 0 and 2; circular padding wraps the corners
    assert np.array_equal(tp.toeplitz_conv1d([1.0, 2.0, 3.0], 4, 1, 2), expected[::2])
    C = tp.toeplitz_conv1d([1.0, 2.0, 3.0], 4, 1, 1, padding_mode="circular")
    assert C[0, 3] == 1 and C[3, 0] == 3


def test_the_book_example():
    r = jac.check_conv2d_jacobian()  # defaults: the figure of the theory chapter
    derived, auto = r.data["derived"], r.data["autograd"]
    assert derived.shape == auto.shape == (2 * 5 * 5, 5 * 5)
    assert np.max(np.abs(derived - auto)) <= 1e-12
    assert np.count_nonzero(derived) > 0


# ------------------------------------------------------------ properties --


@PROPS
@given(
    c_in=st.integers(1, 2),
    c_out=st.integers(1, 2),
    K=st.integers(1, 5),
    n=st.integers(1, 10),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 2),
    seed=st.integers(0, 10**6),
    data=st.data(),
)
def test_conv1d_jacobian_is_the_toeplitz_formula(c_in, c_out, K, n, stride, dilation, seed, data):
    """Zero padding, also asymmetric (left != right)."""
    padding = (data.draw(st.integers(0, K + 1)), data.draw(st.integers(0, K + 1)))
    assume(tp.conv_output_length(n, K, padding, stride, dilation) >= 1)
    r = jac.check_conv1d_jacobian(
        n_in=n,
        kernel_size=K,
        padding=padding,
        stride=stride,
        dilation=dilation,
        c_in=c_in,
        c_out=c_out,
        seed=seed,
    )
    assert r.passed, r.line()


@PROPS
@given(
    K=st.integers(1, 5),
    n=st.integers(2, 10),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 3),
    seed=st.integers(0, 10**6),
    data=st.data(),
)
def test_circular_conv1d_jacobian_is_the_wrapped_formula(K, n, stride, dilation, seed, data):
    """Circular padding with dilation, stride, any padding up to N and kernels longer than N."""
    padding = (data.draw(st.integers(0, n)), data.draw(st.integers(0, n)))  # PyTorch: <= N
    assume(tp.conv_output_length(n, K, padding, stride, dilation) >= 1)
    r = jac.check_conv1d_jacobian(
        n_in=n,
        kernel_size=K,
        padding=padding,
        stride=stride,
        dilation=dilation,
        padding_mode="circular",
        seed=seed,
    )
    assert r.passed, r.line()


@PROPS
@given(
    c_in=st.integers(1, 2),
    c_out=st.integers(1, 2),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    ph=st.integers(0, 2),
    pw=st.integers(0, 2),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    seed=st.integers(0, 10**6),
)
def test_conv2d_jacobian_is_the_block_formula(c_in, c_out, kh, kw, h, w, ph, pw, sh, sw, seed):
    assume(tp.conv_output_length(h, kh, ph, sh) >= 1 and tp.conv_output_length(w, kw, pw, sw) >= 1)
    r = jac.check_conv2d_jacobian(
        h=h,
        w=w,
        padding=(ph, pw),
        stride=(sh, sw),
        c_in=c_in,
        c_out=c_out,
        kernel_size=(kh, kw),
        seed=seed,
    )
    assert r.passed, r.line()


@PROPS
@given(
    K=st.integers(1, 5),
    n=st.integers(1, 9),
    stride=st.integers(1, 3),
    seed=st.integers(0, 10**6),
    data=st.data(),
)
def test_kernel_jacobian_is_the_patch_matrix(K, n, stride, seed, data):
    padding = data.draw(st.integers(0, K))
    assume(tp.conv_output_length(n, K, padding, stride) >= 1)
    assert jac.check_conv1d_kernel_jacobian(
        n_in=n, kernel_size=K, padding=padding, stride=stride, seed=seed
    ).passed


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
    n_out = tp.conv_output_length(n_in, len(h), padding, stride)
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
    return tp.toeplitz_conv1d(k[..., ::-1], n_in, padding, stride)


def transposed_toeplitz(kernel, n_in, padding, stride):
    return tp.toeplitz_conv1d(kernel, n_in, padding, stride).T


def stride_ignored_toeplitz(kernel, n_in, padding, stride):
    return tp.toeplitz_conv1d(kernel, n_in, padding, 1)


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
    r = jac.check_conv1d_jacobian(
        closed_form=wrong, n_in=8, kernel_size=3, padding=1, stride=stride
    )
    assert not r.passed and r.error > 0 and r.line().endswith("FAIL")
    assert np.isfinite(r.error) == finite


@pytest.mark.parametrize(
    "wrong",
    [
        lambda b: np.zeros((len(b), len(b))),
        lambda b: np.diag(b),
        lambda b: 2 * np.eye(len(b)),
        lambda b: np.ones((len(b), len(b))),
    ],
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
    r = jac.check_matmul_param_jacobian(
        closed_form=lambda W, x: np.kron(x[None, :], np.eye(W.shape[0]))
    )
    assert not r.passed and r.error > 0


def test_wrong_block_toeplitz_fails():
    def blocks_transposed(weight, h, w, padding, stride):
        J = tp.block_toeplitz_conv2d(weight, h, w, padding, stride)
        return (
            J.reshape(2, 5, 5, 5, 5).transpose(0, 1, 4, 3, 2).reshape(50, 25)
        )  # inner blocks transposed

    def rows_reversed(weight, h, w, padding, stride):
        return tp.block_toeplitz_conv2d(np.asarray(weight)[:, :, ::-1, :], h, w, padding, stride)

    def plain_block_diagonal(weight, h, w, padding, stride):  # forgets the off-diagonal kernel rows
        W = np.array(weight)
        W[:, :, [0, 2], :] = 0
        return tp.block_toeplitz_conv2d(W, h, w, padding, stride)

    for wrong in (blocks_transposed, rows_reversed, plain_block_diagonal):
        r = jac.check_conv2d_jacobian(closed_form=wrong)
        assert not r.passed and r.error > 0, wrong.__name__


def test_wrong_kernel_jacobian_fails():
    r = jac.check_conv1d_kernel_jacobian(
        closed_form=lambda x, K, p, s: tp.conv1d_kernel_jacobian(x[::-1], K, p, s)
    )
    assert not r.passed and r.error > 0


def circular_overwriting(kernel, n_in, padding, stride):
    """Circular closed form that *overwrites* a column instead of adding the taps meeting there."""
    h = np.asarray(kernel, dtype=float).reshape(-1)
    n_out = tp.conv_output_length(n_in, len(h), padding, stride)
    J = np.zeros((n_out, n_in))
    for i in range(n_out):
        for k in range(len(h)):
            J[i, (i * stride + k - tp.pair(padding)[0]) % n_in] = h[k]
    return J


def circular_without_wrap(kernel, n_in, padding, stride):
    return tp.toeplitz_conv1d(kernel, n_in, padding, stride)  # the zero-padding formula


def test_wrong_circular_closed_forms_fail():
    right = jac.check_conv1d_jacobian(
        closed_form=circular_overwriting, n_in=8, kernel_size=3, padding=1, padding_mode="circular"
    )
    assert right.passed  # taps never meet when K <= N ...
    r = jac.check_conv1d_jacobian(
        closed_form=circular_overwriting, n_in=3, kernel_size=5, padding=2, padding_mode="circular"
    )
    assert not r.passed and 0 < r.error < np.inf  # ... but they do when K > N
    r = jac.check_conv1d_jacobian(
        closed_form=circular_without_wrap,
        n_in=9,
        kernel_size=3,
        padding=1,
        stride=2,
        padding_mode="circular",
    )
    assert not r.passed and 0 < r.error < np.inf


def test_wrong_padding_and_dilation_closed_forms_fail():
    def right_padding_first(kernel, n_in, padding, stride):
        return tp.toeplitz_conv1d(kernel, n_in, padding[::-1], stride)

    r = jac.check_conv1d_jacobian(
        closed_form=right_padding_first, n_in=7, kernel_size=5, padding=(3, 1), stride=3
    )
    assert not r.passed and 0 < r.error < np.inf  # same shape, shifted taps
    r = jac.check_conv1d_jacobian(
        closed_form=tp.toeplitz_conv1d, n_in=10, kernel_size=3, padding=2, dilation=2
    )  # dilation ignored: N + 2p - K + 1 rows instead of N + 2p - d(K-1)
    assert not r.passed and r.error == np.inf


def test_strided_2d_closed_form_with_stride_ignored_fails():
    def stride_1(weight, h, w, padding, stride):
        return tp.block_toeplitz_conv2d(weight, h, w, padding, 1)

    r = jac.check_conv2d_jacobian(
        closed_form=stride_1, h=7, w=9, padding=(2, 1), stride=(3, 2), kernel_size=(5, 4)
    )
    assert not r.passed and r.error == np.inf


def test_conv2d_data_has_the_sizes_of_the_figure():
    r = jac.check_conv2d_jacobian(h=6, w=5, padding=(1, 0), stride=(2, 1), kernel_size=(3, 2))
    s = r.data["sizes"]
    assert (s["h_out"], s["w_out"]) == (3, 4) and (s["kh"], s["kw"]) == (3, 2)
    assert r.data["derived"].shape == (s["c_out"] * s["h_out"] * s["w_out"], s["h"] * s["w"])
