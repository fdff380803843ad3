"""Mutation test of the book's checks (issue #17): plant realistic one-line bugs, one at a time,
and see the build's own checks catch them.

Two sets of bugs:

* `BOOK_BUGS`, in the chapter layer (`ex2/chapters/`) and the measurement code
  (`ex2/measurements.py`, `ex2/analysis.py`): a number read from the wrong run, split, seed or
  statistic, a sign error, a dropped draw, a wrong key. Each is applied to a copy of the code and
  run against the cached full-profile results (in a scratch cache whose entries link to the real
  ones, so that recomputed measurements land in the scratch folder, never in the shared cache).
  A bug is *caught* when a claim or a consistency check fails, or the code raises. A bug that
  survives must leave every printed number unchanged: the script compares everything the pages
  print (numbers, claim sentences and values, table rows, figure data) with the unmutated copy.
* `VERIFY_BUGS`, in `verify`'s judging: each must make `python -m verify` exit non-zero (a
  claim or a negative control fails).

    python tests/mutation.py                 # both sets (about 20-40 min on 2 cores)
    python tests/mutation.py --only q2.train_split --only verify.self_compare
    python tests/mutation.py --set verify

Needs the full-profile cache (`python -m ex2 prepare`). `tests/test_mutation.py` runs it as a
`slow` test when `EX2_MUTATION=1`. Exit status 0 when every verify bug fails `python -m verify`,
at least 90 % of the book bugs are caught, and no survivor changes a printed number.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REQUIRED_RATE = 0.9


@dataclass(frozen=True)
class Bug:
    name: str
    path: str  # relative to the repository
    old: str  # must occur exactly once
    new: str
    what: str


BOOK_BUGS = [
    Bug(
        "q1.latent_sign",
        "ex2/chapters/q1.py",
        "latent = {c: relative(l1[(c, 4)], l1[(c, 16)]) for c in (4, 16)}",
        "latent = {c: relative(l1[(c, 16)], l1[(c, 4)]) for c in (4, 16)}",
        "the latent-dimension effect computed with its arguments swapped (a sign error)",
    ),
    Bug(
        "q1.gap_inverted",
        "ex2/chapters/q1.py",
        'ratios = [f["test_l1"] / f["train_l1"] for f in final.values()]',
        'ratios = [f["train_l1"] / f["test_l1"] for f in final.values()]',
        "the overfitting ratio inverted",
    ),
    Bug(
        "q1.still_falling_sign",
        "ex2/chapters/q1.py",
        "name(r.config): relative(r.history.test_loss[-2], r.history.test_loss[-1])",
        "name(r.config): relative(r.history.test_loss[-1], r.history.test_loss[-2])",
        "a sign error in the last-epoch change ('still falling')",
    ),
    Bug(
        "q1.stroke_share_key",
        "ex2/chapters/q1_errors.py",
        'stroke_share = {k: 1 - v["error_share"]["background"] for k, v in q.items()}',
        'stroke_share = {k: 1 - v["error_share"]["border"] for k, v in q.items()}',
        "the stroke pixels' share of the error read from the wrong region",
    ),
    Bug(
        "q1.recognised_swapped",
        "ex2/chapters/q1_errors.py",
        '"d16_c16": missed[(16, 16)],',
        '"d16_c16": missed[(16, 4)],',
        "the d = 16 model's recognition rate read with the d = 4 model's key (copy and paste)",
    ),
    Bug(
        "q2.train_split",
        "ex2/chapters/q2.py",
        'accuracy = {k: r.final["test_accuracy"] for k, r in trained.items()}',
        'accuracy = {k: r.final["train_accuracy"] for k, r in trained.items()}',
        "Q2's accuracies read from the training set",
    ),
    Bug(
        "q2.recall_other_run",
        "ex2/chapters/q2.py",
        "recall = {k: analysis.recall_per_class(labels, p) for k, p in preds.items()}",
        'recall = {k: analysis.recall_per_class(labels, preds["full"]) for k in preds}',
        "the recall of the 100-image run computed from the full-data run's predictions",
    ),
    Bug(
        "q2.seed_1",
        "ex2/chapters/q2.py",
        'preds = {"full": np.asarray(test_predictions(configs.classifiers()["full"]))}',
        'preds = {"full": np.asarray(test_predictions(configs.repeated(configs.classifiers())'
        '["full"][1]))}',
        "Q2(i)'s predictions (confusion matrix, recall) read from seed 1",
    ),
    Bug(
        "q3.sem_as_std",
        "ex2/chapters/q3.py",
        "mean, std = formatting.mean_std(diff)\n    return mean, std,",
        "mean, std = formatting.mean_std(diff)\n    return mean, std / len(diff) ** 0.5,",
        "the standard error printed as the standard deviation",
    ),
    Bug(
        "q3.drop_draw",
        "ex2/chapters/q3.py",
        '(who, part): [experiments.run(c).final["test_accuracy"] for c in cfgs]',
        '(who, part): [experiments.run(c).final["test_accuracy"] for c in cfgs[1:]]',
        "one draw (and one seed) dropped from every Q3 mean",
    ),
    Bug(
        "q3.knn_wrong_encoder",
        "ex2/chapters/q3.py",
        'knn = latent_geometry(configs.pretrained_autoencoder(), latent.embed_n())["metrics"]',
        'knn = latent_geometry(configs.classifiers()["full"], latent.embed_n())["metrics"]',
        "the 5-NN accuracy read from the classifier's codes instead of the autoencoder's",
    ),
    Bug(
        "q3.wrong_autoencoder",
        "ex2/chapters/q3.py",
        "autoencoder = experiments.run(configs.pretrained_autoencoder())",
        "autoencoder = experiments.run(configs.autoencoders()[0])",
        "the training time of the wrong autoencoder counted",
    ),
    Bug(
        "q3.full_reads_subset",
        "ex2/chapters/q3.py",
        'diffs = differences(acc, "full")',
        'diffs = differences(acc, "subset")',
        "the all-labels verdict computed from the 100-label runs",
    ),
    Bug(
        "q4.ratio_wrong_quantity",
        "ex2/chapters/q4.py",
        'code = {k: distances[f"code {k}"]["ratio"] for k in ("autoencoder", "classifier")}',
        'code = {k: distances[f"code {k}"]["between"] for k in ("autoencoder", "classifier")}',
        "the Q4(d) ratio read from the between-digit distance",
    ),
    Bug(
        "q4.own_train_l1",
        "ex2/chapters/q4.py",
        'own = experiments.run(configs.pretrained_autoencoder()).final["test_l1"]',
        'own = experiments.run(configs.pretrained_autoencoder()).final["train_l1"]',
        "the Q1 autoencoder's L1 read from the training set",
    ),
    Bug(
        "q4.within_wrong_base",
        "ex2/chapters/q4.py",
        '/ distances["input"]["within"] for k in trained}',
        '/ distances[f"code {k}"]["within"] for k in trained}',
        "the in-class spread divided by the codes' spread instead of the inputs'",
    ),
    Bug(
        "spread.floor_wrong_baseline",
        "ex2/chapters/spread.py",
        'diffs = {k: np.asarray(subset[k]) - np.asarray(subset["nn"]) for k in ("q2", "q3")}',
        'diffs = {k: np.asarray(subset[k]) - np.asarray(subset["q3"]) for k in ("q2", "q3")}',
        "the 1-NN floor replaced by the Q3 accuracies",
    ),
    Bug(
        "spread.sweeps_swapped",
        "ex2/chapters/spread.py",
        'return {"draw": configs.draw_sweep(subset), "seed": configs.seed_sweep(subset)}',
        'return {"draw": configs.seed_sweep(subset), "seed": configs.draw_sweep(subset)}',
        "the sweep over draws and the sweep over seeds swapped",
    ),
    Bug(
        "shift.accuracy_at_1px",
        "ex2/chapters/shift.py",
        "unshifted = curve[0]",
        "unshifted = curve[1]",
        "the unshifted accuracy read at a shift of one pixel",
    ),
    Bug(
        "latent.swapped_encoders",
        "ex2/chapters/latent.py",
        'ae, clf = metrics["autoencoder"], metrics["classifier"]',
        'ae, clf = metrics["classifier"], metrics["autoencoder"]',
        "the two encoders' metrics swapped",
    ),
    Bug(
        "labels100.drop_draw",
        "ex2/chapters/labels100.py",
        "draws = range(configs.spread_draws())",
        "draws = range(configs.spread_draws() - 1)",
        "one draw dropped from the 100-label methods",
    ),
    Bug(
        "analysis.recall_as_precision",
        "ex2/analysis.py",
        "return np.array([(predictions[labels == d] == d).mean() for d in range(10)])",
        "return np.array([(labels[predictions == d] == d).mean() for d in range(10)])",
        "recall computed as precision",
    ),
    Bug(
        "analysis.shift_forgets_k",
        "ex2/analysis.py",
        "accuracy(model, shift_images(images, k * dy, k * dx), labels)",
        "accuracy(model, shift_images(images, dy, dx), labels)",
        "every shift of the curve one pixel long",
    ),
    Bug(
        "analysis.consistency_self",
        "ex2/analysis.py",
        '"consistency": (preds[0] == preds[1]).float().mean().item(),',
        '"consistency": (preds[0] == preds[0]).float().mean().item(),',
        "the shift consistency compares a prediction with itself",
    ),
    Bug(
        "analysis.centre_axes",
        "ex2/analysis.py",
        "rows = (mass.sum(2) * torch.arange(h)).sum(1) / total",
        "rows = (mass.sum(1) * torch.arange(h)).sum(1) / total",
        "the centre of mass's row computed from the column profile",
    ),
    Bug(
        "measurements.two_directions",
        "ex2/measurements.py",
        '"curve": [sum(a) / len(a) for a in by_direction],',
        '"curve": [sum(a[:2]) / len(a[:2]) for a in by_direction],',
        "the shift curve averaged over two of the four directions",
    ),
    Bug(
        "measurements.border_overlaps",
        "ex2/measurements.py",
        '"border": (x > 0) & (x < STROKE_CORE),',
        '"border": (x >= 0) & (x < STROKE_CORE),',
        "the stroke-border region includes the background",
    ),
    Bug(
        "measurements.recognise_inputs",
        "ex2/measurements.py",
        "recognised = predictions(run(classifier).model, x_hat) == mnist.test_labels",
        "recognised = predictions(run(classifier).model, x) == mnist.test_labels",
        "the classifier recognises the inputs instead of the reconstructions",
    ),
    Bug(
        "measurements.nn_one_draw",
        "ex2/measurements.py",
        "idx = random_subset(TRAIN_IMAGES, subset_size, draw)",
        "idx = random_subset(TRAIN_IMAGES, subset_size, 0)",
        "the 1-NN floor on draw 0 for every draw",
    ),
    Bug(
        "measurements.predict_train",
        "ex2/measurements.py",
        "return predictions(run(classifier).model, load_mnist().test_images).tolist()",
        "return predictions(run(classifier).model, load_mnist().train_images[:10000]).tolist()",
        "test predictions made on training images",
    ),
    Bug(
        "measurements.l2_for_l1",
        "ex2/measurements.py",
        '"l1": (recon - x).abs().mean(dim=(1, 2, 3)).tolist(),',
        '"l1": (recon - x).pow(2).mean(dim=(1, 2, 3)).tolist(),',
        "the per-image error measured as L2",
    ),
    Bug(
        "measurements.squared_distance",
        "ex2/measurements.py",
        '"to_mean": analysis.distance_to_class_mean(recon, y, means).tolist(),',
        '"to_mean": analysis.distance_to_class_mean(recon, y, means).pow(2).tolist(),',
        "reconstructions' distances to the digit's mean squared",
    ),
]

VERIFY_BUGS = [
    Bug(
        "verify.self_compare",
        "verify/equivariance.py",
        "return float((layer(shift(x, s)) - shift(layer(x), t)).abs().max())",
        "return float((layer(shift(x, s)) - layer(shift(x, s))).abs().max())",
        "an equivariance check that compares a quantity with itself",
    ),
    Bug(
        "verify.shape_mismatch_zero",
        "verify/jacobian.py",
        'error = float("inf")',
        "error = 0.0",
        "a shape mismatch counted as zero error",
    ),
    Bug(
        "verify.min_over_shifts",
        "verify/equivariance.py",
        "err, s, t = max(",
        "err, s, t = min(",
        "the best shift instead of the worst",
    ),
    Bug(
        "verify.loose_identity",
        "verify/results.py",
        "IDENTITY_TOL = 1e-12",
        "IDENTITY_TOL = 1e-6",
        "a loosened identity tolerance",
    ),
    Bug(
        "verify.tiny_violation",
        "verify/results.py",
        "VIOLATION_TOL = 1e-6",
        "VIOLATION_TOL = 1e-15",
        "rounding counted as a violation",
    ),
    Bug(
        "verify.avg_is_max",
        "verify/layers.py",
        "pool = F.avg_pool1d if dims == 1 else F.avg_pool2d",
        "pool = F.max_pool1d if dims == 1 else F.max_pool2d",
        "average pooling silently replaced by max pooling",
    ),
    Bug(
        "verify.toeplitz_upper_only",
        "verify/toeplitz.py",
        "diagonals = (np.diagonal(M, d) for d in range(-rows + 1, cols))",
        "diagonals = (np.diagonal(M, d) for d in range(0, cols))",
        "a Toeplitz deviation that ignores the lower diagonals",
    ),
    Bug(
        "verify.half_the_shifts",
        "verify/shift.py",
        "even1 = [s for s in all_shifts((12,)) if s[0] % 2 == 0]",
        "even1 = [s for s in all_shifts((12,)) if s[0] % 4 == 0]",
        "a pooling claim that tests half its shifts",
    ),
    Bug(
        "verify.max_not_min_over_shifts",
        "verify/equivariance.py",
        "quantity, min(violation.values())",
        "quantity, max(violation.values())",
        "'every shift breaks it' judged by the worst shift",
    ),
    Bug(
        "verify.worst_output_shift",
        "verify/equivariance.py",
        "if best is None or err < best[0]:",
        "if best is None or err > best[0]:",
        "the farthest output shift taken as the nearest",
    ),
    Bug(
        "verify.interior_wraps",
        "verify/equivariance.py",
        "return (n - s >= 0) & (n - s < n_out) & (first >= max(s, 0)) & (last < n_in + min(s, 0))",
        "return (n - s >= 0) & (n - s < n_out) & (first >= max(s, 0)) & (last < n_in)",
        "the interior mask includes positions that wrapped around",
    ),
    Bug(
        "verify.circulant_unrotated",
        "verify/toeplitz.py",
        "rotated = np.roll(M[:-1], 1, axis=1)",
        "rotated = np.roll(M[:-1], 0, axis=1)",
        "the circulant measure forgets the rotation",
    ),
    Bug(
        "verify.block_outer_self",
        "verify/toeplitz.py",
        "outer = np.abs(blocks[1:, 1:] - blocks[:-1, :-1])",
        "outer = np.abs(blocks[1:, 1:] - blocks[1:, 1:])",
        "the block-Toeplitz measure compares each block with itself",
    ),
    Bug(
        "verify.nan_passes",
        "verify/results.py",
        "if math.isnan(error):\n        return False",
        "if math.isnan(error):\n        return True",
        "a NaN error (nothing compared) passes",
    ),
]


# --------------------------------------------------------------------------- running one copy


def copy_tree(dest: Path, source: Path = REPO) -> Path:
    for folder in ("ex2", "verify", "bench"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(source / folder, dest / folder, ignore=ignore)
    return dest


def apply(tree: Path, bug: Bug) -> None:
    path = tree / bug.path
    text = path.read_text()
    if text.count(bug.old) != 1:
        raise SystemExit(
            f"{bug.name}: expected the line once in {bug.path}, found {text.count(bug.old)}"
        )
    path.write_text(text.replace(bug.old, bug.new))


def scratch_cache(dest: Path, runs: Path) -> Path:
    """A cache folder whose entries link to the real cache's: reads hit the real results, new
    measurements are written here."""
    dest.mkdir()
    (dest / ".locks").mkdir()
    for entry in runs.iterdir():
        if not entry.name.startswith("."):
            (dest / entry.name).symlink_to(entry)
    return dest


def environment(tree: Path, cache: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EX2_")}
    data = os.environ.get("EX2_DATA_ROOT", str(REPO / "data"))
    return env | {
        "PYTHONPATH": str(tree),
        "EX2_RUNS_DIR": str(cache),
        "EX2_DATA_ROOT": data,
        "EX2_PROFILE": "full",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def printable(obj, depth: int = 0):
    """What the pages print of a chapter's results, as JSON: numbers, sentences, table rows,
    and a digest of every array a figure draws."""
    import numpy as np
    import torch

    from ex2.claims import Claim, Interpretation
    from ex2.experiments import RunResult

    if isinstance(obj, RunResult):
        return {
            "final": printable(obj.final),
            "history": printable(obj.history.to_dict()),
            "train_seconds": obj.train_seconds,
        }
    if isinstance(obj, Claim):
        return {"text": obj.text, "values": printable(obj.values), "holds": obj.holds}
    if isinstance(obj, Interpretation):
        return obj.text
    if isinstance(obj, torch.nn.Module):
        return None  # a model is printed only through what it computed
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        a = np.asarray(obj.detach().numpy() if isinstance(obj, torch.Tensor) else obj, dtype=float)
        return {
            "shape": list(a.shape),
            "sha256": hashlib.sha256(np.round(a, 6).tobytes()).hexdigest(),
        }
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: printable(getattr(obj, f.name), depth + 1) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): printable(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [printable(v, depth + 1) for v in obj]
    if isinstance(obj, float):
        return round(obj, 10)
    if obj is None or isinstance(obj, (int, str, bool)):
        return obj
    return str(obj)


def snapshot() -> dict:
    """Run inside a copy: every chapter's printed results, and the claims and checks that fail."""
    from ex2 import chapters
    from ex2.chapters import glance

    book = chapters.checked()
    printed = {n: printable(chapters.module(n).results()) for n in chapters.WITH_EXPERIMENTS}
    printed["glance"] = glance.table()[0].rows
    failed = [c.id for c in book.claims + book.checks if not c.holds]
    return {"failed": failed, "printed": printed}


