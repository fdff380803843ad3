"""The notebook cache's fingerprint covers every file a page reads (issue #17 item 12): a
retrained run or a recomputed measurement changes it, so the pages are executed again."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ex2 import chapters, experiments

REPO = Path(__file__).resolve().parent.parent


def test_input_files_name_every_run_and_measurement_of_the_book():
    files = [str(p) for p in chapters.input_files()]
    for cfg in chapters.all_runs():
        assert str(experiments.run_dir(cfg) / "metrics.json") in files
    for m in chapters.all_measurements():
        assert str(m.function.path(*m.args)) in files
    assert len(files) == len(set(files))


def fingerprint(runs: Path) -> str:
    env = {**os.environ, "EX2_RUNS_DIR": str(runs), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        ["make", "-s", "--no-print-directory", "fingerprint"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_fingerprint_changes_with_a_run_the_pages_read(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("EX2_RUNS_DIR", str(runs))
    metrics = chapters.input_files()[0]
    missing = fingerprint(runs)
    metrics.parent.mkdir(parents=True)
    metrics.write_text('{"train_seconds": 1.0}')
    first = fingerprint(runs)
    metrics.write_text('{"train_seconds": 2.0}')  # e.g. python -m ex2 rerun retrained it
    assert len({missing, first, fingerprint(runs)}) == 3
