"""Experiments: pure functions of a `RunConfig`, cached on disk under a hash of config and code.

A run lives in `runs/<task>-<hash>/` (`$EX2_RUNS_DIR` overrides `runs/`) as `checkpoint.pt`
(weights, config, history) and `metrics.json` (config, code hash, checkpoint SHA-256, history,
final metrics, subset indices). The hash covers the config and the source of every module that
shapes a result (`RESULT_MODULES`), so editing the training code retrains, while rebuilding the
book with nothing changed trains nothing. A cached run is served only when its metrics and
checkpoint agree with each other and with the config and code; anything else is retrained, with a
one-line notice. A lock per run makes a second process wait for the first and read its result.

Measurements on trained runs (no training) are cached the same way by `cached_measurement`.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import sys
import tempfile
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ex2 import config, data, models, tasks, train
from ex2.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ex2.config import RunConfig
from ex2.data import REPO_ROOT, sha256_of
from ex2.files import atomic_write_bytes, locked, remove_stale_temps

# The modules whose source shapes a trained result (see `tasks`); this module's plumbing is not.
RESULT_MODULES = (config, data, models, tasks, train)


class MissingResult(RuntimeError):
    """A result the book needs is not in the cache, and this process may not compute it."""


class CacheError(RuntimeError):
    """The experiment cache cannot be written (a path taken by a file, a read-only folder)."""


def notice(message: str) -> None:
    print(f"ex2: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- keys and folders


@functools.cache
def code_fingerprint(modules=RESULT_MODULES) -> str:
    """Hash of the modules' source as this process loaded it (read once: a long run keys its
    results by the code it runs, even if the files are edited meanwhile)."""
    digest = hashlib.sha256()
    for module in sorted(set(modules), key=lambda m: m.__name__):
        digest.update(module.__name__.encode() + Path(module.__file__).read_bytes())
    return digest.hexdigest()[:12]


def key_hash(payload) -> str:
    blob = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def config_hash(cfg: RunConfig) -> str:
    return key_hash({"config": cfg.to_dict(), "code": code_fingerprint()})


def runs_root() -> Path:
    return Path(os.environ.get("EX2_RUNS_DIR", REPO_ROOT / "runs")).resolve()


def run_dir(cfg: RunConfig) -> Path:
    return runs_root() / f"{cfg.task}-{config_hash(cfg)}"


def cache_only() -> bool:
    """Set by `make book` after `python -m ex2 prepare`: pages read results and compute nothing."""
    return os.environ.get("EX2_CACHE_ONLY", "") == "1"


def missing(what: str) -> MissingResult:
    return MissingResult(
        f"{what} is not in the cache {runs_root()}: "
        "run `python -m ex2 prepare` (or `make book`) first"
    )


def writable_folder(folder: Path) -> Path:
    """Create `folder` and prove it takes a file, before any training starts. The probe file has a
    name of its own, so that processes probing the same folder at once do not race."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        raise CacheError(
            f"cannot write to {folder} ({err.strerror or err}): make it a writable "
            "folder or set EX2_RUNS_DIR to one"
        ) from None
    return folder


def lock_path(name: str) -> Path:
    return writable_folder(runs_root() / ".locks") / f"{name}.lock"


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
    if isinstance(history, train.ReconstructionHistory):
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


def metrics_json(
    cfg: RunConfig, history: train.History, subset, seconds: float, checkpoint_sha256: str
) -> dict:
    return {
        "config": cfg.to_dict(),
        "code": code_fingerprint(),
        "checkpoint_sha256": checkpoint_sha256,
        "history": history.to_dict(),
        "final": final_metrics(history),
        "train_seconds": seconds,
        "subset_indices": None if subset is None else subset.tolist(),
        "device": str(train.default_device()),
        "torch": torch.__version__,
    }


def write_json(path: Path, payload: dict) -> None:
    atomic_write_bytes(Path(path), (json.dumps(payload, indent=1) + "\n").encode())


def read_json(path: Path) -> dict | None:
    """The JSON object in `path`, or None (with a notice) when it is unreadable or not an object."""
    try:
        payload = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        notice(f"{path} is unreadable ({type(err).__name__}): recomputing it")
        return None
    if not isinstance(payload, dict):
        notice(f"{path} does not hold a JSON object: recomputing it")
        return None
    return payload


# --------------------------------------------------------------------------- the runs


def history_from_dict(d: dict) -> train.History:
    cls = train.ReconstructionHistory if d["loss_name"] == "L1" else train.ClassificationHistory
    return cls.from_dict(d)


