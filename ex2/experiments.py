"""Experiments: pure functions of a `RunConfig`, cached on disk under a hash of config and code.

A run lives in `runs/<task>-<hash>/` (`$EX2_RUNS_DIR` overrides `runs/`) as `checkpoint.pt`
(weights, config, history) and `metrics.json` (config, code hash, checkpoint SHA-256, history,
final metrics, subset indices, and the SHA-256 of all that: an edited field is detected). The hash
covers the config and the source of every module that shapes a result (`RESULT_MODULES`), so
editing the training code retrains, while rebuilding the book with nothing changed trains nothing.
A cached run is served only when its metrics.json is whole and belongs to the config and code, and
the checkpoint is the one it records; anything else is retrained, with a one-line notice.

Measurements on trained runs (no training) are cached the same way by `cached_measurement`; how
(sealed files, locks, compute once) is `ex2.cache`'s business.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from ex2 import config, data, models, tasks, train
from ex2.cache import (
    CacheError,
    cached,
    key_hash,
    read_sealed,
    refuse_folder,
    runs_root,
    writable_folder,
    write_sealed,
)
from ex2.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ex2.config import RunConfig
from ex2.data import sha256_of
from ex2.files import remove_stale_temps

# The modules whose source shapes a trained result (see `tasks`); this module's plumbing is not.
RESULT_MODULES = (config, data, models, tasks, train)


@functools.cache
def code_fingerprint(modules=RESULT_MODULES) -> str:
    """Hash of the modules' source, read once per process: the result modules' when this module is
    imported, a measurement's when it is defined (`cached_measurement`), so that a long run keys
    its results by the code it imported, even if the files are edited meanwhile."""
    digest = hashlib.sha256()
    for module in sorted(set(modules), key=lambda m: m.__name__):
        digest.update(module.__name__.encode() + Path(module.__file__).read_bytes())
    return digest.hexdigest()[:12]


code_fingerprint()


def run_dir(cfg: RunConfig) -> Path:
    """The run's folder, named by the hash of its config and of the result modules' source."""
    key = {"config": cfg.to_dict(), "code": code_fingerprint()}
    return runs_root() / f"{cfg.task}-{key_hash(key)}"


# --------------------------------------------------------------------------- results


@dataclass
class RunResult:
    config: RunConfig
    model: nn.Module  # on the CPU, eval mode
    history: train.History
    run_dir: Path
    subset_indices: list[int] | None
    train_seconds: float  # wall time of the training when it ran (not of the cache hit)
    cached: bool

    @property
    def final(self) -> dict:
        return final_metrics(self.history)


def final_metrics(history: train.History) -> dict:
    if history.loss_name == "L1":
        out = {
            "test_l1": history.test_loss[-1],
            "train_l1": history.train_loss[-1],
            "test_pixel_accuracy": history.test_metric[-1],
        }
    else:
        out = {
            "test_accuracy": history.test_metric[-1],
            "test_loss": history.test_loss[-1],
            "train_accuracy": history.train_metric[-1],
            "train_loss": history.train_loss[-1],
        }
    out["seconds_per_epoch"] = sum(history.seconds) / len(history.seconds)
    return out


def metrics_json(cfg: RunConfig, history, subset: list | None, seconds, checkpoint_sha256) -> dict:
    return {
        "config": cfg.to_dict(),
        "code": code_fingerprint(),
        "checkpoint_sha256": checkpoint_sha256,
        "history": history.to_dict(),
        "final": final_metrics(history),
        "train_seconds": seconds,
        "subset_indices": subset,
        "device": str(train.default_device()),
        "torch": torch.__version__,
    }


# --------------------------------------------------------------------------- the runs


class StoredRun(NamedTuple):
    metrics: dict
    checkpoint: bytes  # the bytes whose SHA-256 was checked: the ones to load


def check_run_folder(folder: Path) -> None:
    """A one-line CacheError when something that is not ours sits where the run's files go."""
    if folder.exists() and not folder.is_dir():
        raise CacheError(f"{folder} is a file, not a run folder: remove it")
    for name in ("metrics.json", "checkpoint.pt"):
        refuse_folder(folder / name)


def stored_run(cfg: RunConfig, folder: Path) -> tuple[StoredRun | None, str | None]:
    """`cfg`'s finished run in `folder`, or why there is none usable (None: nothing there).

    Usable: metrics.json is whole (its own SHA-256), belongs to `cfg` and to this code, and the
    checkpoint's bytes have the SHA-256 it records.
    """
    check_run_folder(folder)
    metrics_path, checkpoint = folder / "metrics.json", folder / "checkpoint.pt"
    metrics, problem = read_sealed(metrics_path)
    if metrics is None:
        if problem is None and checkpoint.exists():
            problem = "checkpoint without metrics (an interrupted run)"
        return None, problem
    if metrics.get("config") != cfg.to_dict() or metrics.get("code") != code_fingerprint():
        return None, "its metrics.json belongs to another config or code"
    contents = checkpoint.read_bytes() if checkpoint.exists() else b""
    if sha256_of(contents) != metrics.get("checkpoint_sha256"):
        return None, "its checkpoint and metrics.json disagree"
    return StoredRun(metrics, contents), None


def servable(read: Callable[[], tuple]) -> bool:
    """Whether `read()` finds a result to serve (something in the way: computing it says what)."""
    try:
        return read()[0] is not None
    except CacheError:
        return False


def is_cached(cfg: RunConfig) -> bool:
    """Whether `run(cfg)` would serve a cached run: its checks, without loading the checkpoint."""
    return servable(lambda: stored_run(cfg, run_dir(cfg)))


