"""Circular shifts and the layers whose behaviour under shifts T1 and T2 check.

``S_s`` shifts a signal by ``s`` samples (pixels in 2D): ``(S_s x)[n] = x[n - s]``.  On a
finite signal we use the *circular* shift (``torch.roll``), the only shift that loses nothing.
Each layer is a plain function of a ``(N, C, *spatial)`` float64 tensor.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F

DTYPE = torch.float64


def as_shift(s) -> tuple[int, ...]:
    """An int (1D) or a tuple of ints (2D) as a tuple."""
    if isinstance(s, (int, np.integer)):
        return (int(s),)
    return tuple(int(v) for v in s)


def per_dim(value, dims: int) -> tuple[int, ...]:
    """An int as `dims` copies, a tuple as it is (kernel sizes, paddings, strides)."""
    return as_shift(value) * (dims if isinstance(value, (int, np.integer)) else 1)


def shift(x: torch.Tensor, s) -> torch.Tensor:
    """Circular shift of the last len(s) dims: ``shift(x, s)[..., n] = x[..., n - s]``."""
    s = as_shift(s)
    return torch.roll(x, shifts=s, dims=tuple(range(-len(s), 0)))


def all_shifts(size) -> list[tuple[int, ...]]:
    """Every circular shift of a signal with spatial size ``size`` (tuple)."""
    return list(itertools.product(*(range(n) for n in size)))


def randn(gen, *shape, scale=1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=DTYPE) * scale


def conv_layer(weight, bias=None, padding=0, padding_mode="zeros", stride=1, dilation=1):
    """Convolution (PyTorch cross-correlation); 1D or 2D from weight.dim().

    padding: an int, or one int per spatial dim.  padding_mode "zeros" or "circular".
    """
    dims = weight.dim() - 2
    conv = F.conv1d if dims == 1 else F.conv2d
    pads = per_dim(padding, dims)

    def layer(x):
        if padding_mode == "circular":
            # F.pad lists the last dim first: (left, right, top, bottom)
            x = F.pad(x, tuple(p for p in reversed(pads) for _ in (0, 1)), mode="circular")
            return conv(x, weight, bias, stride=stride, dilation=dilation)
        return conv(x, weight, bias, stride=stride, padding=pads, dilation=dilation)

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


def small_cnn(pool=True, head="none", in_channels=1, seed=0, size=16):
    """conv3x3 -> ReLU -> [maxpool 2] -> conv3x3 -> ReLU -> [avgpool 2] -> head.

    Circular padding 1 with 3x3 kernels keeps the size, so that the only source of broken
    equivariance is the pooling.  Total stride 4 with pooling, 1 without.  Random float64
    weights.  head: "none" (a feature map), "mean" (global average pool, a vector) or "linear"
    (flatten, then a fully connected layer with 3 outputs, built for a size x size input).
    """
    gen = torch.Generator().manual_seed(seed)
    conv1 = conv_layer(
        randn(gen, 4, in_channels, 3, 3, scale=(9 * in_channels) ** -0.5),
        randn(gen, 4, scale=0.1),
        padding=1,
        padding_mode="circular",
    )
    conv2 = conv_layer(
        randn(gen, 4, 4, 3, 3, scale=36**-0.5),
        randn(gen, 4, scale=0.1),
        padding=1,
        padding_mode="circular",
    )
    side = size // 4 if pool else size
    fc = randn(gen, 3, 4 * side * side, scale=(4 * side * side) ** -0.5)

    def cnn(x):
        y = relu(conv1(x))
        y = F.max_pool2d(y, 2, 2) if pool else y
        y = relu(conv2(y))
        y = F.avg_pool2d(y, 2, 2) if pool else y
        if head == "mean":
            return y.mean(dim=(-2, -1))
        if head == "linear":
            return y.flatten(1) @ fc.T
        return y

    return cnn
