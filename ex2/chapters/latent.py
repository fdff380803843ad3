"""Beyond the exercise: the latent spaces of the AE and classifier encoders, measured directly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ex2 import formatting
from ex2.chapters import runs as R
from ex2.claims import Claim
from ex2.config import profile
from ex2.data import load_mnist
from ex2.measurements import latent_geometry

METRICS = ("within", "between", "ratio", "silhouette", "knn_accuracy")


def embed_n() -> int:
    return 2000 if profile() == "full" else 300  # t-SNE's cost grows fast with the points


def encoders():
    return {"autoencoder": R.pretrained_autoencoder(), "classifier": R.classifiers()["full"]}


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


def results() -> Latent:
    measured = {k: latent_geometry(cfg, embed_n()) for k, cfg in encoders().items()}
    metrics = {k: m["metrics"] for k, m in measured.items()}
    numbers = {"latent_embed_n": formatting.count(embed_n())}
    for k, m in metrics.items():
        numbers[f"latent_{k}_silhouette"] = f"{m['silhouette']:.3f}"
        numbers[f"latent_{k}_knn"] = formatting.pct(m["knn_accuracy"])
        numbers[f"latent_{k}_ratio"] = formatting.ratio(m["ratio"])
    return Latent(
        metrics,
        {k: np.asarray(m["pca"]) for k, m in measured.items()},
        {k: np.asarray(m["tsne"]) for k, m in measured.items()},
        embed_n(),
        load_mnist().test_labels.numpy(),
        numbers,
        [local_not_global_claim(metrics)],
    )


def metric_rows(metrics) -> list[list]:
    return [
        [
            f"{k} encoder",
            *[
                f"{m[s]:.3f}"
                if s == "silhouette"
                else formatting.pct(m[s])
                if s == "knn_accuracy"
                else formatting.ratio(m[s])
                for s in METRICS
            ],
        ]
        for k, m in metrics.items()
    ]


def local_not_global_claim(metrics) -> Claim:
    ae, clf = metrics["autoencoder"], metrics["classifier"]
    text = (
        f"The AE's code is locally class-consistent but not globally separated: a 5-NN "
        f"classifier on its codes is right on {formatting.pct(ae['knn_accuracy'])} of the test "
        f"digits, yet its silhouette is only {ae['silhouette']:.3f} (0: overlapping clusters), "
        f"against {clf['silhouette']:.3f} for the classifier's code. Digits of one class lie "
        "in connected but interleaved regions: a neighbourhood method reads them, a linear "
        "layer (Q3) much less."
    )
    return Claim(
        "latent.local_not_global",
        text,
        "ae_knn > 0.95 and ae_silhouette < 0.25 and clf_silhouette > 2 * ae_silhouette",
        {
            "ae_knn": ae["knn_accuracy"],
            "ae_silhouette": ae["silhouette"],
            "clf_silhouette": clf["silhouette"],
        },
    )
