"""Numerical and symbolic checks of the exercise's theory answers (T1-T3).

    from verify import run_all
    for r in run_all():
        print(r.line())

Every claim has a stable id, ``<question>.<name>`` (e.g. ``T2c.max_pool_1d_counterexample``);
the book finds results by id.

Modules: ``results`` (ClaimResult, the tolerances), ``layers`` (shifts, the layers of T1/T2),
``equivariance`` (the shift checks), ``shift`` (T1, T2 claims), ``toeplitz`` (T3 closed forms
and structure measures), ``autodiff`` (the layers as functions, autograd), ``jacobian`` (closed
forms vs autograd), ``structure`` (Jacobian structure on autograd alone), ``symbolic`` (T3c with
sympy), ``mnist`` (one test digit from the raw IDX file).  These depend on torch, numpy and
sympy only.  Two modules serve the book and are not imported here: ``figures`` (matplotlib) and
``report`` (tables and sentences). No module here imports ``ex2``.
"""

from __future__ import annotations

from verify.results import ClaimResult

__all__ = ["ClaimResult", "run_all"]


def run_all(mnist_image=None) -> list[ClaimResult]:
    """Every claim of T1-T3, in question order.

    mnist_image: a 28x28 array in [0, 1]; if None, the first MNIST test digit is loaded from
    ``$EX2_DATA_ROOT`` (default ``<repo>/data``) when the file is there, and the claim
    ``T2d.cnn_mnist_not_equivariant`` is omitted when it is not.
    """
    from verify._threads import single_thread
    from verify.jacobian import jacobian_claims
    from verify.mnist import load_mnist_digit
    from verify.shift import shift_claims
    from verify.structure import structure_claims
    from verify.symbolic import symbolic_claims

    if mnist_image is None:
        mnist_image = load_mnist_digit()
    with single_thread():
        results = (
            shift_claims(mnist_image=mnist_image)
            + jacobian_claims()
            + structure_claims()
            + symbolic_claims()
        )
    ids = [r.id for r in results]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RuntimeError(f"claim ids are not unique: {duplicates}")
    return results
