"""T3 closed forms, built entry by entry from the derivation, and measures of matrix structure.

Nothing here calls autograd or a convolution: these are the matrices the derivation predicts,
and the numbers that say whether a matrix is Toeplitz, circulant or doubly block Toeplitz.

1D conv (PyTorch cross-correlation), kernel h of length K, left padding p, stride s, dilation d:
    y_i = sum_k h_k x_{i s + k d - p}          (x_q = 0 outside 0..n-1: zero padding)
    J_ij = h_{(j - i s + p) / d}  if that is an integer kernel index, else 0.
Circular padding reads x_{(i s + k d - p) mod n} instead, so h_k is added at the wrapped column.
2D conv: block (i, a) of the (H_out x H) grid of blocks is the 1D matrix (stride s_w, padding
p_w) of kernel row r = a - i s_h + p_h, or 0 if r is not a kernel row.
"""

from __future__ import annotations

import numpy as np


def pair(v) -> tuple[int, int]:
    """An int as (v, v), a pair as it is: (left, right) paddings, (h, w) sizes or strides."""
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    return int(v[0]), int(v[1])


def conv_output_length(
    n_in: int, kernel_size: int, padding=0, stride: int = 1, dilation: int = 1
) -> int:
    """PyTorch's output length floor((n + p_left + p_right - d(K-1) - 1) / s) + 1.

    padding: an int (both sides) or a (left, right) pair.
    """
    left, right = pair(padding)
    return (n_in + left + right - dilation * (kernel_size - 1) - 1) // stride + 1


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


