"""`make bench`: the exercise's training pipeline against this project's, and the book's schedule.

(A) the exercise-style pipeline: torchvision `MNIST` + `ToTensor`, `DataLoader(batch 256, shuffle)`,
    fp32 eager, `.item()` after every batch;
(B) this project's path: in-memory tensors, seeded index batches, `train.train_one_epoch`.
Both train the (16, 16) autoencoder for the same number of batches; the runs alternate A B A B ...
and the medians are reported, with a 2048x2048 fp32 matmul timed in the same run as the machine's
reference rate. FLOPs per step come from `torch.utils.flop_counter.FlopCounterMode`.
Then (`ex2.bench_book`) the book's own schedule, old (one process, one run after the other) against
new (`prepare`'s one-thread workers) on a sample of every run kind, alternating; and a per-operator
profile of one (16, 16) autoencoder step.

Writes `bench/results.json`; the last printed line is `speedup_vs_exercise_pipeline=<x>
step_fraction_of_matmul=<y> full_experiments_s=<z> book_schedule_speedup=<s>`.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from ex2 import chapters
from ex2 import experiments as E
from ex2 import train as T
from ex2.bench_book import compare_schedules, profile_step
from ex2.data import REPO_ROOT, ensure_mnist, load_mnist, shuffled_batches
from ex2.models import ConvAutoencoder

BATCH = 256
WARMUP = 3  # untimed steps first: allocator and kernel caches warm, as they are in a real epoch
STEPS_PER_EPOCH = -(-60000 // BATCH)
RESULTS = REPO_ROOT / "bench" / "results.json"


def fresh_model(device: torch.device) -> ConvAutoencoder:
    torch.manual_seed(0)
    return ConvAutoencoder(16, 16).to(device)


def exercise_dataset():
    from torchvision import datasets, transforms

    return datasets.MNIST(
        str(ensure_mnist()), train=True, download=False, transform=transforms.ToTensor()
    )


def time_exercise_pipeline(dataset, steps: int, device: torch.device) -> float:
    """Seconds per step of the exercise's loop: DataLoader over PIL images, `.item()` per batch."""
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True)
    model = fresh_model(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for i, (x, _) in enumerate(loader):
        if i == WARMUP:
            start = time.perf_counter()
        if i == WARMUP + steps:
            break
        x = x.to(device)
        out = model(x)
        loss = F.l1_loss(out, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return (time.perf_counter() - start) / steps


def time_project_path(steps: int, device: torch.device) -> float:
    """Seconds per step of `train.train_one_epoch` on in-memory tensors (on the device)."""
    data = load_mnist().to(device)
    model = T.place_model(fresh_model(device), device, T.prefers_channels_last(16))
    cfg = T.TrainConfig(epochs=1, lr=2e-3, batch_size=BATCH)
    optimizer, schedule = T.make_optimizer(model, cfg, WARMUP + steps)
    batches = shuffled_batches(len(data.train_images), BATCH, torch.Generator().manual_seed(0))[
        : WARMUP + steps
    ]
    args = (model, optimizer, schedule, data.train_images, data.train_images, T.RECONSTRUCTION)
    T.train_one_epoch(*args, batches[:WARMUP])
    start = time.perf_counter()
    T.train_one_epoch(*args, batches[WARMUP:])
    return (time.perf_counter() - start) / steps


VARIANTS = ("fp32", "fused_adam", "channels_last", "bf16_autocast")


def time_variant(variant: str, steps: int, device: torch.device) -> float:
    """Seconds per step of a candidate speed-up of the project path (same data, model, batches)."""
    data = load_mnist().to(device)
    model = fresh_model(device)
    images = data.train_images
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, fused=variant == "fused_adam")
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=variant == "bf16_autocast")
    batches = shuffled_batches(len(images), BATCH, torch.Generator().manual_seed(0))[
        : WARMUP + steps
    ]
    total = torch.zeros((), device=device)
    for i, idx in enumerate(batches):
        if i == WARMUP:
            total.item()
            start = time.perf_counter()
        x = images[idx.to(device)]
        with autocast:
            out = model(x)
        loss = F.l1_loss(out.float(), x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach()
    total.item()
    return (time.perf_counter() - start) / steps


def flops_per_step() -> int:
    model = fresh_model(torch.device("cpu")).train()
    x = torch.rand(BATCH, 1, 28, 28)
    with FlopCounterMode(display=False) as counter:
        F.l1_loss(model(x), x).backward()
    return counter.get_total_flops()


def matmul_gflops(device: torch.device, n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b  # warm-up
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def full_experiment_seconds() -> tuple[float | None, int]:
    """Training wall time of every book run (of the active profile), from their cached runs."""
    total, found, missing = 0.0, 0, 0
    for cfg in chapters.all_runs():
        metrics = E.run_dir(cfg) / "metrics.json"
        if metrics.exists():
            total += json.loads(metrics.read_text())["train_seconds"]
            found += 1
        else:
            missing += 1
    return (total if missing == 0 and found else None), missing


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m ex2.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--repeats", type=int, default=3, help="A/B pairs (default 3)")
    parser.add_argument(
        "--steps", type=int, default=40, help="training steps per timing (default 40)"
    )
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also time candidate speed-ups (fused Adam, channels_last, bf16 autocast)",
    )
    parser.add_argument(
        "--schedule-repeats",
        type=int,
        default=2,
        help="old/new pairs of the book's schedule (default 2; 0 skips it)",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS})"
    )
    return parser.parse_args(argv)


