"""`python -m ex2 prepare`: compute every result the book needs before the pages are built.

The plan is every run and cached measurement of the chapter registry, with what each waits for (a
head or decoder: the run whose encoder it freezes; a measurement: the runs it measures). What is
cached and valid is skipped; the rest runs on `--jobs` worker processes (default: one per core,
one torch thread each; `make bench` compares this with one process on all cores). A failed job
cancels only what depends on it; the exit status is then 1.

How long: each job's work is counted in units (a training step of one of the book's models, a
forward pass over 2,000 images, a k-NN graph), each unit is timed here at start-up (`calibrate`,
a few seconds), and the running estimate corrects the rest by what jobs actually take. `--record`
writes every event as JSON lines, and the last line says how far the estimates were off.

A worker trains exactly as the pages would (`experiments.run`, `Measurement.compute`), into the same
cache, so the pages then only read results.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ex2 import chapters, experiments, measurements, semi
from ex2.config import RunConfig
from ex2.data import TEST_IMAGES, TRAIN_IMAGES
from ex2.estimate import TOLERANCE, TOLERANCE_FLOOR, errors
from ex2.schedule import Job, Outcome, report_progress, run_jobs
from ex2.train import steps_per_epoch

# --------------------------------------------------------------------------- units of work

FORWARD_BATCH = 500  # forward passes are timed on 500 images and counted per 500 (linear in N)
JOB_START = 0.3  # seconds: a job's data, folders and checkpoints, in a worker that has imported all


@dataclass(frozen=True)
class Unit:
    """A piece of work timed on the machine at hand: one training step of `model` on a batch of
    `batch` images (or codes), or with `training=False` its forward pass over them in eval mode;
    or, for
    `model="neighbours"`, scikit-learn's k-NN graph of `batch` points in 16 dimensions."""

    model: str  # autoencoder, classifier, encoder, decoder (from codes), head (from codes)
    base: int = 16
    latent: int = 16
    batch: int = FORWARD_BATCH
    training: bool = False
    augment: bool = False  # semi's random shifts and rotations in front of the model


NEIGHBOURS = Unit("neighbours", batch=6000)
# Scikit-learn work in NEIGHBOURS units, measured on an Intel Xeon (Sapphire Rapids, one thread):
# label spreading on 60,000 codes 7.3 s, latent_geometry's k-NN, silhouette, PCA and t-SNE of
# 2,000 points 7.4 s, against 0.1 s for the unit.
SPREAD_UNITS = 75
LATENT_UNITS = 75


def forward(model: str, images: int, base: int = 16, latent: int = 16) -> dict[Unit, float]:
    return {Unit(model, base, latent): images / FORWARD_BATCH}


def add(*works: dict[Unit, float]) -> dict[Unit, float]:
    total: dict[Unit, float] = defaultdict(float)
    for work in works:
        for unit, count in work.items():
            total[unit] += count
    return dict(total)


def run_work(cfg: RunConfig) -> dict[Unit, float]:
    """A run: its training steps, a test-set evaluation per epoch, and a frozen encoder's codes."""
    c, d, n = cfg.base, cfg.latent, cfg.batch_size
    images = cfg.subset_size or TRAIN_IMAGES
    per_epoch = steps_per_epoch(images, n, cfg.passes_per_epoch, cfg.max_batches)
    steps = {Unit(cfg.task, c, d, n, training=True): cfg.epochs * per_epoch}
    evals = forward(cfg.task, cfg.epochs * TEST_IMAGES, c, d)
    if cfg.task in ("autoencoder", "classifier"):
        return add(steps, evals)
    codes = forward("encoder", images + TEST_IMAGES, c, d)
    return add(steps, codes) if cfg.task == "head" else add(steps, evals, codes)


def spreading() -> dict[Unit, float]:
    """semi.spread_labels: codes of the 60,000 training images, their k-NN graph, the spreading."""
    return add(forward("encoder", TRAIN_IMAGES), {NEIGHBOURS: SPREAD_UNITS})


