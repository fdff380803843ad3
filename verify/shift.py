"""T1 and T2: what happens to each layer when the input is shifted -- the claims.

Terminology.  The exercise's "time/space invariant" is the signal-processing name of a system
whose response to a shifted input is the shifted response: ``f(S_s x) = S_s f(x)``.  Deep
learning calls exactly this property *shift-equivariance*, and keeps *shift-invariance* for
``f(S_s x) = f(x)`` (the output does not move at all, e.g. after global pooling).  Every claim
below measures equivariance unless it says "invariant".

T1 -- convolution.  PyTorch's convolution is a cross-correlation, ``y[n] = sum_k h[k] x[n + k]``;
then ``conv(S_s x) = S_s conv(x)`` because the same weights are used at every position.  On a
finite signal (a circle, ``torch.roll`` shifts) this is exact with circular padding *when the
output has the input's length*: stride 1 and ``2p = d (K - 1)``.  Otherwise the output lives on a
different grid and, in general, no output shift reproduces ``conv(S_s x)`` (measured).  With
zero padding the identity holds only at output positions whose window touches neither the
padding nor the samples that wrapped around.

T2.  (a) ``(S x) + c = S (x + c)`` for a constant c, not for a per-position vector ``b[n]``.
(b) A pointwise nonlinearity acts on each sample alone.  (c) Pooling by ``k`` (window = stride
= k) commutes with shifts by multiples of k, ``P(S_{kt} x) = S_t P(x)``, *provided k divides the
length N* (else the last window is cut off and the circle does not close); in general no output
shift repairs any other shift.  (d) A CNN composes these: equivariant to shifts by multiples of
its total stride when that stride divides N, to no other shift in general.
"""

from __future__ import annotations

import numpy as np
import torch

from verify._threads import single_thread
from verify.equivariance import (
    check_equivariant,
    check_interior_equivariant,
    check_invariant,
    check_not_equivariant,
    find_pooling_counterexample,
)
from verify.layers import (
    add_constant,
    all_shifts,
    as_shift,
    avg_pool,
    conv_layer,
    max_pool,
    randn,
    relu,
    small_cnn,
)
from verify.results import ClaimResult

CLAIMS = {
    "T1.conv1d_circular": "1D conv, circular padding 2p = K-1: conv(S x) = S conv(x), every shift",
    "T1.conv2d_circular": "2D conv, circular padding 2p = K-1: conv(S x) = S conv(x), every shift",
    "T1.conv1d_zero_interior": "1D conv, zero padding: conv(S x) = S conv(x) away from the border",
    "T1.conv2d_zero_interior": "2D conv, zero padding: conv(S x) = S conv(x) away from the border",
    "T1.conv1d_zero_border": "1D conv, zero padding: conv(S x) != S conv(x) at the border",
    "T1.conv2d_zero_border": "2D conv, zero padding: conv(S x) != S conv(x) at the border",
    "T1.conv_not_invariant": "conv is equivariant, not invariant: conv(S x) != conv(x)",
    "T1.conv1d_circular_dilated": "circular, K=3, dilation 2, p=2 (2p = d(K-1)): every shift",
    "T1.circular_stride2_odd_shifts": "circular, stride 2: no output shift repairs an odd shift",
    "T1.circular_stride2_even_shifts": "circular, stride 2, 2 | N: even shifts s move it by s/2",
    "T1.circular_shorter_output": "circular, K=3, p=0 (2p < K-1, N-2 outputs): not equivariant",
    "T1.circular_longer_output": "circular, K=3, p=2 (2p > K-1, N+2 outputs): not equivariant",
    "T2a.constant_1d": "1D: (S x) + c = S (x + c), c constant over positions",
    "T2a.constant_2d": "2D: (S x) + c = S (x + c), c constant over positions",
    "T2a.position_bias_not_equivariant": "a per-position vector b[n] is not shift-equivariant",
    "T2b.relu_1d": "1D: relu(S x) = S relu(x) for every shift",
    "T2b.relu_2d": "2D: relu(S x) = S relu(x) for every shift",
    "T2d.cnn_not_equivariant": "CNN with pooling (total stride 4): the other shifts break it",
    "T2d.cnn_multiples": "the same CNN, 16x16 (4 | N): multiples s of 4 move it by s/4",
    "T2d.cnn_stride_not_dividing_n": "the same CNN, 18x18 (4 does not divide N): "
    "multiples of 4 break it too",
    "T2d.cnn_no_pool": "the same CNN without pooling: equivariant for every shift",
    "T2d.cnn_mean_invariant": "CNN + global average pool: invariant to multiples of 4",
    "T2d.cnn_mean_not_invariant": "CNN + global average pool: not invariant to other shifts",
    "T2d.cnn_linear_not_invariant": "CNN + fully connected layer: not invariant, even to "
    "multiples of 4",
    "T2d.cnn_mnist_not_equivariant": "the same CNN on an MNIST test digit: other shifts break it",
}
for _pool in ("max", "avg"):
    CLAIMS |= {
        f"T2c.{_pool}_pool_1d_counterexample": f"1D {_pool}-pool, k=2: shift 1 is no output shift",
        f"T2c.{_pool}_pool_2d_counterexample": f"2D {_pool}-pool, k=2: shift (1,1) is no output "
        "shift",
        f"T2c.{_pool}_pool_1d_multiples": f"1D {_pool}-pool, k=2, N=12 (k | N): even shifts s "
        "move it by s/2",
        f"T2c.{_pool}_pool_2d_multiples": f"2D {_pool}-pool, k=2, 8x6 (k | N): even shifts s "
        "move it by s/2",
        f"T2c.{_pool}_pool_k_not_dividing_n": f"1D {_pool}-pool, k=2, N=13 (k does "
        "not divide N): even shifts break it too",
    }


