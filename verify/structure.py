"""T3c: the structure of a convolution's Jacobian, measured on autograd alone.

No closed form is involved: each check takes the Jacobian that autograd computes and measures
whether it is Toeplitz, circulant, a row selection of the stride-1 Jacobian, block Toeplitz, or
made of Toeplitz blocks (:mod:`verify.toeplitz` has the measures).  `layer` (a function of the
flat input) can replace the convolution, so that a test can hand a check a matrix of the wrong
structure and see it fail.

What the theory claims, and what is checked here:

* stride 1, zero padding: J is Toeplitz (1D); doubly block Toeplitz in 2D (block Toeplitz, with
  Toeplitz blocks);
* circular padding: J is circulant iff the output has the input's length, i.e. stride 1 and
  2p = d(K-1) (also with dilation, also for K > N);
* stride s: J is rows 0, s, 2s, ... of the stride-1 J (circular too); in 2D with stride
  (s_h, s_w), block rows 0, s_h, ... and, within them, rows 0, s_w, ... -- so the blocks are
  Toeplitz iff s_w = 1 and the grid of blocks is block Toeplitz iff s_h = 1.
"""

from __future__ import annotations

import torch

from verify._threads import single_thread
from verify.autodiff import autograd_jacobian, conv1d_fn, conv2d_fn
from verify.jacobian import compare_matrices
from verify.layers import randn
from verify.results import ClaimResult, make_result
from verify.toeplitz import (
    block_toeplitz_deviations,
    circulant_deviation,
    conv_output_length,
    pair,
    strided_rows_2d,
    toeplitz_deviation,
)


def _conv1d_layer(n_in, kernel_size, padding, stride=1, dilation=1, padding_mode="zeros", seed=0):
    g = torch.Generator().manual_seed(seed)
    weight, x = randn(g, 1, 1, kernel_size), randn(g, n_in)
    f = conv1d_fn(weight, None, 1, n_in, padding, stride, dilation, padding_mode)
    return f, x


@single_thread()
def check_toeplitz_structure(
    claim_id="T3c.toeplitz_structure",
    n_in=8,
    kernel_size=3,
    padding=1,
    dilation=1,
    seed=0,
    layer=None,
) -> ClaimResult:
    """The autograd Jacobian of a zero-padded stride-1 conv1d is Toeplitz."""
    f, x = _conv1d_layer(n_in, kernel_size, padding, dilation=dilation, seed=seed)
    J = autograd_jacobian(layer or f, x)
    dil = f", dilation {dilation}" if dilation != 1 else ""
    return make_result(
        claim_id,
        f"1D conv, stride 1, zero padding (N={n_in}, K={kernel_size}{dil}): autograd J is Toeplitz",
        "max over diagonals (max - min)",
        toeplitz_deviation(J),
        data={"autograd": J},
    )


@single_thread()
def check_circulant_structure(
    claim_id="T3c.circulant_structure",
    n_in=8,
    kernel_size=3,
    padding=1,
    dilation=1,
    seed=0,
    layer=None,
) -> ClaimResult:
    """The autograd Jacobian of a circular stride-1 conv1d with 2p = d(K-1) is circulant."""
    f, x = _conv1d_layer(
        n_in, kernel_size, padding, dilation=dilation, padding_mode="circular", seed=seed
    )
    J = autograd_jacobian(layer or f, x)
    dil = f", dilation {dilation}" if dilation != 1 else ""
    return make_result(
        claim_id,
        f"1D conv, circular, N={n_in}, K={kernel_size}, p={padding}{dil} "
        "(2p = d(K-1)): autograd J is circulant",
        "max |J[i+1, j+1] - J[i, j]| (mod N)",
        circulant_deviation(J),
        data={"autograd": J},
    )


@single_thread()
def check_stride_subsamples_rows(
    claim_id="T3c.stride_rows_1d",
    n_in=9,
    kernel_size=3,
    padding=1,
    stride=2,
    padding_mode="zeros",
    seed=0,
    select=None,
):
    """A stride-s conv1d's Jacobian is rows 0, s, 2s, ... of the stride-1 Jacobian.

    `select` (default: rows 0, s, 2s, ...) picks the rows; a test can inject a wrong one.
    """
    select = select or (lambda J1: J1[::stride])
    f1, x = _conv1d_layer(n_in, kernel_size, padding, 1, padding_mode=padding_mode, seed=seed)
    fs, _ = _conv1d_layer(n_in, kernel_size, padding, stride, padding_mode=padding_mode, seed=seed)
    J1, Js = autograd_jacobian(f1, x), autograd_jacobian(fs, x)
    return compare_matrices(
        claim_id,
        f"1D conv, {padding_mode} padding, stride {stride}: J = rows 0, {stride}, "
        f"{2 * stride}, ... of the stride-1 J",
        select(J1),
        Js,
    )


def _conv2d_layer(h, w, kernel_size, padding, stride, seed):
    g = torch.Generator().manual_seed(seed)
    weight, x = randn(g, 1, 1, *pair(kernel_size)), randn(g, h * w)
    return conv2d_fn(weight, None, 1, h, w, padding, stride), x