def load_run(cfg: RunConfig, folder: Path) -> RunResult | None:
    """The cached run in `folder` if its metrics and checkpoint are whole and belong to `cfg` and
    to this code; otherwise None, with a notice saying why it will be retrained."""
    metrics_path, checkpoint = folder / "metrics.json", folder / "checkpoint.pt"
    metrics = read_json(metrics_path)
    if metrics is None:
        if checkpoint.exists() and not metrics_path.exists():
            notice(f"{folder.name}: checkpoint without metrics (an interrupted run): retraining")
        return None
    problem = None
    if metrics.get("config") != cfg.to_dict() or metrics.get("code") != code_fingerprint():
        problem = "its metrics.json belongs to another config or code"
    elif not checkpoint.exists() or metrics.get("checkpoint_sha256") != sha256_of(checkpoint):
        problem = "its checkpoint and metrics.json disagree"
    if problem is None:
        model = tasks.build_model(cfg)
        try:
            payload = load_checkpoint(checkpoint, model, cfg.to_dict())
            history = history_from_dict(payload["history"])
            return RunResult(
                cfg,
                model.cpu().eval(),
                history,
                folder,
                metrics["subset_indices"],
                float(metrics["train_seconds"]),
                cached=True,
            )
        except (CheckpointError, KeyError, TypeError, ValueError) as err:
            problem = f"unusable checkpoint ({str(err).splitlines()[0][:120]})"
    notice(f"{folder.name}: {problem}: retraining")
    return None


def run(cfg: RunConfig, log: Callable[[str], None] | None = None, force: bool = False) -> RunResult:
    """Train `cfg` once and cache it; later calls load the cached run. `force` retrains."""
    folder = run_dir(cfg)
    with locked(lock_path(folder.name), on_wait=notice):
        if folder.is_dir():
            remove_stale_temps(folder)
        if not force and folder.is_dir():
            cached = load_run(cfg, folder)
            if cached is not None:
                return cached
        if cache_only():
            raise missing(f"run {folder.name} ({cfg.label})")
        if folder.exists() and not folder.is_dir():
            raise CacheError(f"{folder} is a file, not a run folder: remove it")
        writable_folder(folder)
        (folder / "metrics.json").unlink(missing_ok=True)  # a killed retrain must not look finished
        return train_and_save(cfg, folder, log)


def train_and_save(cfg: RunConfig, folder: Path, log) -> RunResult:
    model = tasks.build_model(cfg)
    start = time.perf_counter()
    history = tasks.train_run(cfg, model, log, lambda c: run(c, log=log).model.encoder)
    seconds = time.perf_counter() - start
    subset = tasks.subset_of(cfg)
    save_checkpoint(folder / "checkpoint.pt", model, cfg.to_dict(), history.to_dict())
    checkpoint_sha = sha256_of(folder / "checkpoint.pt")
    # written last: its presence, with the checkpoint's SHA-256, marks the run complete
    write_json(folder / "metrics.json", metrics_json(cfg, history, subset, seconds, checkpoint_sha))
    subset_list = None if subset is None else subset.tolist()
    return RunResult(cfg, model.cpu().eval(), history, folder, subset_list, seconds, cached=False)


# --------------------------------------------------------------------------- measurements


def key_of(value):
    """How an argument enters a measurement's cache key: a run by its folder name."""
    if isinstance(value, RunConfig):
        return run_dir(value).name
    return value


def measurement_modules(fn) -> tuple:
    """The function's module, the ex2 modules it refers to, and the modules that shape runs."""
    module = sys.modules[fn.__module__]
    used = [
        v if isinstance(v, types.ModuleType) else sys.modules.get(getattr(v, "__module__", ""))
        for v in vars(module).values()
    ]
    # The cache's plumbing (this module) does not shape a measurement: the runs it loads are keyed
    # by their own folder names, which cover the code that trained them.
    own = [
        m
        for m in used
        if m is not None and m.__name__.startswith("ex2.") and m.__name__ != __name__
    ]
    return (module, *own, *RESULT_MODULES)


def cached_measurement(fn):
    """Cache a measurement on trained runs (no training) as `runs/<fn name>-<hash>.json`.

    The key is the function's name, the source of its module and of the ex2 modules it uses, and
    its arguments (a RunConfig by its run folder, anything else as JSON): change any of them and the
    measurement is recomputed. A file whose stored key differs, or that does not parse, is
    recomputed with a notice; `forget(*args)` deletes the cached result.
    """

    def key_and_path(*args, **kwargs):
        key = {
            "function": f"{fn.__module__}.{fn.__qualname__}",
            "args": [key_of(a) for a in args],
            "kwargs": {k: key_of(v) for k, v in sorted(kwargs.items())},
            "code": code_fingerprint(measurement_modules(fn)),
        }
        return key, runs_root() / f"{fn.__name__}-{key_hash(key)}.json"

    @functools.wraps(fn)
    def measured(*args, **kwargs):
        key, path = key_and_path(*args, **kwargs)
        with locked(lock_path(path.stem), on_wait=notice):
            remove_stale_temps(path.parent)
            stored = read_json(path)
            if (
                stored is not None
                and "result" in stored
                and stored.get("key") == json.loads(json.dumps(key))
            ):
                return stored["result"]
            if stored is not None:
                notice(f"{path.name} holds another measurement or none: recomputing it")
            if cache_only():
                raise missing(f"measurement {path.name} ({fn.__name__})")
            result = fn(*args, **kwargs)
            write_json(path, {"key": key, "result": result})
        return result

    measured.path = lambda *args, **kwargs: key_and_path(*args, **kwargs)[1]
    measured.forget = lambda *args, **kwargs: measured.path(*args, **kwargs).unlink(missing_ok=True)
    measured.signature = inspect.signature(fn)
    return measured
