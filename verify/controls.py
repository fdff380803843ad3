"""Negative controls: the judging of the checks, checked where the book is built.

A check that compares a quantity with itself, counts a shape mismatch as no error, takes the best
shift instead of the worst, or runs with a loosened tolerance still passes every true claim. So
each control below hands one of the real checking functions a *planted wrong* input whose right
verdict is known (a layer that is not equivariant, a matrix that is not Toeplitz, an error just
above rounding), and the control passes only when that check rejects it. Two more controls pin
what cannot be planted: that each pooling layer computes what its name says, and that the pooling
claims test every shift they state. `python -m verify` and the book's verification appendix fail
when a control fails, exactly as when a claim fails.

The planted magnitudes are absolute numbers, not multiples of the tolerances in
:mod:`verify.results`, so that a loosened tolerance cannot loosen its own control.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from verify._threads import single_thread
from verify.equivariance import (
    check_equivariant,
    check_interior_equivariant,
    check_invariant,
    check_not_equivariant,
)
from verify.jacobian import compare_matrices
from verify.layers import DTYPE, all_shifts, avg_pool, conv_layer, max_pool, randn
from verify.results import ClaimResult
from verify.structure import (
    check_block_structure,
    check_circulant_structure,
    check_toeplitz_structure,
)

ROUNDING_EXCESS = 1e-11  # an "identity" that is off by this much is not an identity
ROUNDING_NOISE = 1e-13  # a "violation" this small is rounding, not a counterexample


@dataclass(frozen=True)
class Control:
    id: str  # "control.<name>"
    planted: str  # what was planted, in words
    caught: bool  # the judging rejected the planted wrong (or the pinned fact holds)
    detail: str  # the verdict or measurement it rests on

    def line(self) -> str:
        return f"{self.id}  {self.planted}  |  {self.detail}  {'PASS' if self.caught else 'FAIL'}"


def rejected(control_id: str, planted: str, result: ClaimResult) -> Control:
    """A planted wrong claim: the control passes when the check judges it FAIL."""
    detail = f"{result.quantity} = {result.error:.3g}, judged {'PASS' if result.passed else 'FAIL'}"
    return Control(control_id, planted, not result.passed, detail)


def _linear_layer(matrix: np.ndarray):
    """x (flat) -> M x: a planted layer whose Jacobian is exactly M."""
    m = torch.as_tensor(matrix, dtype=DTYPE)
    return lambda v: m @ v.reshape(-1)


def _planted_matrices() -> dict[str, np.ndarray]:
    n = 6
    toeplitz = np.add.outer(-np.arange(n), np.arange(n)).astype(float)  # constant diagonals
    lower = toeplitz.copy()
    lower[4, 1] += 1.0  # one entry below the diagonal breaks it
    upper = toeplitz.copy()
    upper[1, 4] += 1.0
    return {"toeplitz": toeplitz, "lower": lower, "upper": upper}


@single_thread()
def planted_wrong_claims() -> list[Control]:
    gen = torch.Generator().manual_seed(7)
    x1, x2 = randn(gen, 1, 2, 12), randn(gen, 1, 1, 8, 8)
    conv = conv_layer(randn(gen, 2, 2, 3), padding=1, padding_mode="circular")
    bias = randn(gen, 1, 2, 12)  # a value per position: not shift-equivariant
    by_position = lambda x: conv(x) + bias  # noqa: E731
    sign = torch.tensor([1.0, -1.0] * 6, dtype=DTYPE)  # a different offset at every other position
    almost = lambda x: conv(x) + ROUNDING_EXCESS * sign  # noqa: E731
    rounding = lambda x: conv(x) + ROUNDING_NOISE * sign  # noqa: E731
    zero_padded = conv_layer(randn(gen, 2, 2, 3), padding=1)
    pool1, pool2 = max_pool(2, 1), max_pool(2, 2)
    strided = conv_layer(randn(gen, 2, 2, 3), padding=1, padding_mode="circular", stride=2)
    half = lambda s: tuple(v // 2 for v in s)  # noqa: E731
    every = all_shifts((12,))
    ids = {"claim_id": "T1.control", "claim": "planted"}
    m = _planted_matrices()
    auto = m["toeplitz"]
    wrong_shape = np.vstack([auto, auto[:1]])
    off_by_one = auto.copy()
    off_by_one[2, 3] += 1e-3
    blocks_not_toeplitz = np.kron(np.eye(2), m["lower"])  # block Toeplitz, inner blocks not
    outer_not = np.block([[auto, auto], [auto, auto + 1.0]])  # Toeplitz blocks, outer not
    return [
        rejected(
            "control.identity_tolerance",
            f"an identity off by ±{ROUNDING_EXCESS:g} by position passes as exact",
            check_equivariant(almost, x1, every, **ids),
        ),
        rejected(
            "control.violation_tolerance",
            f"a violation of ±{ROUNDING_NOISE:g} (rounding) counts as a counterexample",
            check_equivariant(rounding, x1, [1], expect="fails", **ids),
        ),
        rejected(
            "control.equivariant_compares",
            "a per-position bias passes as shift-equivariant",
            check_equivariant(by_position, x1, every, **ids),
        ),
        rejected(
            "control.equivariant_worst_shift",
            "max pooling passes as equivariant to every shift (the even ones hold)",
            check_equivariant(pool1, x1, every, out_shift=half, **ids),
        ),
        rejected(
            "control.equivariant_2d_worst_shift",
            "2D max pooling passes as equivariant to every shift",
            check_equivariant(pool2, x2, all_shifts((8, 8)), out_shift=half, **ids),
        ),
        rejected(
            "control.not_equivariant_every_shift",
            "max pooling counts as broken by shift 2 too (an output shift repairs it)",
            check_not_equivariant(pool1, x1, [1, 2], **ids),
        ),
        rejected(
            "control.not_equivariant_every_output_shift",
            "a stride-2 conv counts as broken by shift 2 (output shift 1 repairs it)",
            check_not_equivariant(strided, x1, [2], **ids),
        ),
        rejected(
            "control.invariant",
            "a convolution passes as shift-invariant",
            check_invariant(conv, x1, [1, 3], **ids),
        ),
        rejected(
            "control.interior",
            "a per-position bias passes as equivariant away from the border",
            check_interior_equivariant(
                lambda x: zero_padded(x) + bias,
                x1,
                [1, -2],
                3,
                1,
                **ids,
            ),
        ),
        rejected(
            "control.nothing_compared",
            "an interior check that compares no position at all passes",
            check_interior_equivariant(zero_padded, x1[..., :2], [1], 3, 1, **ids),
        ),
        rejected(
            "control.matrix_values",
            "a Jacobian with one entry off by 1e-3 matches autograd",
            compare_matrices("T3c.control", "planted", off_by_one, auto),
        ),
        rejected(
            "control.matrix_shape",
            "a Jacobian with an extra row matches autograd",
            compare_matrices("T3c.control", "planted", wrong_shape, auto),
        ),
        rejected(
            "control.toeplitz_lower",
            "a matrix broken below its diagonal passes as Toeplitz",
            check_toeplitz_structure("T3c.control", n_in=6, layer=_linear_layer(m["lower"])),
        ),
        rejected(
            "control.toeplitz_upper",
            "a matrix broken above its diagonal passes as Toeplitz",
            check_toeplitz_structure("T3c.control", n_in=6, layer=_linear_layer(m["upper"])),
        ),
        rejected(
            "control.circulant",
            "a Toeplitz matrix that does not wrap around passes as circulant",
            check_circulant_structure("T3c.control", n_in=6, layer=_linear_layer(auto)),
        ),
        rejected(
            "control.block_inner",
            "blocks that are not Toeplitz pass as Toeplitz blocks",
            check_block_structure(
                "T3c.control",
                h=2,
                w=6,
                kernel_size=(1, 1),
                padding=0,
                part="inner",
                layer=_linear_layer(blocks_not_toeplitz),
            ),
        ),
        rejected(
            "control.block_outer",
            "a grid of blocks that is not block Toeplitz passes as one",
            check_block_structure(
                "T3c.control",
                h=2,
                w=6,
                kernel_size=(1, 1),
                padding=0,
                part="outer",
                layer=_linear_layer(outer_not),
            ),
        ),
    ]


def pooling_layers() -> Control:
    """The pooling layers compute what their names say, on a hand-computed example."""
    x = torch.tensor([[[1.0, 3.0, 5.0, 9.0, 2.0, 2.0]]], dtype=DTYPE)
    want = {"max": [3.0, 9.0, 2.0], "mean": [2.0, 7.0, 2.0]}
    got = {
        "max": max_pool(2, 1)(x).flatten().tolist(),
        "mean": avg_pool(2, 1)(x).flatten().tolist(),
    }
    return Control(
        "control.pooling_layers",
        "max and mean pooling of (1, 3, 5, 9, 2, 2) with k = 2",
        got == want,
        f"max {got['max']}, mean {got['mean']}",
    )


# Claims that state "every shift by a multiple of k": the number of such shifts on their grid,
# counted here independently of the shift lists in verify.shift.
SHIFT_COVERAGE = {
    "T2c.max_pool_1d_multiples": 12 // 2,
    "T2c.avg_pool_1d_multiples": 12 // 2,
    "T2c.max_pool_2d_multiples": (8 // 2) * (6 // 2),
    "T2c.avg_pool_2d_multiples": (8 // 2) * (6 // 2),
    "T1.circular_stride2_even_shifts": 16 // 2,
    "T2d.cnn_multiples": (16 // 4) ** 2,
    "T1.conv1d_circular": 16,
    "T1.conv2d_circular": 8 * 9,
    "T2d.cnn_no_pool": 16 * 16,
}


def shift_coverage(results: list[ClaimResult]) -> Control:
    """Each "every shift" claim tested as many shifts as its grid has."""
    by_id = {r.id: r for r in results}
    tested = {cid: by_id[cid].data.get("n_shifts") for cid in SHIFT_COVERAGE if cid in by_id}
    short = {cid: n for cid, n in tested.items() if n != SHIFT_COVERAGE[cid]}
    missing = sorted(set(SHIFT_COVERAGE) - set(tested))
    detail = (
        f"{len(tested)} claims, all shifts tested"
        if not (short or missing)
        else (f"too few shifts: {short}; missing: {missing}")
    )
    return Control(
        "control.shift_coverage",
        "the 'every shift' claims test every shift of their grid",
        not short and not missing,
        detail,
    )


def run_controls(results: list[ClaimResult]) -> list[Control]:
    """Every control; `results` are the claims of `verify.run_all()` (for the coverage)."""
    return planted_wrong_claims() + [pooling_layers(), shift_coverage(results)]


def require_all_caught(controls: list[Control]) -> None:
    """Raise AssertionError naming every control that failed (this fails the book build)."""
    failed = [c.line() for c in controls if not c.caught]
    if failed:
        raise AssertionError(
            "negative controls failed (the judging is broken):\n" + "\n".join(failed)
        )