@single_thread()
def check_conv2d_stride_rows(
    claim_id="T3c.stride_rows_2d",
    h=7,
    w=6,
    kernel_size=(3, 2),
    padding=(1, 0),
    stride=(2, 1),
    seed=0,
    select=None,
) -> ClaimResult:
    """A strided conv2d's Jacobian is the stride-1 Jacobian's rows of pixels (i s_h, j s_w).

    `select(J1)` (default :func:`strided_rows_2d`) picks the rows; a test can inject a wrong one.
    """
    (KH, KW), (ph, pw) = pair(kernel_size), pair(padding)
    h1, w1 = conv_output_length(h, KH, ph), conv_output_length(w, KW, pw)
    select = select or (lambda J1: J1[strided_rows_2d(h1, w1, stride)])
    f1, x = _conv2d_layer(h, w, kernel_size, padding, 1, seed)
    fs, _ = _conv2d_layer(h, w, kernel_size, padding, stride, seed)
    sh, sw = pair(stride)
    within = "all rows of each block" if sw == 1 else f"rows 0, {sw}, ... within each block"
    return compare_matrices(
        claim_id,
        f"2D conv ({h}x{w}, K={KH}x{KW}), stride ({sh}, {sw}): J = block rows 0, "
        f"{sh}, ... of the stride-1 J, {within}",
        select(autograd_jacobian(f1, x)),
        autograd_jacobian(fs, x),
    )


PARTS = {  # part: (the structure, what measures it)
    "both": ("doubly block Toeplitz", "max(block Toeplitz, Toeplitz blocks deviations)"),
    "outer": ("block Toeplitz", "max |block(i+1, a+1) - block(i, a)|"),
    "inner": ("made of Toeplitz blocks", "max over blocks of the Toeplitz deviation"),
}


@single_thread()
def check_block_structure(
    claim_id="T3c.conv2d_block_structure",
    h=5,
    w=6,
    kernel_size=3,
    padding=1,
    stride=1,
    part="both",
    expect="holds",
    seed=0,
    layer=None,
) -> ClaimResult:
    """The autograd Jacobian of a single-channel conv2d, seen as a grid of (W_out x W) blocks.

    part "outer": block (i, a) depends only on a - i; "inner": every block is Toeplitz; "both":
    doubly block Toeplitz.  The error is the deviation of that part (0 iff it has the structure).
    """
    (KH, KW), pw, (sh, sw) = pair(kernel_size), pair(padding)[1], pair(stride)
    f, x = _conv2d_layer(h, w, kernel_size, padding, stride, seed)
    J = autograd_jacobian(layer or f, x)
    outer, inner = block_toeplitz_deviations(J, conv_output_length(w, KW, pw, sw), w)
    error = {"both": max(outer, inner), "outer": outer, "inner": inner}[part]
    verb = "is" if expect == "holds" else "is not"
    structure, quantity = PARTS[part]
    return make_result(
        claim_id,
        f"2D conv ({h}x{w}, K={KH}x{KW}), stride ({sh}, {sw}): autograd J {verb} {structure}",
        quantity,
        error,
        expect=expect,
        data={"autograd": J, "outer": outer, "inner": inner},
    )


STRUCTURE_CASES = {  # claim id: (check, its keywords); the seed is the position in this table
    "T3c.toeplitz_structure": (check_toeplitz_structure, {}),
    "T3c.toeplitz_structure_dilated": (check_toeplitz_structure, dict(n_in=10, dilation=2)),
    "T3c.circulant_structure": (check_circulant_structure, {}),
    "T3c.circulant_structure_dilated": (
        check_circulant_structure,
        dict(n_in=9, padding=2, dilation=2),
    ),
    "T3c.circulant_structure_k_gt_n": (
        check_circulant_structure,
        dict(n_in=3, kernel_size=5, padding=2),
    ),
    "T3c.stride_rows_1d": (check_stride_subsamples_rows, {}),
    "T3c.stride_rows_1d_circular": (
        check_stride_subsamples_rows,
        dict(n_in=12, kernel_size=5, padding=2, stride=3, padding_mode="circular"),
    ),
    "T3c.block_toeplitz_structure": (
        check_block_structure,
        dict(h=5, w=6, kernel_size=(3, 4), padding=(1, 2)),
    ),
    "T3c.stride_rows_2d": (check_conv2d_stride_rows, {}),
    "T3c.stride_rows_2d_both": (
        check_conv2d_stride_rows,
        dict(h=8, w=9, kernel_size=(4, 5), padding=(2, 1), stride=(3, 2)),
    ),
    "T3c.stride_h_blocks_toeplitz": (
        check_block_structure,
        dict(h=7, w=6, stride=(2, 1), part="inner"),
    ),
    "T3c.stride_h_not_block_toeplitz": (
        check_block_structure,
        dict(h=7, w=6, stride=(2, 1), part="outer", expect="fails"),
    ),
    "T3c.stride_w_block_toeplitz": (
        check_block_structure,
        dict(h=6, w=7, stride=(1, 2), part="outer"),
    ),
    "T3c.stride_w_blocks_not_toeplitz": (
        check_block_structure,
        dict(h=6, w=7, stride=(1, 2), part="inner", expect="fails"),
    ),
}


@single_thread()
def structure_claims() -> list[ClaimResult]:
    """The structure claims of T3c, each measured on autograd alone."""
    return [
        check(claim_id, seed=seed, **keywords)
        for seed, (claim_id, (check, keywords)) in enumerate(STRUCTURE_CASES.items())
    ]
