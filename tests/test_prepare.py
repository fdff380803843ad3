"""`python -m ex2 prepare`: the plan, the scheduler on real worker processes, and the estimate.

Fake jobs (`fake_execute`, run in the spawned workers, which import this module) record when they
ran; the tiny real plan trains smoke-sized runs.
"""

import io
import json
import os
import re
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest
import torch

from ex2 import chapters, experiments, measurements, prepare, semi, work
from ex2.config import make
from ex2.estimate import PRIOR_SECONDS, Estimate, errors, priorities, replay, simulate
from ex2.schedule import Job, run_jobs

RECORDED = Path(__file__).parent / "records" / "prepare-record.jsonl"


def fake_execute(payload) -> str:
    """Sleep, then fail if told to; writes start and end times to `payload["log"]`."""
    start = time.time()
    if payload.get("die"):
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(payload["seconds"])
    with open(payload["log"], "a") as f:
        f.write(json.dumps({"key": payload["key"], "start": start, "end": time.time()}) + "\n")
    if payload.get("fail"):
        raise RuntimeError(f"{payload['key']} was told to fail")
    return f"metric of {payload['key']}"


def fake_job(tmp_path, key, deps=(), seconds=0.05, fail=False, expected=1.0, die=False) -> Job:
    log = str(tmp_path / "log.jsonl")
    payload = {"key": key, "seconds": seconds, "fail": fail, "die": die, "log": log}
    return Job(key, f"job {key}", "fake", payload, expected, tuple(deps))


def ran(tmp_path) -> dict[str, dict]:
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    return {r["key"]: r for r in map(json.loads, lines)}


def test_jobs_start_only_after_their_dependencies_end(tmp_path):
    jobs = [
        fake_job(tmp_path, "ae", seconds=0.3),
        fake_job(tmp_path, "other", seconds=0.3),
        fake_job(tmp_path, "head", deps=["ae"]),
        fake_job(tmp_path, "measure", deps=["head", "other"]),
    ]
    out = io.StringIO()
    outcomes = run_jobs(jobs, fake_execute, workers=2, out=out)
    assert [o.status for o in outcomes] == ["done"] * 4
    times = ran(tmp_path)
    for job in jobs:
        for dep in job.deps:
            assert times[job.key]["start"] >= times[dep]["end"]
    assert "job measure: 0:00, metric of measure" in out.getvalue()


def planned(job: Job) -> prepare.Planned:
    """A fake job as `prepare.plan` gives it: no units of work to time."""
    return prepare.Planned(job.key, job.name, job.kind, job.payload, {}, job.deps)


def test_a_failure_cancels_only_its_dependents_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    jobs = [
        fake_job(tmp_path, "a", fail=True),
        fake_job(tmp_path, "b", deps=["a"]),
        fake_job(tmp_path, "c", deps=["b"]),
        fake_job(tmp_path, "d", seconds=0.5),
        fake_job(tmp_path, "e", deps=["d"]),
    ]
    monkeypatch.setattr(prepare, "plan", lambda: [planned(j) for j in jobs])
    monkeypatch.setattr(prepare, "is_cached", lambda job: False)
    monkeypatch.setattr(prepare, "execute", fake_execute)
    out = io.StringIO()
    assert prepare.main_prepare(jobs=2, out=out) == 1
    assert set(ran(tmp_path)) == {"a", "d", "e"}  # b and c never ran
    text = out.getvalue()
    assert re.search(r"FAILED job a after \d+:\d\d: RuntimeError: a was told to fail", text)
    assert "cancelled 2 jobs that need it" in text
    assert "failed: 1: job a" in text and "cancelled: 2: job b; job c" in text
    assert "fake" in text and "jobs at a time" in text  # the summary table
    err = capsys.readouterr().err  # the worker's traceback, at the end
    assert "job a failed:" in err and 'raise RuntimeError(f"{payload' in err


