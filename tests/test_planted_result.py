"""End to end: a false result fails a full-profile book build (issue #17).

A one-page book runs the shift chapter's page code, as the real page does, under the full
profile, on a cache that holds only that chapter's two measurements, planted: once with numbers
its claims describe (the build passes), once with a curve that does not fall (the build fails,
naming the claim). The measurements are written under the exact cache keys the chapter computes,
so the page reads them as it would read real results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ex2 import experiments
from ex2.chapters import configs, shift
from ex2.measurements import centre_offsets, shift_robustness

REPO = Path(__file__).resolve().parent.parent
JB = Path(sys.executable).parent / "jupyter-book"

PAGE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A planted result

```{code-cell} ipython3
from ex2.chapters import page, shift

r = shift.results()
page.show(r)
```

{glue:md}`claim_shift_falls:myst`
"""

CONFIG = """title: planted
only_build_toc_files: true
execute:
  execute_notebooks: force
  timeout: -1
  allow_errors: false
  raise_on_error: true
parse:
  myst_enable_extensions: [colon_fence, dollarmath]
"""


def plant(function, args: tuple, result) -> None:
    """Write `result` as the cached value of `function(*args)`, under the key it computes."""
    fn = function.__wrapped__
    key = {
        "function": f"{fn.__module__}.{fn.__qualname__}",
        "args": [experiments.key_of(a) for a in args],
        "kwargs": {},
        "code": experiments.code_fingerprint(experiments.measurement_modules(fn)),
    }
    experiments.write_sealed(function.path(*args), {"key": key, "result": result})


def curve_result(curve: list[float]) -> dict:
    return {
        "by_direction": [[curve[0]]] + [[a] * 4 for a in curve[1:]],
        "curve": curve,
        "consistency": 0.978,
        "shifted_accuracy": [0.985, 0.986],
    }


def build(tmp_path: Path, curve: list[float]) -> subprocess.CompletedProcess:
    runs = tmp_path / "runs"
    os.environ["EX2_RUNS_DIR"] = str(runs)  # the conftest fixture restores it
    plant(shift_robustness, (configs.classifiers()["full"], shift.MAX_SHIFT), curve_result(curve))
    offsets = {"max": 0.52, "mean": 0.2, "images": 60000, "first": [0.2], "first_by_scipy": [0.2]}
    plant(centre_offsets, (), offsets)
    book = tmp_path / "book"
    book.mkdir()
    (book / "_config.yml").write_text(CONFIG)
    (book / "_toc.yml").write_text("format: jb-book\nroot: planted\n")
    (book / "planted.md").write_text(PAGE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EX2_")}
    env |= {
        "EX2_PROFILE": "full",
        "EX2_CACHE_ONLY": "1",
        "EX2_RUNS_DIR": str(runs),
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(
        [str(JB), "build", str(book), "--warningiserror", "--keep-going"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_a_true_result_builds_and_a_false_one_fails_the_build(tmp_path):
    good = build(tmp_path / "good", [0.99, 0.985, 0.95, 0.84, 0.63])
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-3000:]
    html = (tmp_path / "good" / "book" / "_build" / "html" / "planted.html").read_text()
    assert "Accuracy falls with every pixel of shift" in html

    bad = build(tmp_path / "bad", [0.99, 0.99, 0.99, 0.99, 0.99])  # a curve that does not fall
    assert bad.returncode != 0
    log = bad.stdout + bad.stderr
    assert "ClaimFailed" in log and "FAIL shift.falls" in log, log[-3000:]


def test_the_planted_key_is_the_one_the_chapter_reads(tmp_path, monkeypatch):
    monkeypatch.setenv("EX2_CACHE_ONLY", "1")
    plant(centre_offsets, (), {"max": 0.3, "mean": 0.1, "images": 5})
    assert centre_offsets() == {"max": 0.3, "mean": 0.1, "images": 5}
    stored = json.loads(centre_offsets.path().read_text())
    assert stored["result"]["images"] == 5
