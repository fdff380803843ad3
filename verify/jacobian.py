"""T3: Jacobians of an additive bias, a matrix multiplication and a convolution.

Each closed form below is built from the derivation's index formula with
numpy and plain loops -- never from autograd and never by calling a conv --
and is compared with the Jacobian that autograd computes in float64.  The
check functions take the closed form as an argument, so a test can hand them a
wrong one and see them fail.

Derivations (J_ij = dy_i / dx_j).

(a) Bias, y = x + b:  dy_i/dx_j = delta_ij, so J = I_n.  (Also dy/db = I_n.)

(b) Matrix multiplication, y = W x with W of shape m x n:
    y_i = sum_k W_ik x_k, so dy_i/dx_j = W_ij and J = W (m x n).
    With respect to the weights (W flattened row by row):
    dy_i/dW_jk = delta_ij x_k, so dy/dvec(W) = I_m (kron) x^T.

(c) Convolution.  PyTorch computes a cross-correlation.  With kernel h of
    length K, zero padding p, stride s and dilation d,
        y_i = sum_k h_k x_{i s + k d - p}      (x_q = 0 outside 0..n-1),
    for i = 0 .. n_out - 1 with n_out = floor((n + 2p - d(K-1) - 1) / s) + 1.
    Differentiating, the only term containing x_j is the one with
    i s + k d - p = j, hence
        J_ij = h_{(j - i s + p) / d}  if that index is an integer in 0..K-1,
        J_ij = 0 otherwise.
    For s = d = 1, J_ij = h_{j - i + p} depends only on j - i: a banded
    *Toeplitz* matrix (constant along each diagonal).  A stride s keeps every
    s-th row of the stride-1 matrix.  With circular padding the indices wrap
    around (mod n) and the matrix is *circulant*.  With several channels,
    y_o = sum_c h_{o,c} * x_c, so J is a C_out x C_in grid of such blocks.

    2D: y_{i,j} = sum_{r,t} h_{r,t} x_{i s_h + r - p_h, j s_w + t - p_w}.
    Order the pixels row by row.  Output row i and input row a interact only
    through kernel row r = a - i s_h + p_h, and that interaction is the 1D
    convolution of input row a with kernel row h_{r,:}: a Toeplitz block
    T(h_{r,:}).  So J is an (H_out x H) grid of blocks, block (i, a) =
    T(h_{a - i s_h + p_h, :}) or 0 -- for s_h = 1 the blocks depend only on
    a - i: a *doubly block Toeplitz* matrix.  Channels again form an outer
    C_out x C_in grid of such matrices.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from ._threads import single_thread
from .results import EXACT_TOL, ClaimResult, make_result

DTYPE = torch.float64


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def conv_output_length(n_in: int, kernel_size: int, padding: int, stride: int, dilation: int = 1) -> int:
    """PyTorch's output length: floor((n + 2p - d(K-1) - 1) / s) + 1."""
    return (n_in + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


# ---------------------------------------------------------- closed forms --


def bias_jacobian(b) -> np.ndarray:
    """d(x + b)/dx = I."""
    return np.eye(len(b))


def bias_param_jacobian(b) -> np.ndarray:
    """d(x + b)/db = I."""
    return np.eye(len(b))


def matmul_jacobian(W) -> np.ndarray:
    """d(W x)/dx = W."""
    return np.array(W, dtype=np.float64)


def matmul_param_jacobian(W, x) -> np.ndarray:
    """d(W x)/d vec(W) = I_m kron x^T  (vec = row-major flatten)."""
    m = np.shape(W)[0]
    return np.kron(np.eye(m), np.asarray(x, dtype=np.float64)[None, :])


def _kernel_3d(kernel) -> np.ndarray:
    """A 1D kernel (K,) as a weight of shape (1, 1, K)."""
    k = np.asarray(kernel, dtype=np.float64)
    return k.reshape(1, 1, -1) if k.ndim == 1 else k


def _toeplitz_single(h, n_in, padding, stride, dilation, padding_mode) -> np.ndarray:
    """The Jacobian of a single-channel 1D conv, entry by entry from the formula."""
    K = len(h)
    n_out = conv_output_length(n_in, K, padding, stride, dilation)
    J = np.zeros((n_out, n_in))
    for i in range(n_out):
        if padding_mode == "circular":
            # y_i = sum_k h_k x_{(i s + k d - p) mod n}: add h_k at the wrapped column
            for k in range(K):
                J[i, (i * stride + k * dilation - padding) % n_in] += h[k]
            continue
        for j in range(n_in):
            q = j - i * stride + padding  # = k * dilation
            if q % dilation == 0 and 0 <= q // dilation < K:
                J[i, j] = h[q // dilation]
    return J


def toeplitz_conv1d(kernel, n_in, padding=0, stride=1, dilation=1, padding_mode="zeros") -> np.ndarray:
    """Jacobian of ``F.conv1d`` w.r.t. its input, from J_ij = h_{(j - i s + p)/d}.

    kernel: shape (K,) or a weight (C_out, C_in, K).  Returns a matrix of shape
    (C_out * n_out, C_in * n_in), rows and columns in PyTorch's (channel,
    position) flattening order: block (o, c) is the Toeplitz matrix of h[o, c].
    padding_mode "circular" gives the circulant version.
    """
    w = _kernel_3d(kernel)
    c_out, c_in, K = w.shape
    n_out = conv_output_length(n_in, K, padding, stride, dilation)
    J = np.zeros((c_out * n_out, c_in * n_in))
    for o in range(c_out):
        for c in range(c_in):
            block = _toeplitz_single(w[o, c], n_in, padding, stride, dilation, padding_mode)
            J[o * n_out:(o + 1) * n_out, c * n_in:(c + 1) * n_in] = block
    return J


def block_toeplitz_conv2d(weight, h, w, padding=0, stride=1) -> np.ndarray:
    """Jacobian of ``F.conv2d`` (zero padding) w.r.t. its input: doubly block Toeplitz.

    weight: (KH, KW) or (C_out, C_in, KH, KW); padding, stride: int or pair.
    For each channel pair, block (i, a) of the (H_out x h) grid of blocks is the
    1D Toeplitz matrix of kernel row r = a - i s_h + p_h (zero if r is not a
    kernel row).  Shape (C_out * H_out * W_out, C_in * h * w).
    """
    W4 = np.asarray(weight, dtype=np.float64)
    if W4.ndim == 2:
        W4 = W4[None, None]
    c_out, c_in, KH, KW = W4.shape
    (ph, pw), (sh, sw) = _pair(padding), _pair(stride)
    ho, wo = conv_output_length(h, KH, ph, sh), conv_output_length(w, KW, pw, sw)
    J = np.zeros((c_out * ho * wo, c_in * h * w))
    for o in range(c_out):
        for c in range(c_in):
            for i in range(ho):  # output row
                for a in range(h):  # input row
                    r = a - i * sh + ph
                    if not 0 <= r < KH:
                        continue
                    block = toeplitz_conv1d(W4[o, c, r], w, pw, sw)
                    row = (o * ho + i) * wo
                    col = (c * h + a) * w
                    J[row:row + wo, col:col + w] = block
    return J


def conv1d_kernel_jacobian(x, kernel_size, padding=0, stride=1) -> np.ndarray:
    """d y / d h for a single-channel conv1d: P_ik = x_{i s + k - p} (input patches)."""
    x = np.asarray(x, dtype=np.float64)
    n_out = conv_output_length(len(x), kernel_size, padding, stride)
    P = np.zeros((n_out, kernel_size))
    for i in range(n_out):
        for k in range(kernel_size):
            q = i * stride + k - padding
            if 0 <= q < len(x):
                P[i, k] = x[q]
    return P


# ------------------------------------------------------------- autograd --


def autograd_jacobian(f, x: torch.Tensor) -> np.ndarray:
    """Jacobian of f (flattened output) w.r.t. x (flattened), in float64."""
    x = x.detach().to(DTYPE).reshape(-1)
    J = torch.autograd.functional.jacobian(lambda v: f(v).reshape(-1), x)
    return J.reshape(-1, x.numel()).numpy()


def conv1d_fn(weight, bias=None, c_in=1, n_in=None, padding=0, stride=1, dilation=1, padding_mode="zeros"):
    """x (flat) -> F.conv1d(x) (flat), the layer whose Jacobian is taken."""

    def f(v):
        x = v.reshape(1, c_in, n_in)
        if padding_mode == "circular":
            x = F.pad(x, (padding, padding), mode="circular")
            return F.conv1d(x, weight, bias, stride=stride, dilation=dilation)
        return F.conv1d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)

    return f


def conv2d_fn(weight, bias=None, c_in=1, h=None, w=None, padding=0, stride=1):
    return lambda v: F.conv2d(v.reshape(1, c_in, h, w), weight, bias, stride=stride, padding=padding)


# ---------------------------------------------------------------- checks --


def compare_matrices(question, claim, derived, autograd, *, tol=EXACT_TOL, data=None) -> ClaimResult:
    """max |derived - autograd|; a shape mismatch is an infinite error."""
    derived = np.asarray(derived, dtype=np.float64)
    autograd = np.asarray(autograd, dtype=np.float64)
    if derived.shape != autograd.shape:
        error = float("inf")
    else:
        error = float(np.max(np.abs(derived - autograd))) if derived.size else float("nan")
    full = {"derived": derived, "autograd": autograd, **(data or {})}
    return make_result(question, claim, "max |J_derived - J_autograd|", error, tol, "holds", full)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@single_thread()
def check_bias_jacobian(closed_form=bias_jacobian, n=6, seed=0) -> ClaimResult:
    g = _gen(seed)
    b = torch.randn(n, generator=g, dtype=DTYPE)
    x = torch.randn(n, generator=g, dtype=DTYPE)
    auto = autograd_jacobian(lambda v: v + b, x)
    return compare_matrices("T3a", f"bias y = x + b (n={n}): dy/dx = I", closed_form(b.numpy()), auto)


@single_thread()
def check_bias_param_jacobian(closed_form=bias_param_jacobian, n=6, seed=0) -> ClaimResult:
    g = _gen(seed)
    b = torch.randn(n, generator=g, dtype=DTYPE)
    x = torch.randn(n, generator=g, dtype=DTYPE)
    auto = autograd_jacobian(lambda c: x + c, b)
    return compare_matrices("T3a", f"bias y = x + b (n={n}): dy/db = I", closed_form(b.numpy()), auto)


@single_thread()
def check_matmul_jacobian(closed_form=matmul_jacobian, m=4, n=6, seed=0) -> ClaimResult:
    g = _gen(seed)
    W = torch.randn(m, n, generator=g, dtype=DTYPE)
    x = torch.randn(n, generator=g, dtype=DTYPE)
    auto = autograd_jacobian(lambda v: W @ v, x)
    return compare_matrices("T3b", f"y = W x (W {m}x{n}): dy/dx = W", closed_form(W.numpy()), auto)


@single_thread()
def check_matmul_param_jacobian(closed_form=matmul_param_jacobian, m=4, n=6, seed=0) -> ClaimResult:
    g = _gen(seed)
    W = torch.randn(m, n, generator=g, dtype=DTYPE)
    x = torch.randn(n, generator=g, dtype=DTYPE)
    auto = autograd_jacobian(lambda v: v.reshape(m, n) @ x, W)
    derived = closed_form(W.numpy(), x.numpy())
    return compare_matrices("T3b", f"y = W x (W {m}x{n}): dy/dvec(W) = I kron x^T", derived, auto)


def _describe1d(c_in, c_out, K, n_in, padding, stride, dilation, padding_mode):
    extra = f", dil {dilation}" if dilation != 1 else ""
    return f"{c_in}->{c_out} ch, n={n_in}, K={K}, {padding_mode} pad {padding}, stride {stride}{extra}"


@single_thread()
def check_conv1d_jacobian(
    closed_form=None, weight=None, n_in=8, padding=1, stride=1, dilation=1,
    padding_mode="zeros", c_in=1, c_out=1, kernel_size=3, seed=0,
) -> ClaimResult:
    """autograd Jacobian of F.conv1d == closed_form(weight, n_in, padding, stride).

    closed_form defaults to toeplitz_conv1d (with this dilation/padding_mode).
    """
    g = _gen(seed)
    if weight is None:
        weight = torch.randn(c_out, c_in, kernel_size, generator=g, dtype=DTYPE)
    weight = torch.as_tensor(weight, dtype=DTYPE)
    c_out, c_in, K = weight.shape
    bias = torch.randn(c_out, generator=g, dtype=DTYPE)
    x = torch.randn(c_in * n_in, generator=g, dtype=DTYPE)
    f = conv1d_fn(weight, bias, c_in, n_in, padding, stride, dilation, padding_mode)
    auto = autograd_jacobian(f, x)
    if closed_form is None:
        closed_form = partial(toeplitz_conv1d, dilation=dilation, padding_mode=padding_mode)
    derived = closed_form(weight.numpy(), n_in, padding, stride)
    if padding_mode == "circular":
        shape = "circulant matrix of the kernel"
    elif stride == 1 and c_in == c_out == 1:
        shape = "Toeplitz matrix of the kernel"
    else:
        shape = "C_out x C_in grid of Toeplitz blocks (rows 0, s, 2s, ...)"
    config = _describe1d(c_in, c_out, K, n_in, padding, stride, dilation, padding_mode)
    return compare_matrices(
        "T3c", f"1D conv ({config}): J = {shape}", derived, auto,
        data={"weight": weight.numpy(), "config": config},
    )


@single_thread()
def check_conv2d_jacobian(
    closed_form=block_toeplitz_conv2d, weight=None, h=5, w=5, padding=1, stride=1,
    c_in=1, c_out=2, kernel_size=(3, 3), seed=0,
) -> ClaimResult:
    """autograd Jacobian of F.conv2d == closed_form(weight, h, w, padding, stride)."""
    g = _gen(seed)
    if weight is None:
        weight = torch.randn(c_out, c_in, *_pair(kernel_size), generator=g, dtype=DTYPE)
    weight = torch.as_tensor(weight, dtype=DTYPE)
    c_out, c_in, KH, KW = weight.shape
    bias = torch.randn(c_out, generator=g, dtype=DTYPE)
    x = torch.randn(c_in * h * w, generator=g, dtype=DTYPE)
    auto = autograd_jacobian(conv2d_fn(weight, bias, c_in, h, w, padding, stride), x)
    derived = closed_form(weight.numpy(), h, w, padding, stride)
    config = f"{c_in}->{c_out} ch, {h}x{w}, K={KH}x{KW}, pad {padding}, stride {stride}"
    return compare_matrices(
        "T3c", f"2D conv ({config}): J = doubly block Toeplitz", derived, auto,
        data={"weight": weight.numpy(), "config": config},
    )


@single_thread()
def conv2d_jacobian_pair(weight=None, h=5, w=5, padding=1, stride=1, c_in=1, c_out=2, kernel_size=3, seed=0):
    """(derived, autograd) Jacobians of a small conv2d, for side-by-side heatmaps.

    Default: 1 input channel, 2 output channels, 5x5 input, 3x3 kernel,
    padding 1 -> two 50 x 25 matrices.
    """
    r = check_conv2d_jacobian(
        weight=weight, h=h, w=w, padding=padding, stride=stride,
        c_in=c_in, c_out=c_out, kernel_size=kernel_size, seed=seed,
    )
    return r.data["derived"], r.data["autograd"]


@single_thread()
def check_conv1d_kernel_jacobian(closed_form=conv1d_kernel_jacobian, n_in=8, kernel_size=3, padding=1, stride=1, seed=0):
    """dy/dh of a single-channel conv1d is the matrix of input patches."""
    g = _gen(seed)
    h = torch.randn(kernel_size, generator=g, dtype=DTYPE)
    x = torch.randn(n_in, generator=g, dtype=DTYPE)
    f = lambda k: F.conv1d(x.reshape(1, 1, -1), k.reshape(1, 1, -1), stride=stride, padding=padding)  # noqa: E731
    auto = autograd_jacobian(f, h)
    derived = closed_form(x.numpy(), kernel_size, padding, stride)
    return compare_matrices(
        "T3c", f"1D conv (n={n_in}, K={kernel_size}, pad {padding}, stride {stride}): dy/dh = input patches",
        derived, auto,
    )


# ---------------------------------------------- structure (no closed form) --


def toeplitz_deviation(M, circulant=False) -> float:
    """max over diagonals of (max - min) along the diagonal: 0 iff M is Toeplitz.

    circulant=True uses wrapped diagonals M[i, (i + d) mod n] (square M).
    """
    M = np.asarray(M)
    rows, cols = M.shape
    worst = 0.0
    for d in range(-rows + 1, cols):
        if circulant:
            vals = [M[i, (i + d) % cols] for i in range(rows)]
        else:
            vals = [M[i, i + d] for i in range(rows) if 0 <= i + d < cols]
        if vals:
            worst = max(worst, float(np.max(vals) - np.min(vals)))
    return worst


def block_toeplitz_deviation(M, block_rows, block_cols) -> float:
    """0 iff M is block Toeplitz (blocks depend on block-col - block-row) with Toeplitz blocks."""
    M = np.asarray(M)
    nb_r, nb_c = M.shape[0] // block_rows, M.shape[1] // block_cols
    blocks = M.reshape(nb_r, block_rows, nb_c, block_cols).transpose(0, 2, 1, 3)
    worst = 0.0
    for i in range(nb_r):
        for a in range(nb_c):
            worst = max(worst, toeplitz_deviation(blocks[i, a]))
            if i > 0 and a > 0:  # same block diagonal as (i-1, a-1)
                worst = max(worst, float(np.max(np.abs(blocks[i, a] - blocks[i - 1, a - 1]))))
    return worst


@single_thread()
def check_toeplitz_structure(n_in=8, kernel_size=3, padding=1, padding_mode="zeros", seed=0, layer=None) -> ClaimResult:
    """The autograd Jacobian of a stride-1 conv1d is Toeplitz (circulant if circular).

    Measured on autograd alone, independent of any closed form.  `layer`
    (a function of the flat input) may replace the conv to test the check.
    """
    g = _gen(seed)
    weight = torch.randn(1, 1, kernel_size, generator=g, dtype=DTYPE)
    x = torch.randn(n_in, generator=g, dtype=DTYPE)
    f = layer or conv1d_fn(weight, None, 1, n_in, padding, 1, 1, padding_mode)
    J = autograd_jacobian(f, x)
    circ = padding_mode == "circular"
    name = "circulant" if circ else "Toeplitz"
    return make_result(
        "T3c", f"1D conv, stride 1, {padding_mode} padding: autograd J is {name} (constant diagonals)",
        "max over diagonals (max - min)", toeplitz_deviation(J, circulant=circ), EXACT_TOL, "holds",
        {"autograd": J},
    )


@single_thread()
def check_block_toeplitz_structure(h=5, w=6, kernel_size=3, padding=1, seed=0, layer=None) -> ClaimResult:
    """The autograd Jacobian of a stride-1 single-channel conv2d is doubly block Toeplitz."""
    g = _gen(seed)
    KH, KW = _pair(kernel_size)
    weight = torch.randn(1, 1, KH, KW, generator=g, dtype=DTYPE)
    x = torch.randn(h * w, generator=g, dtype=DTYPE)
    f = layer or conv2d_fn(weight, None, 1, h, w, padding, 1)
    J = autograd_jacobian(f, x)
    wo = conv_output_length(w, KW, _pair(padding)[1], 1)
    return make_result(
        "T3c", f"2D conv, stride 1 ({h}x{w}, K={KH}x{KW}): autograd J is doubly block Toeplitz",
        "max deviation from block/inner Toeplitz", block_toeplitz_deviation(J, wo, w), EXACT_TOL, "holds",
        {"autograd": J},
    )


@single_thread()
def check_stride_subsamples_rows(n_in=9, kernel_size=3, padding=1, stride=2, seed=0, select=None) -> ClaimResult:
    """A stride-s conv's Jacobian is every s-th row of the stride-1 Jacobian.

    `select` (default: rows 0, s, 2s, ...) picks the rows; a test can inject a wrong one.
    """
    select = select or (lambda J1: J1[::stride])
    g = _gen(seed)
    weight = torch.randn(1, 1, kernel_size, generator=g, dtype=DTYPE)
    x = torch.randn(n_in, generator=g, dtype=DTYPE)
    J1 = autograd_jacobian(conv1d_fn(weight, None, 1, n_in, padding, 1), x)
    Js = autograd_jacobian(conv1d_fn(weight, None, 1, n_in, padding, stride), x)
    return compare_matrices(
        "T3c", f"1D conv, stride {stride}: J = rows 0, {stride}, {2*stride}, ... of the stride-1 Toeplitz J",
        select(J1), Js,
    )


# ---------------------------------------------------------------- claims --


@single_thread()
def jacobian_claims() -> list[ClaimResult]:
    """All numerical T3 claims (the sympy ones are in verify.symbolic)."""
    return [
        check_bias_jacobian(),
        check_bias_param_jacobian(),
        check_matmul_jacobian(),
        check_matmul_param_jacobian(),
        check_conv1d_jacobian(n_in=8, kernel_size=3, padding=1, stride=1),
        check_conv1d_jacobian(n_in=9, kernel_size=4, padding=2, stride=2, c_in=2, c_out=3, seed=1),
        check_conv1d_jacobian(n_in=10, kernel_size=3, padding=2, stride=1, dilation=2, seed=2),
        check_conv1d_jacobian(n_in=8, kernel_size=3, padding=1, padding_mode="circular", seed=3),
        check_toeplitz_structure(),
        check_toeplitz_structure(padding_mode="circular", seed=1),
        check_stride_subsamples_rows(),
        check_conv1d_kernel_jacobian(),
        check_conv2d_jacobian(),
        check_conv2d_jacobian(h=6, w=5, padding=(1, 0), stride=(2, 1), c_in=2, c_out=3, kernel_size=(3, 2), seed=1),
        check_block_toeplitz_structure(),
    ]
