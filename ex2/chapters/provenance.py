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
from ex2.formatting import Table

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


def build_table() -> Table:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU only)"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = [["build date", now], ["git commit", commit()], ["profile (EX2_PROFILE)", profile()]]
    rows += [["Python", platform.python_version()]]
    rows += [[name, package_version(name)] for name in PACKAGES]
    rows += [["CPU", cpu_name()], ["CPU threads (logical)", str(os.cpu_count())], ["GPU", gpu]]
    rows += [["training device", str(train.default_device())]]
    return Table(["item", "value"], rows, [30, 70])


def data_table() -> Table:
    """Each data file with its size and full SHA-256, checked now (a mismatch fails the build)."""
    root = data.ensure_mnist(verify_hash=True)
    wheel = root / "wheels" / fetch.WHEEL_FILENAME
    files = dict(data.IDX_FILES)
    if wheel.exists():
        if data.sha256_of(wheel) != fetch.WHEEL_SHA256:
            raise data.DataError(f"{wheel} does not match its pinned SHA-256: delete it")
        files = {fetch.WHEEL_FILENAME: (wheel.stat().st_size, fetch.WHEEL_SHA256)} | files
    rows = [[f"`{name}`", formatting.count(size), f"`{h}`"] for name, (size, h) in files.items()]
    return Table(["file", "bytes", "SHA-256"], rows, [18, 10, 72])


def run_table() -> tuple[Table, float]:
    """Every run of the book with its chapter, and the total training time."""
    owner = {cfg: name for name in chapters.CHAPTERS for cfg in chapters.runs_of(name)}
    rows, total = [], 0.0
    for cfg in chapters.all_runs():
        result = experiments.run(cfg)
        total += result.train_seconds
        folder, seconds = f"`{result.run_dir.name}`", formatting.seconds(result.train_seconds)
        rows.append([owner.get(cfg, "–"), cfg.label, cfg.epochs, folder, seconds])
    headers = ["chapter", "run", "epochs", "folder", "training time"]
    return Table(headers, rows, [10, 38, 8, 28, 16]), total


def measurement_table() -> Table:
    rows = [
        [name, m.function.__name__, f"`{m.name}`"]
        for name in chapters.CHAPTERS
        for m in chapters.measurements_of(name)
    ]
    return Table(["chapter", "measurement", "file"], rows, [14, 30, 56])