def run_book(tree: Path, cache: Path) -> dict:
    """The snapshot of a copy, or {"crashed": message} when it raises."""
    done = subprocess.run(
        ["nice", "-n", "19", sys.executable, str(Path(__file__).resolve()), "--snapshot"],
        cwd=tree,
        env=environment(tree, cache),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return {"crashed": (done.stderr.strip().splitlines() or ["no output"])[-1][:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_verify(tree: Path, cache: Path) -> tuple[int, str]:
    """python -m verify's exit status, and what failed (the FAIL lines' ids, or the error)."""
    done = subprocess.run(
        ["nice", "-n", "19", sys.executable, "-m", "verify"],
        cwd=tree,
        env=environment(tree, cache),
        capture_output=True,
        text=True,
    )
    failed = [ln.split()[0] for ln in done.stdout.splitlines() if ln.endswith("FAIL")]
    if done.returncode != 0 and not failed:
        return done.returncode, "raised: " + (done.stderr.strip().splitlines() or ["?"])[-1][:150]
    return done.returncode, "failed: " + ", ".join(failed)


def differences(a, b, path: str = "") -> list[str]:
    """Where two snapshots differ: every path whose value differs, numbers beyond rounding."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += differences(a.get(k), b.get(k), f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):
        # recomputed measurements may differ by float rounding (summation order): far below
        # any printed digit
        return [] if abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b)) else [path]
    return [] if a == b else [path]


# --------------------------------------------------------------------------- the two sets


def book_mutations(bugs: list[Bug], runs: Path, work: Path, source: Path) -> list[dict]:
    base_tree = copy_tree(work / "base", source)
    baseline = run_book(base_tree, scratch_cache(work / "base-cache", runs))
    if "crashed" in baseline or baseline["failed"]:
        raise SystemExit(f"the unmutated book does not pass: {baseline}")
    results = []
    for bug in bugs:
        start = time.perf_counter()
        tree = copy_tree(work / bug.name, source)
        apply(tree, bug)
        outcome = run_book(tree, scratch_cache(work / f"{bug.name}-cache", runs))
        if "crashed" in outcome:
            verdict, detail = "caught", f"raised: {outcome['crashed']}"
        elif outcome["failed"]:
            verdict, detail = "caught", "failed: " + ", ".join(outcome["failed"])
        else:
            changed = differences(baseline["printed"], outcome["printed"])
            verdict = (
                "survived, printed numbers changed"
                if changed
                else "survived, nothing printed changed"
            )
            detail = ", ".join(changed[:5])
        results.append({"bug": bug.name, "what": bug.what, "verdict": verdict, "detail": detail})
        print(
            f"{bug.name:34} {verdict:34} {time.perf_counter() - start:5.0f} s  {detail}", flush=True
        )
        shutil.rmtree(tree)
    return results


def verify_mutations(bugs: list[Bug], work: Path, source: Path) -> list[dict]:
    results = []
    for bug in bugs:
        tree = copy_tree(work / bug.name, source)
        apply(tree, bug)
        status, detail = run_verify(tree, work)
        verdict = "caught" if status != 0 else "survived"
        results.append({"bug": bug.name, "what": bug.what, "verdict": verdict, "detail": detail})
        print(f"{bug.name:34} {verdict:10} exit {status}  {detail}", flush=True)
        shutil.rmtree(tree)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", action="append", default=[], help="run only these bugs")
    parser.add_argument("--set", choices=("book", "verify", "both"), default="both")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if args.snapshot:
        print(json.dumps(snapshot()))
        return 0
    chosen = lambda bugs, name: [  # noqa: E731
        b for b in bugs if args.set in (name, "both") and (not args.only or b.name in args.only)
    ]
    runs = Path(os.environ.get("EX2_RUNS_DIR", REPO / "runs")).resolve()
    with tempfile.TemporaryDirectory(prefix="ex2-mutation-") as tmp:
        work = Path(tmp)
        source = copy_tree(work / "source")  # the code as it is now, whatever happens meanwhile
        verify_results = verify_mutations(chosen(VERIFY_BUGS, "verify"), work, source)
        book_bugs = chosen(BOOK_BUGS, "book")
        book_results = book_mutations(book_bugs, runs, work, source) if book_bugs else []
    caught = sum(r["verdict"] == "caught" for r in book_results)
    bad = [r for r in book_results if r["verdict"] == "survived, printed numbers changed"]
    verify_caught = sum(r["verdict"] == "caught" for r in verify_results)
    rate = caught / len(book_results) if book_results else 1.0
    print(
        f"book bugs: {caught} of {len(book_results)} caught ({100 * rate:.0f} %), "
        f"{len(bad)} survivors changed a printed number; "
        f"verify bugs: {verify_caught} of {len(verify_results)} fail python -m verify"
    )
    if args.json:
        args.json.write_text(json.dumps({"book": book_results, "verify": verify_results}, indent=1))
    ok = rate >= REQUIRED_RATE and not bad and verify_caught == len(verify_results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
