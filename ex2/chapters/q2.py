"""Q2: the classifier trained end to end on all 60,000 images and, fresh, on 100 of them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ex2 import analysis, experiments, formatting
from ex2.chapters import runs as R
from ex2.claims import Claim
from ex2.data import load_mnist
from ex2.experiments import RunResult
from ex2.train import predictions


def runs():
    return list(R.classifiers().values())


def measurements():
    return []


@dataclass
class Q2:
    runs: dict[str, RunResult]
    draw_counts: list[int]  # images of each digit in the 100-image draw
    predictions: dict[str, np.ndarray]  # test-set predictions of each run
    test_labels: np.ndarray
    numbers: dict[str, str]
    claims: list[Claim]


def results() -> Q2:
    mnist = load_mnist()
    trained = {key: experiments.run(cfg) for key, cfg in R.classifiers().items()}
    preds = {key: predictions(r.model, mnist.test_images).numpy() for key, r in trained.items()}
    subset = torch.tensor(trained["subset"].subset_indices)
    counts = torch.bincount(mnist.train_labels[subset], minlength=10).tolist()
    labels = mnist.test_labels.numpy()
    numbers = describe(trained, preds, labels)
    claims = [
        memorised_claim(trained["subset"]),
        errors_follow_draw_claim(preds["subset"], labels, counts),
    ]
    return Q2(trained, counts, preds, labels, numbers, claims)


def steps(cfg) -> int:
    return cfg.epochs * cfg.passes_per_epoch * -(-cfg.subset_size // cfg.batch_size)


def describe(trained, preds, labels) -> dict[str, str]:
    numbers = {}
    for key, r in trained.items():
        numbers[f"q2_{key}_acc"] = formatting.pct(r.final["test_accuracy"])
        numbers[f"q2_{key}_train_acc"] = formatting.pct(r.final["train_accuracy"])
        numbers[f"q2_{key}_epochs"] = formatting.count(r.config.epochs)
        numbers[f"q2_{key}_batch"] = formatting.count(r.config.batch_size)
        recall = analysis.recall_per_class(labels, preds[key])
        numbers[f"q2_{key}_worst_digit"] = str(int(recall.argmin()))
        numbers[f"q2_{key}_worst_recall"] = formatting.pct(recall.min())
    sub = trained["subset"].config
    numbers |= {
        "q2_subset_size": formatting.count(sub.subset_size),
        "q2_subset_seed": str(sub.subset_seed),
        "q2_subset_passes": formatting.count(sub.passes_per_epoch),
        "q2_subset_steps": formatting.count(steps(sub)),
    }
    return numbers


def accuracy_rows(trained: dict[str, RunResult]) -> list[list]:
    rows = []
    for key, r in trained.items():
        c = r.config
        rows.append(
            [
                "(i) all images" if key == "full" else "(ii) 100 images",
                c.subset_size or 60000,
                c.epochs,
                c.passes_per_epoch,
                c.batch_size,
                formatting.pct(r.final["train_accuracy"]),
                formatting.pct(r.final["test_accuracy"]),
                formatting.seconds(r.train_seconds),
            ]
        )
    return rows


def memorised_claim(subset_run: RunResult) -> Claim:
    f = subset_run.final
    text = (
        f"On its 100 training images the network ends at {formatting.pct(f['train_accuracy'])} "
        f"accuracy and a cross-entropy of {f['train_loss']:.2g}, against "
        f"{formatting.pct(f['test_accuracy'])} and {f['test_loss']:.2f} on the test set: it "
        "memorised its examples, and much of what it memorised does not transfer."
    )
    return Claim(
        "q2.ii.memorised",
        text,
        "train_accuracy - test_accuracy > 0.1 and test_loss > 10 * train_loss",
        {k: f[k] for k in ("train_accuracy", "test_accuracy", "train_loss", "test_loss")},
    )


def error_columns(pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Misclassified test images per predicted digit (the off-diagonal mass of each column)."""
    wrong = pred != labels
    return np.bincount(pred[wrong], minlength=10)


def errors_follow_draw_claim(pred, labels, counts) -> Claim:
    columns = error_columns(pred, labels)
    top_errors = [int(d) for d in np.argsort(-columns, kind="stable")[:2]]
    top_draw = [int(d) for d in np.argsort(-np.asarray(counts), kind="stable")[:2]]
    share = columns[top_errors].sum() / columns.sum()
    others = [c for d, c in enumerate(counts) if d not in top_draw]
    text = (
        f"The errors are not spread evenly: the predicted-{top_errors[0]} and "
        f"predicted-{top_errors[1]} columns hold {100 * share:.0f} % of all misclassified "
        f"test digits, and {top_draw[0]} and {top_draw[1]} are the digits the draw "
        f"over-represents ({counts[top_draw[0]]} and {counts[top_draw[1]]} of the 100 images, "
        f"against {min(others)}–{max(others)} of each other digit): the network guesses the "
        "classes it saw most."
    )
    return Claim(
        "q2.ii.errors_follow_draw",
        text,
        "set(top_error_columns) == set(top_draw_classes) and share > 0.35",
        {"top_error_columns": top_errors, "top_draw_classes": top_draw, "share": float(share)},
    )
