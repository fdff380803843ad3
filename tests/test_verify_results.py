"""ClaimResult, claim ids, the tolerances and the shared pass/fail rule."""

import math

import pytest

from verify.results import (
    IDENTITY_TOL,
    SYMBOLIC_TOL,
    VIOLATION_TOL,
    ClaimResult,
    default_tolerance,
    judge,
    make_result,
)


def test_holds_passes_only_within_tolerance():
    assert judge(0.0, 1e-12, "holds")
    assert judge(1e-12, 1e-12, "holds")
    assert not judge(2e-12, 1e-12, "holds")


def test_fails_passes_only_beyond_tolerance():
    assert judge(0.5, 1e-6, "fails")
    assert not judge(1e-6, 1e-6, "fails")
    assert not judge(0.0, 1e-6, "fails")


@pytest.mark.parametrize("expect", ["holds", "fails"])
def test_nan_never_passes(expect):
    assert not judge(math.nan, 1.0, expect)


def test_infinite_error_fails_a_holds_claim():
    assert not judge(math.inf, 1e-12, "holds")


def test_unknown_expectation_is_rejected():
    with pytest.raises(ValueError):
        judge(0.0, 1.0, "maybe")
    with pytest.raises(ValueError):
        make_result("T1.x", "c", "q", 0.0, expect="maybe")


def test_one_tolerance_per_kind_of_check():
    assert default_tolerance("holds") == IDENTITY_TOL == 1e-12
    assert default_tolerance("fails") == VIOLATION_TOL == 1e-6
    assert SYMBOLIC_TOL == 0
    assert make_result("T1.x", "c", "q", 0.0).tolerance == IDENTITY_TOL
    assert make_result("T1.x", "c", "q", 1.0, expect="fails").tolerance == VIOLATION_TOL
    # an explicit tolerance (the symbolic checks) wins
    assert not make_result("T3c.x", "c", "q", 1e-13, SYMBOLIC_TOL).passed


def test_make_result_and_line():
    r = make_result(
        "T2c.pool", "pooling is not equivariant", "max |.|", 2.0, 1e-6, "fails", {"x": [1]}
    )
    assert isinstance(r, ClaimResult)
    assert r.passed and r.error == 2.0 and r.data == {"x": [1]}
    assert r.id == "T2c.pool" and r.question == "T2c"
    line = r.line()
    assert line.startswith("T2c.pool ") and line.endswith("PASS")
    assert "pooling is not equivariant" in line and "> 1e-06" in line
    bad = make_result("T3a.bias", "bias", "max |.|", 1.0, 1e-12, "holds")
    assert not bad.passed and bad.line().endswith("FAIL") and "<= 1e-12" in bad.line()


@pytest.mark.parametrize(
    "claim_id", ["T1", "T2c", "t1.conv", "T2e.x", "T1.Conv", "T1.a-b", "T4.x", "T1.", "x.T1"]
)
def test_malformed_ids_are_rejected(claim_id):
    with pytest.raises(ValueError, match="claim id"):
        make_result(claim_id, "c", "q", 0.0)


@pytest.mark.parametrize(
    "claim_id, question",
    [("T1.conv1d_circular", "T1"), ("T2d.cnn_multiples", "T2d"), ("T3c.im2col_strided", "T3c")],
)
def test_the_question_is_the_id_prefix(claim_id, question):
    assert make_result(claim_id, "c", "q", 0.0).question == question


def test_result_is_frozen():
    r = make_result("T1.c", "c", "q", 0.0)
    with pytest.raises(AttributeError):
        r.error = 1.0  # type: ignore[misc]
