import pytest
import torch
from book_build import built_book  # noqa: F401  (session fixture: one smoke build of the book)

from ex2.data import MnistTensors, load_mnist

# The first `slow` test builds the smoke book (10+ minutes on 2 loaded cores): it gets more time
# than the default `timeout` of pyproject.toml, but a hung `make book` still fails the suite.
SLOW_TIMEOUT_S = 3600


def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))


@pytest.fixture(autouse=True)
def isolated_runs(tmp_path, monkeypatch):
    """Every test gets its own experiment cache; the real data root is shared (read-only use)."""
    monkeypatch.setenv("EX2_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("EX2_PROFILE", raising=False)


@pytest.fixture(scope="session")
def mnist() -> MnistTensors:
    return load_mnist()


@pytest.fixture(scope="session")
def small_mnist(mnist) -> MnistTensors:
    """512 real training and 256 real test images: fast, but the real thing."""
    return MnistTensors(
        mnist.train_images[:512],
        mnist.train_labels[:512],
        mnist.test_images[:256],
        mnist.test_labels[:256],
    )


@pytest.fixture(autouse=True)
def fixed_threads():
    torch.set_num_threads(2)
