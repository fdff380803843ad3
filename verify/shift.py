"""T1 and T2: what happens to each layer when the input is shifted.

Notation.  ``S_s`` shifts a signal by ``s`` samples (pixels in 2D):
``(S_s x)[n] = x[n - s]``.  On a finite signal we use the *circular* shift
(``torch.roll``), which is the only shift that loses nothing.

Terminology.  The exercise's "time/space invariant" is the signal-processing
name of a system whose response to a shifted input is the shifted response:
``f(S_s x) = S_s f(x)``.  Deep learning calls exactly this property
*shift-equivariance*, and keeps *shift-invariance* for ``f(S_s x) = f(x)``
(the output does not move at all, e.g. after global pooling).  Every check
below measures equivariance unless it says "invariant"; one claim shows that a
convolution is equivariant but not invariant.

T1 -- convolution.  PyTorch's convolution is a cross-correlation,
``y[n] = sum_k h[k] x[n + k] (+ b)``.  Then
``conv(S_s x)[n] = sum_k h[k] x[n + k - s] = y[n - s] = (S_s y)[n]``
for every ``n`` and ``s``: the same weights are used at every position.  On a
finite signal this is exact with circular padding (the signal lives on a
circle).  With zero padding the shifted signal drags different samples across
the border, so the identity holds exactly only at output positions whose
window touches neither the padding nor the samples that wrapped around, and
fails at the border; both are measured.

T2 -- the other layers.
(a) ``(S x) + c = S (x + c)`` because the constant is the same at every
    position (a *position-dependent* bias vector breaks this; measured too).
(b) A pointwise nonlinearity acts on each sample alone:
    ``relu((S x)[n]) = relu(x[n - s]) = (S relu(x))[n]``.
(c) Pooling by a factor ``k`` with stride ``k``: ``y[m] = pool_{r<k} x[k m + r]``.
    For ``s = k t``, ``pool(S_s x)[m] = pool_r x[k(m - t) + r] = y[m - t]``, so
    pooling is equivariant to shifts by *multiples of the stride* (the output
    moves by ``s / k``).  For other shifts the windows group different samples
    and, in general, *no* output shift reproduces ``pool(S_s x)``; a concrete
    counterexample is searched for and returned.
(d) Compositions of equivariant maps are equivariant, so a CNN is equivariant
    to shifts by multiples of the product of its pooling factors and, in
    general, to no other shift.  Without pooling it is fully equivariant.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F

from ._threads import single_thread
from .results import EXACT_TOL, VIOLATION_TOL, ClaimResult, make_result

DTYPE = torch.float64


# ---------------------------------------------------------------- shifts --


def as_shift(s) -> tuple[int, ...]:
    """An int (1D) or a tuple of ints (2D) as a tuple."""
    if isinstance(s, (int, np.integer)):
        return (int(s),)
    return tuple(int(v) for v in s)


def shift(x: torch.Tensor, s) -> torch.Tensor:
    """Circular shift of the last len(s) dims: ``shift(x, s)[..., n] = x[..., n - s]``."""
    s = as_shift(s)
    return torch.roll(x, shifts=s, dims=tuple(range(-len(s), 0)))


def all_shifts(size) -> list[tuple[int, ...]]:
    """Every circular shift of a signal with spatial size ``size`` (tuple)."""
    return list(itertools.product(*(range(n) for n in size)))


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


# ---------------------------------------------------------------- layers --
# Each layer is a plain function of a (N, C, *spatial) float64 tensor.


def conv_layer(weight, bias=None, padding=0, padding_mode="zeros", stride=1):
    """Convolution (PyTorch cross-correlation); 1D or 2D from weight.dim().

    padding: an int, or one int per spatial dim.  padding_mode "zeros" or "circular".
    """
    dims = weight.dim() - 2
    conv = F.conv1d if dims == 1 else F.conv2d
    pads = as_shift(padding) * (dims if isinstance(padding, (int, np.integer)) else 1)

    def layer(x):
        if padding_mode == "circular":
            # F.pad lists the last dim first: (left, right, top, bottom)
            x = F.pad(x, tuple(p for p in reversed(pads) for _ in (0, 1)), mode="circular")
            return conv(x, weight, bias, stride=stride)
        return conv(x, weight, bias, stride=stride, padding=pads)

    return layer


def add_constant(c):
    """x + c, with c a number or a per-channel constant of shape (1, C, 1[, 1])."""
    return lambda x: x + c


def relu(x):
    return torch.relu(x)


def max_pool(factor: int, dims: int):
    """Strided max-pooling: window = stride = factor."""
    pool = F.max_pool1d if dims == 1 else F.max_pool2d
    return lambda x: pool(x, factor, factor)


def avg_pool(factor: int, dims: int):
    """Strided average-pooling: window = stride = factor."""
    pool = F.avg_pool1d if dims == 1 else F.avg_pool2d
    return lambda x: pool(x, factor, factor)


def _randn(gen, *shape, scale=1.0):
    return torch.randn(*shape, generator=gen, dtype=DTYPE) * scale


def small_cnn(pool: bool = True, global_pool: bool = False, in_channels: int = 1, seed: int = 0):
    """conv3x3 -> ReLU -> [maxpool 2] -> conv3x3 -> ReLU -> [avgpool 2] (-> global mean).

    Circular padding, so that the only source of broken equivariance is the
    pooling.  Total stride 4 with pooling, 1 without.  Random float64 weights.
    """
    gen = torch.Generator().manual_seed(seed)
    w1 = _randn(gen, 4, in_channels, 3, 3, scale=(9 * in_channels) ** -0.5)
    b1 = _randn(gen, 4, scale=0.1)
    w2 = _randn(gen, 4, 4, 3, 3, scale=36 ** -0.5)
    b2 = _randn(gen, 4, scale=0.1)
    conv1 = conv_layer(w1, b1, padding=1, padding_mode="circular")
    conv2 = conv_layer(w2, b2, padding=1, padding_mode="circular")

    def cnn(x):
        y = relu(conv1(x))
        if pool:
            y = F.max_pool2d(y, 2, 2)
        y = relu(conv2(y))
        if pool:
            y = F.avg_pool2d(y, 2, 2)
        if global_pool:
            y = y.mean(dim=(-2, -1))
        return y

    return cnn


# ---------------------------------------------------------- measurements --


def equivariance_error(layer, x, s, t=None) -> float:
    """max |f(S_s x) - S_t f(x)|  (t defaults to s)."""
    t = s if t is None else t
    return float((layer(shift(x, s)) - shift(layer(x), t)).abs().max())


def nearest_output_shift(layer, x, s):
    """The output shift t that best matches f(S_s x), and its error.

    Returns (error, t, f(S_s x), S_t f(x)).  error == 0 means f is equivariant
    at this input and shift (possibly with the output moving by t != s).
    """
    fsx = layer(shift(x, s))
    fx = layer(x)
    best = None
    for t in all_shifts(fx.shape[-len(as_shift(s)):]):
        err = float((fsx - shift(fx, t)).abs().max())
        if best is None or err < best[0]:
            best = (err, t)
    err, t = best
    return err, t, fsx, shift(fx, t)


def interior_mask_1d(n_in: int, kernel_size: int, padding: int, s: int) -> np.ndarray:
    """Output positions (stride-1 zero-padded conv) where f(S_s x)[n] must equal f(x)[n - s].

    Output n reads input samples n - padding ... n - padding + kernel_size - 1.
    After a circular shift by s those samples are the original ones (no
    padding, no wrap-around) iff they lie in [max(s, 0), n_in + min(s, 0)).
    n - s must also be an output position.
    """
    n_out = n_in + 2 * padding - kernel_size + 1
    n = np.arange(n_out)
    first = n - padding
    last = first + kernel_size - 1
    return (
        (n - s >= 0)
        & (n - s < n_out)
        & (first >= max(s, 0))
        & (last < n_in + min(s, 0))
    )


def interior_mask(spatial, kernel_size, padding, s) -> np.ndarray:
    """The 1D mask per axis, combined with an outer product (1D or 2D)."""
    s = as_shift(s)
    masks = [
        interior_mask_1d(n, kernel_size[d], padding[d], s[d]) for d, n in enumerate(spatial)
    ]
    mask = masks[0]
    for m in masks[1:]:
        mask = np.logical_and.outer(mask, m)
    return mask


# ---------------------------------------------------------------- checks --


@single_thread()
def check_equivariant(
    layer, x, shifts, *, question, claim, out_shift=None, out_label="s", expect="holds", tol=None
) -> ClaimResult:
    """f(S_s x) == S_t f(x) for every s in `shifts` (t = out_shift(s), default t = s).

    The error is the worst case over all shifts; `data` holds the worst shift.
    `out_label` names t in the quantity text (e.g. "s/2").
    """
    tol = (EXACT_TOL if expect == "holds" else VIOLATION_TOL) if tol is None else tol
    out_shift = out_shift or (lambda s: s)
    shifts = list(shifts)
    worst = None
    for s in shifts:
        t = out_shift(s)
        err = equivariance_error(layer, x, s, t)
        if worst is None or err > worst[0]:
            worst = (err, s, t)
    err, s, t = worst
    fsx, sfx = layer(shift(x, s)), shift(layer(x), t)
    data = {
        "input": _np(x),
        "shift": as_shift(s),
        "output_shift": as_shift(t),
        "f_shifted": _np(fsx),
        "shifted_f": _np(sfx),
        "abs_diff": _np((fsx - sfx).abs()),
        "n_shifts": len(shifts),
    }
    t_label = out_label if out_label == "s" else f"({out_label})"
    quantity = f"max_s |f(S_s x) - S_{t_label} f(x)|"
    return make_result(question, claim, quantity, err, tol, expect, data)


@single_thread()
def check_interior_equivariant(
    layer, x, shifts, kernel_size, padding, *, question, claim, expect="holds", tol=None
) -> ClaimResult:
    """Zero-padded stride-1 conv: f(S_s x)[n] == f(x)[n - s] at interior positions only.

    An empty interior would make the check vacuous, so it reports NaN (FAIL).
    """
    tol = (EXACT_TOL if expect == "holds" else VIOLATION_TOL) if tol is None else tol
    spatial = tuple(x.shape[2:])
    dims = len(spatial)
    kernel_size = as_shift(kernel_size) * (dims if isinstance(kernel_size, int) else 1)
    padding = as_shift(padding) * (dims if isinstance(padding, int) else 1)
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
    return make_result(
        question,
        claim,
        "max_s max_interior |f(S_s x) - S_s f(x)|",
        err,
        tol,
        expect,
        data,
    )


@single_thread()
def check_not_equivariant(
    layer, x, shifts, *, question, claim, expect="fails", tol=None
) -> ClaimResult:
    """For every s in `shifts`, no output shift t makes f(S_s x) == S_t f(x).

    The error is min over shifts s of min over output shifts t of
    max |f(S_s x) - S_t f(x)|: the smallest violation found.  With
    expect="fails" the check passes when that is > tol, i.e. when every tried
    shift breaks equivariance.  (With expect="holds" the same measurement tests
    the opposite claim "f is equivariant at these shifts".)  `data` holds the
    counterexample for shifts[0]: input, shift, f(x), f(S x), S_t f(x).
    """
    tol = (EXACT_TOL if expect == "holds" else VIOLATION_TOL) if tol is None else tol
    shifts = list(shifts)
    violation = {}
    for s in shifts:
        violation[as_shift(s)] = nearest_output_shift(layer, x, s)[0]
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
    return make_result(
        question,
        claim,
        "min_s min_t max|f(S_s x) - S_t f(x)|",
        min(violation.values()),
        tol,
        expect,
        data,
    )


@single_thread()
def check_invariant(layer, x, shifts, *, question, claim, expect="holds", tol=None) -> ClaimResult:
    """Invariance in the deep-learning sense: f(S_s x) == f(x) for every s."""
    tol = (EXACT_TOL if expect == "holds" else VIOLATION_TOL) if tol is None else tol
    fx = layer(x)
    worst = (-1.0, None)
    for s in shifts:
        err = float((layer(shift(x, s)) - fx).abs().max())
        if err > worst[0]:
            worst = (err, as_shift(s))
    data = {"input": _np(x), "shift": worst[1], "f_input": _np(fx)}
    return make_result(question, claim, "max_s |f(S_s x) - f(x)|", worst[0], tol, expect, data)


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


# ---------------------------------------------------------------- claims --


def _rand(gen, *shape):
    return torch.randn(*shape, generator=gen, dtype=DTYPE)


@single_thread()
def t1_claims(seed: int = 0) -> list[ClaimResult]:
    gen = torch.Generator().manual_seed(seed)
    x1, x2 = _rand(gen, 2, 3, 16), _rand(gen, 2, 2, 8, 9)
    w1, b1 = _rand(gen, 4, 3, 5), _rand(gen, 4)
    w2, b2 = _rand(gen, 3, 2, 3, 3), _rand(gen, 3)
    circ1 = conv_layer(w1, b1, padding=2, padding_mode="circular")
    circ2 = conv_layer(w2, b2, padding=1, padding_mode="circular")
    zero1 = conv_layer(w1, b1, padding=2)
    zero2 = conv_layer(w2, b2, padding=1)
    shifts1 = [s for s in range(-5, 6) if s != 0]
    shifts2 = [(a, b) for a in range(-2, 3) for b in range(-2, 3) if (a, b) != (0, 0)]
    return [
        check_equivariant(
            circ1, x1, all_shifts((16,)), question="T1",
            claim="1D conv, circular padding: conv(S x) = S conv(x) for every shift",
        ),
        check_equivariant(
            circ2, x2, all_shifts((8, 9)), question="T1",
            claim="2D conv, circular padding: conv(S x) = S conv(x) for every shift",
        ),
        check_interior_equivariant(
            zero1, x1, shifts1, 5, 2, question="T1",
            claim="1D conv, zero padding: conv(S x) = S conv(x) away from the border",
        ),
        check_interior_equivariant(
            zero2, x2, shifts2, 3, 1, question="T1",
            claim="2D conv, zero padding: conv(S x) = S conv(x) away from the border",
        ),
        check_equivariant(
            zero1, x1, shifts1, question="T1", expect="fails",
            claim="1D conv, zero padding: conv(S x) != S conv(x) at the border",
        ),
        check_equivariant(
            zero2, x2, shifts2, question="T1", expect="fails",
            claim="2D conv, zero padding: conv(S x) != S conv(x) at the border",
        ),
        check_invariant(
            circ1, x1, shifts1, question="T1", expect="fails",
            claim="conv is equivariant, not invariant: conv(S x) != conv(x)",
        ),
    ]


@single_thread()
def t2_claims(seed: int = 1, mnist_image=None) -> list[ClaimResult]:
    gen = torch.Generator().manual_seed(seed)
    x1, x2 = _rand(gen, 2, 3, 12), _rand(gen, 2, 3, 8, 6)
    c1, c2 = _rand(gen, 1, 3, 1), _rand(gen, 1, 3, 1, 1)
    b1 = _rand(gen, 1, 3, 12)  # a different value at every position
    shifts1 = list(range(12))
    shifts2 = all_shifts((8, 6))
    even1 = [s for s in shifts1 if s % 2 == 0]
    even2 = [s for s in shifts2 if s[0] % 2 == 0 and s[1] % 2 == 0]
    half = lambda s: tuple(v // 2 for v in as_shift(s))  # noqa: E731
    claims = [
        check_equivariant(
            add_constant(c1), x1, shifts1, question="T2a",
            claim="1D: (S x) + c = S (x + c), c constant over positions",
        ),
        check_equivariant(
            add_constant(c2), x2, shifts2, question="T2a",
            claim="2D: (S x) + c = S (x + c), c constant over positions",
        ),
        check_equivariant(
            add_constant(b1), x1, [1], question="T2a", expect="fails",
            claim="a position-dependent vector b[n] is not shift-equivariant",
        ),
        check_equivariant(relu, x1, shifts1, question="T2b",
                          claim="1D: relu(S x) = S relu(x) for every shift"),
        check_equivariant(relu, x2, shifts2, question="T2b",
                          claim="2D: relu(S x) = S relu(x) for every shift"),
    ]
    for name, make in (("max", max_pool), ("avg", avg_pool)):
        pool1, pool2 = make(2, 1), make(2, 2)
        cx1 = find_pooling_counterexample(pool1, (1, 1, 8), 1)
        cx2 = find_pooling_counterexample(pool2, (1, 1, 4, 4), (1, 1), trials=100)
        claims += [
            check_not_equivariant(
                pool1, cx1, [1], question="T2c",
                claim=f"1D {name}-pool (factor 2) is not shift-equivariant: counterexample, shift 1",
            ),
            check_not_equivariant(
                pool2, cx2, [(1, 1)], question="T2c",
                claim=f"2D {name}-pool (factor 2) is not shift-equivariant: counterexample, shift (1,1)",
            ),
            check_equivariant(
                pool1, x1, even1, out_shift=half, out_label="s/2", question="T2c",
                claim=f"1D {name}-pool (factor 2) commutes with shifts by multiples of 2 (out: s/2)",
            ),
            check_equivariant(
                pool2, x2, even2, out_shift=half, out_label="s/2", question="T2c",
                claim=f"2D {name}-pool (factor 2) commutes with shifts by multiples of 2 (out: s/2)",
            ),
        ]
    claims += t2d_claims(seed=seed, mnist_image=mnist_image)
    return claims


CNN_SHIFTS = [(1, 0), (0, 1), (1, 1), (2, 3)]  # not multiples of the total stride 4


@single_thread()
def t2d_claims(seed: int = 1, mnist_image=None) -> list[ClaimResult]:
    gen = torch.Generator().manual_seed(seed + 100)
    x = _rand(gen, 1, 1, 16, 16)
    cnn = small_cnn(pool=True, seed=seed)
    quarter = lambda s: tuple(v // 4 for v in s)  # noqa: E731
    claims = [
        check_not_equivariant(
            cnn, x, CNN_SHIFTS, question="T2d",
            claim="CNN with strided pooling (total stride 4) is not shift-equivariant (random input)",
        ),
        check_equivariant(
            cnn, x, [(4 * a, 4 * b) for a in range(4) for b in range(4)], out_shift=quarter, out_label="s/4",
            question="T2d",
            claim="the same CNN commutes with shifts by multiples of 4 (out: s/4)",
        ),
        check_equivariant(
            small_cnn(pool=False, seed=seed), x, all_shifts((16, 16)), question="T2d",
            claim="the same CNN without pooling is shift-equivariant for every shift",
        ),
        check_invariant(
            small_cnn(pool=True, global_pool=True, seed=seed), x,
            [(4 * a, 4 * b) for a in range(4) for b in range(4)], question="T2d",
            claim="CNN + global average pool is invariant to shifts by multiples of 4",
        ),
        check_invariant(
            small_cnn(pool=True, global_pool=True, seed=seed), x, CNN_SHIFTS, question="T2d",
            expect="fails",
            claim="CNN + global average pool is not invariant to other shifts",
        ),
    ]
    if mnist_image is not None:
        img = torch.as_tensor(np.asarray(mnist_image, dtype=np.float64)).reshape(1, 1, 28, 28)
        claims.append(
            check_not_equivariant(
                cnn, img, CNN_SHIFTS, question="T2d",
                claim="CNN with strided pooling is not shift-equivariant (MNIST test digit)",
            )
        )
    return claims


@single_thread()
def shift_claims(mnist_image=None) -> list[ClaimResult]:
    """All T1 and T2 claims."""
    return t1_claims() + t2_claims(mnist_image=mnist_image)
