"""The performance appendix: what `make bench` measured (bench/results.json), and which speed-ups
the training code keeps because of it. Nothing is timed during the book build."""

from __future__ import annotations

import json
import statistics

from ex2 import formatting
from ex2.chapters.provenance import cpu_name
from ex2.claims import Claim
from ex2.data import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results.json"
GPU_RESULTS = REPO_ROOT / "bench" / "results-cuda-h200.json"


def load() -> dict[str, dict]:
    if not RESULTS.exists():
        raise FileNotFoundError(f"{RESULTS} is missing: run `make bench`")
    files = {"CPU": RESULTS, "GPU": GPU_RESULTS}
    return {k: json.loads(p.read_text()) for k, p in files.items() if p.exists()}


def numbers(results: dict[str, dict]) -> dict[str, str]:
    cpu = results["CPU"]
    m = cpu["median"]
    return {
        "perf_bench_cpu": cpu["machine"]["cpu"],
        "perf_book_cpu": cpu_name(),
        "perf_speedup": f"{cpu['speedup_vs_exercise_pipeline']:.2f}",
        "perf_fraction": f"{cpu['step_fraction_of_matmul']:.2f}",
        "perf_step_gflops": f"{m['project_step_gflops']:.1f}",
        "perf_matmul": f"{m['matmul_gflops']:.0f}",
        "perf_mflop_per_image": f"{cpu['flops_per_step'] / cpu['batch_size'] / 1e6:.2f}",
        "perf_exercise_epoch": formatting.seconds(m["exercise_epoch_s"]),
        "perf_project_epoch": formatting.seconds(m["project_epoch_s"]),
    }


def rows(results: dict[str, dict]) -> list[list]:
    out = []
    for name, r in results.items():
        m = r["median"]
        machine = r["machine"]["device"] if name == "GPU" else r["machine"]["cpu"]
        out.append(
            [
                f"{name} ({machine})",
                f"{m['exercise_ms_per_step']:.1f}",
                f"{m['project_ms_per_step']:.1f}",
                f"{r['speedup_vs_exercise_pipeline']:.2f}",
                f"{m['project_step_gflops']:.1f}",
                f"{m['matmul_gflops']:.0f}",
                f"{r['step_fraction_of_matmul']:.2f}",
            ]
        )
    return out


def variant_medians(results: dict[str, dict]) -> dict[str, float]:
    variants = results["CPU"].get("variants_ms_per_step", {})
    return {k: statistics.median(v) for k, v in variants.items()}


def variant_rows(results) -> list[list]:
    medians = variant_medians(results)
    base = medians.get("fp32")
    return [
        [name, f"{ms:.1f}", f"{base / ms:.2f}×" if base else "–"] for name, ms in medians.items()
    ]


def claims(results) -> list[Claim]:
    v = variant_medians(results)
    if not {"fp32", "channels_last", "bf16_autocast", "fused_adam"} <= set(v):
        return []
    return [
        Claim(
            "performance.channels_last",
            f"`channels_last` memory layout is kept for the 16-channel "
            f"models: {v['channels_last']:.1f} against {v['fp32']:.1f} ms per step.",
            "channels_last < fp32",
            {"channels_last": v["channels_last"], "fp32": v["fp32"]},
        ),
        Claim(
            "performance.fused_adam",
            f"Fused Adam is kept: {v['fused_adam']:.1f} against {v['fp32']:.1f} ms per step.",
            "fused_adam < fp32",
            {"fused_adam": v["fused_adam"], "fp32": v["fp32"]},
        ),
        Claim(
            "performance.bf16",
            f"bfloat16 autocast is faster than plain fp32 "
            f"({v['bf16_autocast']:.1f} against {v['fp32']:.1f} ms per step) but not faster than "
            f"`channels_last` alone ({v['channels_last']:.1f} ms), and it lowers the precision of "
            "every result: it is not kept.",
            "bf16 < fp32 and bf16 >= channels_last",
            {"bf16": v["bf16_autocast"], "fp32": v["fp32"], "channels_last": v["channels_last"]},
        ),
    ]
