"""`python -m ex2 prepare`: compute every result the book needs before the pages are built.

The plan is every run and cached measurement of the chapter registry, with what each waits for (a
head or decoder: the run whose encoder it freezes; a measurement: the runs it measures). What is
cached and valid is skipped; the rest runs on `--jobs` worker processes (default: one per core,
one torch thread each; `make bench` compares this with one process on all cores). A failed job
cancels only what depends on it; the exit status is then 1.

How long: `work` counts each job's work in units timed at start-up, and the running estimate
(`estimate`) corrects the rest by what jobs actually take. `--record` writes every event as JSON
lines, and the last line says how far the estimates were off.

A worker trains exactly as the pages would (`experiments.run`, `Measurement.compute`), into the same
cache, so the pages then only read results.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ex2 import cache, chapters, experiments, semi, work
from ex2.config import RunConfig
from ex2.estimate import TOLERANCE, TOLERANCE_FLOOR, errors
from ex2.schedule import Job, Outcome, report_progress, run_jobs

# --------------------------------------------------------------------------- the plan

JOB_START = 0.3  # seconds: a job's data, folders and checkpoints, in a worker that has imported all


@dataclass(frozen=True)
class Planned:
    """A job before calibration: what it computes and its work in units."""

    key: str
    name: str
    kind: str
    payload: object
    work: dict
    deps: tuple[str, ...]

    def job(self, unit_seconds: dict) -> Job:
        expected = JOB_START + sum(n * unit_seconds[u] for u, n in self.work.items())
        return Job(self.key, self.name, self.kind, self.payload, expected, self.deps)


def run_job(cfg: RunConfig) -> Planned:
    deps = () if cfg.encoder is None else (experiments.run_dir(cfg.encoder).name,)
    name = experiments.run_dir(cfg).name
    return Planned(name, cfg.label, cfg.task, cfg, work.run_work(cfg), deps)


def short(value) -> str:
    if isinstance(value, RunConfig):
        return f"{value.task} c={value.base} d={value.latent} seed {value.seed}"
    return str(value)


def measurement_job(m: chapters.Measurement, runs: list[RunConfig]) -> Planned:
    outside = [cfg.label for cfg in m.needs if cfg not in runs]
    if outside:
        raise ValueError(f"{m.name} measures runs no chapter lists: {'; '.join(outside)}")
    args = ", ".join(short(a) for a in m.args if not isinstance(a, dict))
    deps = tuple(experiments.run_dir(cfg).name for cfg in m.needs)
    name = m.function.__name__
    # the 100-label methods differ 20-fold in cost: each is a kind of its own for the estimate
    kind = f"{name} {m.args[0]}" if m.function is semi.method_result else name
    return Planned(m.name, f"{name}({args})", kind, m, work.measurement_work(m), deps)


def plan() -> list[Planned]:
    """Every run (upstream runs first, as the registry lists them) and cached measurement."""
    runs = chapters.all_runs()
    found = chapters.all_measurements()
    return [run_job(cfg) for cfg in runs] + [measurement_job(m, runs) for m in found]


def is_cached(job: Job) -> bool:
    """Whether the cache holds a valid result: the cache's own checks decide."""
    if isinstance(job.payload, RunConfig):
        return experiments.is_cached(job.payload)
    return job.payload.function.is_cached(*job.payload.args)


# --------------------------------------------------------------------------- in the workers


def epoch_done(line: str) -> None:
    match = re.match(r"\[(\d+)/(\d+)\]", line)
    if match:
        report_progress(int(match[1]) / int(match[2]))


def execute(payload) -> str:
    """Compute one job in a worker; returns its key metric as text."""
    if isinstance(payload, RunConfig):
        return run_metric(experiments.run(payload, log=epoch_done).final)
    return measurement_metric(payload.compute())


def run_metric(final: dict) -> str:
    if "test_l1" in final:
        return f"test L1 {final['test_l1']:.4f}"
    return f"test accuracy {final['test_accuracy']:.2%}"


