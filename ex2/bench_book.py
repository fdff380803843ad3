"""For `make bench`: the book's schedule old against new, where the time goes, and a step profile.

Schedule: a sample of every run kind (two epochs each) and the book's scikit-learn work (label
spreading on a sample autoencoder's codes), computed into an empty cache
(old) as the pages did: one process, one run after the other, torch's default threads (all cores);
(new) as `python -m ex2 prepare` does: calibration, then its scheduler, one worker per core, one
thread each.
Each side is a fresh `python` process, timed on the wall clock from start to end (imports and
worker start-up included); the sides alternate old new old new ... in one bench run.

Where the time goes: each kind of job of the full book, split into its training steps, its
test-set evaluations and a frozen encoder's codes, from `prepare`'s units of work timed here;
a fresh process's imports and data loading; and the pages' execution times, read from the notebook
cache of the last `make book` when there is one.

Step profile: one training step of the (16, 16) autoencoder (batch 256, as the project trains it)
under `torch.profiler`, its operators' own CPU time in five groups.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, replace

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from ex2 import cache, chapters, experiments, prepare, semi, train, work
from ex2.chapters.configs import SUBSET_TRAINING
from ex2.config import RunConfig, make
from ex2.data import REPO_ROOT, load_mnist
from ex2.models import ConvAutoencoder
from ex2.schedule import run_jobs

# Two epochs: enough that the fixed costs (imports, calibration) weigh little, as in a full build.
SAMPLE_EPOCHS = 2


def schedule_sample() -> list[RunConfig]:
    """A run of every kind the book trains, SAMPLE_EPOCHS epochs each, upstream runs first (the
    order the pages ran them)."""
    n = SAMPLE_EPOCHS
    ae, classifier = make("autoencoder", epochs=n), make("classifier", epochs=n)
    head = make("head", encoder=ae, epochs=n)
    return [
        ae,
        make("autoencoder", base=4, latent=4, epochs=n),
        classifier,
        replace(classifier, **{**SUBSET_TRAINING, "epochs": n}),
        head,
        replace(head, **{**SUBSET_TRAINING, "epochs": n}),
        make("decoder", encoder=ae, epochs=n),
        make("decoder", encoder=classifier, epochs=n),
    ]


def sample_measurement() -> chapters.Measurement:
    """The book's scikit-learn work: label spreading on the sample autoencoder's codes."""
    settings = asdict(semi.SemiSettings())
    return chapters.Measurement(
        semi.method_result, ("label_spread", 0, schedule_sample()[0], settings)
    )


def old_schedule() -> None:
    with cache.callers_threads():  # torch's default threads, as the pages once trained
        for cfg in schedule_sample():
            experiments.run(cfg, log=None)
        sample_measurement().compute()


def new_schedule() -> None:
    runs = schedule_sample()
    planned = [prepare.run_job(cfg) for cfg in runs]
    planned.append(prepare.measurement_job(sample_measurement(), runs))
    workers = prepare.default_jobs()
    seconds = work.calibrate([u for p in planned for u in p.work], 1, workers)
    jobs = [p.job(seconds) for p in planned]
    with open(os.devnull, "w") as out:
        outcomes = run_jobs(jobs, prepare.execute, workers, 1, out, quiet=True)
    failed = [o.job.name for o in outcomes if o.status != "done"]
    if failed:
        raise RuntimeError(f"the new schedule failed: {failed}")


def fresh_process(code: str, env: dict | None = None) -> float:
    """Wall seconds of a fresh `python -c code` run from this repository."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    return time.perf_counter() - start


def time_schedule(which: str) -> float:
    """Seconds of a fresh process that trains the sample the `which` way into an empty cache."""
    with tempfile.TemporaryDirectory(prefix="ex2-bench-runs-") as runs:
        env = {"EX2_RUNS_DIR": runs, "EX2_PROFILE": "full"}
        return fresh_process(f"from ex2.bench_book import {which}; {which}()", env)


