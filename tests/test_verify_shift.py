"""T1/T2: shift checks -- every claim passes, properties over random sizes, and negative tests."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from verify import shift as sh
from verify._threads import single_thread

PROPS = settings(derandomize=True, max_examples=25, deadline=None, database=None)


def randn(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ------------------------------------------------------------ the claims --


@pytest.fixture(scope="module")
def claims():
    return sh.shift_claims(mnist_image=np.random.default_rng(0).random((28, 28)))


def test_every_shift_claim_passes(claims):
    failed = [r.line() for r in claims if not r.passed]
    assert not failed, "\n".join(failed)


def test_every_question_is_covered(claims):
    assert {r.question for r in claims} == {"T1", "T2a", "T2b", "T2c", "T2d"}
    assert any("MNIST" in r.claim for r in claims)


def test_pooling_counterexample_data_is_a_real_counterexample(claims):
    r = next(c for c in claims if "1D max-pool" in c.claim and c.expect == "fails")
    d = r.data
    x, s = d["input"], d["shift"]
    assert x.shape == (1, 1, 8) and s == (1,)
    assert np.array_equal(d["shifted_input"], np.roll(x, 1, axis=-1))
    # pooled(shifted) differs from every shift of pooled, by at least r.error
    pooled = d["f_input"]
    gaps = [np.abs(d["f_shifted"] - np.roll(pooled, t, axis=-1)).max() for t in range(pooled.shape[-1])]
    assert min(gaps) == pytest.approx(r.error) and r.error > 0.5
    assert np.array_equal(d["shifted_f"], np.roll(pooled, d["output_shift"][0], axis=-1))


def test_mnist_claim_is_omitted_without_an_image():
    assert not any("MNIST" in r.claim for r in sh.t2d_claims(mnist_image=None))


# ------------------------------------------------------------ properties --


@PROPS
@given(
    n=st.integers(4, 14), half_k=st.integers(0, 2), c_in=st.integers(1, 2),
    c_out=st.integers(1, 2), seed=st.integers(0, 10**6), data=st.data(),
)
def test_circular_conv1d_commutes_with_every_shift(n, half_k, c_in, c_out, seed, data):
    K = 2 * half_k + 1
    w, x = randn(seed, c_out, c_in, K), randn(seed + 1, 2, c_in, n)
    s = data.draw(st.integers(-n, n))
    layer = sh.conv_layer(w, randn(seed + 2, c_out), padding=half_k, padding_mode="circular")
    assert sh.check_equivariant(layer, x, [s], question="T1", claim="").passed


@PROPS
@given(
    h=st.integers(3, 7), w=st.integers(3, 7), kh=st.sampled_from([1, 3]), kw=st.sampled_from([1, 3]),
    seed=st.integers(0, 10**6), s=st.tuples(st.integers(-7, 7), st.integers(-7, 7)),
)
def test_circular_conv2d_commutes_with_every_shift(h, w, kh, kw, seed, s):
    weight = randn(seed, 2, 1, kh, kw)
    layer = sh.conv_layer(weight, None, padding=(kh // 2, kw // 2), padding_mode="circular")
    assert sh.check_equivariant(layer, randn(seed + 1, 1, 1, h, w), [s], question="T1", claim="").passed


@PROPS
@given(n=st.integers(6, 16), K=st.integers(1, 5), seed=st.integers(0, 10**6), data=st.data())
def test_zero_padded_conv1d_interior_is_exact_and_the_mask_is_tight(n, K, seed, data):
    p = data.draw(st.integers(0, K))
    s = data.draw(st.integers(-3, 3))
    layer = sh.conv_layer(randn(seed, 1, 1, K), None, padding=p)
    x = randn(seed + 1, 1, 1, n)
    mask = sh.interior_mask_1d(n, K, p, s)
    r = sh.check_interior_equivariant(layer, x, [s], K, p, question="T1", claim="")
    if mask.any():
        assert r.passed and r.data["compared_positions"] == mask.sum()
    else:
        assert not r.passed and np.isnan(r.error)  # nothing compared: never a vacuous PASS
    # Tightness: at output positions outside the mask (with n - s an output
    # position) one window holds a real sample where the other holds padding,
    # so the identity generically breaks.  (With p >= K a window can be all
    # padding on both sides; those trivially agree, so p < K here.)
    if p >= K:
        return
    with single_thread():
        fsx = layer(sh.shift(x, s))[0, 0].numpy()
        fx = layer(x)[0, 0].numpy()
    n_out = len(fx)
    outside = [i for i in range(n_out) if not mask[i] and 0 <= i - s < n_out]
    if s != 0:
        for i in outside:
            assert abs(fsx[i] - fx[i - s]) > 1e-9


@PROPS
@given(
    h=st.integers(5, 9), w=st.integers(5, 9), k=st.integers(1, 3), seed=st.integers(0, 10**6),
    s=st.tuples(st.integers(-2, 2), st.integers(-2, 2)),
)
def test_zero_padded_conv2d_interior_is_exact(h, w, k, seed, s):
    layer = sh.conv_layer(randn(seed, 2, 1, k, k), randn(seed + 2, 2), padding=k // 2)
    r = sh.check_interior_equivariant(layer, randn(seed + 1, 1, 1, h, w), [s], k, k // 2, question="T1", claim="")
    assert r.passed


@PROPS
@given(n=st.integers(2, 12), c=st.floats(-5, 5), seed=st.integers(0, 10**6), s=st.integers(-12, 12))
def test_constant_and_relu_commute_with_shifts(n, c, seed, s):
    x = randn(seed, 2, 2, n)
    assert sh.check_equivariant(sh.add_constant(c), x, [s], question="T2a", claim="").passed
    assert sh.check_equivariant(sh.relu, x, [s], question="T2b", claim="").passed
    x2 = randn(seed, 1, 2, n, 3)
    assert sh.check_equivariant(sh.relu, x2, [(s, s + 1)], question="T2b", claim="").passed


@PROPS
@given(
    k=st.integers(2, 3), m=st.integers(2, 5), kind=st.sampled_from(["max", "avg"]),
    dims=st.sampled_from([1, 2]), seed=st.integers(0, 10**6), data=st.data(),
)
def test_pooling_commutes_with_shifts_by_multiples_of_the_stride(k, m, kind, dims, seed, data):
    pool = (sh.max_pool if kind == "max" else sh.avg_pool)(k, dims)
    x = randn(seed, 1, 2, *([k * m] * dims))
    t = tuple(data.draw(st.integers(-m, m)) for _ in range(dims))
    s = tuple(k * v for v in t)
    r = sh.check_equivariant(pool, x, [s], out_shift=lambda _: t, question="T2c", claim="")
    assert r.passed


@PROPS
@given(k=st.integers(2, 3), m=st.integers(2, 5), seed=st.integers(0, 10**6), data=st.data())
def test_avg_pooling_breaks_every_other_shift(k, m, seed, data):
    """Average pooling is linear, so any non-multiple shift breaks it for generic input."""
    s = data.draw(st.integers(1, k * m - 1).filter(lambda v: v % k != 0))
    r = sh.check_not_equivariant(sh.avg_pool(k, 1), randn(seed, 1, 1, k * m), [s], question="T2c", claim="")
    assert r.passed and r.error > 1e-6


@PROPS
@given(k=st.integers(2, 3), m=st.integers(2, 4), data=st.data())
def test_a_max_pooling_counterexample_is_found_for_every_other_shift(k, m, data):
    s = data.draw(st.integers(1, k * m - 1).filter(lambda v: v % k != 0))
    pool = sh.max_pool(k, 1)
    x = sh.find_pooling_counterexample(pool, (1, 1, k * m), s, trials=100)
    r = sh.check_not_equivariant(pool, x, [s], question="T2c", claim="")
    assert r.passed and r.error >= 1  # integer inputs: violations are whole numbers


# ------------------------------------------------------- negative tests --


def test_pooling_is_invariant_claim_fails():
    x = randn(0, 1, 1, 12)
    for pool in (sh.max_pool(2, 1), sh.avg_pool(2, 1)):
        inv = sh.check_invariant(pool, x, [1, 2], question="T2c", claim="pooling is invariant")
        assert not inv.passed and inv.error > 0
        equi = sh.check_equivariant(
            pool, x, [1], out_shift=lambda s: s // 2, question="T2c", claim="pooling is equivariant"
        )
        assert not equi.passed and equi.error > 0
        some_t = sh.check_not_equivariant(pool, x, [1, 3], question="T2c", claim="", expect="holds")
        assert not some_t.passed and some_t.error > 0


def test_pooling_multiple_of_stride_claim_fails_with_the_wrong_output_shift():
    r = sh.check_equivariant(sh.max_pool(2, 1), randn(0, 1, 1, 12), [2], question="T2c", claim="")
    assert not r.passed and r.error > 0  # out shift must be s/2, not s


def test_zero_padded_conv_is_not_equivariant_everywhere():
    layer = sh.conv_layer(randn(0, 1, 1, 3), None, padding=1)
    r = sh.check_equivariant(layer, randn(1, 1, 1, 10), [1], question="T1", claim="zero padding is exact")
    assert not r.passed and r.error > 0


def test_position_dependent_layers_fail_the_checks():
    ramp = torch.arange(10, dtype=torch.float64)
    layer = lambda x: x * ramp  # noqa: E731
    x = randn(0, 1, 1, 10)
    r = sh.check_equivariant(layer, x, [1], question="T2a", claim="")
    assert not r.passed and r.error > 0
    r = sh.check_interior_equivariant(layer, x, [1], 1, 0, question="T1", claim="")
    assert not r.passed and r.error > 0


def test_conv_is_not_invariant():
    layer = sh.conv_layer(randn(0, 1, 1, 3), None, padding=1, padding_mode="circular")
    r = sh.check_invariant(layer, randn(1, 1, 1, 10), [1], question="T1", claim="conv is invariant")
    assert not r.passed and r.error > 0


def test_cnn_with_pooling_claimed_equivariant_fails():
    x = randn(0, 1, 1, 16, 16)
    r = sh.check_equivariant(sh.small_cnn(pool=True), x, [(1, 1)], out_shift=lambda s: (0, 0), question="T2d", claim="")
    assert not r.passed and r.error > 0
    r = sh.check_not_equivariant(sh.small_cnn(pool=True), x, [(1, 1)], question="T2d", claim="", expect="holds")
    assert not r.passed and r.error > 0


def test_single_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