def test_a_worker_that_dies_fails_its_job_and_a_new_worker_goes_on(tmp_path):
    jobs = [
        fake_job(tmp_path, "dies", die=True, expected=9.0),  # first: the longest
        fake_job(tmp_path, "after", deps=["dies"]),
        fake_job(tmp_path, "other"),
    ]
    out = io.StringIO()
    outcomes = run_jobs(jobs, fake_execute, workers=1, out=out)
    assert [o.status for o in outcomes] == ["failed", "cancelled", "done"]
    assert "a worker process died" in out.getvalue()


def test_the_status_line_shows_elapsed_done_and_time_left(tmp_path):
    jobs = [fake_job(tmp_path, "slow", seconds=1.5, expected=2.0), fake_job(tmp_path, "fast")]
    out = io.StringIO()
    run_jobs(jobs, fake_execute, workers=1, out=out, heartbeat=0.2)
    status = [line for line in out.getvalue().splitlines() if "elapsed" in line]
    assert status and all("done" in line and "left" in line for line in status)


def tiny_plan():
    ae = make("autoencoder", base=4, latent=4, epochs=1, max_batches=2)
    classifier = make("classifier", base=4, latent=4, epochs=1, max_batches=2)
    head = make("head", encoder=ae, epochs=1, max_batches=2)
    runs = [ae, classifier, head]
    found = [
        chapters.Measurement(measurements.reconstruction_quality, (ae, classifier)),
        chapters.Measurement(measurements.one_nn_accuracy, (20, 0)),
    ]
    return runs, found


def test_prepare_computes_the_plan_then_finds_it_all_cached(monkeypatch, tmp_path):
    runs, found = tiny_plan()
    monkeypatch.setattr(chapters, "all_runs", lambda: runs)
    monkeypatch.setattr(chapters, "all_measurements", lambda: found)
    first = io.StringIO()
    assert prepare.main_prepare(jobs=2, out=first) == 0
    assert "5 results, 0 cached, 5 to compute" in first.getvalue()
    for name in ("autoencoder c=4 d=4, seed 0", "head c=4 d=4 on autoencoder", "one_nn_accuracy"):
        assert name in first.getvalue()

    monkeypatch.setattr(prepare, "run_jobs", pytest.fail)  # nothing left to run
    second = io.StringIO()
    assert prepare.main_prepare(jobs=2, out=second) == 0
    assert "all 5 results are cached" in second.getvalue()
    # the pages train nothing either
    monkeypatch.setattr(experiments.tasks, "train_run", pytest.fail)
    assert all(experiments.run(cfg).cached for cfg in runs)


def test_a_run_trained_by_a_worker_equals_the_same_run_trained_here(monkeypatch, tmp_path):
    cfg = make("autoencoder", base=4, latent=4, epochs=1, max_batches=3)
    job = prepare.run_job(cfg).job(defaultdict(lambda: 0.01))
    outcomes = run_jobs([job], prepare.execute, workers=1, out=io.StringIO())
    assert outcomes[0].status == "done"
    by_worker = experiments.run(cfg)
    monkeypatch.setenv("EX2_RUNS_DIR", str(tmp_path / "here"))
    torch.set_num_threads(1)  # the worker's thread count: the same float rounding
    here = experiments.run(cfg)
    assert not here.cached and here.history.test_loss == by_worker.history.test_loss
    assert here.history.train_loss == by_worker.history.train_loss


def test_the_book_plan_orders_every_job_after_what_it_needs(monkeypatch):
    monkeypatch.setenv("EX2_PROFILE", "smoke")
    jobs = prepare.plan()
    keys = [j.key for j in jobs]
    assert len(set(keys)) == len(keys)
    position = {k: i for i, k in enumerate(keys)}
    for job in jobs:
        assert all(position[d] < position[job.key] for d in job.deps)
        if job.kind in ("head", "decoder"):
            assert job.deps == (experiments.run_dir(job.payload.encoder).name,)
        if job.kind.startswith("method_result"):  # the 100-label methods start from the AE
            assert Path(experiments.run_dir(job.payload.args[2])).name in job.deps
    assert {j.kind for j in jobs} >= {"autoencoder", "classifier", "head", "decoder"}
    # every job but pixel arithmetic without a model (well under a second) does work the
    # calibration times
    arithmetic = ("one_nn_accuracy", "image_geometry", "centre_offsets")
    assert all(j.work and min(j.work.values()) > 0 for j in jobs if j.kind not in arithmetic)


