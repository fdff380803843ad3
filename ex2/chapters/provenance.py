"""The provenance appendix: the build's environment, the data checksums, and every run the
registry lists (not whatever happens to lie in the cache), with its wall time."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version

import torch

from ex2 import chapters, data, experiments, fetch, formatting, train
from ex2.bench import cpu_name
from ex2.config import profile

PACKAGES = ("torch", "torchvision", "numpy", "jupyter-book", "myst-nb", "sphinx")


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def commit() -> str:
    try:
        run = lambda *a: subprocess.run(
            ["git", *a], cwd=data.REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        head = run("rev-parse", "--short", "HEAD")
        return head + (" with uncommitted changes" if run("status", "--porcelain") else " (clean)")
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"


def build_rows() -> list[list[str]]:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU only)"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        ["build date", now],
        ["git commit", commit()],
        ["profile (EX2_PROFILE)", profile()],
        ["Python", platform.python_version()],
    ]
    rows += [[name, package_version(name)] for name in PACKAGES]
    return rows + [
        ["CPU", cpu_name()],
        ["CPU threads (logical)", str(os.cpu_count())],
        ["GPU", gpu],
        ["training device", str(train.default_device())],
    ]


def data_rows() -> list[list[str]]:
    """Each data file with its size and full SHA-256, checked now (a mismatch fails the build)."""
    root = data.ensure_mnist(verify_hash=True)
    wheel = root / "wheels" / fetch.WHEEL_FILENAME
    rows = [
        [f"`{name}`", formatting.count(size), f"`{digest}`"]
        for name, (size, digest) in data.IDX_FILES.items()
    ]
    if wheel.exists():
        if data.sha256_of(wheel) != fetch.WHEEL_SHA256:
            raise data.DataError(f"{wheel} does not match its pinned SHA-256: delete it")
        rows.insert(
            0,
            [
                f"`{fetch.WHEEL_FILENAME}`",
                formatting.count(wheel.stat().st_size),
                f"`{fetch.WHEEL_SHA256}`",
            ],
        )
    return rows


def run_rows() -> tuple[list[list], float]:
    """Every run of the book with its chapter, and the total training time."""
    owner = {cfg: name for name in chapters.CHAPTERS for cfg in chapters.runs_of(name)}
    rows, total = [], 0.0
    for cfg in chapters.all_runs():
        result = experiments.run(cfg)
        total += result.train_seconds
        rows.append(
            [
                owner.get(cfg, "–"),
                cfg.label,
                cfg.epochs,
                f"`{result.run_dir.name}`",
                formatting.seconds(result.train_seconds),
            ]
        )
    return rows, total


def measurement_rows() -> list[list]:
    return [
        [name, m.function.__name__, f"`{m.name}`"]
        for name in chapters.CHAPTERS
        for m in chapters.measurements_of(name)
    ]
