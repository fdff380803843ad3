"""How any result is cached: sealed JSON files, a lock per result, computed once.

Reading a finished result takes no lock and writes nothing (another account, or a read-only copy
of the cache, reads it). Computing takes a lock per result, so that a second process waits for the
first and then reads its result. `experiments` says what is cached (runs and measurements) and
under which key.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from ex2.data import REPO_ROOT
from ex2.files import atomic_write_bytes, folder_setting, locked

# A result must not depend on how it was scheduled. Torch's CPU kernels sum in an order that
# depends on the thread count: the same (16,16) autoencoder step gives other losses in the fourth
# digit with 1 and with 2 threads (each bit-for-bit repeatable). So every cached result is computed
# with one thread, as prepare's workers run, whether prepare, a page or `ex2 run` computes it.
COMPUTE_THREADS = 1
_threads = COMPUTE_THREADS  # what compute_threads sets; only `callers_threads` changes it


@contextmanager
def compute_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def callers_threads() -> Iterator[None]:
    """Compute with the calling process's thread count instead: only for `make bench`'s old
    schedule (one process on all cores, as the pages once trained), which times a scratch cache
    and whose numbers therefore may differ in the fourth digit. Never for the book's results."""
    global _threads
    _threads = torch.get_num_threads()
    try:
        yield
    finally:
        _threads = COMPUTE_THREADS


class MissingResult(RuntimeError):
    """A result the book needs is not in the cache, and this process may not compute it."""


class CacheError(RuntimeError):
    """The experiment cache cannot be written (a path taken by a file, a read-only folder)."""


def notice(message: str) -> None:
    print(f"ex2: {message}", file=sys.stderr, flush=True)


def key_hash(payload) -> str:
    blob = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def runs_root() -> Path:
    return folder_setting("EX2_RUNS_DIR", REPO_ROOT / "runs")


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


# --------------------------------------------------------------------------- sealed files


def write_json(path: Path, payload: dict) -> None:
    atomic_write_bytes(Path(path), (json.dumps(payload, indent=1) + "\n").encode())


def content_sha256(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def write_sealed(path: Path, payload: dict) -> None:
    """Write `payload` as JSON with the SHA-256 of its content, so that any edit is detected."""
    write_json(path, {**payload, "sha256": content_sha256(payload)})


def refuse_folder(path: Path) -> None:
    if path.is_dir():
        raise CacheError(f"{path} is a folder, not a file: remove it")


def read_sealed(path: Path) -> tuple[dict | None, str | None]:
    """(the object `write_sealed` wrote, None), or (None, why it cannot be used); (None, None)
    when there is no file."""
    refuse_folder(path)
    try:
        payload = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, f"{path.name} is unreadable ({type(err).__name__})"
    if not isinstance(payload, dict):
        return None, f"{path.name} does not hold a JSON object"
    seal = payload.pop("sha256", None)
    if seal != content_sha256(payload):
        return None, f"{path.name} does not match its own SHA-256 (edited or damaged)"
    return payload, None


def cached(lock: str, read, compute, what: str, redo: str, force: bool = False):
    """What `read()` finds, else what `compute()` returns, computed under the lock `lock`.

    `read()` returns (what it found or None, why nothing usable or None). Reading takes no lock and
    writes nothing, so a read-only cache serves; computing first waits for a process computing the
    same thing, then reads again. `what` names the result when EX2_CACHE_ONLY forbids computing.
    """
    if not force:
        found, _ = read()
        if found is not None:
            return found
        if cache_only():
            raise missing(what)
    with locked(lock_path(lock), on_wait=notice):
        if not force:
            found, problem = read()  # another process may have computed it meanwhile
            if found is not None:
                return found
            if problem is not None:
                notice(f"{problem}: {redo}")
        with compute_threads():
            return compute()
