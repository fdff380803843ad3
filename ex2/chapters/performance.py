"""The performance appendix: what `make bench` measured (bench/results.json), which speed-ups the
training code keeps because of it, and how its timings relate to the ones this build recorded.
Nothing is timed during the book build; a results file without the measurements the page states
stops the build."""

from __future__ import annotations

import json

from ex2 import experiments, formatting
from ex2.bench import cpu_name
from ex2.chapters import configs
from ex2.claims import Claim
from ex2.data import REPO_ROOT
from ex2.formatting import Table

RESULTS = REPO_ROOT / "bench" / "results.json"
GPU_RESULTS = REPO_ROOT / "bench" / "results-cuda-h200.json"
NEEDED = ("ratios", "schedule", "time_shares", "median", "machine")
# The candidates, what each is measured on, and what the book does with it.
CANDIDATES = {
    "channels_last_ae16": ("channels_last layout", "(16, 16) autoencoder", "used for c = 16"),
    "channels_last_classifier16": ("channels_last layout", "classifier, batch 64", "used"),
    "channels_last_ae4": ("channels_last layout", "(4, 4) autoencoder", "not used for c = 4"),
    "bf16_autocast_ae16": ("bf16 autocast", "(16, 16) autoencoder", "not used"),
    "bf16_autocast_classifier16": ("bf16 autocast", "classifier, batch 64", "not used"),
    "bf16_autocast_ae4": ("bf16 autocast", "(4, 4) autoencoder", "not used"),
}
# bf16 is left out for what it does to the results, whatever its speed. Its sentences say whether it
# is faster in every repeat of the committed bench: a bench run that disagrees fails the build, and
# the wording here is then updated by hand (never chosen by the data).
BF16_FASTER = {"bf16_autocast_ae16": True, "bf16_autocast_classifier16": True}


def load() -> dict[str, dict]:
    """The CPU results (required, with every part the page states) and a GPU run's, if any."""
    if not RESULTS.exists():
        raise FileNotFoundError(f"{RESULTS} is missing: run `make bench`")
    cpu = json.loads(RESULTS.read_text())
    missing = [k for k in NEEDED if not cpu.get(k)] + [
        k for k in (*CANDIDATES, "book_schedule_speedup") if k not in cpu.get("ratios", {})
    ]
    if missing:
        raise ValueError(f"{RESULTS} lacks {', '.join(missing)}: run `make bench` again")
    gpu = json.loads(GPU_RESULTS.read_text()) if GPU_RESULTS.exists() else None
    return {"CPU": cpu} | ({"GPU": gpu} if gpu else {})


def faster_every_repeat(r: dict) -> bool:
    """The bench's criterion (`bench.Ratio.wins`), evaluated here on the stored timings."""
    return min(a / b for a, b in zip(r["baseline"], r["candidate"])) > 1


def ratio_text(r: dict) -> str:
    return f"{r['median']:.2f}× ({r['min']:.2f}–{r['max']:.2f})"


def numbers(results: dict[str, dict]) -> dict[str, str]:
    cpu = results["CPU"]
    m, schedule = cpu["median"], cpu["schedule"]
    shares = cpu["time_shares"]
    return {
        "perf_bench_cpu": cpu["machine"]["cpu"],
        "perf_book_cpu": cpu_name(),
        "perf_load": ", ".join(f"{x:.1f}" for x in cpu["load_average"]["before"]),
        "perf_repeats": str(cpu["repeats"]),
        "perf_speedup": ratio_text(cpu["ratios"]["speedup_vs_exercise_pipeline"]),
        "perf_fraction": f"{cpu['step_fraction_of_matmul']:.2f}",
        "perf_step_gflops": f"{m['project_step_gflops']:.1f}",
        "perf_matmul": f"{m['matmul_gflops']:.0f}",
        "perf_mflop_per_image": f"{cpu['flops_per_step'] / cpu['batch_size'] / 1e6:.2f}",
        "perf_step_ms": f"{m['project_ms_per_step']:.1f}",
        "perf_exercise_epoch": formatting.seconds(m["exercise_epoch_s"]),
        "perf_project_epoch": formatting.seconds(m["project_epoch_s"]),
        "perf_sample_epochs": str(schedule["sample_epochs"]),
        "perf_schedule_old": schedule["old"],
        "perf_schedule_new": schedule["new"],
        "perf_schedule_old_s": formatting.seconds(schedule["median_old_s"]),
        "perf_schedule_new_s": formatting.seconds(schedule["median_new_s"]),
        "perf_schedule_speedup": ratio_text(cpu["ratios"]["book_schedule_speedup"]),
        "perf_schedule_repeats": str(len(schedule["old_s"])),
        "perf_imports": formatting.seconds(shares["process_start_and_imports_s"]),
        "perf_data": formatting.seconds(shares["data_load_s"]),
        **epoch_numbers(cpu),
    }