def load_run(cfg: RunConfig, folder: Path) -> tuple[RunResult | None, str | None]:
    """The cached run in `folder`, or why it cannot be served (None: nothing there)."""
    stored, problem = stored_run(cfg, folder)
    if stored is None:
        return None, problem and f"{folder.name}: {problem}"
    model = tasks.build_model(cfg)
    try:
        payload = load_checkpoint(
            folder / "checkpoint.pt", model, cfg.to_dict(), contents=stored.checkpoint
        )
        history = train.History(**payload["history"])
        subset, seconds = stored.metrics["subset_indices"], float(stored.metrics["train_seconds"])
        result = RunResult(cfg, model.cpu().eval(), history, folder, subset, seconds, cached=True)
        return result, None
    except (CheckpointError, KeyError, TypeError, ValueError) as err:
        return None, f"{folder.name}: unusable checkpoint ({str(err).splitlines()[0][:120]})"


def run(cfg: RunConfig, log: Callable[[str], None] | None = None, force: bool = False) -> RunResult:
    """Train `cfg` once and cache it; later calls load the cached run. `force` retrains."""
    folder = run_dir(cfg)
    check_run_folder(folder)
    read, train_now = lambda: load_run(cfg, folder), lambda: train_and_save(cfg, folder, log)
    what = f"run {folder.name} ({cfg.label})"
    return cached(folder.name, read, train_now, what, "retraining", force)


def train_and_save(cfg: RunConfig, folder: Path, log) -> RunResult:
    writable_folder(folder)
    remove_stale_temps(folder)
    model = tasks.build_model(cfg)
    start = time.perf_counter()
    frozen = None if cfg.encoder is None else run(cfg.encoder, log=log).model.encoder
    mnist = data.load_mnist().to(train.default_device())
    history = tasks.train_run(cfg, model, mnist, frozen, log)
    seconds = time.perf_counter() - start
    subset = tasks.subset_of(cfg)
    subset = None if subset is None else subset.tolist()
    # Only now is a previous result replaced: a retrain that fails before (a broken upstream run,
    # a diverged training, Ctrl-C) leaves it whole. metrics.json goes first and comes back last,
    # with the checkpoint's SHA-256, so that a run killed in between retrains next time.
    (folder / "metrics.json").unlink(missing_ok=True)
    checkpoint_sha = save_checkpoint(
        folder / "checkpoint.pt", model, cfg.to_dict(), history.to_dict()
    )
    metrics = metrics_json(cfg, history, subset, seconds, checkpoint_sha)
    write_sealed(folder / "metrics.json", metrics)
    return RunResult(cfg, model.cpu().eval(), history, folder, subset, seconds, cached=False)


# --------------------------------------------------------------------------- measurements


def key_of(value):
    """How an argument enters a measurement's cache key: a run by its folder name."""
    return run_dir(value).name if isinstance(value, RunConfig) else value


def measurement_modules(fn) -> tuple:
    """The function's module, the ex2 modules it refers to, and the modules that shape runs."""
    module = sys.modules[fn.__module__]
    used = [
        v if isinstance(v, types.ModuleType) else sys.modules.get(getattr(v, "__module__", ""))
        for v in vars(module).values()
    ]
    # The cache's plumbing (this module) does not shape a measurement: the runs it loads are keyed
    # by their own folder names, which cover the code that trained them.
    plumbing = (__name__, "ex2.cache")
    own = [m for m in used if m and m.__name__.startswith("ex2.") and m.__name__ not in plumbing]
    return (module, *own, *RESULT_MODULES)


def stored_measurement(key: dict, path: Path) -> tuple[dict | None, str | None]:
    """The stored {"key", "result"} if `path` holds this measurement, or why not (None: no file)."""
    stored, problem = read_sealed(path)
    if stored is None:
        return None, problem
    if "result" not in stored or stored.get("key") != json.loads(json.dumps(key)):
        return None, f"{path.name} holds another measurement or none"
    return stored, None


def cached_measurement(fn):
    """Cache a measurement on trained runs (no training) as `runs/<fn name>-<hash>.json`.

    The key is the function's name, the source of its module and of the ex2 modules it uses, and
    its arguments (a RunConfig by its run folder, anything else as JSON): change any of them and the
    measurement is recomputed. A file that does not hold this key's result (or was edited) is
    recomputed with a notice; `forget(*args)` deletes the cached result, `is_cached(*args)` says
    whether a call would read it.
    """
    code = code_fingerprint(measurement_modules(fn))  # now, while its module is being imported

    def key_and_path(*args, **kwargs):
        key = {
            "function": f"{fn.__module__}.{fn.__qualname__}",
            "args": [key_of(a) for a in args],
            "kwargs": {k: key_of(v) for k, v in sorted(kwargs.items())},
            "code": code,
        }
        return key, runs_root() / f"{fn.__name__}-{key_hash(key)}.json"

    @functools.wraps(fn)
    def measured(*args, **kwargs):
        key, path = key_and_path(*args, **kwargs)

        def compute() -> dict:
            remove_stale_temps(path.parent)
            stored = {"key": key, "result": fn(*args, **kwargs)}
            write_sealed(path, stored)
            return stored

        read = lambda: stored_measurement(key, path)
        what = f"measurement {path.name} ({fn.__name__})"
        return cached(path.stem, read, compute, what, "recomputing it")["result"]

    measured.path = lambda *args, **kwargs: key_and_path(*args, **kwargs)[1]
    measured.forget = lambda *args, **kwargs: measured.path(*args, **kwargs).unlink(missing_ok=True)
    measured.is_cached = lambda *args, **kwargs: servable(
        lambda: stored_measurement(*key_and_path(*args, **kwargs))
    )
    return measured
