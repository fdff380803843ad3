"""Figures of the check results, for the book's theory chapter.

Each function takes what a check returned (a ClaimResult's ``data``, or two Jacobians) and returns
a matplotlib Figure; nothing is computed here that the checks did not measure, except the
difference of two matrices.  Importing ``verify`` does not import this module (nor matplotlib).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

# The book's text width in inches (ex2.plots.TEXT_WIDTH; verify imports nothing of ex2, a test
# checks that the two agree). The pages draw these figures in the book's style (plots.drawn_by).
TEXT_WIDTH = 7.0


def _as_grid(a) -> np.ndarray:
    """A (1, 1, n) or (1, 1, h, w) array as a 2D grid (1 x n or h x w)."""
    return np.atleast_2d(np.squeeze(np.asarray(a, dtype=np.float64)))


def _fmt(v: float) -> str:
    return f"{v:g}"


def _annotated_grid(ax, grid, vmin, vmax, title, window=None, mismatch=None):
    ax.imshow(grid, cmap="Blues", vmin=vmin, vmax=vmax, interpolation="nearest")
    mid = (vmin + vmax) / 2
    for (r, c), v in np.ndenumerate(grid):
        ax.text(
            c,
            r,
            _fmt(v),
            ha="center",
            va="center",
            fontsize=9,
            color="white" if v > mid else "black",
        )
    if window:  # pooling windows of the input
        rows, cols = grid.shape
        for c in range(window, cols, window):
            ax.axvline(c - 0.5, color="0.35", lw=1.5)
        for r in range(window, rows, window):
            ax.axhline(r - 0.5, color="0.35", lw=1.5)
    if mismatch is not None:  # outline the entries that differ
        for r, c in zip(*np.nonzero(mismatch), strict=True):
            ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec="crimson", lw=2.5))
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def pooling_counterexample(panels: dict, factor: int = 2, tol: float = 1e-6) -> plt.Figure:
    """One row per counterexample of :func:`verify.shift.check_not_equivariant`.

    panels: row label -> that check's ``data`` (keys input, shifted_input,
    f_input, f_shifted, shifted_f, shift, output_shift).  Five panels per row:
    x, S_s x, P(x), P(S_s x) and S_t P(x) for the closest output shift t; the
    entries of P(S_s x) that differ from S_t P(x) by more than ``tol`` are
    outlined in red.  Thick lines on the inputs mark the pooling windows.
    """
    if not panels:
        raise ValueError("no counterexample to draw")
    fig, axes = plt.subplots(
        len(panels), 5, figsize=(TEXT_WIDTH, 1.8 * len(panels)), squeeze=False, layout="constrained"
    )
    for row, (label, d) in zip(axes, panels.items(), strict=True):
        x, sx = _as_grid(d["input"]), _as_grid(d["shifted_input"])
        px, psx, spx = _as_grid(d["f_input"]), _as_grid(d["f_shifted"]), _as_grid(d["shifted_f"])
        vmin = min(a.min() for a in (x, px, psx))
        vmax = max(a.max() for a in (x, px, psx))
        s, t = tuple(d["shift"]), tuple(d["output_shift"])
        s_txt = s[0] if len(s) == 1 else s
        t_txt = t[0] if len(t) == 1 else t
        mismatch = np.abs(psx - spx) > tol
        _annotated_grid(row[0], x, vmin, vmax, "$x$", window=factor)
        _annotated_grid(row[1], sx, vmin, vmax, f"$S_s x$, $s={s_txt}$", window=factor)
        _annotated_grid(row[2], px, vmin, vmax, "$P(x)$")
        _annotated_grid(row[3], psx, vmin, vmax, "$P(S_s x)$", mismatch=mismatch)
        _annotated_grid(row[4], spx, vmin, vmax, f"$S_t P(x)$, $t={t_txt}$", mismatch=mismatch)
        row[0].set_ylabel(label, fontsize=9)
    return fig


def jacobian_comparison(
    derived,
    autograd,
    *,
    block: tuple[int, int] | None = None,
    channel_rows: int | None = None,
    title: str = "",
) -> plt.Figure:
    """Heatmaps of a derived Jacobian, the autograd Jacobian and their difference.

    One symmetric colour scale (and one colourbar) for all three panels, so the
    difference panel is uniformly white exactly when the matrices agree.
    block = (rows, cols): thin lines between the blocks (e.g. one block per
    output row x input row of a 2D conv); channel_rows: thick lines between
    output channels.  Raises ValueError if the shapes differ.
    """
    derived = np.asarray(derived, dtype=np.float64)
    autograd = np.asarray(autograd, dtype=np.float64)
    if derived.shape != autograd.shape or derived.ndim != 2:
        raise ValueError(
            f"need two matrices of one shape, got {derived.shape} and {autograd.shape}"
        )
    diff = derived - autograd
    vmax = float(max(np.abs(derived).max(), np.abs(autograd).max(), np.abs(diff).max())) or 1.0
    rows, cols = derived.shape
    # tall matrices (channels stacked) are squeezed vertically: a page fits the figure
    height = min(3.4, 1.4 + 2.0 * rows / cols)
    fig, axes = plt.subplots(1, 3, figsize=(TEXT_WIDTH, height), layout="constrained", sharey=True)
    panels = [
        (derived, "derived (closed form)"),
        (autograd, "autograd"),
        (diff, f"derived $-$ autograd\nmax $|\\cdot|$ = {np.abs(diff).max():.3g}"),
    ]
    for ax, (M, name) in zip(axes, panels, strict=True):
        im = ax.imshow(
            M, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest", aspect="auto"
        )
        if block:
            for r in range(block[0], rows, block[0]):
                ax.axhline(r - 0.5, color="0.6", lw=0.5)
            for c in range(block[1], cols, block[1]):
                ax.axvline(c - 0.5, color="0.6", lw=0.5)
        if channel_rows:
            for r in range(channel_rows, rows, channel_rows):
                ax.axhline(r - 0.5, color="black", lw=1.5)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("input index $j$", fontsize=9)
    axes[0].set_ylabel("output index $i$", fontsize=9)
    cbar = fig.colorbar(im, ax=list(axes), shrink=0.8)
    cbar.set_label(r"$J_{ij} = \partial y_i / \partial x_j$", fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def conv2d_jacobian(data: dict) -> plt.Figure:
    """:func:`jacobian_comparison` of a :func:`verify.jacobian.check_conv2d_jacobian` result.

    data: that result's ``data`` (derived, autograd, sizes); thin lines between the blocks of
    one output row x one input row, thick lines between output channels.
    """
    s = data["sizes"]
    return jacobian_comparison(
        data["derived"],
        data["autograd"],
        block=(s["w_out"], s["w"]),
        channel_rows=s["h_out"] * s["w_out"],
    )