def method_work(method: str, draw: int, encoder: RunConfig, settings: dict) -> dict[Unit, float]:
    """A 100-label method of `semi.run_method` with its `SemiSettings` as a dict."""
    s = semi.SemiSettings(**settings)
    if method in ("finetune", "finetune_aug"):
        step = Unit("classifier", batch=s.batch_size, training=True, augment=method != "finetune")
        steps = min(s.steps, s.max_batches or s.steps)  # one epoch of `steps` batches
        return add({step: steps}, forward("classifier", 2 * TEST_IMAGES))
    if method == "label_spread":
        return add(spreading(), forward("encoder", TEST_IMAGES))
    if method == "iterated_spread":
        # the conv-feature graph, then per round: spreading, training, the next round's graph
        step = Unit("classifier", batch=s.pseudo_batch, training=True, augment=True)
        per_round = add(
            {
                step: s.propagation_epochs
                * steps_per_epoch(TRAIN_IMAGES, s.pseudo_batch, 1, s.max_batches)
            },
            forward("encoder", TRAIN_IMAGES),
            {NEIGHBOURS: SPREAD_UNITS},
        )
        return add(
            spreading(), *[per_round] * s.propagation_rounds, forward("classifier", TEST_IMAGES)
        )
    step = Unit("classifier", batch=s.pseudo_batch, training=True, augment=True)
    per_round = add(
        {step: s.pseudo_epochs * steps_per_epoch(TRAIN_IMAGES, s.pseudo_batch, 1, s.max_batches)},
        forward("classifier", (s.pseudo_epochs + 1) * TEST_IMAGES + TRAIN_IMAGES),
    )
    return add(spreading(), *[per_round] * s.rounds)


def reconstruction_work(autoencoder: RunConfig, classifier: RunConfig) -> dict[Unit, float]:
    ae, clf = autoencoder, classifier
    return add(
        forward("autoencoder", TEST_IMAGES, ae.base, ae.latent),
        forward("classifier", TEST_IMAGES, clf.base, clf.latent),
    )


def shift_work(classifier: RunConfig, max_shift: int = 4) -> dict[Unit, float]:
    """analysis.accuracy_under_shift (4 directions per shift) and shift_consistency (2 passes)."""
    passes = 1 + 4 * max_shift + 2
    return forward("classifier", passes * TEST_IMAGES, classifier.base, classifier.latent)


def latent_work(encoder_run: RunConfig, embed_n: int) -> dict[Unit, float]:
    units = LATENT_UNITS * (1 + embed_n / 2000) / 2  # half of it is the t-SNE of embed_n points
    return add(forward("encoder", TRAIN_IMAGES + TEST_IMAGES), {NEIGHBOURS: units})


# Keyed by the measurement functions themselves: a measurement without an entry stops the plan.
MEASUREMENT_WORK = {
    measurements.reconstruction_quality: reconstruction_work,
    measurements.test_predictions: lambda classifier: forward("classifier", TEST_IMAGES),
    measurements.image_geometry: lambda: {},  # pixel arithmetic on the test set, no model
    measurements.decoder_geometry: lambda decoder: add(
        forward("decoder", TEST_IMAGES), forward("encoder", TEST_IMAGES)
    ),
    measurements.centre_offsets: lambda: {},  # pixel arithmetic on the training set
    measurements.shift_robustness: shift_work,
    measurements.one_nn_accuracy: lambda subset_size, draw: {},
    measurements.latent_geometry: latent_work,
    semi.method_result: method_work,
}


def measurement_work(m: chapters.Measurement) -> dict[Unit, float]:
    if m.function not in MEASUREMENT_WORK:
        raise ValueError(
            f"prepare does not know the work of {m.function.__name__}: "
            "add it to prepare.MEASUREMENT_WORK"
        )
    return MEASUREMENT_WORK[m.function](*m.args)


# --------------------------------------------------------------------------- calibration