def test_every_measurement_of_the_full_book_has_its_work_counted():
    kinds = {p.kind for p in prepare.plan()}
    assert {f"method_result {m}" for m in semi.METHODS} <= kinds


def test_a_measurement_prepare_cannot_cost_or_place_stops_the_plan(monkeypatch):
    def unknown(cfg):
        return 0.0

    unknown.path = measurements.one_nn_accuracy.path  # a file name, as a cached measurement has
    ae = make("autoencoder", base=4, latent=4, epochs=1, max_batches=2)
    monkeypatch.setattr(chapters, "all_runs", lambda: [ae])
    monkeypatch.setattr(
        chapters, "all_measurements", lambda: [chapters.Measurement(unknown, (ae,))]
    )
    with pytest.raises(ValueError, match="work.MEASUREMENT_WORK"):
        prepare.plan()
    other = make("autoencoder", base=4, latent=16, epochs=1, max_batches=2)
    found = [chapters.Measurement(measurements.reconstruction_quality, (other, ae))]
    monkeypatch.setattr(chapters, "all_measurements", lambda: found)
    with pytest.raises(ValueError, match="measures runs no chapter lists: autoencoder c=4 d=16"):
        prepare.plan()


def test_calibration_times_every_unit_it_is_given():
    units = [
        work.Unit("autoencoder", 4, 4, 256, training=True),
        work.Unit("classifier", 4, 4, 10, training=True, augment=True),
        work.Unit("decoder", 4, 4),
        work.Unit("head", 4, 4, 10, training=True),
        work.Unit("neighbours", batch=500),
    ]
    seconds = work.calibrate(units + units[:1], threads=1, workers=2, budget=0.01)
    assert set(seconds) == set(units)
    assert all(0 < s < 10 for s in seconds.values())


def test_the_longest_chain_goes_first_and_the_simulation_packs_workers():
    jobs = [
        Job("ae", "", "k", None, 2.0),
        Job("long", "", "k", None, 3.0),
        Job("head", "", "k", None, 2.0, ("ae",)),
    ]
    rank = priorities(jobs, lambda j: j.expected)
    assert rank == {"ae": 4.0, "long": 3.0, "head": 2.0}
    assert simulate(jobs, {}, lambda j: j.expected, rank, workers=2) == 4.0
    assert simulate(jobs, {}, lambda j: j.expected, rank, workers=1) == 7.0


def test_the_estimate_rescales_by_what_jobs_of_a_kind_took():
    jobs = [Job(k, "", "slow", None, 10.0) for k in "abc"] + [Job("d", "", "other", None, 10.0)]
    estimate = Estimate(jobs, workers=1)
    rank = priorities(jobs, lambda j: j.expected)
    p = PRIOR_SECONDS
    assert estimate.time_left(jobs[1:], {}, rank) == pytest.approx(30.0)
    estimate.finished(jobs[0], 40.0)  # 4x its expectation
    overall = (40 + p) / (10 + p)  # all kinds, pulled towards 1
    slow = (40 + overall * p) / (10 + p)  # its kind, pulled towards all kinds
    assert estimate.time_left(jobs[1:], {}, rank) == pytest.approx(20 * slow + 10 * overall)
    estimate.progress(jobs[1], 0.5, 5.0)  # b, running, is halfway after 5 s: 5 s left
    overall = (45 + p) / (15 + p)
    slow = (45 + overall * p) / (15 + p)
    left = estimate.time_left(jobs[2:], {"b": 5.0}, rank)
    assert left == pytest.approx(5 + 10 * slow + 10 * overall)