def _toeplitz_single(h, n_in, padding, stride, dilation, padding_mode) -> np.ndarray:
    """The Jacobian of a single-channel 1D conv, entry by entry from the formula."""
    K, left = len(h), pair(padding)[0]
    n_out = conv_output_length(n_in, K, padding, stride, dilation)
    J = np.zeros((n_out, n_in))
    for i in range(n_out):
        if padding_mode == "circular":
            # y_i = sum_k h_k x_{(i s + k d - p) mod n}: several taps may land on one column
            for k in range(K):
                J[i, (i * stride + k * dilation - left) % n_in] += h[k]
            continue
        for j in range(n_in):
            q = j - i * stride + left  # = k * dilation
            if q % dilation == 0 and 0 <= q // dilation < K:
                J[i, j] = h[q // dilation]
    return J


def toeplitz_conv1d(kernel, n_in, padding=0, stride=1, dilation=1, padding_mode="zeros"):
    """Jacobian of a 1D conv w.r.t. its input, from J_ij = h_{(j - i s + p)/d}.

    kernel: shape (K,) or a weight (C_out, C_in, K); padding: an int or (left, right).  Returns
    a matrix of shape (C_out * n_out, C_in * n_in), rows and columns in PyTorch's (channel,
    position) order: block (o, c) is the matrix of h[o, c].  padding_mode "circular" wraps the
    column indices modulo n_in.
    """
    w = np.asarray(kernel, dtype=np.float64)
    w = w.reshape(1, 1, -1) if w.ndim == 1 else w
    c_out, c_in, K = w.shape
    n_out = conv_output_length(n_in, K, padding, stride, dilation)
    J = np.zeros((c_out * n_out, c_in * n_in))
    for o in range(c_out):
        for c in range(c_in):
            block = _toeplitz_single(w[o, c], n_in, padding, stride, dilation, padding_mode)
            J[o * n_out : (o + 1) * n_out, c * n_in : (c + 1) * n_in] = block
    return J


def block_toeplitz_conv2d(weight, h, w, padding=0, stride=1) -> np.ndarray:
    """Jacobian of ``F.conv2d`` (zero padding) w.r.t. its input.

    weight: (KH, KW) or (C_out, C_in, KH, KW); padding (p_h, p_w), stride (s_h, s_w): an int or
    a pair.  For each channel pair, block (i, a) of the (H_out x h) grid of blocks is the 1D
    matrix of kernel row r = a - i s_h + p_h (zero if r is not a kernel row).  Doubly block
    Toeplitz for stride (1, 1) only.  Shape (C_out * H_out * W_out, C_in * h * w).
    """
    W4 = np.asarray(weight, dtype=np.float64)
    W4 = W4[None, None] if W4.ndim == 2 else W4
    c_out, c_in, KH, KW = W4.shape
    (ph, pw), (sh, sw) = pair(padding), pair(stride)
    ho, wo = conv_output_length(h, KH, ph, sh), conv_output_length(w, KW, pw, sw)
    J = np.zeros((c_out * ho * wo, c_in * h * w))
    for o, c, i, a in np.ndindex(c_out, c_in, ho, h):  # channels, output row, input row
        r = a - i * sh + ph
        if 0 <= r < KH:
            row, col = (o * ho + i) * wo, (c * h + a) * w
            J[row : row + wo, col : col + w] = toeplitz_conv1d(W4[o, c, r], w, pw, sw)
    return J


def conv1d_kernel_jacobian(x, kernel_size, padding=0, stride=1) -> np.ndarray:
    """d y / d h of a single-channel conv1d: P_ik = x_{i s + k - p}, the input patches (im2col)."""
    x = np.asarray(x, dtype=np.float64)
    left = pair(padding)[0]
    n_out = conv_output_length(len(x), kernel_size, padding, stride)
    P = np.zeros((n_out, kernel_size))
    for i, k in np.ndindex(n_out, kernel_size):
        q = i * stride + k - left
        if 0 <= q < len(x):
            P[i, k] = x[q]
    return P


# ------------------------------------------------------------------------------ structure --


def toeplitz_deviation(M) -> float:
    """max over diagonals of (max - min) along the diagonal: 0 iff M is Toeplitz."""
    M = np.asarray(M, dtype=np.float64)
    rows, cols = M.shape
    diagonals = (np.diagonal(M, d) for d in range(-rows + 1, cols))
    return max((float(v.max() - v.min()) for v in diagonals if v.size), default=0.0)


def circulant_deviation(M) -> float:
    """0 iff M is circulant: square, M[i, j] depends only on (j - i) mod n.

    The measure is the largest |M[i, j] - M[i + 1, j + 1 mod n]| (each row is the row above,
    rotated right by one); a non-square matrix is not circulant at all (inf).
    """
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        return float("inf")
    rotated = np.roll(M[:-1], 1, axis=1)
    return float(np.abs(M[1:] - rotated).max()) if len(M) > 1 else 0.0


def grid_of_blocks(M, block_rows: int, block_cols: int) -> np.ndarray:
    """M as a 4D array: blocks[i, a] is block (i, a) of shape (block_rows, block_cols)."""
    M = np.asarray(M, dtype=np.float64)
    nb_r, nb_c = M.shape[0] // block_rows, M.shape[1] // block_cols
    if (nb_r * block_rows, nb_c * block_cols) != M.shape:
        raise ValueError(f"a {M.shape} matrix is no grid of {block_rows}x{block_cols} blocks")
    return M.reshape(nb_r, block_rows, nb_c, block_cols).transpose(0, 2, 1, 3)


def block_toeplitz_deviations(M, block_rows: int, block_cols: int) -> tuple[float, float]:
    """(outer, inner): outer is 0 iff block (i, a) depends only on a - i (block Toeplitz);
    inner is 0 iff every block is Toeplitz.  Both 0: doubly block Toeplitz."""
    blocks = grid_of_blocks(M, block_rows, block_cols)
    outer = np.abs(blocks[1:, 1:] - blocks[:-1, :-1])  # block (i, a) vs block (i-1, a-1)
    inner = (toeplitz_deviation(b) for row in blocks for b in row)
    return float(outer.max()) if outer.size else 0.0, max(inner, default=0.0)


def block_toeplitz_deviation(M, block_rows: int, block_cols: int) -> float:
    """0 iff M is doubly block Toeplitz (block Toeplitz, with Toeplitz blocks)."""
    return max(block_toeplitz_deviations(M, block_rows, block_cols))


def strided_rows_2d(h_out1: int, w_out1: int, stride) -> np.ndarray:
    """Row indices of a stride-1 2D Jacobian that a stride-(s_h, s_w) conv keeps.

    Output pixel (i, j) of the strided conv is pixel (i s_h, j s_w) of the stride-1 conv, whose
    row is (i s_h) * w_out1 + j s_w: block rows 0, s_h, 2 s_h, ..., and within each block, rows
    0, s_w, 2 s_w, ....  (Single channel.)
    """
    sh, sw = pair(stride)
    rows, cols = np.arange(0, h_out1, sh), np.arange(0, w_out1, sw)
    return (rows[:, None] * w_out1 + cols[None, :]).reshape(-1)
