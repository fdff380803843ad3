"""What a job of `prepare` costs: its work counted in units (a training step of one of the book's
models, a forward pass over 500 images, a k-NN graph), and each unit timed on the machine at hand
(`calibrate`, a few seconds at start-up)."""

from __future__ import annotations

import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.neighbors import kneighbors_graph

from ex2 import chapters, measurements, models, semi, train
from ex2.config import RunConfig
from ex2.data import TEST_IMAGES, TRAIN_IMAGES
from ex2.spreading import neighbour_lists, spread_diagnosis
from ex2.train import steps_per_epoch

FORWARD_BATCH = 500  # forward passes are timed on 500 images and counted per 500 (linear in N)


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
    """semi.label_spread: codes of the 60,000 training images, their k-NN graph, the spreading."""
    return add(forward("encoder", TRAIN_IMAGES), {NEIGHBOURS: SPREAD_UNITS})


def method_work(method: str, draw: int, encoder: RunConfig, settings: dict) -> dict[Unit, float]:
    """A 100-label method of `semi.run_method` with its `SemiSettings` as a dict."""
    s = semi.SemiSettings(**settings)
    if method in ("finetune", "finetune_aug"):
        step = Unit("classifier", batch=s.batch_size, training=True, augment=method != "finetune")
        steps = min(s.steps, s.max_batches or s.steps)  # one epoch of `steps` batches
        return add({step: steps}, forward("classifier", 2 * TEST_IMAGES))
    # the first graphs' neighbours are spreading.neighbour_lists's work, done once for every draw
    if method == "label_spread":  # spreading, a k-NN classifier on the codes, the test's codes
        return add(forward("encoder", TRAIN_IMAGES + TEST_IMAGES), {NEIGHBOURS: SPREAD_UNITS / 2})
    if method == "iterated_spread":
        # per round: spreading, training, the next round's graph
        step = Unit("classifier", batch=s.propagation_batch, training=True, augment=True)
        batches = steps_per_epoch(TRAIN_IMAGES, s.propagation_batch, 1, s.max_batches)
        per_round = add(
            {step: s.propagation_epochs * batches},
            forward("encoder", TRAIN_IMAGES),
            {NEIGHBOURS: SPREAD_UNITS},
        )
        return add(*[per_round] * s.propagation_rounds, forward("classifier", TEST_IMAGES))
    raise ValueError(f"work does not know the work of the 100-label method {method!r}")


def neighbours_work(encoder: RunConfig, settings: dict) -> dict[Unit, float]:
    """spreading.neighbour_lists: the k-NN of the codes and of the conv features' PCA (each costs
    about what spreading() costs)."""
    return add(spreading(), spreading())


def diagnosis_work(encoder: RunConfig, settings: dict, draws: int) -> dict[Unit, float]:
    """spreading.spread_diagnosis: four spreads per draw over the stored graphs."""
    return {NEIGHBOURS: draws * SPREAD_UNITS / 4}


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
    neighbour_lists: neighbours_work,
    spread_diagnosis: diagnosis_work,
}


def measurement_work(m: chapters.Measurement) -> dict[Unit, float]:
    if m.function not in MEASUREMENT_WORK:
        raise ValueError(
            f"prepare does not know the work of {m.function.__name__}: "
            "add it to work.MEASUREMENT_WORK"
        )
    return MEASUREMENT_WORK[m.function](*m.args)


# --------------------------------------------------------------------------- calibration


def unit_step(unit: Unit):
    """A function that does one `unit` of work (built once, then timed repeatedly)."""
    if unit.model == "neighbours":
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
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        seconds = {u: seconds_per_call(unit_step(u), budget) for u in sorted(set(units), key=repr)}
        trained = [u for u in seconds if u.training] or list(seconds)
        slowdown = side_by_side(max(trained, key=seconds.get), workers) if seconds else 1.0
    finally:
        torch.set_num_threads(before)
    return {u: s * slowdown for u, s in seconds.items()}
