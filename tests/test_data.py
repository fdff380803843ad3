import gzip
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from readonly import run_with_read_only

from ex2 import data as D
from ex2 import fetch

REPO = Path(__file__).resolve().parent.parent
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]  # official MNIST
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

# SHA-256 of the tensors' bytes as the loader before this one returned them (torchvision's
# MNIST class on the same raw files, then .float().div_(255.0) and .long()): the book's numbers
# depend on these exact bits.
TENSOR_SHA256_BEFORE = {
    "train_images": "257f039238a0be158bad088c051a53908383fd47df03a7b1c229bb7bc968f160",
    "train_labels": "e474323ac02fc156161b0bbb1f8c9cfeb327a74bcd9f9680a8385269a24f566c",
    "test_images": "bc9f8f501f39b3ca61f899a2f402edf2024bde012b73223431b6bd735e47a165",
    "test_labels": "2fd8de6bdb8d11780b4b96dc57847bcfe6953f7c32aa48bfcd8237c3b7847243",
}
IMAGES, LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def test_idx_files_match_official_checksums(mnist):
    for name in D.IDX_FILES:
        assert D.sha256_of(D.raw_dir() / name) == D.IDX_FILES[name][1], name
    assert D.sha256_of(D.data_root() / "wheels" / fetch.WHEEL_FILENAME) == fetch.WHEEL_SHA256


def test_split_sizes_and_dtypes(mnist):
    assert mnist.train_images.shape == (60000, 1, 28, 28)
    assert mnist.test_images.shape == (10000, 1, 28, 28)
    assert mnist.train_images.dtype == torch.float32 and mnist.train_labels.dtype == torch.int64
    assert mnist.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def test_label_histograms(mnist):
    assert torch.bincount(mnist.train_labels, minlength=10).tolist() == TRAIN_COUNTS
    assert torch.bincount(mnist.test_labels, minlength=10).tolist() == TEST_COUNTS


def test_pixel_statistics(mnist):
    assert mnist.train_images.min() == 0 and mnist.train_images.max() == 1
    assert mnist.train_images.mean().item() == pytest.approx(0.1307, abs=5e-5)
    assert mnist.train_images.std().item() == pytest.approx(0.3081, abs=5e-5)


def test_tensors_are_bit_identical_to_the_previous_loader(mnist):
    for field, digest in TENSOR_SHA256_BEFORE.items():
        tensor = getattr(mnist, field)
        assert tensor.is_contiguous()
        assert hashlib.sha256(tensor.numpy().tobytes()).hexdigest() == digest, field


def test_tensors_equal_torchvisions_reading_of_the_same_files(mnist):
    from torchvision.datasets.mnist import read_image_file, read_label_file

    raw = D.raw_dir()
    for prefix, images, labels in [
        ("train", mnist.train_images, mnist.train_labels),
        ("t10k", mnist.test_images, mnist.test_labels),
    ]:
        expected = read_image_file(str(raw / f"{prefix}-images-idx3-ubyte"))
        assert torch.equal(images, expected.unsqueeze(1).float().div_(255.0))
        assert torch.equal(labels, read_label_file(str(raw / f"{prefix}-labels-idx1-ubyte")).long())


# --------------------------------------------------------------------------- bad data folders


def data_copy(tmp_path) -> Path:
    """A data root whose IDX files are symlinks to the real ones (replace, never write through)."""
    root = tmp_path / "data"
    D.raw_dir(root).mkdir(parents=True)
    for name in D.IDX_FILES:
        (D.raw_dir(root) / name).symlink_to(D.raw_dir() / name)
    return root


def rewrite(root: Path, name: str, change) -> Path:
    """Replace IDX file `name` under `root` by `change(its bytes as a bytearray)`."""
    path = D.raw_dir(root) / name
    payload = bytearray(path.read_bytes())
    path.unlink()  # the symlink: the real file is never touched
    path.write_bytes(bytes(change(payload)))
    return path


