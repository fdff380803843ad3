"""The mutation test (tests/mutation.py) stays runnable: every planted bug still applies to the
code as it is, and, with EX2_MUTATION=1 and the full-profile cache at hand, the whole run passes
(it takes 20-40 minutes on two cores)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mutation  # noqa: E402

# the user's cache, read before the autouse fixture points EX2_RUNS_DIR at a scratch folder
REAL_RUNS = os.environ.get("EX2_RUNS_DIR", str(mutation.REPO / "runs"))


@pytest.mark.parametrize("bug", mutation.BOOK_BUGS + mutation.VERIFY_BUGS, ids=lambda b: b.name)
def test_each_bug_applies_to_exactly_one_line(bug):
    text = (mutation.REPO / bug.path).read_text()
    assert text.count(bug.old) == 1, f"{bug.name}: the line is gone or not unique in {bug.path}"
    assert bug.new != bug.old and bug.what


def test_enough_bugs_in_each_set():
    assert len(mutation.BOOK_BUGS) >= 20 and len(mutation.VERIFY_BUGS) >= 7
    names = [b.name for b in mutation.BOOK_BUGS + mutation.VERIFY_BUGS]
    assert len(set(names)) == len(names)


def test_snapshots_differ_exactly_where_a_printed_number_does():
    a = {"q2": {"numbers": {"acc": "71.93 %"}, "rows": [[1, "x"]]}}
    b = {"q2": {"numbers": {"acc": "100.00 %"}, "rows": [[1, "x"]]}}
    assert mutation.differences(a, a) == []
    assert mutation.differences(a, b) == [".q2.numbers.acc"]
    assert mutation.differences({"x": 0.98990001}, {"x": 0.9899}) == []  # float rounding
    assert mutation.differences({"x": 0.9899}, {"x": 0.9898}) == [".x"]


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("EX2_MUTATION") != "1", reason="set EX2_MUTATION=1 (needs the full cache)"
)
def test_the_book_and_verify_catch_the_planted_bugs():
    env = {**os.environ, "EX2_RUNS_DIR": REAL_RUNS}
    done = subprocess.run(
        [sys.executable, str(mutation.REPO / "tests" / "mutation.py")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
