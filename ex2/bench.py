"""`make bench`: where the time of `make book` goes, and which speed-ups pay, on this machine.

Every timing is a ratio measured side by side in one run, alternating A B A B ..., and reported as
the median with the range over the repeats; a speed-up counts only when it is faster in every
repeat (`Ratio.wins`).

1. The exercise's pipeline (torchvision `MNIST` + `ToTensor`, `DataLoader(batch 256, shuffle)`,
   plain Adam, `.item()` after every batch) against this project's (`train.train_one_epoch` on
   in-memory tensors), on the (16, 16) autoencoder; a 2048x2048 fp32 matmul in the same run gives
   the machine's reference rate, `FlopCounterMode` the FLOPs per step.
2. Step variants of the models the book trains most: memory layout, bf16 autocast.
3. The book's schedule (`bench_book.compare_schedules`): one process on all cores against
   `prepare`'s one-thread workers, on a sample of every run kind.
4. Where the time goes (`bench_book.time_shares`): each run kind's training steps, evaluation and
   frozen-encoder codes, from `prepare`'s units of work timed here; process start and imports; the
   pages' own execution times when a build has left its notebook cache.

Steps are timed with one torch thread on the thread's CPU clock, as `prepare`'s workers train
(the clock a step costs the machine, steady when other processes share the cores). Writes
`bench/results.json`; the last line lists every ratio as `name=<median>[<min>-<max>]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from ex2 import bench_steps, cache
from ex2.bench_steps import BATCH, STEPS_PER_EPOCH
from ex2.data import REPO_ROOT, load_mnist

RESULTS = REPO_ROOT / "bench" / "results.json"
CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_tile")


@dataclass
class Ratio:
    """Baseline time over candidate time, repeat by repeat (>1: the candidate is faster)."""

    baseline: list[float]
    candidate: list[float]

    @property
    def values(self) -> list[float]:
        return [a / b for a, b in zip(self.baseline, self.candidate)]

    @property
    def wins(self) -> bool:
        """Faster by more than the run-to-run spread: faster in every alternating repeat (the
        machine's drift moves both sides of a repeat alike, so the pair is the unit)."""
        return min(self.values) > 1

    def to_dict(self) -> dict:
        v = self.values
        return {
            "median": statistics.median(v),
            "min": min(v),
            "max": max(v),
            "wins": self.wins,
            "baseline": self.baseline,
            "candidate": self.candidate,
        }


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m ex2.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--repeats", type=int, default=5, help="A/B repeats (default 5)")
    parser.add_argument("--steps", type=int, default=20, help="steps per timing (default 20)")
    parser.add_argument(
        "--schedule-repeats",
        type=int,
        default=3,
        help="old/new pairs of the book's schedule (default 3; 0 skips it)",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS})"
    )
    args = parser.parse_args(argv)
    if args.repeats < 2 or args.steps < 1 or args.schedule_repeats < 0:
        parser.error("--repeats must be at least 2, --steps at least 1, --schedule-repeats >= 0")
    return args


def cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    try:
        first = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        return {}
    return {
        k.strip(): v.strip() for k, _, v in (line.partition(":") for line in first.splitlines())
    }


def cpu_name() -> str:
    info = cpuinfo()
    name = info.get("model name") or platform.processor() or platform.machine()
    flags = set(info.get("flags", "").split())
    present = [f for f in CPU_FEATURES if f in flags]
    return name + (f" ({', '.join(present)})" if present else "")


def machine() -> dict:
    return {
        "cpu": cpu_name(),
        "cores": len(os.sched_getaffinity(0)),
        "threads": 1,
        "torch": torch.__version__,
        "device": "cpu",
        "python": platform.python_version(),
    }


def ratio_dicts(pipelines: dict, variants: dict, schedule: dict | None) -> dict[str, dict]:
    out = {"speedup_vs_exercise_pipeline": Ratio(pipelines["exercise"], pipelines["project"])}
    if schedule is not None:
        out["book_schedule_speedup"] = Ratio(schedule["old_s"], schedule["new_s"])
    for model_name, by_variant in variants.items():
        for variant, baseline in bench_steps.BASELINE.items():
            out[f"{variant}_{model_name}"] = Ratio(by_variant[baseline], by_variant[variant])
    return {name: r.to_dict() for name, r in out.items()}


def main(argv: list[str] | None = None) -> int:
    from ex2.bench_book import compare_schedules, profile_step, time_shares  # it runs the book

    args = parse_args(argv)
    torch.set_num_threads(1)
    load_mnist()  # data in place before anything is timed
    load_before = os.getloadavg()
    pipelines = bench_steps.time_pipelines(args.repeats, args.steps)
    variants = bench_steps.time_variants(args.repeats, args.steps)
    schedule = compare_schedules(args.schedule_repeats) if args.schedule_repeats else None
    flops = bench_steps.flops_per_step()
    project, matmul = (statistics.median(pipelines[k]) for k in ("project", "matmul_gflops"))
    exercise = statistics.median(pipelines["exercise"])
    step_gflops = flops / project / 1e9
    ratios = ratio_dicts(pipelines, variants, schedule)
    results = {
        "machine": machine(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "clock": "CPU time of the one torch thread (time.thread_time)",
        "batch_size": BATCH,
        "steps_per_timing": args.steps,
        "repeats": args.repeats,
        "flops_per_step": flops,
        "median": {
            "exercise_ms_per_step": 1e3 * exercise,
            "project_ms_per_step": 1e3 * project,
            "matmul_gflops": matmul,
            "exercise_epoch_s": exercise * STEPS_PER_EPOCH,
            "project_epoch_s": project * STEPS_PER_EPOCH,
            "project_step_gflops": step_gflops,
        },
        "speedup_vs_exercise_pipeline": exercise / project,
        "step_fraction_of_matmul": step_gflops / matmul,
        "pipelines_s_per_step": pipelines,
        "variants_s_per_step": variants,
        "ratios": ratios,
        "schedule": schedule,
        "step_profile": profile_step(),
        "time_shares": time_shares(),
    }
    cache.write_json(args.out, results)
    print(
        f"FLOPs per step {flops / 1e9:.2f} G, project step {step_gflops:.1f} GFLOP/s, "
        f"matmul {matmul:.0f} GFLOP/s; epoch: exercise {exercise * STEPS_PER_EPOCH:.1f} s, "
        f"project {project * STEPS_PER_EPOCH:.1f} s; wrote {args.out}"
    )
    medians = (f"{n}={r['median']:.2f}[{r['min']:.2f}-{r['max']:.2f}]" for n, r in ratios.items())
    print(" ".join(medians))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