def refused(root: Path, match: str, verify_hash: bool = True) -> str:
    """The one-line DataError that both loading and `fetch-data` give for `root`."""
    messages = []
    for check in (lambda: D.load_mnist(root), lambda: D.ensure_mnist(root, verify_hash)):
        with pytest.raises(D.DataError, match=match) as info:
            check()
        assert "\n" not in str(info.value)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    return messages[0]


def set_byte(offset: int, new):
    """A `rewrite` change: byte `offset` becomes `new(old byte)`."""

    def change(payload):
        payload[offset] = new(payload[offset])
        return payload

    return change


@pytest.mark.parametrize("name", list(D.IDX_FILES))
def test_same_size_corruption_of_each_idx_file_is_refused(name, tmp_path):
    root = data_copy(tmp_path)
    # The last byte: a pixel, or a label changed to another valid label.
    path = rewrite(
        root, name, set_byte(-1, lambda byte: (byte + 1) % 10 if "labels" in name else ~byte & 0xFF)
    )
    assert path.stat().st_size == D.IDX_FILES[name][0]
    message = refused(root, "wrong SHA-256")
    assert str(path) in message and "fetch-data" in message


@pytest.mark.parametrize(
    "entry",
    [
        "MNIST/processed/training.pt",
        "MNIST/raw/notes.txt",
        "MNIST/raw/t10k-images-idx3-ubyte.gz",
        "MNIST/raw/.hidden",
        "MNIST/raw/cache/x",
        "MNIST/extra",
    ],
)
def test_anything_unexpected_in_the_mnist_folders_is_refused(entry, tmp_path):
    root = data_copy(tmp_path)
    (root / entry).parent.mkdir(parents=True, exist_ok=True)
    zeros = io.BytesIO()  # what torchvision's MNIST would load instead of the raw files
    torch.save((torch.zeros(10, 28, 28, dtype=torch.uint8), torch.zeros(10)), zeros)
    (root / entry).write_bytes(zeros.getvalue())
    depth = 3 if entry.startswith("MNIST/raw/") else 2
    stray = root.joinpath(*entry.split("/")[:depth])  # what sits in MNIST/ or in MNIST/raw/
    message = refused(root, "unexpected .* in the MNIST data folder.*remove it$", verify_hash=False)
    assert f"unexpected {stray} " in message


def test_a_folder_under_an_idx_name_is_refused(tmp_path):
    root = data_copy(tmp_path)
    (D.raw_dir(root) / LABELS).unlink()
    (D.raw_dir(root) / LABELS).mkdir()
    assert f"unexpected {D.raw_dir(root) / LABELS} " in refused(root, "remove it")


GZIP = int.from_bytes(b"\x1f\x8b\x08\x00", "big")  # what a .gz file's first 4 bytes read as
BAD_HEADERS = {  # name, header change -> message
    "label magic in an image file": (
        IMAGES,
        set_byte(3, lambda _: 0x01),
        "IDX magic number 2049, expected 2051",
    ),
    "image magic in a label file": (
        LABELS,
        set_byte(3, lambda _: 0x03),
        "IDX magic number 2051, expected 2049",
    ),
    "gzip-compressed": (TEST_IMAGES, lambda p: gzip.compress(p), f"IDX magic number {GZIP}"),
    "59999 images": (IMAGES, set_byte(7, lambda b: b - 1), r"shape \(59999, 28, 28\), expected"),
    "784x1 images": (
        TEST_IMAGES,
        lambda p: p[:8] + np.array([784, 1], ">i4").tobytes() + p[16:],
        r"shape \(10000, 784, 1\)",
    ),
    "10001 labels": (TEST_LABELS, set_byte(7, lambda b: b + 1), r"shape \(10001,\)"),
}


@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_bad_idx_header_is_a_one_line_error(case, tmp_path):
    name, change, match = BAD_HEADERS[case]
    root = data_copy(tmp_path)
    path = rewrite(root, name, change)
    assert str(path) in refused(root, match + ".*fetch-data", verify_hash=False)


