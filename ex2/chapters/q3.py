"""Q3: a linear head on the frozen encoder of the Q1 (16, 16) autoencoder, against Q2."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ex2 import experiments, formatting
from ex2.chapters import configs, latent
from ex2.claims import Check, Claim, Interpretation
from ex2.experiments import RunResult
from ex2.formatting import Table
from ex2.measurements import latent_geometry
from ex2.models import count_parameters


def runs():
    return list(configs.heads().values())


def measurements():
    return []


@dataclass
class Q3:
    q2: dict[str, RunResult]
    q3: dict[str, RunResult]
    comparison: Table
    numbers: dict[str, str]
    claims: list[Claim]
    checks: list[Check]
    interpretations: list[Interpretation]
    shared: dict


INTERPRETATIONS = [
    Interpretation(
        "q3.verdict.why_few_labels",
        "The encoder of Q2(ii) must learn its features from 100 images, while the frozen "
        "encoder brings features learned from all 60,000 *unlabelled* images and only the "
        "linear layer's parameters are fit to the 100 labels. This is the regime unsupervised "
        "pretraining is for.",
        "no run that varies the number of unlabelled images the autoencoder saw",
    )
]


def accuracies() -> dict[tuple[str, str], list[float]]:
    """Test accuracy of the Q2 and Q3 runs, over draws (100 images) and seeds (all images)."""
    spread = {
        "q2": configs.repeated(configs.classifiers()),
        "q3": configs.repeated(configs.heads()),
    }
    return {
        (who, part): [experiments.run(c).final["test_accuracy"] for c in cfgs]
        for who, parts in spread.items()
        for part, cfgs in parts.items()
    }


@functools.cache
def results() -> Q3:
    q2 = {k: experiments.run(c) for k, c in configs.classifiers().items()}
    q3 = {k: experiments.run(c) for k, c in configs.heads().items()}
    if q3["subset"].subset_indices != q2["subset"].subset_indices:
        raise AssertionError("Q3(ii) must train on the same 100 images as Q2(ii)")
    acc = accuracies()
    autoencoder = experiments.run(configs.pretrained_autoencoder())
    knn = latent_geometry(configs.pretrained_autoencoder(), latent.embed_n())["metrics"][
        "knn_accuracy"
    ]
    numbers = describe(q2, q3, acc)
    claims = [
        subset_verdict(acc),
        full_verdict(acc),
        code_claim(q3["full"], knn),
        speed_claim(q2["full"], q3["full"], autoencoder),
        curves_claim(q2, q3),
    ]
    checks = [pairing_check(acc), encoder_check(q3["full"], autoencoder)]
    shared = {
        "q2.full.test_accuracy": q2["full"].final["test_accuracy"],
        "q2.subset.test_accuracy": q2["subset"].final["test_accuracy"],
        "q3.subset.test_accuracy": q3["subset"].final["test_accuracy"],
        "draws": len(acc[("q2", "subset")]),
        "seeds": len(acc[("q2", "full")]),
        "spread.q2.subset": acc[("q2", "subset")],
        "spread.q3.subset": acc[("q3", "subset")],
        "spread.q2.full": acc[("q2", "full")],
        "spread.q3.full": acc[("q3", "full")],
        "latent.autoencoder.knn_accuracy": knn,
    }
    table = comparison_table(q2, q3)
    return Q3(q2, q3, table, numbers, claims, checks, INTERPRETATIONS, shared)


def trainable(r: RunResult) -> int:
    return count_parameters(r.model.head if r.config.task == "head" else r.model)


def comparison_table(q2, q3) -> Table:
    rows = []
    for key, label in (("full", "60,000 images"), ("subset", "100 images")):
        for tag, r in (("Q2 end to end", q2[key]), ("Q3 frozen encoder + linear", q3[key])):
            accuracies = [formatting.pct(r.final[f"{s}_accuracy"]) for s in ("train", "test")]
            rows.append(
                [label, tag, trainable(r), *accuracies, formatting.seconds(r.train_seconds)]
            )
    headers = ["data", "model", "trainable parameters", "train accuracy", "test accuracy"]
    return Table(headers + ["training time"], rows, [14, 30, 14, 14, 14, 14])


def describe(q2, q3, acc) -> dict[str, str]:
    numbers = {}
    for (who, part), values in acc.items():
        numbers[f"q3_spread_{who}_{part}"] = formatting.pm(values) + " %"
    for part in ("subset", "full"):
        mean, std, _ = paired(acc[("q3", part)], acc[("q2", part)])
        numbers[f"q3_gain_{part}"] = formatting.points(mean, std)
    numbers["q3_draws"] = str(len(acc[("q2", "subset")]))
    numbers["q3_seeds"] = str(len(acc[("q2", "full")]))
    return numbers


def paired(a: list[float], b: list[float]) -> tuple[float, float, int]:
    diff = np.asarray(a) - np.asarray(b)
    mean, std = formatting.mean_std(diff)
    return mean, std, int((diff > 0).sum())


def differences(acc, part: str) -> list[float]:
    return (np.asarray(acc[("q3", part)]) - np.asarray(acc[("q2", part)])).tolist()


def subset_verdict(acc) -> Claim:
    diffs = differences(acc, "subset")
    mean, std, wins = paired(acc[("q3", "subset")], acc[("q2", "subset")])
    n = len(diffs)
    text = (
        f"**Yes, with few labels.** With 100 labels the frozen autoencoder encoder plus a "
        f"linear layer beats the CNN trained from scratch by {formatting.points(mean, std)} "
        f"(mean ± std of the difference, paired over {n} draws of the "
        f"100 images, each with its own model seed; ahead on {wins} of {n})."
    )
    return Claim(
        "q3.verdict.few_labels",
        text,
        "clearly_ahead(q3_minus_q2) and same(printed_mean, mean(q3_minus_q2)) "
        "and same(printed_std, std(q3_minus_q2))",
        {"q3_minus_q2": diffs, "printed_mean": mean, "printed_std": std},
        f"Q3(ii) and Q2(ii) on draws 0..{n - 1} (draw k: subset seed k, model seed k); test set",
        short="Unsupervised pretraining pays off with 100 labels",
    )


def full_verdict(acc) -> Claim:
    diffs = differences(acc, "full")
    mean, std, _ = paired(acc[("q3", "full")], acc[("q2", "full")])
    n = len(diffs)
    text = (
        f"**With all labels it costs accuracy:** the frozen encoder is "
        f"{formatting.points(-mean, std, sign='')} behind end-to-end training (paired over "
        f"{n} seeds)."
    )
    return Claim(
        "q3.verdict.all_labels",
        text,
        "clearly_behind(q3_minus_q2) and same(printed_mean, mean(q3_minus_q2)) "
        "and same(printed_std, std(q3_minus_q2))",
        {"q3_minus_q2": diffs, "printed_mean": mean, "printed_std": std},
        f"Q3(i) and Q2(i) with model seeds 0..{n - 1}; test set",
        short="with all labels it costs accuracy",
    )


def code_claim(head: RunResult, knn: float) -> Claim:
    acc = head.final["test_accuracy"]
    text = (
        f"The class is in the autoencoder's code, but a linear layer reads less of it: a "
        f"5-nearest-neighbour classifier on the same frozen codes (fitted on the 60,000 training "
        f"codes) is right on {formatting.pct(knn)} of the test digits, against "
        f"{formatting.pct(acc)} for the linear head, which makes {(1 - acc) / (1 - knn):.1f} "
        "times as many errors."
    )
    return Claim(
        "q3.code_not_linear",
        text,
        "lower(knn_error, head_error)",
        {"knn_error": 1 - knn, "head_error": 1 - acc},
        "Q3(i) head and a 5-NN classifier on the codes of the Q1 (16, 16) encoder; all 60,000 "
        "training labels; test set",
    )


def speed_claim(classifier: RunResult, head: RunResult, autoencoder: RunResult) -> Claim:
    clf, h, ae = classifier.train_seconds, head.train_seconds, autoencoder.train_seconds
    text = (
        f"Its gain there is speed, and only once the autoencoder exists: the head trains in "
        f"{formatting.seconds(h)} against {formatting.seconds(clf)} for the whole classifier "
        f"({clf / h:.0f}× faster), but counted with the autoencoder's own "
        f"{formatting.seconds(ae)} of training, the frozen route takes "
        f"{formatting.seconds(ae + h)}, {(ae + h) / clf:.1f}× the end-to-end training's."
    )
    return Claim(
        "q3.speed",
        text,
        "far(classifier, head) and higher(autoencoder + head, classifier)",
        {"classifier": clf, "head": h, "autoencoder": ae},
        "wall time of each run's training when it ran in this build (one thread per job)",
    )


def curves_claim(q2, q3) -> Claim:
    q2s, q3s, q3f = q2["subset"].final, q3["subset"].final, q3["full"].final
    text = (
        f"The curves differ in kind. Q2(ii) drives its training cross-entropy down to "
        f"{q2s['train_loss']:.1e} while its test cross-entropy stays at {q2s['test_loss']:.2f}: "
        f"a network with {trainable(q2['subset']):,} free parameters memorises 100 images. "
        f"The Q3(ii) head does not: its training loss ends at {q3s['train_loss']:.2f} and its "
        f"test loss at {q3s['test_loss']:.2f}, a far smaller gap. With all labels the head "
        f"does not overfit either: its training accuracy "
        f"({formatting.pct(q3f['train_accuracy'])}, the running mean over the last epoch) is no "
        f"higher than its test accuracy ({formatting.pct(q3f['test_accuracy'])})."
    )
    values = {
        "q2_train_acc": q2s["train_accuracy"],
        "q2_test_acc": q2s["test_accuracy"],
        "q3_train_acc": q3s["train_accuracy"],
        "q3_test_acc": q3s["test_accuracy"],
        "q2_train": q2s["train_loss"],
        "q2_test": q2s["test_loss"],
        "q3_train": q3s["train_loss"],
        "q3_test": q3s["test_loss"],
        "q3_full_train_acc": q3f["train_accuracy"],
        "q3_full_test_acc": q3f["test_accuracy"],
    }
    condition = (
        "memorised(q2_train_acc, q2_test_acc) and not memorised(q3_train_acc, q3_test_acc) "
        "and far(q2_test, q2_train) and far(q2_test / q2_train, q3_test / q3_train) "
        "and q3_full_train_acc <= q3_full_test_acc"
    )
    return Claim(
        "q3.curves",
        text,
        condition,
        values,
        "Q2(ii), Q3(ii) (draw 0, seed 0) and Q3(i); final epoch; training set (mean over the "
        "last epoch) and test set",
    )


def pairing_check(acc) -> Check:
    """Both methods were repeated on as many draws and as many seeds."""
    lengths = [len(v) for v in acc.values()]
    return Check(
        "q3.check.pairs",
        "Q2 and Q3 were repeated on the same number of draws, and of seeds",
        "draws_q2 == draws_q3 and seeds_q2 == seeds_q3 and draws_q2 >= 2 and seeds_q2 >= 2",
        {
            "draws_q2": len(acc[("q2", "subset")]),
            "draws_q3": len(acc[("q3", "subset")]),
            "seeds_q2": len(acc[("q2", "full")]),
            "seeds_q3": len(acc[("q3", "full")]),
        },
        f"{lengths}",
    )


def encoder_check(head: RunResult, autoencoder: RunResult) -> Check:
    """The autoencoder whose training time the speed claim counts is the one whose encoder the
    head froze."""
    return Check(
        "q3.check.encoder",
        "the autoencoder counted in q3.speed is the run whose encoder the Q3 head froze",
        "head_encoder == autoencoder",
        {
            "head_encoder": experiments.run_dir(head.config.encoder).name,
            "autoencoder": autoencoder.run_dir.name,
        },
        "the runs' cache folders (config and code hash)",
    )