def compare_schedules(repeats: int, say=print) -> dict:
    old, new = [], []
    for r in range(repeats):
        old.append(time_schedule("old_schedule"))
        new.append(time_schedule("new_schedule"))
        say(f"schedule {r + 1}/{repeats}: old {old[-1]:.1f} s, new {new[-1]:.1f} s", flush=True)
    return {
        "sample": [f"{cfg.label}, {cfg.epochs} epochs" for cfg in schedule_sample()]
        + ["label spreading, draw 0, on the sample autoencoder"],
        "sample_epochs": SAMPLE_EPOCHS,
        "old": f"one process, {os.cpu_count()} threads (torch's default), one run after the other",
        "new": f"{prepare.default_jobs()} worker processes, 1 thread each (python -m ex2 prepare)",
        "clock": "wall seconds of the whole process",
        "old_s": old,
        "new_s": new,
        "median_old_s": statistics.median(old),
        "median_new_s": statistics.median(new),
    }


# --------------------------------------------------------------------------- where the time goes


def job_shares(jobs: list[prepare.Planned], seconds: dict) -> dict[str, dict[str, float]]:
    """Seconds of each kind of job in its training steps, evaluations and encoder codes."""
    shares: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for job in jobs:
        for unit, count in job.work.items():
            if unit.training:
                part = "training steps"
            elif unit.model in ("encoder", "neighbours"):
                part = "encoder codes" if unit.model == "encoder" else "scikit-learn"
            else:
                part = "evaluation"
            shares[job.kind][part] += count * seconds[unit]
    return {kind: dict(parts) for kind, parts in shares.items()}


def page_seconds() -> dict[str, float] | None:
    """Execution seconds of each page in the last build's notebook cache (None without one)."""
    folder = REPO_ROOT / "_build" / ".jupyter_cache"
    if not folder.is_dir():
        return None
    from jupyter_cache import get_cache

    records = get_cache(str(folder)).list_cache_records()
    return {r.uri.rsplit("/", 1)[-1]: r.data.get("execution_seconds") for r in records}


def time_shares() -> dict:
    """Where a full build's time goes on this machine (one torch thread per job)."""
    jobs = prepare.plan()
    seconds = work.calibrate([u for p in jobs for u in p.work], threads=1)
    imports = [fresh_process("import ex2.prepare") for _ in range(3)]
    data = [fresh_process("import ex2.prepare; ex2.data.load_mnist()") for _ in range(3)]
    return {
        "jobs": job_shares(jobs, seconds),
        "process_start_and_imports_s": statistics.median(imports),
        "data_load_s": statistics.median(data) - statistics.median(imports),
        "pages_s": page_seconds(),
    }


# --------------------------------------------------------------------------- the step profile

GROUPS = (  # the first that a (lower-case) operator name contains
    ("conv backward", "convolution_backward"),
    ("conv forward", "convolution"),
    ("BatchNorm", "batch_norm"),
    ("Adam", "adam"),
)


def group_of(operator: str) -> str:
    name = operator.lower()
    return next((group for group, part in GROUPS if part in name), "the rest")


def profile_step(steps: int = 10) -> dict:
    """Milliseconds per step and share of each group, from the operators' own CPU time."""
    torch.manual_seed(0)
    channels_last = train.prefers_channels_last(16)
    model = train.place_model(ConvAutoencoder(16, 16), torch.device("cpu"), channels_last).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    x = load_mnist().train_images[:256]

    def step():
        loss = F.l1_loss(model(x), x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):  # warm caches, as in a real epoch
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    own = defaultdict(float)
    for event in prof.key_averages():
        own[group_of(event.key)] += event.self_cpu_time_total / 1e3 / steps
    total = sum(own.values())
    names = [g for g, _ in GROUPS] + ["the rest"]
    return {
        "threads": torch.get_num_threads(),
        "profiled_ms_per_step": total,
        "ms": {g: own[g] for g in names},
        "share": {g: own[g] / total for g in names},
    }