def test_the_bench_schedule_sample_has_every_run_kind_upstream_first():
    from ex2.bench_book import SAMPLE_EPOCHS, schedule_sample

    sample = schedule_sample()
    assert {cfg.task for cfg in sample} == {"autoencoder", "classifier", "head", "decoder"}
    assert any(cfg.subset_size for cfg in sample if cfg.task == "classifier")
    assert any(cfg.subset_size for cfg in sample if cfg.task == "head")
    for i, cfg in enumerate(sample):
        assert cfg.epochs == SAMPLE_EPOCHS
        assert cfg.encoder is None or cfg.encoder in sample[:i]


def test_the_step_profile_splits_a_step_into_five_groups():
    from ex2.bench_book import group_of, profile_step

    assert group_of("aten::convolution_backward") == "conv backward"
    assert group_of("aten::mkldnn_convolution") == "conv forward"
    assert group_of("aten::native_batch_norm_backward") == "BatchNorm"
    assert group_of("aten::_fused_adam_") == "Adam"
    assert group_of("aten::addmm") == "the rest"
    step = profile_step(steps=1)
    assert sum(step["share"].values()) == pytest.approx(1.0)
    assert all(ms > 0 for ms in step["ms"].values())


def test_the_record_replays_to_the_estimates_the_status_lines_showed(tmp_path):
    jobs = [
        fake_job(tmp_path, "a", seconds=0.6, expected=0.3),
        fake_job(tmp_path, "b", deps=["a"], seconds=0.3, expected=0.3),
        fake_job(tmp_path, "c", seconds=0.4, expected=0.8),
    ]
    events = []
    run_jobs(jobs, fake_execute, workers=2, out=io.StringIO(), heartbeat=0.1, record=events.append)
    assert [e["event"] for e in events[:2]] == ["plan", "status"] and events[-1]["event"] == "end"
    assert sorted(e["key"] for e in events if e["event"] == "done") == ["a", "b", "c"]
    shown = [(e["t"], e["left"]) for e in events if e["event"] == "status"]
    assert len(shown) >= 3
    again = replay(json.loads(json.dumps(events)))  # as read back from a JSON-lines file
    assert [t for t, _ in again] == [t for t, _ in shown]
    assert all(abs(a - b) < 0.1 for (_, a), (_, b) in zip(again, shown))


def test_estimate_errors_are_judged_against_the_time_actually_left():
    exact = [(t, 300.0 - t) for t in range(0, 300, 10)]
    judged = errors(exact, end=300.0)
    assert judged["first"] == 0 and judged["worst"] == 0 and judged["within_tolerance"]
    assert judged["largest_jump"] == pytest.approx(1.0)
    late = [(t, (300.0 - t) * (1.5 if t == 120 else 1.0)) for t in range(0, 300, 10)]
    judged = errors(late, end=300.0)
    assert judged["worst"] == pytest.approx(0.5) and not judged["within_tolerance"]
    assert judged["largest_jump"] == pytest.approx(1.5)
    # near the end one status interval is tolerated
    assert errors([(100, 28.0), (110, 8.0)], end=120.0)["within_tolerance"]


def test_the_estimate_holds_on_a_recorded_full_build():
    """A full build's record (`prepare --record`, 2-core Xeon shared with other work): replayed
    through this estimator, every status line from the second minute on is within 20 % of the
    time actually left (or one status interval near the end), and none changes the estimate of
    the one before by 2x or more."""
    events = [json.loads(line) for line in RECORDED.read_text().splitlines()]
    end = next(e["t"] for e in events if e["event"] == "end")
    assert end > 300 and sum(e["event"] == "done" for e in events) == 54
    judged = errors(replay(events), end)
    assert judged["within_tolerance"], judged
    assert judged["largest_jump"] < 2, judged


def test_make_n_book_is_a_dry_run(tmp_path):
    """`make -n book` prints the phases' commands and runs none of them (no training, no TeX)."""
    runs = tmp_path / "runs"
    env = {**os.environ, "EX2_RUNS_DIR": str(runs), "MAKEFLAGS": ""}
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        ["make", "-n", "book", f"OUT={tmp_path}"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "-m ex2 prepare --record" in proc.stdout and "jupyter-book build" in proc.stdout
    assert not runs.exists() and not (tmp_path / "_build").exists()
