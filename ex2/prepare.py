"""`python -m ex2 prepare`: compute every result the book needs before the pages are built.

The plan is every run and cached measurement of the chapter registry, with what each waits for (a
head or decoder: the run whose encoder it freezes; a measurement: the runs it measures). What is
cached and valid is skipped; the rest runs on `--jobs` worker processes (default: one per core,
one torch thread each: two small trainings side by side beat one after the other on two threads,
see `make bench`). A failed job cancels only what depends on it; the exit status is then 1.

A worker trains exactly as the pages would (`experiments.run`, `Measurement.compute`), into the same
cache, so the pages then only read results.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import defaultdict

from ex2 import chapters, experiments, train
from ex2.config import RunConfig
from ex2.estimate import priorities, simulate
from ex2.schedule import Job, Outcome, clock, report_progress, run_jobs

# --------------------------------------------------------------------------- expected seconds
# One-thread costs on the 2-core AMD EPYC with two workers side by side, from full runs there.
# Only their ratios matter much: the running estimate rescales them to the machine at hand.
AE_STEP = (0.028, 0.0027)  # seconds per batch of 256 at base channels c: a + b * c
AE_EVAL = (0.13, 0.12)  # seconds per test-set evaluation: a + b * c
CLASSIFIER_STEP = (0.004, 0.0001)  # seconds per step of a batch of n images: a + b * n
CLASSIFIER_EVAL = 0.5
ENCODE = 7e-5  # seconds per image through a frozen c=16 encoder
HEAD_STEP = 0.001  # Python overhead, mostly: a step of a linear layer on 64 codes
DECODER_STEP = 0.035  # per batch of 256
DECODER_EVAL = 1.7
JOB_START = 0.5  # data and checkpoints loaded
MEASUREMENT = {
    "reconstruction_quality": 4.0,
    "shift_robustness": 15.0,
    "one_nn_accuracy": 0.2,
    "latent_geometry": 10.0,  # + the t-SNE (below)
}
TSNE_PER_POINT = 0.01
SPREAD_LABELS = 30.0  # codes of 60,000 images, their k-NN graph, the spreading
FORWARD_60K = 5.0  # a classifier's predictions on the 60,000 training images


def steps_per_epoch(cfg: RunConfig) -> int:
    images = cfg.subset_size or 60000
    steps = cfg.passes_per_epoch * -(-images // cfg.batch_size)
    return min(steps, cfg.max_batches or steps)


def expected_run_seconds(cfg: RunConfig) -> float:
    steps, epochs, n = cfg.epochs * steps_per_epoch(cfg), cfg.epochs, cfg.batch_size
    encoded = (cfg.subset_size or 60000) + 10000
    if cfg.task == "autoencoder":
        step = (AE_STEP[0] + AE_STEP[1] * cfg.base) * n / 256
        return JOB_START + steps * step + epochs * (AE_EVAL[0] + AE_EVAL[1] * cfg.base)
    if cfg.task == "classifier":
        step = CLASSIFIER_STEP[0] + CLASSIFIER_STEP[1] * n
        return JOB_START + steps * step + epochs * CLASSIFIER_EVAL
    if cfg.task == "head":
        return JOB_START + encoded * ENCODE + steps * HEAD_STEP
    return JOB_START + encoded * ENCODE + steps * DECODER_STEP * n / 256 + epochs * DECODER_EVAL


def expected_method_seconds(method: str, settings: dict) -> float:
    """A 100-label method of `semi` (see `semi.run_method`) with its `SemiSettings` as a dict."""
    cap = settings.get("max_batches") or 10**9
    if method in ("finetune", "finetune_aug"):
        n = settings["batch_size"]
        step = (CLASSIFIER_STEP[0] + CLASSIFIER_STEP[1] * n) * (
            1.3 if method.endswith("aug") else 1
        )
        return JOB_START + min(settings["steps"], cap) * step + 2 * CLASSIFIER_EVAL
    if method == "label_spread":
        return JOB_START + SPREAD_LABELS
    n = settings["pseudo_batch"]
    epoch = min(-(-60000 // n), cap) * (CLASSIFIER_STEP[0] + CLASSIFIER_STEP[1] * n) * 1.3
    per_round = settings["pseudo_epochs"] * (epoch + CLASSIFIER_EVAL) + FORWARD_60K
    return JOB_START + SPREAD_LABELS + settings["rounds"] * per_round


def expected_measurement_seconds(m: chapters.Measurement) -> float:
    name = m.function.__name__
    if name == "method_result":
        return expected_method_seconds(m.args[0], m.args[3])
    if name == "latent_geometry":
        return JOB_START + MEASUREMENT[name] + TSNE_PER_POINT * m.args[1]
    return JOB_START + MEASUREMENT.get(name, 10.0)


# --------------------------------------------------------------------------- the plan


def run_job(cfg: RunConfig) -> Job:
    deps = () if cfg.encoder is None else (experiments.run_dir(cfg.encoder).name,)
    return Job(
        experiments.run_dir(cfg).name, cfg.label, cfg.task, cfg, expected_run_seconds(cfg), deps
    )


def short(value) -> str:
    if isinstance(value, RunConfig):
        return f"{value.task} c={value.base} d={value.latent} seed {value.seed}"
    return str(value)


def measurement_job(m: chapters.Measurement) -> Job:
    args = ", ".join(short(a) for a in m.args if not isinstance(a, dict))
    deps = tuple(experiments.run_dir(cfg).name for cfg in m.needs)
    name = m.function.__name__
    return Job(m.name, f"{name}({args})", name, m, expected_measurement_seconds(m), deps)


def plan() -> list[Job]:
    """Every run and cached measurement the book needs, upstream runs first."""
    configs: list[RunConfig] = []

    def add(cfg: RunConfig) -> None:
        if cfg.encoder is not None:
            add(cfg.encoder)
        if cfg not in configs:
            configs.append(cfg)

    measurements = chapters.all_measurements()
    for cfg in chapters.all_runs() + [c for m in measurements for c in m.needs]:
        add(cfg)
    return [run_job(cfg) for cfg in configs] + [measurement_job(m) for m in measurements]


def is_cached(job: Job) -> bool:
    """Whether the cache holds a valid result: the cache's own checks decide."""
    if isinstance(job.payload, RunConfig):
        return experiments.is_cached(job.payload)
    return job.payload.function.is_cached(*job.payload.args)


