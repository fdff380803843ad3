"""T3: the derived Jacobians of an additive bias, a matrix product and a convolution vs autograd.

Each closed form (:mod:`verify.toeplitz`) is built from the derivation's index formula with numpy
and plain loops -- never from autograd, never by calling a conv -- and compared with the
Jacobian that autograd computes in float64.  Every check takes the closed form as an argument,
so a test can hand it a wrong one and see it fail.

(a) y = x + b:  dy_i/dx_j = delta_ij, J = I_n (also dy/db = I_n).
(b) y = W x:    dy_i/dx_j = W_ij, J = W;  dy_i/dW_jk = delta_ij x_k, dy/dvec(W) = I_m kron x^T.
(c) conv:       J_ij = h_{(j - i s + p)/d}, see :mod:`verify.toeplitz`; the structure claims
                (Toeplitz, circulant, strided rows, doubly block Toeplitz) are in
                :mod:`verify.structure`.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from verify._threads import single_thread
from verify.autodiff import autograd_jacobian, conv1d_fn, conv2d_fn
from verify.layers import randn
from verify.results import ClaimResult, make_result
from verify.toeplitz import (
    bias_jacobian,
    bias_param_jacobian,
    block_toeplitz_conv2d,
    conv1d_kernel_jacobian,
    conv_output_length,
    matmul_jacobian,
    matmul_param_jacobian,
    pair,
    toeplitz_conv1d,
)


def compare_matrices(claim_id, claim, derived, autograd, *, data=None) -> ClaimResult:
    """max |derived - autograd|; a shape mismatch is an infinite error."""
    derived = np.asarray(derived, dtype=np.float64)
    autograd = np.asarray(autograd, dtype=np.float64)
    if derived.shape != autograd.shape:
        error = float("inf")
    else:
        error = float(np.max(np.abs(derived - autograd))) if derived.size else float("nan")
    full = {"derived": derived, "autograd": autograd, **(data or {})}
    return make_result(claim_id, claim, "max |J_derived - J_autograd|", error, data=full)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@single_thread()
def check_bias_jacobian(closed_form=bias_jacobian, n=6, seed=0) -> ClaimResult:
    g = _gen(seed)
    b, x = randn(g, n), randn(g, n)
    auto = autograd_jacobian(lambda v: v + b, x)
    return compare_matrices(
        "T3a.bias_dx", f"y = x + b (n={n}): dy/dx = I", closed_form(b.numpy()), auto
    )


@single_thread()
def check_bias_param_jacobian(closed_form=bias_param_jacobian, n=6, seed=0) -> ClaimResult:
    g = _gen(seed)
    b, x = randn(g, n), randn(g, n)
    auto = autograd_jacobian(lambda c: x + c, b)
    return compare_matrices(
        "T3a.bias_db", f"y = x + b (n={n}): dy/db = I", closed_form(b.numpy()), auto
    )


@single_thread()
def check_matmul_jacobian(closed_form=matmul_jacobian, m=4, n=6, seed=0) -> ClaimResult:
    g = _gen(seed)
    W, x = randn(g, m, n), randn(g, n)
    auto = autograd_jacobian(lambda v: W @ v, x)
    return compare_matrices(
        "T3b.matmul_dx", f"y = W x (W {m}x{n}): dy/dx = W", closed_form(W.numpy()), auto
    )


@single_thread()
def check_matmul_param_jacobian(closed_form=matmul_param_jacobian, m=4, n=6, seed=0):
    g = _gen(seed)
    W, x = randn(g, m, n), randn(g, n)
    auto = autograd_jacobian(lambda v: v.reshape(m, n) @ x, W)
    return compare_matrices(
        "T3b.matmul_dw",
        f"y = W x (W {m}x{n}): dy/dvec(W) = I kron x^T",
        closed_form(W.numpy(), x.numpy()),
        auto,
    )


def conv1d_shape(n_in, K, padding, stride, dilation, padding_mode, channels) -> str:
    """The structure of the 1D Jacobian, as the theory states it."""
    n_full = conv_output_length(n_in, K, padding, 1, dilation)  # rows of the stride-1 matrix
    if padding_mode != "circular":
        base = "the Toeplitz matrix"
    elif n_full == n_in:
        base = "the circulant matrix"
    else:
        base = f"the wrapped {n_full} x {n_in} matrix (not circulant)"
    rows = f"rows 0, {stride}, {2 * stride}, ... of " if stride > 1 else ""
    if channels:
        return f"a C_out x C_in grid of blocks, block (o, c) = {rows}{base} of h[o, c]"
    return f"{rows}{base} of the kernel"


@single_thread()
def check_conv1d_jacobian(
    claim_id="T3c.conv1d",
    closed_form=None,
    weight=None,
    n_in=8,
    padding=1,
    stride=1,
    dilation=1,
    padding_mode="zeros",
    c_in=1,
    c_out=1,
    kernel_size=3,
    seed=0,
) -> ClaimResult:
    """autograd Jacobian of F.conv1d == closed_form(weight, n_in, padding, stride).

    closed_form defaults to toeplitz_conv1d (with this dilation and padding_mode); padding is an
    int or (left, right).
    """
    g = _gen(seed)
    weight = randn(g, c_out, c_in, kernel_size) if weight is None else weight
    weight = torch.as_tensor(weight, dtype=torch.float64)
    c_out, c_in, K = weight.shape
    bias, x = randn(g, c_out), randn(g, c_in * n_in)
    auto = autograd_jacobian(
        conv1d_fn(weight, bias, c_in, n_in, padding, stride, dilation, padding_mode), x
    )
    closed_form = closed_form or partial(
        toeplitz_conv1d, dilation=dilation, padding_mode=padding_mode
    )
    derived = closed_form(weight.numpy(), n_in, padding, stride)
    shape = conv1d_shape(n_in, K, padding, stride, dilation, padding_mode, c_in * c_out > 1)
    dil = f", dilation {dilation}" if dilation != 1 else ""
    config = (
        f"{c_in}->{c_out} ch, N={n_in}, K={K}, {padding_mode} pad {padding}, stride {stride}{dil}"
    )
    return compare_matrices(
        claim_id,
        f"1D conv ({config}): J = {shape}",
        derived,
        auto,
        data={"weight": weight.numpy(), "config": config},
    )


def conv2d_shape(stride) -> str:
    sh, sw = pair(stride)
    if (sh, sw) == (1, 1):
        return "doubly block Toeplitz"
    outer = "block Toeplitz" if sh == 1 else f"block rows 0, {sh}, ... of a block Toeplitz matrix"
    inner = "Toeplitz blocks" if sw == 1 else f"blocks = rows 0, {sw}, ... of Toeplitz blocks"
    return f"{outer}; {inner}"


@single_thread()
def check_conv2d_jacobian(
    claim_id="T3c.conv2d",
    closed_form=None,
    weight=None,
    h=5,
    w=5,
    padding=1,
    stride=1,
    c_in=1,
    c_out=2,
    kernel_size=(3, 3),
    seed=0,
) -> ClaimResult:
    """autograd Jacobian of F.conv2d == closed_form(weight, h, w, padding, stride).

    closed_form defaults to block_toeplitz_conv2d (looked up when called, so that a test can
    replace the module's builder and see `python -m verify` fail).
    """
    closed_form = closed_form or block_toeplitz_conv2d
    g = _gen(seed)
    weight = randn(g, c_out, c_in, *pair(kernel_size)) if weight is None else weight
    weight = torch.as_tensor(weight, dtype=torch.float64)
    c_out, c_in, KH, KW = weight.shape
    bias, x = randn(g, c_out), randn(g, c_in * h * w)
    auto = autograd_jacobian(conv2d_fn(weight, bias, c_in, h, w, padding, stride), x)
    derived = closed_form(weight.numpy(), h, w, padding, stride)
    config = f"{c_in}->{c_out} ch, {h}x{w}, K={KH}x{KW}, pad {padding}, stride {stride}"
    (ph, pw), (sh, sw) = pair(padding), pair(stride)
    sizes = {
        "c_in": c_in,
        "c_out": c_out,
        "h": h,
        "w": w,
        "kh": KH,
        "kw": KW,
        "ph": ph,
        "pw": pw,
        "h_out": conv_output_length(h, KH, ph, sh),
        "w_out": conv_output_length(w, KW, pw, sw),
    }
    return compare_matrices(
        claim_id,
        f"2D conv ({config}): J = {conv2d_shape(stride)}",
        derived,
        auto,
        data={"weight": weight.numpy(), "config": config, "sizes": sizes},
    )


@single_thread()
def check_conv1d_kernel_jacobian(
    claim_id="T3c.im2col",
    closed_form=None,
    n_in=8,
    kernel_size=3,
    padding=1,
    stride=1,
    seed=0,
):
    """dy/dh of a single-channel conv1d is the matrix of input patches (im2col).

    closed_form defaults to conv1d_kernel_jacobian (looked up when called).
    """
    closed_form = closed_form or conv1d_kernel_jacobian
    g = _gen(seed)
    h, x = randn(g, kernel_size), randn(g, n_in)
    x3 = x.reshape(1, 1, -1)
    auto = autograd_jacobian(
        lambda k: F.conv1d(x3, k.reshape(1, 1, -1), stride=stride, padding=padding), h
    )
    derived = closed_form(x.numpy(), kernel_size, padding, stride)
    config = f"N={n_in}, K={kernel_size}, pad {padding}, stride {stride}"
    return compare_matrices(
        claim_id, f"1D conv ({config}): dy/dh = input patches (im2col)", derived, auto
    )


CONV1D_CASES = {  # claim id: sizes of a 1D conv whose closed-form Jacobian is checked
    "T3c.conv1d_toeplitz": dict(n_in=8, kernel_size=3, padding=1),
    "T3c.conv1d_strided_channels": dict(
        n_in=9, kernel_size=4, padding=2, stride=2, c_in=2, c_out=3
    ),
    "T3c.conv1d_dilated": dict(n_in=10, kernel_size=3, padding=2, dilation=2),
    "T3c.conv1d_asymmetric_padding": dict(n_in=7, kernel_size=5, padding=(3, 1), stride=3),
    "T3c.conv1d_circular": dict(n_in=8, kernel_size=3, padding=1, padding_mode="circular"),
    "T3c.conv1d_circular_strided": dict(
        n_in=9, kernel_size=3, padding=1, stride=2, padding_mode="circular", c_in=2, c_out=2
    ),
    "T3c.conv1d_circular_dilated": dict(
        n_in=8, kernel_size=3, padding=2, dilation=2, padding_mode="circular"
    ),
    "T3c.conv1d_circular_k_gt_n": dict(n_in=3, kernel_size=5, padding=2, padding_mode="circular"),
}
CONV2D_CASES = {  # claim id: sizes of a 2D conv whose closed-form Jacobian is checked
    "T3c.conv2d_doubly_block_toeplitz": dict(),
    "T3c.conv2d_strided_channels": dict(
        h=6, w=5, padding=(1, 0), stride=(2, 1), c_in=2, c_out=3, kernel_size=(3, 2)
    ),
    "T3c.conv2d_strided_both": dict(
        h=7, w=9, padding=(2, 1), stride=(3, 2), kernel_size=(5, 4), c_out=1
    ),
}


@single_thread()
def jacobian_claims() -> list[ClaimResult]:
    """T3a, T3b and the closed forms of T3c, compared with autograd."""
    claims = [
        check_bias_jacobian(),
        check_bias_param_jacobian(),
        check_matmul_jacobian(),
        check_matmul_param_jacobian(),
    ]
    claims += [
        check_conv1d_jacobian(cid, seed=seed, **sizes)
        for seed, (cid, sizes) in enumerate(CONV1D_CASES.items())
    ]
    claims += [
        check_conv1d_kernel_jacobian(),
        check_conv1d_kernel_jacobian(
            "T3c.im2col_strided", n_in=9, kernel_size=4, padding=2, stride=3, seed=1
        ),
    ]
    claims += [
        check_conv2d_jacobian(cid, seed=seed, **sizes)
        for seed, (cid, sizes) in enumerate(CONV2D_CASES.items())
    ]
    return claims
