"""Q3: a linear head on the frozen encoder of the Q1 (16, 16) autoencoder, against Q2."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ex2 import experiments, formatting
from ex2.chapters import runs as R
from ex2.claims import Claim, either
from ex2.experiments import RunResult
from ex2.models import count_parameters


def runs():
    return list(R.heads().values())


def measurements():
    return []


@dataclass
class Q3:
    q2: dict[str, RunResult]
    q3: dict[str, RunResult]
    comparison_rows: list[list]
    numbers: dict[str, str]
    claims: list[Claim]


def results() -> Q3:
    q2 = {k: experiments.run(c) for k, c in R.classifiers().items()}
    q3 = {k: experiments.run(c) for k, c in R.heads().items()}
    if q3["subset"].subset_indices != q2["subset"].subset_indices:
        raise AssertionError("Q3(ii) must train on the same 100 images as Q2(ii)")
    spread = {"q2": R.repeated(R.classifiers()), "q3": R.repeated(R.heads())}
    acc = {
        (who, part): [experiments.run(c).final["test_accuracy"] for c in cfgs]
        for who, parts in spread.items()
        for part, cfgs in parts.items()
    }
    numbers = describe(q2, q3, acc)
    claims = [subset_verdict(acc), full_verdict(acc, q2, q3), curves_claim(q2, q3)]
    return Q3(q2, q3, comparison_rows(q2, q3), numbers, claims)


def trainable(r: RunResult) -> int:
    return count_parameters(r.model.head if r.config.task == "head" else r.model)


def comparison_rows(q2, q3) -> list[list]:
    rows = []
    for key, label in (("full", "60,000 images"), ("subset", "100 images")):
        for tag, r in (("Q2 end to end", q2[key]), ("Q3 frozen encoder + linear", q3[key])):
            rows.append(
                [
                    label,
                    tag,
                    trainable(r),
                    formatting.pct(r.final["train_accuracy"]),
                    formatting.pct(r.final["test_accuracy"]),
                    formatting.seconds(r.train_seconds),
                ]
            )
    return rows


def describe(q2, q3, acc) -> dict[str, str]:
    numbers = {"q3_head_params": formatting.count(trainable(q3["full"]))}
    for key in ("full", "subset"):
        numbers[f"q3_{key}_acc"] = formatting.pct(q3[key].final["test_accuracy"])
        numbers[f"q3_{key}_vs_q2"] = formatting.points(
            q3[key].final["test_accuracy"] - q2[key].final["test_accuracy"]
        )
        numbers[f"q3_{key}_seconds"] = formatting.seconds(q3[key].train_seconds)
        numbers[f"q2_{key}_seconds"] = formatting.seconds(q2[key].train_seconds)
    for (who, part), values in acc.items():
        numbers[f"q3_spread_{who}_{part}"] = formatting.pm(values) + " %"
    for part in ("subset", "full"):
        mean, std, wins = paired(acc[("q3", part)], acc[("q2", part)])
        numbers[f"q3_gain_{part}"] = f"{100 * mean:+.2f} ± {100 * std:.2f} points"
        numbers[f"q3_wins_{part}"] = f"{wins} of {len(acc[('q3', part)])}"
    numbers["q3_draws"] = str(len(acc[("q2", "subset")]))
    numbers["q3_seeds"] = str(len(acc[("q2", "full")]))
    return numbers


def paired(a: list[float], b: list[float]) -> tuple[float, float, int]:
    diff = np.asarray(a) - np.asarray(b)
    mean, std = formatting.mean_std(diff)
    return mean, std, int((diff > 0).sum())


def subset_verdict(acc) -> Claim:
    mean, std, wins = paired(acc[("q3", "subset")], acc[("q2", "subset")])
    n = len(acc[("q3", "subset")])
    useful = mean > std and wins == n
    text = either(
        useful, "**Yes, with few labels.** ", "**Not clearly, even with few labels.** "
    ) + (
        f"With 100 labels the frozen autoencoder encoder plus a linear layer beats the CNN "
        f"trained from scratch by {100 * mean:+.2f} ± {100 * std:.2f} points (paired over {n} "
        f"draws of the 100 images; ahead on {wins} of {n})."
        if useful
        else f"With 100 labels the frozen encoder differs from the CNN trained from scratch by "
        f"{100 * mean:+.2f} ± {100 * std:.2f} points over {n} draws (ahead on {wins})."
    )
    condition = "mean > std and wins == n" if useful else "not (mean > std and wins == n)"
    return Claim(
        "q3.verdict.few_labels", text, condition, {"mean": mean, "std": std, "wins": wins, "n": n}
    )


def full_verdict(acc, q2, q3) -> Claim:
    mean, std, wins = paired(acc[("q3", "full")], acc[("q2", "full")])
    speed = q2["full"].train_seconds / q3["full"].train_seconds
    text = (
        f"**With all labels it costs accuracy:** the frozen encoder is {100 * mean:+.2f} ± "
        f"{100 * std:.2f} points behind end-to-end training over {len(acc[('q3', 'full')])} "
        f"seeds, because a reconstruction code is not shaped for classes; its gain there is "
        f"only speed ({speed:.0f}× faster to train, {trainable(q3['full'])} trainable "
        "parameters)."
    )
    return Claim(
        "q3.verdict.all_labels",
        text,
        "mean < -std and mean < 0 and speedup > 1",
        {"mean": mean, "std": std, "speedup": speed},
    )


def curves_claim(q2, q3) -> Claim:
    q2s, q3s, q3f = q2["subset"].final, q3["subset"].final, q3["full"].final
    text = (
        f"The curves differ in kind. Q2(ii) drives its training cross-entropy down to "
        f"{q2s['train_loss']:.1e} while its test cross-entropy stays at {q2s['test_loss']:.2f}: "
        f"a network with {trainable(q2['subset']):,} free parameters memorises 100 images. "
        f"The Q3(ii) head cannot: its training loss ends at {q3s['train_loss']:.2f} and its "
        f"test loss at {q3s['test_loss']:.2f}, a far smaller gap. With all labels the head "
        f"underfits: its training accuracy ({formatting.pct(q3f['train_accuracy'])}) is no "
        f"higher than its test accuracy ({formatting.pct(q3f['test_accuracy'])})."
    )
    values = {
        "q2_train": q2s["train_loss"],
        "q2_test": q2s["test_loss"],
        "q3_train": q3s["train_loss"],
        "q3_test": q3s["test_loss"],
        "q3_full_train_acc": q3f["train_accuracy"],
        "q3_full_test_acc": q3f["test_accuracy"],
    }
    condition = (
        "q2_test > 100 * q2_train and q3_test / q3_train < q2_test / q2_train / 10 "
        "and q3_full_train_acc <= q3_full_test_acc + 0.002"
    )
    return Claim("q3.curves", text, condition, values)
