"""Q2: the classifier trained end to end on all 60,000 images and, fresh, on 100 of them."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from ex2 import analysis, experiments, formatting
from ex2.chapters import configs
from ex2.claims import Check, Claim
from ex2.data import TRAIN_IMAGES, load_mnist
from ex2.experiments import RunResult
from ex2.formatting import Table
from ex2.measurements import image_geometry, test_predictions
from ex2.train import steps_per_epoch

SOURCE = {
    "full": "Q2(i): all 60,000 training images, seed 0",
    "subset": "Q2(ii): 100 training images (draw 0), seed 0",
}


def runs():
    return list(configs.classifiers().values())


def draws():
    """The Q2(ii) classifier on each draw of 100 images, model seed 0 (draw 0: Q2(ii))."""
    return configs.draw_sweep(configs.classifiers()["subset"])


def measurements():
    return [(test_predictions, (configs.classifiers()["full"],))] + [
        (test_predictions, (cfg,)) for cfg in draws()
    ]


@dataclass
class Q2:
    runs: dict[str, RunResult]
    draw: Table  # images of each digit in the 100-image draw
    predictions: dict[str, np.ndarray]  # test-set predictions of each run
    test_labels: np.ndarray
    accuracy: Table
    numbers: dict[str, str]
    claims: list[Claim]
    checks: list[Check]
    interpretations: list
    shared: dict


def digit_counts(subset_indices, train_labels: torch.Tensor) -> list[int]:
    return torch.bincount(train_labels[torch.tensor(subset_indices)], minlength=10).tolist()


@functools.cache
def results() -> Q2:
    mnist = load_mnist()
    trained = {key: experiments.run(cfg) for key, cfg in configs.classifiers().items()}
    preds = {"full": np.asarray(test_predictions(configs.classifiers()["full"]))}
    by_draw = [np.asarray(test_predictions(cfg)) for cfg in draws()]
    preds["subset"] = by_draw[0]
    counts_by_draw = [
        digit_counts(experiments.run(cfg).subset_indices, mnist.train_labels) for cfg in draws()
    ]
    counts = digit_counts(trained["subset"].subset_indices, mnist.train_labels)
    labels = mnist.test_labels.numpy()
    recall = {k: analysis.recall_per_class(labels, p) for k, p in preds.items()}
    shown = {k: diagonal(p, labels) for k, p in preds.items()}
    accuracy = {k: r.final["test_accuracy"] for k, r in trained.items()}
    numbers = describe(trained, accuracy)
    means = image_geometry()["class_mean_distances"]
    claims = [
        draw_claim(counts),
        memorised_claim(trained["subset"]),
        recall_claim(recall, shown, accuracy),
        figure_claim(preds["subset"], labels, counts),
        draw_bias_claim(by_draw, counts_by_draw, labels),
        similarity_claim(by_draw, labels, means),
    ]
    checks = [accuracy_check(trained, preds, labels)]
    draw = Table(["digit", *map(str, range(10))], [["images", *counts]], [20] + [8] * 10)
    shared = {
        "q2.full.test_accuracy": accuracy["full"],
        "q2.subset.test_accuracy": accuracy["subset"],
        "draws": len(by_draw),
    }
    table = accuracy_table(trained)
    return Q2(trained, draw, preds, labels, table, numbers, claims, checks, [], shared)


def steps(cfg) -> int:
    return cfg.epochs * steps_per_epoch(cfg.subset_size, cfg.batch_size, cfg.passes_per_epoch)


def describe(trained, accuracy) -> dict[str, str]:
    numbers = {}
    for key, r in trained.items():
        numbers[f"q2_{key}_acc"] = formatting.pct(accuracy[key])
        numbers[f"q2_{key}_train_acc"] = formatting.pct(r.final["train_accuracy"])
        numbers[f"q2_{key}_epochs"] = formatting.count(r.config.epochs)
        numbers[f"q2_{key}_batch"] = formatting.count(r.config.batch_size)
    sub = trained["subset"].config
    numbers |= {
        "q2_subset_size": formatting.count(sub.subset_size),
        "q2_subset_seed": str(sub.subset_seed),
        "q2_subset_passes": formatting.count(sub.passes_per_epoch),
        "q2_subset_steps": formatting.count(steps(sub)),
        "q2_draws": str(len(draws())),
    }
    return numbers


def accuracy_table(trained: dict[str, RunResult]) -> Table:
    rows = []
    for key, r in trained.items():
        c, f = r.config, r.final
        scenario = "(i) all images" if key == "full" else "(ii) 100 images"
        setup = [c.subset_size or TRAIN_IMAGES, c.epochs, c.passes_per_epoch, c.batch_size]
        accuracies = [formatting.pct(f["train_accuracy"]), formatting.pct(f["test_accuracy"])]
        rows.append([scenario, *setup, *accuracies, formatting.seconds(r.train_seconds)])
    headers = ["scenario", "training images", "epochs", "passes per epoch", "batch"]
    headers += ["train accuracy", "test accuracy", "training time"]
    return Table(headers, rows, [18, 12, 9, 10, 8, 14, 14, 15])


def draw_claim(counts: list[int]) -> Claim:
    text = (
        f"The draw is not balanced: it holds from {min(counts)} to {max(counts)} images of a digit."
    )
    return Claim(
        "q2.ii.draw",
        text,
        "sum(counts) == 100 and max(counts) > min(counts)",
        {"counts": counts},
        "the stored indices of the Q2(ii) run (draw 0), training labels",
    )


def memorised_claim(subset_run: RunResult) -> Claim:
    f = subset_run.final
    text = (
        f"On its 100 training images the network ends at {formatting.pct(f['train_accuracy'])} "
        f"accuracy and a cross-entropy of {f['train_loss']:.2g}, against "
        f"{formatting.pct(f['test_accuracy'])} and {f['test_loss']:.2f} on the test set: it "
        f"memorised its examples, and {100 * (f['train_accuracy'] - f['test_accuracy']):.0f} "
        "points of that accuracy do not carry over to new digits."
    )
    return Claim(
        "q2.ii.memorised",
        text,
        "memorised(train_accuracy, test_accuracy) and far(test_loss, train_loss)",
        {k: f[k] for k in ("train_accuracy", "test_accuracy", "train_loss", "test_loss")},
        SOURCE["subset"] + "; its 100 training images and the test set, final epoch",
        short="a fresh model memorises its 100 images",
    )


def diagonal(pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The diagonal of the row-normalised confusion matrix (the figure's numbers)."""
    counts = analysis.confusion(labels, pred)
    return np.diag(counts) / counts.sum(1)