def claim(claim_id: str) -> dict:
    """The keywords that name a claim: its id and its text."""
    return {"claim_id": claim_id, "claim": CLAIMS[claim_id]}


def _scaled(factor):
    """The output shift s / factor of a layer with total stride `factor`."""
    return lambda s: tuple(v // factor for v in as_shift(s))


@single_thread()
def t1_claims(seed: int = 0) -> list[ClaimResult]:
    """Convolution: circular padding exact, zero padding exact away from the border only."""
    gen = torch.Generator().manual_seed(seed)
    x1, x2 = randn(gen, 2, 3, 16), randn(gen, 2, 2, 8, 9)
    w1, b1 = randn(gen, 4, 3, 5), randn(gen, 4)
    w2, b2 = randn(gen, 3, 2, 3, 3), randn(gen, 3)
    circ1 = conv_layer(w1, b1, padding=2, padding_mode="circular")
    circ2 = conv_layer(w2, b2, padding=1, padding_mode="circular")
    zero1, zero2 = conv_layer(w1, b1, padding=2), conv_layer(w2, b2, padding=1)
    shifts1 = [s for s in range(-5, 6) if s != 0]
    shifts2 = [(a, b) for a in range(-2, 3) for b in range(-2, 3) if (a, b) != (0, 0)]
    fails = {"expect": "fails"}
    return [
        check_equivariant(circ1, x1, all_shifts((16,)), **claim("T1.conv1d_circular")),
        check_equivariant(circ2, x2, all_shifts((8, 9)), **claim("T1.conv2d_circular")),
        check_interior_equivariant(zero1, x1, shifts1, 5, 2, **claim("T1.conv1d_zero_interior")),
        check_interior_equivariant(zero2, x2, shifts2, 3, 1, **claim("T1.conv2d_zero_interior")),
        check_equivariant(zero1, x1, shifts1, **fails, **claim("T1.conv1d_zero_border")),
        check_equivariant(zero2, x2, shifts2, **fails, **claim("T1.conv2d_zero_border")),
        check_invariant(circ1, x1, shifts1, **fails, **claim("T1.conv_not_invariant")),
    ] + t1_circular_limits(gen, x1)


def t1_circular_limits(gen, x) -> list[ClaimResult]:
    """Circular padding makes a conv exactly equivariant only for stride 1 and 2p = d(K-1)."""
    w = randn(gen, 4, x.shape[1], 3)
    n = x.shape[-1]
    dilated = conv_layer(w, padding=2, padding_mode="circular", dilation=2)
    strided = conv_layer(w, padding=1, padding_mode="circular", stride=2)
    shorter = conv_layer(w, padding=0, padding_mode="circular")
    longer = conv_layer(w, padding=2, padding_mode="circular")
    odd, even, some = range(1, n, 2), range(0, n, 2), [1, 2, 5]
    return [
        check_equivariant(dilated, x, all_shifts((n,)), **claim("T1.conv1d_circular_dilated")),
        check_not_equivariant(strided, x, odd, **claim("T1.circular_stride2_odd_shifts")),
        check_equivariant(
            strided,
            x,
            even,
            out_shift=_scaled(2),
            out_label="s/2",
            **claim("T1.circular_stride2_even_shifts"),
        ),
        check_not_equivariant(shorter, x, some, **claim("T1.circular_shorter_output")),
        check_not_equivariant(longer, x, some, **claim("T1.circular_longer_output")),
    ]


@single_thread()
def t2ab_claims(seed: int = 1) -> list[ClaimResult]:
    """Additive constants and pointwise nonlinearities."""
    gen = torch.Generator().manual_seed(seed)
    x1, x2 = randn(gen, 2, 3, 12), randn(gen, 2, 3, 8, 6)
    c1, c2 = randn(gen, 1, 3, 1), randn(gen, 1, 3, 1, 1)
    bias = add_constant(randn(gen, 1, 3, 12))  # a different value at every position
    shifts1, shifts2 = all_shifts((12,)), all_shifts((8, 6))
    return [
        check_equivariant(add_constant(c1), x1, shifts1, **claim("T2a.constant_1d")),
        check_equivariant(add_constant(c2), x2, shifts2, **claim("T2a.constant_2d")),
        check_equivariant(
            bias, x1, [1], expect="fails", **claim("T2a.position_bias_not_equivariant")
        ),
        check_equivariant(relu, x1, shifts1, **claim("T2b.relu_1d")),
        check_equivariant(relu, x2, shifts2, **claim("T2b.relu_2d")),
    ]


@single_thread()
def t2c_claims(seed: int = 1) -> list[ClaimResult]:
    """Strided pooling, k=2: counterexamples, and shifts by multiples of k (k | N or not)."""
    gen = torch.Generator().manual_seed(seed + 50)
    x1, x2, x13 = randn(gen, 2, 3, 12), randn(gen, 2, 3, 8, 6), randn(gen, 2, 3, 13)
    even1 = [s for s in all_shifts((12,)) if s[0] % 2 == 0]
    even2 = [s for s in all_shifts((8, 6)) if s[0] % 2 == 0 and s[1] % 2 == 0]
    half = {"out_shift": _scaled(2), "out_label": "s/2"}
    claims = []
    for name, make in (("max", max_pool), ("avg", avg_pool)):
        pool1, pool2, ids = make(2, 1), make(2, 2), f"T2c.{name}_pool"
        cx1 = find_pooling_counterexample(pool1, (1, 1, 8), 1)
        cx2 = find_pooling_counterexample(pool2, (1, 1, 4, 4), (1, 1), trials=100)
        claims += [
            check_not_equivariant(pool1, cx1, [1], **claim(f"{ids}_1d_counterexample")),
            check_not_equivariant(pool2, cx2, [(1, 1)], **claim(f"{ids}_2d_counterexample")),
            check_equivariant(pool1, x1, even1, **half, **claim(f"{ids}_1d_multiples")),
            check_equivariant(pool2, x2, even2, **half, **claim(f"{ids}_2d_multiples")),
            check_not_equivariant(pool1, x13, [2, 4, 6], **claim(f"{ids}_k_not_dividing_n")),
        ]
    return claims


CNN_SHIFTS = [(1, 0), (0, 1), (1, 1), (2, 3)]  # not multiples of the total stride 4
CNN_MULTIPLES = [(4 * a, 4 * b) for a in range(4) for b in range(4)]


@single_thread()
def t2d_claims(seed: int = 1, mnist_image=None) -> list[ClaimResult]:
    """A small CNN with two pooling layers (total stride 4), random float64 weights."""
    gen = torch.Generator().manual_seed(seed + 100)
    x, x18 = randn(gen, 1, 1, 16, 16), randn(gen, 1, 1, 18, 18)
    cnn, no_pool = small_cnn(pool=True, seed=seed), small_cnn(pool=False, seed=seed)
    mean_head = small_cnn(pool=True, head="mean", seed=seed)
    linear_head = small_cnn(pool=True, head="linear", seed=seed)
    quarter = {"out_shift": _scaled(4), "out_label": "s/4"}
    fails = {"expect": "fails"}
    claims = [
        check_not_equivariant(cnn, x, CNN_SHIFTS, **claim("T2d.cnn_not_equivariant")),
        check_equivariant(cnn, x, CNN_MULTIPLES, **quarter, **claim("T2d.cnn_multiples")),
        check_not_equivariant(
            cnn, x18, [(4, 0), (0, 4), (4, 4)], **claim("T2d.cnn_stride_not_dividing_n")
        ),
        check_equivariant(no_pool, x, all_shifts((16, 16)), **claim("T2d.cnn_no_pool")),
        check_invariant(mean_head, x, CNN_MULTIPLES, **claim("T2d.cnn_mean_invariant")),
        check_invariant(mean_head, x, CNN_SHIFTS, **fails, **claim("T2d.cnn_mean_not_invariant")),
        check_invariant(
            linear_head, x, CNN_MULTIPLES, **fails, **claim("T2d.cnn_linear_not_invariant")
        ),
    ]
    if mnist_image is not None:
        img = torch.as_tensor(np.asarray(mnist_image, dtype=np.float64)).reshape(1, 1, 28, 28)
        claims.append(
            check_not_equivariant(cnn, img, CNN_SHIFTS, **claim("T2d.cnn_mnist_not_equivariant"))
        )
    return claims


@single_thread()
def shift_claims(mnist_image=None) -> list[ClaimResult]:
    """All T1 and T2 claims, in question order."""
    return t1_claims() + t2ab_claims() + t2c_claims() + t2d_claims(mnist_image=mnist_image)