def unit_step(unit: Unit):
    """A function that does one `unit` of work (built once, then timed repeatedly)."""
    import torch
    import torch.nn.functional as F

    from ex2 import models, train

    if unit.model == "neighbours":
        import numpy as np
        from sklearn.neighbors import kneighbors_graph

        points = np.random.default_rng(0).standard_normal((unit.batch, 16))
        return lambda: kneighbors_graph(points, n_neighbors=10, include_self=False)
    torch.manual_seed(0)
    c, d = unit.base, unit.latent
    model, x, loss = {
        "autoencoder": (models.ConvAutoencoder(c, d), torch.rand(unit.batch, 1, 28, 28), F.l1_loss),
        "decoder": (models.Decoder(c, d), torch.randn(unit.batch, d), None),
        "classifier": (models.Classifier(c, d), torch.rand(unit.batch, 1, 28, 28), None),
        "encoder": (models.Encoder(c, d), torch.rand(unit.batch, 1, 28, 28), None),
        "head": (torch.nn.Linear(d, 10), torch.randn(unit.batch, d), None),
    }[unit.model]
    train.place_model(model, torch.device("cpu"), train.prefers_channels_last(c))
    model = semi.with_augmentation(model) if unit.augment else model
    if not unit.training:
        return lambda: train.forward_in_batches(model, x)
    target = torch.rand(unit.batch, 1, 28, 28) if unit.model == "decoder" else None
    target = x if unit.model == "autoencoder" else target
    labels = torch.randint(0, 10, (unit.batch,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step():
        out = model(x)
        error = F.l1_loss(out, target) if target is not None else F.cross_entropy(out, labels)
        optimizer.zero_grad(set_to_none=True)
        error.backward()
        optimizer.step()

    return step


def seconds_per_call(step, budget: float) -> float:
    """The median of a few timings of `step` after a warm-up, for about `budget` seconds."""
    start = time.perf_counter()
    step()  # warm-up: allocator, kernels, first-call dispatch
    first = time.perf_counter() - start
    times = []
    for _ in range(max(3, min(15, int(budget / max(first, 1e-4))))):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def side_by_side(unit: Unit, workers: int, calls: int = 4) -> float:
    """How much slower `unit` runs when `workers` copies of it run at once, as the workers will
    (sharing the cores with whatever else runs, and the memory system): threads of this process,
    since torch releases the GIL while it computes."""
    if workers < 2:
        return 1.0
    steps = [unit_step(unit) for _ in range(workers)]
    alone = seconds_per_call(steps[0], budget=0.0)
    together: list[float] = []

    def run(step) -> None:
        step()
        start = time.perf_counter()
        for _ in range(calls):
            step()
        together.append((time.perf_counter() - start) / calls)

    threads = [threading.Thread(target=run, args=(step,)) for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return max(1.0, statistics.mean(together) / alone)


def calibrate(units, threads: int, workers: int = 1, budget: float = 0.1) -> dict[Unit, float]:
    """Seconds per unit of work on this machine with `threads` torch threads, each unit timed
    alone for about `budget` seconds, then all scaled by how much slower the costliest training
    step runs with `workers` copies side by side."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        seconds = {u: seconds_per_call(unit_step(u), budget) for u in sorted(set(units), key=repr)}
        trained = [u for u in seconds if u.training] or list(seconds)
        slowdown = side_by_side(max(trained, key=seconds.get), workers) if seconds else 1.0
    finally:
        torch.set_num_threads(before)
    return {u: s * slowdown for u, s in seconds.items()}


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Planned:
    """A job before calibration: what it computes and its work in units."""

    key: str
    name: str
    kind: str
    payload: object
    work: dict
    deps: tuple[str, ...]

    def job(self, unit_seconds: dict[Unit, float]) -> Job:
        expected = JOB_START + sum(n * unit_seconds[u] for u, n in self.work.items())
        return Job(self.key, self.name, self.kind, self.payload, expected, self.deps)


def run_job(cfg: RunConfig) -> Planned:
    deps = () if cfg.encoder is None else (experiments.run_dir(cfg.encoder).name,)
    name = experiments.run_dir(cfg).name
    return Planned(name, cfg.label, cfg.task, cfg, run_work(cfg), deps)


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
    return Planned(m.name, f"{name}({args})", kind, m, measurement_work(m), deps)


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
    threads = max(1, cores // workers)
    start = time.perf_counter()
    unit_seconds = calibrate([u for p in todo for u in p.work], threads, workers)
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
