"""T1/T2: shift checks -- every claim passes, properties over random sizes, and negative tests."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from verify import equivariance as eq
from verify import layers as ly
from verify import shift as sh
from verify._threads import single_thread
from verify.toeplitz import conv_output_length

PROPS = settings(derandomize=True, max_examples=25, deadline=None, database=None)
ID = {"claim_id": "T1.test", "claim": "a test claim"}


def randn(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ------------------------------------------------------------ the claims --


@pytest.fixture(scope="module")
def claims():
    return {r.id: r for r in sh.shift_claims(mnist_image=np.random.default_rng(0).random((28, 28)))}


def test_every_shift_claim_passes(claims):
    failed = [r.line() for r in claims.values() if not r.passed]
    assert not failed, "\n".join(failed)


def test_every_claim_has_its_text_and_every_text_its_claim(claims):
    assert set(claims) == set(sh.CLAIMS)
    assert all(claims[i].claim == sh.CLAIMS[i] for i in claims)
    assert {r.question for r in claims.values()} == {"T1", "T2a", "T2b", "T2c", "T2d"}


def test_the_claims_of_the_corrected_theory_are_there(claims):
    """k | N for pooling and the CNN, circular padding only for 2p = d(K-1), the FC head."""
    fails = {i for i, r in claims.items() if r.expect == "fails"}
    assert {
        "T2c.max_pool_k_not_dividing_n",
        "T2c.avg_pool_k_not_dividing_n",
        "T2d.cnn_stride_not_dividing_n",
        "T1.circular_stride2_odd_shifts",
        "T1.circular_shorter_output",
        "T1.circular_longer_output",
        "T2d.cnn_linear_not_invariant",
    } <= fails
    assert claims["T1.conv1d_circular_dilated"].expect == "holds"
    assert claims["T1.circular_stride2_even_shifts"].expect == "holds"


def test_pooling_counterexample_data_is_a_real_counterexample(claims):
    r = claims["T2c.max_pool_1d_counterexample"]
    d = r.data
    x, s = d["input"], d["shift"]
    assert x.shape == (1, 1, 8) and s == (1,)
    assert np.array_equal(d["shifted_input"], np.roll(x, 1, axis=-1))
    # pooled(shifted) differs from every shift of pooled, by at least r.error
    pooled = d["f_input"]
    gaps = [
        np.abs(d["f_shifted"] - np.roll(pooled, t, axis=-1)).max() for t in range(pooled.shape[-1])
    ]
    assert min(gaps) == pytest.approx(r.error) and r.error > 0.5
    assert np.array_equal(d["shifted_f"], np.roll(pooled, d["output_shift"][0], axis=-1))


def test_pooling_with_k_not_dividing_n_breaks_every_multiple_of_k(claims):
    for name in ("max", "avg"):
        r = claims[f"T2c.{name}_pool_k_not_dividing_n"]
        assert r.data["input"].shape[-1] == 13
        assert set(r.data["violation_by_shift"]) == {(2,), (4,), (6,)}
        assert min(r.data["violation_by_shift"].values()) > 0.1


def test_mnist_claim_is_omitted_without_an_image():
    assert "T2d.cnn_mnist_not_equivariant" not in {r.id for r in sh.t2d_claims(mnist_image=None)}


# ----------------------------------------------- what the checks mean --


def test_not_equivariant_means_every_listed_shift_breaks_it():
    """check_not_equivariant: *every* shift is a counterexample, whatever the output shift."""
    pool, x = ly.avg_pool(2, 1), randn(0, 1, 2, 12)
    odd = eq.check_not_equivariant(pool, x, [1, 3, 5], **ID)
    assert odd.passed and odd.error > 0.1
    mixed = eq.check_not_equivariant(pool, x, [1, 2], **ID)  # t = 1 repairs the shift by 2
    assert not mixed.passed and mixed.error == 0
    assert mixed.data["violation_by_shift"][(2,)] == 0 < mixed.data["violation_by_shift"][(1,)]


def test_equivariant_fails_means_some_listed_shift_breaks_it():
    """check_equivariant(expect="fails"): *some* shift breaks f(S_s x) = S_t f(x)."""
    pool, x = ly.avg_pool(2, 1), randn(0, 1, 2, 12)
    half = {"out_shift": lambda s: s // 2, "out_label": "s/2"}
    some = eq.check_equivariant(pool, x, [2, 1], expect="fails", **half, **ID)
    assert some.passed and some.data["shift"] == (1,)
    none = eq.check_equivariant(pool, x, [2, 4], expect="fails", **half, **ID)
    assert not none.passed and none.error == 0


# ------------------------------------------------------------ properties --


@PROPS
@given(
    n=st.integers(4, 14),
    K=st.integers(1, 5),
    d=st.integers(1, 3),
    c_in=st.integers(1, 2),
    c_out=st.integers(1, 2),
    seed=st.integers(0, 10**6),
    data=st.data(),
)
def test_circular_conv1d_with_output_length_n_commutes_with_every_shift(
    n, K, d, c_in, c_out, seed, data
):
    assume(d * (K - 1) % 2 == 0 and d * (K - 1) // 2 <= n)
    w, x = randn(seed, c_out, c_in, K), randn(seed + 1, 2, c_in, n)
    s = data.draw(st.integers(-n, n))
    layer = ly.conv_layer(
        w, randn(seed + 2, c_out), padding=d * (K - 1) // 2, padding_mode="circular", dilation=d
    )
    assert eq.check_equivariant(layer, x, [s], **ID).passed


@PROPS
@given(
    n=st.integers(3, 12),
    K=st.integers(1, 5),
    d=st.integers(1, 2),
    seed=st.integers(0, 10**6),
    data=st.data(),
)
def test_circular_conv1d_is_equivariant_iff_n_divides_the_output_length(n, K, d, seed, data):
    """N_out = N is the case that matters; N_out = 2N, 3N merely repeat the circle."""
    p = data.draw(st.integers(0, n))  # PyTorch allows circular padding up to N
    n_out = conv_output_length(n, K, p, 1, d)
    assume(n_out >= 1)
    s = data.draw(st.integers(1, n - 1))
    layer = ly.conv_layer(randn(seed, 2, 1, K), padding=p, padding_mode="circular", dilation=d)
    x = randn(seed + 1, 1, 1, n)
    if n_out % n == 0:
        assert eq.check_equivariant(layer, x, [s], **ID).passed
    else:
        assert eq.check_not_equivariant(layer, x, [s], **ID).passed


@PROPS
@given(
    h=st.integers(3, 7),
    w=st.integers(3, 7),
    kh=st.sampled_from([1, 3, 5]),
    kw=st.sampled_from([1, 3, 5]),
    seed=st.integers(0, 10**6),
    s=st.tuples(st.integers(-7, 7), st.integers(-7, 7)),
)
def test_circular_conv2d_commutes_with_every_shift(h, w, kh, kw, seed, s):
    assume(kh // 2 <= h and kw // 2 <= w)
    weight = randn(seed, 2, 1, kh, kw)
    layer = ly.conv_layer(weight, None, padding=(kh // 2, kw // 2), padding_mode="circular")
    assert eq.check_equivariant(layer, randn(seed + 1, 1, 1, h, w), [s], **ID).passed


@PROPS
@given(
    k=st.integers(2, 3),
    n=st.integers(4, 14),
    kind=st.sampled_from(["avg", "conv"]),
    seed=st.integers(0, 10**6),
    data=st.data(),
)
def test_stride_k_commutes_with_multiples_of_k_iff_k_divides_n(k, n, kind, seed, data):
    """Average pooling and a circular conv with stride k: S_{kt} -> S_t exactly when k | N."""
    assume(k < n)
    t = data.draw(st.integers(1, (n - 1) // k))
    conv = ly.conv_layer(randn(seed, 2, 1, 3), padding=1, padding_mode="circular", stride=k)
    layer = ly.avg_pool(k, 1) if kind == "avg" else conv
    x = randn(seed + 1, 1, 1, n)
    if n % k == 0:
        assert eq.check_equivariant(layer, x, [k * t], out_shift=lambda _: t, **ID).passed
    else:
        assert eq.check_not_equivariant(layer, x, [k * t], **ID).passed


@PROPS
@given(n=st.integers(6, 16), K=st.integers(1, 5), seed=st.integers(0, 10**6), data=st.data())
def test_zero_padded_conv1d_interior_is_exact_and_the_mask_is_tight(n, K, seed, data):
    p = data.draw(st.integers(0, K))
    s = data.draw(st.integers(-3, 3))
    layer = ly.conv_layer(randn(seed, 1, 1, K), None, padding=p)
    x = randn(seed + 1, 1, 1, n)
    mask = eq.interior_mask_1d(n, K, p, s)
    r = eq.check_interior_equivariant(layer, x, [s], K, p, **ID)
    if mask.any():
        assert r.passed and r.data["compared_positions"] == mask.sum()
    else:
        assert not r.passed and np.isnan(r.error)  # nothing compared: never a vacuous PASS
    # Tightness: at output positions outside the mask (with n - s an output position) one
    # window holds a real sample where the other holds padding, so the identity generically
    # breaks.  (With p >= K a window can be all padding on both sides; those trivially agree.)
    if p >= K or s == 0:
        return
    with single_thread():
        fsx = layer(ly.shift(x, s))[0, 0].numpy()
        fx = layer(x)[0, 0].numpy()
    n_out = len(fx)
    for i in [i for i in range(n_out) if not mask[i] and 0 <= i - s < n_out]:
        assert abs(fsx[i] - fx[i - s]) > 1e-9


@PROPS
@given(
    h=st.integers(5, 9),
    w=st.integers(5, 9),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    seed=st.integers(0, 10**6),
    data=st.data(),
)
def test_zero_padded_conv2d_interior_is_exact(h, w, kh, kw, seed, data):
    """Non-square inputs and kernels, a different padding per axis."""
    ph, pw = data.draw(st.integers(0, kh - 1)), data.draw(st.integers(0, kw - 1))
    s = data.draw(st.tuples(st.integers(-2, 2), st.integers(-2, 2)))
    layer = ly.conv_layer(randn(seed, 2, 1, kh, kw), randn(seed + 2, 2), padding=(ph, pw))
    x = randn(seed + 1, 1, 1, h, w)
    r = eq.check_interior_equivariant(layer, x, [s], (kh, kw), (ph, pw), **ID)
    if eq.interior_mask((h, w), (kh, kw), (ph, pw), s).any():
        assert r.passed
    else:
        assert np.isnan(r.error) and not r.passed


@PROPS
@given(n=st.integers(2, 12), c=st.floats(-5, 5), seed=st.integers(0, 10**6), s=st.integers(-12, 12))
def test_constant_and_relu_commute_with_shifts(n, c, seed, s):
    x = randn(seed, 2, 2, n)
    assert eq.check_equivariant(ly.add_constant(c), x, [s], **ID).passed
    assert eq.check_equivariant(ly.relu, x, [s], **ID).passed
    x2 = randn(seed, 1, 2, n, 3)
    assert eq.check_equivariant(ly.relu, x2, [(s, s + 1)], **ID).passed


@PROPS
@given(
    k=st.integers(2, 3),
    m=st.integers(2, 5),
    kind=st.sampled_from(["max", "avg"]),
    dims=st.sampled_from([1, 2]),
    seed=st.integers(0, 10**6),
    data=st.data(),
)
def test_pooling_commutes_with_shifts_by_multiples_of_the_stride(k, m, kind, dims, seed, data):
    pool = (ly.max_pool if kind == "max" else ly.avg_pool)(k, dims)
    x = randn(seed, 1, 2, *([k * m] * dims))
    t = tuple(data.draw(st.integers(-m, m)) for _ in range(dims))
    s = tuple(k * v for v in t)
    assert eq.check_equivariant(pool, x, [s], out_shift=lambda _: t, **ID).passed


@PROPS
@given(k=st.integers(2, 3), m=st.integers(2, 5), seed=st.integers(0, 10**6), data=st.data())
def test_avg_pooling_breaks_every_other_shift(k, m, seed, data):
    """Average pooling is linear, so any non-multiple shift breaks it for generic input."""
    s = data.draw(st.integers(1, k * m - 1).filter(lambda v: v % k != 0))
    r = eq.check_not_equivariant(ly.avg_pool(k, 1), randn(seed, 1, 1, k * m), [s], **ID)
    assert r.passed and r.error > 1e-6


@PROPS
@given(k=st.integers(2, 3), m=st.integers(2, 4), data=st.data())
def test_a_max_pooling_counterexample_is_found_for_every_other_shift(k, m, data):
    s = data.draw(st.integers(1, k * m - 1).filter(lambda v: v % k != 0))
    pool = ly.max_pool(k, 1)
    x = eq.find_pooling_counterexample(pool, (1, 1, k * m), s, trials=100)
    r = eq.check_not_equivariant(pool, x, [s], **ID)
    assert r.passed and r.error >= 1  # integer inputs: violations are whole numbers


# ------------------------------------------------------- negative tests --


def test_pooling_is_invariant_claim_fails():
    x = randn(0, 1, 1, 12)
    for pool in (ly.max_pool(2, 1), ly.avg_pool(2, 1)):
        inv = eq.check_invariant(pool, x, [1, 2], **ID)
        assert not inv.passed and inv.error > 0
        equi = eq.check_equivariant(pool, x, [1], out_shift=lambda s: s // 2, **ID)
        assert not equi.passed and equi.error > 0
        some_t = eq.check_not_equivariant(pool, x, [1, 3], expect="holds", **ID)
        assert not some_t.passed and some_t.error > 0


def test_pooling_multiple_of_stride_claim_fails_with_the_wrong_output_shift():
    r = eq.check_equivariant(ly.max_pool(2, 1), randn(0, 1, 1, 12), [2], **ID)
    assert not r.passed and r.error > 0  # out shift must be s/2, not s


def test_zero_padded_conv_is_not_equivariant_everywhere():
    layer = ly.conv_layer(randn(0, 1, 1, 3), None, padding=1)
    r = eq.check_equivariant(layer, randn(1, 1, 1, 10), [1], **ID)
    assert not r.passed and r.error > 0


def test_circular_conv_with_the_wrong_padding_is_not_equivariant():
    x = randn(1, 1, 1, 10)
    for p in (0, 2):  # K = 3 needs p = 1
        layer = ly.conv_layer(randn(0, 1, 1, 3), None, padding=p, padding_mode="circular")
        assert not eq.check_equivariant(layer, x, [1], **ID).passed


def test_position_dependent_layers_fail_the_checks():
    ramp = torch.arange(10, dtype=torch.float64)
    layer = lambda x: x * ramp  # noqa: E731
    x = randn(0, 1, 1, 10)
    r = eq.check_equivariant(layer, x, [1], **ID)
    assert not r.passed and r.error > 0
    r = eq.check_interior_equivariant(layer, x, [1], 1, 0, **ID)
    assert not r.passed and r.error > 0


def test_conv_is_not_invariant():
    layer = ly.conv_layer(randn(0, 1, 1, 3), None, padding=1, padding_mode="circular")
    r = eq.check_invariant(layer, randn(1, 1, 1, 10), [1], **ID)
    assert not r.passed and r.error > 0


def test_cnn_with_pooling_claimed_equivariant_fails():
    x = randn(0, 1, 1, 16, 16)
    cnn = ly.small_cnn(pool=True)
    r = eq.check_equivariant(cnn, x, [(1, 1)], out_shift=lambda s: (0, 0), **ID)
    assert not r.passed and r.error > 0
    r = eq.check_not_equivariant(cnn, x, [(1, 1)], expect="holds", **ID)
    assert not r.passed and r.error > 0


def test_cnn_heads():
    x = randn(0, 1, 1, 16, 16)
    assert ly.small_cnn(head="mean")(x).shape == (1, 4)
    assert ly.small_cnn(head="linear")(x).shape == (1, 3)
    assert ly.small_cnn(pool=False, head="linear")(x).shape == (1, 3)
    multiple = [(4, 8)]
    assert eq.check_invariant(ly.small_cnn(head="mean"), x, multiple, **ID).passed
    assert not eq.check_invariant(ly.small_cnn(head="linear"), x, multiple, **ID).passed


def test_single_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