@pytest.mark.parametrize("name, index, label", [(LABELS, 5, 10), (TEST_LABELS, 9999, 255)])
def test_label_out_of_range_is_a_one_line_error(name, index, label, tmp_path):
    root = data_copy(tmp_path)
    path = rewrite(root, name, set_byte(8 + index, lambda _: label))
    message = refused(root, f"label {label} at index {index}, outside 0..9")
    assert str(path) in message


@pytest.mark.parametrize(
    "name, change, match",
    [
        (TEST_LABELS, lambda p: p[:-100], "has 9908 bytes, expected 10008 .truncated or corrupt"),
        (IMAGES, lambda p: p[:10], "has 10 bytes, too short for its IDX header"),
        (TEST_IMAGES, lambda p: b"", "has 0 bytes, too short"),
        (LABELS, lambda p: p + b"\0", "has 60009 bytes, expected 60008"),
    ],
)
def test_truncated_or_extended_file_is_a_one_line_error(name, change, match, tmp_path):
    root = data_copy(tmp_path)
    path = rewrite(root, name, change)
    assert str(path) in refused(root, match + ".*fetch-data", verify_hash=False)


@pytest.mark.parametrize("layout", ["", "MNIST", "MNIST/raw"])
def test_data_folder_that_is_a_file_is_a_one_line_error(layout, tmp_path):
    root = tmp_path / "data"
    path = root / layout
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not a folder")
    message = refused(root, "is a file, not a folder.*fetch-data", verify_hash=False)
    assert str(path) in message


def test_data_root_under_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "file").write_text("x")
    message = refused(tmp_path / "file" / "data", "cannot write .*writable.*fetch-data")
    assert "Not a directory" in message


# --------------------------------------------------------------------------- read-only data root


def run_read_only(folder: Path, code: str, *args) -> subprocess.CompletedProcess:
    """Run python `code` in a process that sees `folder` read-only."""
    command = [sys.executable, "-c", code, *map(str, args)]
    return run_with_read_only(folder, command, {**os.environ, "PYTHONPATH": str(REPO)})


TRY_ENSURE = """
import sys
from ex2 import data as D
try:
    root = D.ensure_mnist(sys.argv[1], verify_hash=True)
    print("ok", D.load_mnist(root).train_labels[:3].tolist())
except D.DataError as err:
    print("DataError:", err)
"""


def test_read_only_data_root_that_needs_a_write_is_a_one_line_error(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    out = run_read_only(root, TRY_ENSURE, root).stdout.strip()
    assert out.startswith(f"DataError: cannot write {root / '.lock'} (") and "\n" not in out
    assert out.endswith("writable folder, then run `python -m ex2 fetch-data` (or `make data`)")


def test_read_only_data_root_with_complete_files_loads(tmp_path):
    root = data_copy(tmp_path)
    leftover = D.raw_dir(root) / f".{IMAGES}.k1ll3d.tmp"
    leftover.write_bytes(b"from a killed write")
    os.utime(leftover, (0, 0))
    proc = run_read_only(root, TRY_ENSURE, root)
    assert proc.stdout.strip() == "ok [5, 0, 4]", proc.stderr
    assert leftover.exists()  # could not be removed, and was not in the way


# --------------------------------------------------------------------------- sampling


def test_random_subset_is_seeded_distinct_and_sorted():
    a, b = D.random_subset(60000, 100, 0), D.random_subset(60000, 100, 0)
    c = D.random_subset(60000, 100, 1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len(set(a.tolist())) == 100 and torch.all(a[1:] > a[:-1])
    assert 0 <= a.min() and a.max() < 60000
    with pytest.raises(ValueError):
        D.random_subset(10, 11, 0)


def test_shuffled_batches_cover_every_index_once():
    gen = torch.Generator().manual_seed(0)
    batches = D.shuffled_batches(1000, 256, gen)
    assert [len(b) for b in batches] == [256, 256, 256, 232]
    assert sorted(torch.cat(batches).tolist()) == list(range(1000))
