"""ClaimResult and the shared pass/fail rule."""

import math

import pytest

from verify.results import ClaimResult, judge, make_result


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


def test_make_result_and_line():
    r = make_result("T2c", "pooling is not equivariant", "max |.|", 2.0, 1e-6, "fails", {"x": [1]})
    assert isinstance(r, ClaimResult)
    assert r.passed and r.error == 2.0 and r.data == {"x": [1]}
    line = r.line()
    assert line.startswith("T2c ") and line.endswith("PASS")
    assert "pooling is not equivariant" in line and "> 1e-06" in line
    bad = make_result("T3a", "bias", "max |.|", 1.0, 1e-12, "holds")
    assert not bad.passed and bad.line().endswith("FAIL") and "<= 1e-12" in bad.line()


def test_result_is_frozen():
    r = make_result("T1", "c", "q", 0.0, 1e-12)
    with pytest.raises(Exception):
        r.error = 1.0  # type: ignore[misc]