# --------------------------------------------------------------------------- in the workers


def quiet_worker() -> None:
    """Workers draw no progress bars of their own: they would garble the status line."""
    train.progress_is_quiet = lambda: True


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
    count, seconds = defaultdict(int), defaultdict(float)
    for o in outcomes:
        if o.status == "done":
            count[o.job.kind] += 1
            seconds[o.job.kind] += o.seconds
    lines = [f"{'kind':<24} {'jobs':>5} {'seconds':>9}"]
    lines += [f"{k:<24} {count[k]:>5} {seconds[k]:>9.1f}" for k in sorted(count)]
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


def main_prepare(jobs: int | None = None, out=None) -> int:
    """Compute what the book needs on `jobs` workers (default: one per core); 0 when all is done."""
    out = out or sys.stdout
    cores = default_jobs()
    everything = plan()
    todo = [j for j in everything if not is_cached(j)]
    workers = max(1, min(jobs or cores, len(todo)))
    threads = max(1, cores // workers)
    if not todo:
        print(f"prepare: all {len(everything)} results are cached", file=out, flush=True)
        return 0
    rank = priorities(todo, lambda j: j.expected)
    guess = simulate(todo, {}, lambda j: j.expected, rank, workers)
    print(
        f"prepare: {len(everything)} results, {len(everything) - len(todo)} cached, "
        f"{len(todo)} to compute on {workers} workers x {threads} threads "
        f"(about {clock(guess)} on the reference machine)",
        file=out,
        flush=True,
    )
    start = time.time()
    quiet = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    outcomes = run_jobs(todo, execute, workers, threads, out, quiet, setup=quiet_worker)
    for line in summary(outcomes, time.time() - start, workers):
        print(line, file=out)
    for o in outcomes:
        if o.traceback:
            print(f"\n{o.job.name} failed:\n{o.traceback}", file=sys.stderr)
    return 0 if all(o.status == "done" for o in outcomes) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ex2.prepare", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help=f"worker processes (default: cores, {default_jobs()})",
    )
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return main_prepare(args.jobs)


if __name__ == "__main__":
    raise SystemExit(main())
