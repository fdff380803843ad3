"""run_all, the MNIST IDX loader and `python -m verify`."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import verify
import verify.__main__ as cli
from verify import mnist
from verify.results import make_result

REPO = Path(__file__).resolve().parent.parent


def write_idx3(path, images, magic=2051, rows=28, cols=28, n=None, truncate=0):
    images = np.asarray(images, dtype=np.uint8)
    n = len(images) if n is None else n
    header = np.array([magic, n, rows, cols], dtype=">i4").tobytes()
    body = images.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((header + body)[: len(header + body) - truncate])
    return path


def digits(n=2):
    return np.random.default_rng(0).integers(0, 256, size=(n, 28, 28))


def raw_path(root):
    return root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"


# ------------------------------------------------------------------ IDX --


def test_reads_the_first_digit_as_pixels_over_255(tmp_path):
    imgs = digits()
    write_idx3(raw_path(tmp_path), imgs)
    x = mnist.load_mnist_digit(tmp_path)
    assert x.dtype == np.float64 and x.shape == (28, 28)
    assert np.array_equal(x, imgs[0] / 255.0)
    assert np.array_equal(mnist.load_mnist_digit(tmp_path, index=1), imgs[1] / 255.0)


def test_missing_file_gives_none(tmp_path):
    assert mnist.load_mnist_digit(tmp_path) is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"magic": 2049}, "magic"),
        ({"rows": 27}, "27x28"),
        ({"truncate": 5}, "bytes"),
        ({"n": 3}, "bytes"),
    ],
)
def test_bad_headers_are_clear_errors(tmp_path, kwargs, message):
    path = write_idx3(raw_path(tmp_path), digits(), **kwargs)
    with pytest.raises(ValueError, match=message):
        mnist.read_idx3_image(path)


def test_too_short_file(tmp_path):
    path = raw_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="too short"):
        mnist.read_idx3_image(path)


def test_data_root_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("EX2_DATA_ROOT", str(tmp_path))
    assert mnist.data_root() == tmp_path
    monkeypatch.delenv("EX2_DATA_ROOT")
    assert mnist.data_root() == REPO / "data"


# -------------------------------------------------------------- run_all --


def test_run_all_passes_and_covers_every_question(tmp_path, monkeypatch):
    monkeypatch.setenv("EX2_DATA_ROOT", str(tmp_path))  # no data: MNIST claim omitted
    results = verify.run_all()
    assert all(isinstance(r, verify.ClaimResult) for r in results)
    assert [r.line() for r in results if not r.passed] == []
    questions = {r.question for r in results}
    assert questions == {"T1", "T2a", "T2b", "T2c", "T2d", "T3a", "T3b", "T3c"}
    assert not any("MNIST" in r.claim for r in results)
    # both kinds of claims are present
    assert {r.expect for r in results} == {"holds", "fails"}


def test_run_all_uses_the_mnist_file_when_present(tmp_path, monkeypatch):
    write_idx3(raw_path(tmp_path), digits())
    monkeypatch.setenv("EX2_DATA_ROOT", str(tmp_path))
    results = verify.run_all()
    mn = [r for r in results if "MNIST" in r.claim]
    assert len(mn) == 1 and mn[0].passed and mn[0].expect == "fails"
    assert np.array_equal(mn[0].data["input"][0, 0], digits()[0] / 255.0)


# ------------------------------------------------------------------ CLI --


def test_cli_prints_one_line_per_claim_and_exits_zero(tmp_path):
    env = {**os.environ, "EX2_DATA_ROOT": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "verify"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    claims = [ln for ln in lines if ln.endswith(("PASS", "FAIL"))]
    assert len(claims) >= 40 and all(ln.endswith("PASS") for ln in claims)
    assert any("[skipped]" in ln and "MNIST" in ln for ln in lines)
    assert lines[-1] == f"{len(claims)} claims: {len(claims)} passed, 0 failed"


def test_cli_exit_code_is_nonzero_when_a_claim_fails(monkeypatch, capsys):
    bad = make_result("T3a", "a wrong claim", "max |.|", 1.0, 1e-12, "holds")
    monkeypatch.setattr(cli, "run_all", lambda mnist_image=None: [bad])
    monkeypatch.setattr(cli, "load_mnist_digit", lambda: None)
    assert cli.main() == 1
    assert "FAIL" in capsys.readouterr().out


def test_cli_reports_a_bad_mnist_file(tmp_path, monkeypatch, capsys):
    write_idx3(raw_path(tmp_path), digits(), magic=1234)
    monkeypatch.setenv("EX2_DATA_ROOT", str(tmp_path))
    assert cli.main() == 2
    assert "magic" in capsys.readouterr().err