def measurement_metric(result) -> str:
    if isinstance(result, float):
        return f"accuracy {result:.2%}"
    if not isinstance(result, dict):
        return ""
    if "test_accuracy" in result:
        return f"test accuracy {result['test_accuracy']:.2%}"
    if "recognised" in result:
        return f"recognised {result['recognised']:.2%}"
    if "curve" in result:
        return f"accuracy shifted {len(result['curve']) - 1} px {result['curve'][-1]:.2%}"
    if "metrics" in result:
        return f"5-NN accuracy {result['metrics']['knn_accuracy']:.2%}"
    return ""


# --------------------------------------------------------------------------- the command


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def summary(outcomes: list[Outcome], wall: float, workers: int) -> list[str]:
    """Where the time went: jobs and seconds by kind, and the wall time against their sum."""
    count, seconds, expected = defaultdict(int), defaultdict(float), defaultdict(float)
    for o in outcomes:
        if o.status == "done":
            count[o.job.kind] += 1
            seconds[o.job.kind] += o.seconds
            expected[o.job.kind] += o.job.expected
    lines = [f"{'kind':<28} {'jobs':>5} {'seconds':>9} {'expected':>9}"]
    lines += [
        f"{k:<28} {count[k]:>5} {seconds[k]:>9.1f} {expected[k]:>9.1f}" for k in sorted(count)
    ]
    total = sum(seconds.values())
    lines.append(
        f"job time {total:.0f} s in {wall:.0f} s wall on {workers} workers "
        f"({total / max(wall, 1e-9):.2f} jobs at a time)"
    )
    for status in ("failed", "cancelled"):
        names = [o.job.name for o in outcomes if o.status == status]
        if names:
            lines.append(f"{status}: {len(names)}: " + "; ".join(names))
    return lines


def estimate_line(events: list[dict]) -> str:
    """How far the status lines' estimates of the time left were from the time actually left."""
    end = next(e["t"] for e in events if e["event"] == "end")
    shown = [(e["t"], e["left"]) for e in events if e["event"] == "status"]
    e = errors(shown, end)
    if e["first"] is None:
        return "estimate: too short a run to judge"
    worst = "no status line" if e["worst"] is None else f"{e['worst']:+.0%}"
    return (
        f"estimate: {e['first']:+.0%} at the start, worst {worst} from the second minute to the "
        f"last {TOLERANCE_FLOOR / TOLERANCE:.0f} s, "
        f"largest change between status lines {e['largest_jump']:.2f}x"
    )


def recorder(path: Path | None, events: list[dict]):
    """Keep every event, and append each to `path` (JSON lines) as it happens."""
    handle = None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("w")

    def record(event: dict) -> None:
        events.append(event)
        if handle is not None:
            handle.write(json.dumps(event, default=list) + "\n")
            handle.flush()

    return record, handle


def main_prepare(jobs: int | None = None, out=None, record_path: Path | None = None) -> int:
    """Compute what the book needs on `jobs` workers (default: one per core); 0 when all is done."""
    out = out or sys.stdout
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    cores = default_jobs()
    everything = plan()
    todo = [p for p in everything if not is_cached(p)]
    if not todo:
        print(f"prepare: all {len(everything)} results are cached", file=out, flush=True)
        return 0
    workers = max(1, min(jobs or cores, len(todo)))
    threads = cache.COMPUTE_THREADS  # more workers, not more threads: see cache.compute_threads
    start = time.perf_counter()
    unit_seconds = work.calibrate([u for p in todo for u in p.work], threads, workers)
    print(
        f"prepare: {len(everything)} results, {len(everything) - len(todo)} cached, "
        f"{len(todo)} to compute on {workers} workers x {threads} threads "
        f"({len(unit_seconds)} units of work timed in {time.perf_counter() - start:.1f} s)",
        file=out,
        flush=True,
    )
    events: list[dict] = []
    record, handle = recorder(record_path, events)
    try:
        quiet = os.environ.get("CI", "").lower() in ("1", "true", "yes")
        outcomes = run_jobs(
            [p.job(unit_seconds) for p in todo],
            execute,
            workers,
            threads,
            out,
            quiet,
            record=record,
        )
    finally:
        if handle is not None:
            handle.close()
    for line in summary(outcomes, events[-1]["t"], workers) + [estimate_line(events)]:
        print(line, file=out)
    for o in outcomes:
        if o.traceback:
            print(f"\n{o.job.name} failed:\n{o.traceback}", file=sys.stderr)
    return 0 if all(o.status == "done" for o in outcomes) else 1
