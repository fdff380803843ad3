"""The layers whose Jacobians T3 checks, as functions of a flat float64 vector, and autograd.

Only these functions run autograd or a convolution; the closed forms they are compared with
live in :mod:`verify.toeplitz`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from verify.toeplitz import pair

DTYPE = torch.float64


def autograd_jacobian(f, x: torch.Tensor) -> np.ndarray:
    """Jacobian of f (flattened output) w.r.t. x (flattened), in float64."""
    x = x.detach().to(DTYPE).reshape(-1)
    J = torch.autograd.functional.jacobian(lambda v: f(v).reshape(-1), x)
    return J.reshape(-1, x.numel()).numpy()


def conv1d_fn(
    weight, bias=None, c_in=1, n_in=None, padding=0, stride=1, dilation=1, padding_mode="zeros"
):
    """x (flat) -> F.conv1d(x) (flat).  padding: an int or (left, right); "zeros" or "circular"."""
    mode = "circular" if padding_mode == "circular" else "constant"

    def f(v):
        x = F.pad(v.reshape(1, c_in, n_in), pair(padding), mode=mode)
        return F.conv1d(x, weight, bias, stride=stride, dilation=dilation)

    return f


def conv2d_fn(weight, bias=None, c_in=1, h=None, w=None, padding=0, stride=1):
    """x (flat) -> F.conv2d(x) (flat), zero padding (p_h, p_w)."""
    return lambda v: F.conv2d(
        v.reshape(1, c_in, h, w), weight, bias, stride=stride, padding=pair(padding)
    )
