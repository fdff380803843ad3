"""Load one MNIST test digit straight from the IDX file, with numpy only.

`verify` must not depend on the `ex2` package, so it reads the standard
uncompressed IDX3 file itself:

    <data root>/MNIST/raw/t10k-images-idx3-ubyte
    bytes 0..15: big-endian int32 magic (2051), count n, rows (28), cols (28)
    then n * 28 * 28 uint8 pixels, image by image, row by row.

The data root is ``$EX2_DATA_ROOT`` if set, else ``<repo root>/data`` (repo root
= the folder that contains the ``verify`` package).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

IDX3_MAGIC = 2051
ROWS = COLS = 28
HEADER_BYTES = 16


def data_root() -> Path:
    env = os.environ.get("EX2_DATA_ROOT")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data"


def mnist_test_images_path(root=None) -> Path:
    root = data_root() if root is None else Path(root)
    return root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"


def read_idx3_image(path, index: int = 0) -> np.ndarray:
    """Image `index` of an IDX3 file as float64 in [0, 1] (pixels / 255), shape (28, 28).

    Raises ValueError if the header or the file size is not that of a 28x28
    IDX3 image file.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(HEADER_BYTES)
        if len(header) < HEADER_BYTES:
            raise ValueError(
                f"{path}: {size} bytes, too short for an IDX3 header ({HEADER_BYTES} bytes)"
            )
        magic, n, rows, cols = np.frombuffer(header, dtype=">i4")
        if magic != IDX3_MAGIC:
            raise ValueError(
                f"{path}: magic number {magic}, expected {IDX3_MAGIC} (IDX3 images, uncompressed)"
            )
        if (rows, cols) != (ROWS, COLS):
            raise ValueError(f"{path}: images are {rows}x{cols}, expected {ROWS}x{COLS}")
        expected = HEADER_BYTES + int(n) * ROWS * COLS
        if size != expected:
            raise ValueError(
                f"{path}: {size} bytes, but the header promises {n} images = {expected} bytes"
            )
        if not 0 <= index < n:
            raise ValueError(f"{path}: image index {index} out of range 0..{n - 1}")
        f.seek(HEADER_BYTES + index * ROWS * COLS)
        pixels = np.frombuffer(f.read(ROWS * COLS), dtype=np.uint8)
    return pixels.reshape(ROWS, COLS).astype(np.float64) / 255.0


def load_mnist_digit(root=None, index: int = 0):
    """The first (or `index`-th) MNIST test digit, or None if the file is not there yet."""
    path = mnist_test_images_path(root)
    if not path.is_file():
        return None
    return read_idx3_image(path, index)
