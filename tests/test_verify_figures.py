"""verify.figures: the figures draw what the checks measured."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from verify import equivariance as eq  # noqa: E402
from verify import figures  # noqa: E402
from verify import layers as ly  # noqa: E402
from verify.jacobian import check_conv2d_jacobian  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def test_jacobian_comparison_panels_and_difference():
    derived, auto = (check_conv2d_jacobian().data[k] for k in ("derived", "autograd"))
    fig = figures.jacobian_comparison(derived, auto, block=(5, 5), channel_rows=25)
    ims = images(fig)
    assert len(ims) == 3
    np.testing.assert_array_equal(ims[0].get_array(), derived)
    np.testing.assert_array_equal(ims[1].get_array(), auto)
    np.testing.assert_array_equal(ims[2].get_array(), derived - auto)
    assert not np.any(ims[2].get_array())  # the closed form matches autograd exactly
    # one shared, symmetric colour scale
    assert {im.get_clim() for im in ims} == {ims[0].get_clim()}
    lo, hi = ims[0].get_clim()
    assert lo == -hi and hi == pytest.approx(np.abs(derived).max())
    assert len(fig.axes) == 4  # three panels and the colourbar


def test_conv2d_jacobian_draws_the_check_data_with_its_blocks():
    r = check_conv2d_jacobian(h=6, w=5, padding=(1, 0), stride=(2, 1), c_out=3, kernel_size=(3, 2))
    fig = figures.conv2d_jacobian(r.data)
    ims = images(fig)
    np.testing.assert_array_equal(ims[0].get_array(), r.data["derived"])
    np.testing.assert_array_equal(ims[1].get_array(), r.data["autograd"])
    # 3 output channels of 3 x 4 pixels: 2 thick channel lines; blocks of 4 rows x 5 columns
    ax = fig.axes[0]
    thick = [ln for ln in ax.lines if ln.get_linewidth() == 1.5]
    thin = [ln for ln in ax.lines if ln.get_linewidth() == 0.5]
    assert len(thick) == 2
    assert len(thin) == (36 // 4 - 1) + (30 // 5 - 1)


def test_jacobian_comparison_shows_a_wrong_closed_form():
    derived, auto = (check_conv2d_jacobian().data[k] for k in ("derived", "autograd"))
    wrong = derived.copy()
    wrong[0, 0] += 1.0
    fig = figures.jacobian_comparison(wrong, auto)
    diff = images(fig)[2].get_array()
    assert diff[0, 0] == pytest.approx(1.0) and np.count_nonzero(diff) == 1
    assert "max $|\\cdot|$ = 1" in fig.axes[2].get_title()


def test_jacobian_comparison_rejects_shape_mismatch():
    with pytest.raises(ValueError):
        figures.jacobian_comparison(np.zeros((3, 4)), np.zeros((4, 3)))


def counterexample(dims):
    pool = ly.max_pool(2, dims)
    shape, s = ((1, 1, 8), 1) if dims == 1 else ((1, 1, 4, 4), (1, 1))
    x = eq.find_pooling_counterexample(pool, shape, s, trials=50)
    return eq.check_not_equivariant(pool, x, [s], claim_id="T2c.test", claim="test")


@pytest.mark.parametrize("dims", [1, 2])
def test_pooling_counterexample_draws_the_check_data(dims):
    r = counterexample(dims)
    assert r.passed
    fig = figures.pooling_counterexample({"max-pool": r.data})
    ims = images(fig)
    assert len(ims) == 5
    keys = ["input", "shifted_input", "f_input", "f_shifted", "shifted_f"]
    for im, key in zip(ims, keys, strict=True):
        np.testing.assert_array_equal(im.get_array(), np.atleast_2d(np.squeeze(r.data[key])))
    # the differing entries of P(S x) and S_t P(x) are outlined, in both panels
    n_diff = int(np.count_nonzero(np.abs(r.data["f_shifted"] - r.data["shifted_f"]) > 1e-6))
    assert n_diff > 0
    assert len(fig.axes[3].patches) == len(fig.axes[4].patches) == n_diff
    assert fig.axes[0].get_ylabel() == "max-pool"


def test_pooling_counterexample_no_outline_when_equivariant():
    x = torch.arange(8, dtype=torch.float64).reshape(1, 1, 8)
    r = eq.check_not_equivariant(ly.max_pool(2, 1), x, [2], claim_id="T2c.test", claim="even")
    assert not r.passed  # a shift by 2 is no counterexample
    fig = figures.pooling_counterexample({"even": r.data})
    assert not fig.axes[3].patches and not fig.axes[4].patches


def test_pooling_counterexample_needs_a_panel():
    with pytest.raises(ValueError):
        figures.pooling_counterexample({})


def test_text_width_agrees_with_the_book():
    """verify keeps its own copy of the text width (it imports nothing of ex2): the same value."""
    from ex2 import plots

    assert figures.TEXT_WIDTH == plots.TEXT_WIDTH
