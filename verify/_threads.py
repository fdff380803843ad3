"""Run the (tiny) tensor computations of the checks on one thread.

The checks use very small tensors.  With several intra-op threads on a busy
machine each tiny conv can cost tens of milliseconds in thread hand-offs
(measured: 30 s instead of 0.1 s for the shift claims on 2 loaded cores), so
every public check runs under ``single_thread()``.  The previous thread count
is restored on exit, so a notebook that trains models afterwards is unaffected.
"""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
