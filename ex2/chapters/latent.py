"""Beyond the exercise: the latent spaces of the AE and classifier encoders, measured directly."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ex2 import experiments, formatting
from ex2.analysis import SILHOUETTE_SAMPLE
from ex2.chapters import configs
from ex2.claims import Check, Claim
from ex2.config import profile
from ex2.data import load_mnist
from ex2.formatting import Table
from ex2.measurements import latent_geometry

METRICS = ("within", "between", "ratio", "silhouette", "knn_accuracy")


def embed_n() -> int:
    return 2000 if profile() == "full" else 300  # t-SNE's cost grows fast with the points


def encoders():
    return {
        "autoencoder": configs.pretrained_autoencoder(),
        "classifier": configs.classifiers()["full"],
    }


def runs():
    return []


def measurements():
    return [(latent_geometry, (cfg, embed_n())) for cfg in encoders().values()]


@dataclass
class Latent:
    metrics: dict[str, dict[str, float]]
    pca: dict[str, np.ndarray]
    tsne: dict[str, np.ndarray]
    embed_n: int
    labels: np.ndarray  # test labels, in the order of the codes
    numbers: dict[str, str]
    claims: list[Claim]
    checks: list[Check]
    interpretations: list
    shared: dict


@functools.cache
def results() -> Latent:
    measured = {k: latent_geometry(cfg, embed_n()) for k, cfg in encoders().items()}
    metrics = {k: m["metrics"] for k, m in measured.items()}
    numbers = {
        "latent_embed_n": formatting.count(embed_n()),
        "latent_silhouette_n": formatting.count(SILHOUETTE_SAMPLE),
    }
    head = experiments.run(configs.heads()["full"]).final["test_accuracy"]
    shared = {"latent.autoencoder.knn_accuracy": metrics["autoencoder"]["knn_accuracy"]}
    return Latent(
        metrics,
        {k: np.asarray(m["pca"]) for k, m in measured.items()},
        {k: np.asarray(m["tsne"]) for k, m in measured.items()},
        embed_n(),
        load_mnist().test_labels.numpy(),
        numbers,
        [local_not_global_claim(metrics, head)],
        [],
        [],
        shared,
    )


def metric_table(metrics) -> Table:
    shown = {"silhouette": lambda v: f"{v:.3f}", "knn_accuracy": formatting.pct}
    rows = [
        [f"{k} encoder", *[shown.get(s, formatting.ratio)(m[s]) for s in METRICS]]
        for k, m in metrics.items()
    ]
    headers = ["encoder", "within-digit", "between-digit", "ratio", "silhouette", "5-NN accuracy"]
    return Table(headers, rows, [24, 15, 15, 12, 16, 18])


def local_not_global_claim(metrics, head_accuracy: float) -> Claim:
    ae, clf = metrics["autoencoder"], metrics["classifier"]
    text = (
        f"The AE's code keeps the digits apart locally, not globally: a 5-NN classifier on its "
        f"codes is right on {formatting.pct(ae['knn_accuracy'])} of the test digits, more than "
        f"the linear head of Q3 on the same codes ({formatting.pct(head_accuracy)}), yet its "
        f"silhouette is {ae['silhouette']:.3f} (0: overlapping clusters), far below the "
        f"{clf['silhouette']:.3f} of the classifier's code."
    )
    return Claim(
        "latent.local_not_global",
        text,
        "lower(1 - ae_knn, 1 - head) and far(clf_silhouette, ae_silhouette)",
        {
            "ae_knn": ae["knn_accuracy"],
            "head": head_accuracy,
            "ae_silhouette": ae["silhouette"],
            "clf_silhouette": clf["silhouette"],
        },
        "encoders of the Q1 (16, 16) autoencoder and the Q2(i) classifier; 5-NN fitted on the "
        f"60,000 training codes; silhouette on {SILHOUETTE_SAMPLE:,} test codes (seeded); "
        "Q3(i) head; test set",
    )