def recall_claim(recall: dict[str, np.ndarray], shown: dict[str, np.ndarray], accuracy) -> Claim:
    """The recall range the text quotes, against the figure's diagonal of the same run."""
    parts = []
    for key, label in (("full", "With all images"), ("subset", "with 100 images")):
        r = recall[key]
        lo, hi = int(r.argmin()), int(r.argmax())
        parts.append(
            f"{label} the recall ranges from {formatting.pct(r[lo])} (digit {lo}) to "
            f"{formatting.pct(r[hi])} (digit {hi})"
        )
    return Claim(
        "q2.recall",
        "; ".join(parts) + ".",
        "same(recall_full, diagonal_full) and same(recall_subset, diagonal_subset) "
        "and min(recall_full) <= accuracy_full <= max(recall_full) "
        "and min(recall_subset) <= accuracy_subset <= max(recall_subset)",
        {
            "recall_full": recall["full"].tolist(),
            "diagonal_full": shown["full"].tolist(),
            "accuracy_full": accuracy["full"],
            "recall_subset": recall["subset"].tolist(),
            "diagonal_subset": shown["subset"].tolist(),
            "accuracy_subset": accuracy["subset"],
        },
        "Q2(i) and Q2(ii) (draw 0, seed 0); test set; recall = share of a digit's test images "
        "predicted right, against the diagonal of the confusion matrices in the figure",
    )


def figure_claim(pred: np.ndarray, labels: np.ndarray, counts: list[int]) -> Claim:
    """The largest confusions of the draw the figure shows, against the digits it holds most."""
    counts_matrix = analysis.confusion(labels, pred)
    rate = counts_matrix / counts_matrix.sum(1, keepdims=True)
    off = np.where(~np.eye(10, dtype=bool), rate, -1)
    top = [divmod(int(k), 10) for k in np.argsort(-off, axis=None, kind="stable")[:3]]
    most = [int(d) for d in np.argsort(-np.asarray(counts), kind="stable")[:2]]
    listed = ", ".join(f"{i}s taken for {j}s ({100 * rate[i, j]:.0f} %)" for i, j in top)
    text = (
        f"In the draw of the figure, the three largest confusions, {listed}, all go to the two "
        f"digits it holds most: {most[0]} and {most[1]} ({counts[most[0]]} and "
        f"{counts[most[1]]} of the 100 images)."
    )
    return Claim(
        "q2.ii.figure_draw",
        text,
        "all(j in most for j in predicted)",
        {"predicted": [j for _, j in top], "most": most, "counts": counts},
        "Q2(ii) (draw 0, seed 0); test set; share of each true digit's test images",
    )