def time_pipelines(args, device) -> tuple[list, list, list]:
    """Exercise pipeline, project path and matmul, alternating; seconds per step and GFLOP/s."""
    dataset = exercise_dataset()
    exercise, project, matmul = [], [], []
    for r in range(args.repeats):
        exercise.append(time_exercise_pipeline(dataset, args.steps, device))
        project.append(time_project_path(args.steps, device))
        matmul.append(matmul_gflops(device))
        print(
            f"repeat {r + 1}/{args.repeats}: exercise {1e3 * exercise[-1]:.1f} ms/step, "
            f"project {1e3 * project[-1]:.1f} ms/step, matmul {matmul[-1]:.0f} GFLOP/s"
        )
    return exercise, project, matmul


def time_variants(args, device) -> dict[str, list[float]]:
    variants = {v: [] for v in VARIANTS}
    for r in range(args.repeats if args.variants else 0):
        for v in VARIANTS:
            variants[v].append(time_variant(v, args.steps, device))
        print(
            f"variants repeat {r + 1}/{args.repeats}: "
            + ", ".join(f"{v} {1e3 * t[-1]:.1f} ms" for v, t in variants.items())
        )
    return variants


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    load_mnist()  # data in place before anything is timed
    exercise, project, matmul = time_pipelines(args, device)
    variants = time_variants(args, device)
    schedule = compare_schedules(args.schedule_repeats) if args.schedule_repeats > 0 else None

    flops = flops_per_step()
    a, b, mm = statistics.median(exercise), statistics.median(project), statistics.median(matmul)
    step_gflops = flops / b / 1e9
    step = {
        **(profile_step() if device.type == "cpu" else {}),
        "step_ms": 1e3 * b,
        "gflops": step_gflops,
        "matmul_gflops": mm,
        "fraction_of_matmul": step_gflops / mm,
    }
    if "ms" in step:
        groups = ", ".join(
            f"{g} {ms:.1f} ms ({step['share'][g]:.0%})" for g, ms in step["ms"].items()
        )
        print(f"step profile ({step['threads']} threads): {groups}")
    full_s, missing = full_experiment_seconds()
    results = {
        "machine": {
            "cpu": cpu_name(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "device": device_name(device),
            "python": platform.python_version(),
        },
        "batch_size": BATCH,
        "steps_per_timing": args.steps,
        "repeats": args.repeats,
        "exercise_ms_per_step": [1e3 * t for t in exercise],
        "project_ms_per_step": [1e3 * t for t in project],
        "matmul_gflops": matmul,
        "flops_per_step": flops,
        "median": {
            "exercise_ms_per_step": 1e3 * a,
            "project_ms_per_step": 1e3 * b,
            "matmul_gflops": mm,
            "exercise_epoch_s": a * STEPS_PER_EPOCH,
            "project_epoch_s": b * STEPS_PER_EPOCH,
            "project_step_gflops": step_gflops,
        },
        "speedup_vs_exercise_pipeline": a / b,
        "step_fraction_of_matmul": step_gflops / mm,
        "variants_ms_per_step": {v: [1e3 * t for t in ts] for v, ts in variants.items() if ts},
        "full_experiments_s": full_s,
        "full_experiments_missing_runs": missing,
        "schedule": schedule,
        "step_profile": step,
    }
    E.write_json(args.out, results)
    print(
        f"FLOPs per step {flops / 1e9:.2f} G, project step {step_gflops:.1f} GFLOP/s, "
        f"matmul {mm:.0f} GFLOP/s; epoch: exercise {a * STEPS_PER_EPOCH:.1f} s, "
        f"project {b * STEPS_PER_EPOCH:.1f} s; wrote {args.out}"
    )
    z = "n/a" if full_s is None else f"{full_s:.0f}"
    x = "n/a" if schedule is None else f"{schedule['speedup']:.2f}"
    print(
        f"speedup_vs_exercise_pipeline={a / b:.2f} step_fraction_of_matmul={step_gflops / mm:.2f} "
        f"full_experiments_s={z} book_schedule_speedup={x}"
    )
    return 0


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
