"""Measure how a layer responds to shifted inputs, and judge it as a claim.

Three questions, three checks, each over a list of shifts ``s``:

* :func:`check_equivariant` -- does ``f(S_s x) == S_t f(x)`` hold with the *given* output shift
  ``t`` (default ``t = s``)?  The error is the worst case over the shifts, so with
  ``expect="fails"`` the claim passes when *some* shift breaks the identity.
* :func:`check_not_equivariant` -- is there *no* output shift at all that reproduces
  ``f(S_s x)``?  The error is the best match over every output shift ``t``, minimised over the
  shifts, so with ``expect="fails"`` the claim passes only when *every* listed shift breaks
  equivariance, whatever ``t``.  (A shift by a multiple of a pooling factor in the list makes it
  fail.)
* :func:`check_invariant` -- ``f(S_s x) == f(x)``, the deep-learning "invariance".

:func:`check_interior_equivariant` compares a zero-padded convolution only where the border
cannot reach.  Tolerances come from :mod:`verify.results`.
"""

from __future__ import annotations

import numpy as np
import torch

from verify._threads import single_thread
from verify.layers import all_shifts, as_shift, per_dim, shift
from verify.results import ClaimResult, make_result


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def equivariance_error(layer, x, s, t=None) -> float:
    """max |f(S_s x) - S_t f(x)|  (t defaults to s)."""
    t = s if t is None else t
    return float((layer(shift(x, s)) - shift(layer(x), t)).abs().max())


def nearest_output_shift(layer, x, s):
    """The output shift t that best matches f(S_s x), and its error.

    Returns (error, t, f(S_s x), S_t f(x)).  error == 0 means f is equivariant at this input and
    shift (possibly with the output moving by t != s).
    """
    fsx = layer(shift(x, s))
    fx = layer(x)
    best = None
    for t in all_shifts(fx.shape[-len(as_shift(s)) :]):
        err = float((fsx - shift(fx, t)).abs().max())
        if best is None or err < best[0]:
            best = (err, t)
    err, t = best
    return err, t, fsx, shift(fx, t)


def interior_mask_1d(n_in: int, kernel_size: int, padding: int, s: int) -> np.ndarray:
    """Output positions (stride-1 zero-padded conv) where f(S_s x)[n] must equal f(x)[n - s].

    Output n reads input samples n - padding ... n - padding + kernel_size - 1.  After a
    circular shift by s those samples are the original ones (no padding, no wrap-around) iff
    they lie in [max(s, 0), n_in + min(s, 0)).  n - s must also be an output position.
    """
    n_out = n_in + 2 * padding - kernel_size + 1
    n = np.arange(n_out)
    first = n - padding
    last = first + kernel_size - 1
    return (n - s >= 0) & (n - s < n_out) & (first >= max(s, 0)) & (last < n_in + min(s, 0))


def interior_mask(spatial, kernel_size, padding, s) -> np.ndarray:
    """The 1D mask per axis, combined with an outer product (1D or 2D)."""
    s = as_shift(s)
    masks = [interior_mask_1d(n, kernel_size[d], padding[d], s[d]) for d, n in enumerate(spatial)]
    mask = masks[0]
    for m in masks[1:]:
        mask = np.logical_and.outer(mask, m)
    return mask


@single_thread()
def check_equivariant(
    layer, x, shifts, *, claim_id, claim, out_shift=None, out_label="s", expect="holds"
) -> ClaimResult:
    """f(S_s x) == S_t f(x) for every s in `shifts` (t = out_shift(s), default t = s).

    The error is the worst case over all shifts ("holds": every shift satisfies it; "fails":
    some shift breaks it); `data` holds the worst shift.  `out_label` names t in the quantity
    text (e.g. "s/2").
    """
    out_shift = out_shift or (lambda s: s)
    shifts = list(shifts)
    err, s, t = max(
        ((equivariance_error(layer, x, s, out_shift(s)), s, out_shift(s)) for s in shifts),
        key=lambda e: e[0],
    )
    fsx, sfx = layer(shift(x, s)), shift(layer(x), t)
    data = {
        "input": _np(x),
        "shift": as_shift(s),
        "output_shift": as_shift(t),
        "f_shifted": _np(fsx),
        "shifted_f": _np(sfx),
        "n_shifts": len(shifts),
    }
    t_label = out_label if out_label == "s" else f"({out_label})"
    quantity = f"max_s |f(S_s x) - S_{t_label} f(x)|"
    return make_result(claim_id, claim, quantity, err, expect=expect, data=data)


