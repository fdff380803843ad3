"""Numerical and symbolic checks of the exercise's theory answers (T1-T3).

    from verify import run_all
    for r in run_all():
        print(r.line())

Modules: ``results`` (ClaimResult), ``shift`` (T1, T2), ``jacobian`` (T3,
numerical), ``symbolic`` (T3c with sympy), ``mnist`` (one test digit from the
raw IDX file), ``figures`` (matplotlib, imported only by the book).  Depends on
torch, numpy and sympy (plus matplotlib for ``figures``) -- not on ``ex2``.
"""

from __future__ import annotations

from .results import ClaimResult

__all__ = ["ClaimResult", "run_all"]


def run_all(mnist_image=None) -> list[ClaimResult]:
    """Every claim of T1-T3, in question order.

    mnist_image: a 28x28 array in [0, 1]; if None, the first MNIST test digit is
    loaded from ``$EX2_DATA_ROOT`` (default ``<repo>/data``) when the file is
    there, and the "CNN on an MNIST digit" claim is omitted when it is not.
    """
    from ._threads import single_thread
    from .jacobian import jacobian_claims
    from .mnist import load_mnist_digit
    from .shift import shift_claims
    from .symbolic import symbolic_claims

    if mnist_image is None:
        mnist_image = load_mnist_digit()
    with single_thread():
        return shift_claims(mnist_image=mnist_image) + jacobian_claims() + symbolic_claims()