def epoch_numbers(cpu: dict) -> dict[str, str]:
    """Table 1.2's per-epoch time of the (16, 16) autoencoder in this build, next to the bench's."""
    history = experiments.run(configs.pretrained_autoencoder()).history
    epoch = sum(history.seconds) / len(history.seconds)
    return {
        "perf_build_epoch": formatting.seconds(epoch),
        "perf_build_vs_bench": f"{epoch / cpu['median']['project_epoch_s']:.1f}",
    }


def machine_table(results: dict[str, dict]) -> Table:
    rows = []
    for name, r in results.items():
        m = r["median"]
        machine = r["machine"]["device"] if name == "GPU" else r["machine"]["cpu"]
        steps = [f"{m['exercise_ms_per_step']:.1f}", f"{m['project_ms_per_step']:.1f}"]
        rates = [f"{m['project_step_gflops']:.1f}", f"{m['matmul_gflops']:.0f}"]
        speedup, fraction = r["speedup_vs_exercise_pipeline"], r["step_fraction_of_matmul"]
        machine = f"{name} ({machine}, threads: {r['machine']['threads']})"
        rows.append([machine, *steps, f"{speedup:.2f}", *rates, f"{fraction:.2f}"])
    headers = ["machine", "A ms/step", "B ms/step", "speedup", "B GFLOP/s", "matmul GFLOP/s"]
    return Table(headers + ["B / matmul"], rows, [30, 10, 10, 10, 12, 14, 14])


def variant_table(results) -> Table:
    ratios = results["CPU"]["ratios"]
    rows = [
        [what, model, ratio_text(ratios[k]), faster_every_repeat(ratios[k]), verdict]
        for k, (what, model, verdict) in CANDIDATES.items()
    ]
    headers = ["candidate", "measured on", "speedup (range)", "wins", "in the book"]
    return Table(headers, rows, [24, 24, 22, 10, 20])


def share_table(results) -> Table:
    """Seconds of one thread by kind of job of the full book, in training steps, evaluation,
    frozen-encoder codes and scikit-learn work (the assumed job start left out: not measured)."""
    parts = ("training steps", "evaluation", "encoder codes", "scikit-learn")
    jobs = results["CPU"]["time_shares"]["jobs"]
    rows = [
        [kind, *[f"{by.get(p, 0):.0f}" for p in parts], f"{sum(by.values()):.0f}"]
        for kind, by in sorted(jobs.items())
    ]
    totals = [sum(by.get(p, 0) for by in jobs.values()) for p in parts]
    rows.append(["all jobs", *[f"{t:.0f}" for t in totals], f"{sum(totals):.0f}"])
    return Table(["kind of job", *parts, "total"], rows, [30, 14, 14, 14, 14, 14])


def page_table(results) -> Table:
    pages = results["CPU"]["time_shares"].get("pages_s")
    rows = [[f"`{name}`", f"{seconds:.1f}"] for name, seconds in (pages or {}).items()]
    rows = rows or [["(no notebook cache on the benchmark machine)", "–"]]
    return Table(["page", "seconds"], rows, [60, 40])


def candidate_claim(key: str, ratios: dict) -> Claim:
    """A kept candidate wins by more than the spread; one the book leaves out does not, or (bf16)
    is left out for what it does to the results, which the sentence says."""
    what, model, verdict = CANDIDATES[key]
    r = ratios[key]
    values = {"baseline": r["baseline"], "candidate": r["candidate"]}
    wins = "min(a / b for a, b in zip(baseline, candidate)) > 1"
    if verdict.startswith("used"):
        text = f"{what} is {verdict} ({model}): {ratio_text(r)} faster, every repeat."
        return Claim(f"performance.{key}", text, wins, values)
    if key.startswith("bf16"):
        # left out for what it does to the results; the sentence also states its speed here
        if BF16_FASTER.get(key, False):
            text = (
                f"bf16 autocast would make the {model} step {ratio_text(r)} faster here, in every "
                "repeat, but it rounds every activation to 8 bits of mantissa, so it is not used."
            )
            return Claim(f"performance.{key}", text, wins, values)
        text = (
            f"bf16 autocast is not faster for the {model} step in every repeat ({ratio_text(r)}), "
            "and it rounds every activation to 8 bits of mantissa: it is not used."
        )
        return Claim(f"performance.{key}", text, f"not ({wins})", values)
    text = f"{what} is {verdict}: {ratio_text(r)} on the {model}, not faster in every repeat."
    return Claim(f"performance.{key}", text, f"not ({wins})", values)


def schedule_claim(ratios: dict) -> Claim:
    r = ratios["book_schedule_speedup"]
    values = {"old": r["baseline"], "new": r["candidate"]}
    wins = "min(a / b for a, b in zip(old, new)) > 1"
    text = (
        f"One one-thread worker per core trains the sample {ratio_text(r)} faster than one "
        "process on all cores, in every repeat: `prepare` keeps the workers."
    )
    return Claim("performance.schedule", text, wins, values)


def claims(results) -> list[Claim]:
    ratios = results["CPU"]["ratios"]
    return [schedule_claim(ratios)] + [candidate_claim(k, ratios) for k in CANDIDATES]