@single_thread()
def check_interior_equivariant(
    layer, x, shifts, kernel_size, padding, *, claim_id, claim, expect="holds"
) -> ClaimResult:
    """Zero-padded stride-1 conv: f(S_s x)[n] == f(x)[n - s] at interior positions only.

    kernel_size, padding: an int or one per spatial dim.  An empty interior would make the check
    vacuous, so it reports NaN (FAIL).
    """
    spatial = tuple(x.shape[2:])
    kernel_size, padding = per_dim(kernel_size, len(spatial)), per_dim(padding, len(spatial))
    fx = layer(x)
    err, compared, worst_s = 0.0, 0, None
    for s in shifts:
        mask = torch.from_numpy(interior_mask(spatial, kernel_size, padding, s))
        diff = (layer(shift(x, s)) - shift(fx, s)).abs()[..., mask]
        compared += int(mask.sum())
        if diff.numel() and float(diff.max()) >= err:
            err, worst_s = float(diff.max()), as_shift(s)
    if compared == 0:
        err = float("nan")
    data = {"input": _np(x), "worst_shift": worst_s, "compared_positions": compared}
    quantity = "max_s max_interior |f(S_s x) - S_s f(x)|"
    return make_result(claim_id, claim, quantity, err, expect=expect, data=data)


@single_thread()
def check_not_equivariant(layer, x, shifts, *, claim_id, claim, expect="fails") -> ClaimResult:
    """*Every* s in `shifts` breaks equivariance: no output shift t gives f(S_s x) == S_t f(x).

    The error is min over s of min over t of max |f(S_s x) - S_t f(x)|: the smallest violation
    found.  With expect="fails" the check passes when that is > tol, i.e. when every listed
    shift is a counterexample; one shift that some t repairs makes it fail.  (With
    expect="holds" the same measurement tests "f is equivariant, up to some output shift, at
    one of these shifts".)  `data` holds the counterexample for shifts[0]: input, shift, f(x),
    f(S x), S_t f(x), and the violation of every shift.
    """
    shifts = list(shifts)
    violation = {as_shift(s): nearest_output_shift(layer, x, s)[0] for s in shifts}
    err, t, fsx, stfx = nearest_output_shift(layer, x, shifts[0])
    data = {
        "input": _np(x),
        "shift": as_shift(shifts[0]),
        "f_input": _np(layer(x)),
        "shifted_input": _np(shift(x, shifts[0])),
        "f_shifted": _np(fsx),  # e.g. pooled(shifted)
        "shifted_f": _np(stfx),  # e.g. shifted(pooled), best output shift
        "output_shift": t,
        "violation_by_shift": violation,
    }
    quantity = "min_s min_t max|f(S_s x) - S_t f(x)|"
    return make_result(claim_id, claim, quantity, min(violation.values()), expect=expect, data=data)


@single_thread()
def check_invariant(layer, x, shifts, *, claim_id, claim, expect="holds") -> ClaimResult:
    """Invariance in the deep-learning sense: f(S_s x) == f(x), worst case over the shifts."""
    fx = layer(x)
    err, s = max(
        ((float((layer(shift(x, s)) - fx).abs().max()), as_shift(s)) for s in shifts),
        key=lambda e: e[0],
    )
    data = {"input": _np(x), "shift": s, "f_input": _np(fx)}
    return make_result(claim_id, claim, "max_s |f(S_s x) - f(x)|", err, expect=expect, data=data)


@single_thread()
def find_pooling_counterexample(layer, shape, s, trials=200, seed=0, high=10):
    """Small integer input (values 0..high-1) with the largest violation at shift s.

    Integer inputs keep the counterexample readable in the book.
    """
    rng = np.random.default_rng(seed)
    best = (-1.0, None)
    for _ in range(trials):
        x = torch.from_numpy(rng.integers(0, high, size=shape).astype(np.float64))
        err = nearest_output_shift(layer, x, s)[0]
        if err > best[0]:
            best = (err, x)
    return best[1]