def predicted_share(pred: np.ndarray) -> np.ndarray:
    return np.bincount(pred, minlength=10) / len(pred)


def draw_bias_claim(by_draw: list[np.ndarray], counts_by_draw: list[list[int]], labels) -> Claim:
    """A digit's count in a draw against how often that draw's network predicts it (over and
    above how common it is in the test set)."""
    truth = np.bincount(labels, minlength=10) / len(labels)
    counts = np.concatenate([np.asarray(c) for c in counts_by_draw])
    excess = np.concatenate([predicted_share(p) - truth for p in by_draw])
    rho, p = stats.spearmanr(counts, excess)
    n = len(by_draw)
    text = (
        f"Over {n} draws of 100 images (model seed 0), the more images of a digit a draw holds, "
        f"the more often its network predicts that digit beyond the digit's share of the test "
        f"set: Spearman $\\rho$ = {rho:.2f} over the {len(counts)} (draw, digit) pairs "
        f"($p$ = {p:.1g} if the pairs were independent; they are not quite: a draw's counts sum "
        f"to 100)."
    )
    return Claim(
        "q2.ii.draw_bias",
        text,
        "goes_with(rho, p)",
        {"rho": float(rho), "p": float(p), "pairs": len(counts)},
        f"the Q2(ii) classifier on draws 0..{n - 1}, model seed 0; test set predictions",
        short="its errors lean towards the digits its draw holds most",
    )


def similarity_claim(by_draw: list[np.ndarray], labels, mean_distances) -> Claim:
    """Which digits are mistaken for which, against how far apart their mean images are."""
    rate = np.mean([analysis.confusion(labels, p) for p in by_draw], axis=0)
    rate = rate / rate.sum(1, keepdims=True)
    pair = np.triu(np.ones((10, 10), dtype=bool), 1)  # the 45 unordered pairs of digits
    distance = np.asarray(mean_distances)
    mixed = (rate + rate.T) / 2  # how often either digit is taken for the other
    rho, p = stats.spearmanr(distance[pair], mixed[pair])
    off = ~np.eye(10, dtype=bool)
    i, j = (int(v) for v in np.unravel_index(np.where(off, rate, -1).argmax(), rate.shape))
    closer = int((distance[pair] < distance[i, j]).sum())
    text = (
        f"The errors also follow how alike two digits look: over the 45 pairs of digits, the "
        f"closer their mean test images, the more often one is taken for the other (Spearman "
        f"$\\rho$ = {rho:.2f}, $p$ = {p:.1g}; confusions averaged over the {len(by_draw)} draws). "
        f"Averaged over the draws, the most frequent confusion, {i}s taken for {j}s "
        f"({100 * rate[i, j]:.0f} % of the {i}s), joins the two digits whose mean images are the "
        "closest of the 45 pairs."
    )
    return Claim(
        "q2.ii.similar_digits",
        text,
        "goes_with(-rho, p) and pairs_closer == 0",
        {"rho": float(rho), "p": float(p), "pairs_closer": closer},
        f"the Q2(ii) classifier on draws 0..{len(by_draw) - 1}, model seed 0; test set; "
        "Euclidean distance between the mean test images of two digits",
    )


def accuracy_check(trained, preds, labels) -> Check:
    """The accuracy each run recorded when it trained equals the one recomputed from the cached
    predictions, and neither run scores 100 % on the test set."""
    recorded = [trained[k].final["test_accuracy"] for k in ("full", "subset")]
    recomputed = [float((preds[k] == labels).mean()) for k in ("full", "subset")]
    return Check(
        "q2.check.accuracy",
        "the test accuracies recorded by the runs equal those of their cached predictions, and "
        "stay below 100 %",
        "all(abs(a - b) < 1e-6 for a, b in zip(recorded, recomputed)) and max(recorded) < 1",
        {"recorded": recorded, "recomputed": recomputed},
        "Q2(i) and Q2(ii); test set",
    )
