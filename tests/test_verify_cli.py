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
from verify import toeplitz as jac_toeplitz
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

# Claims added with the corrected theory (issues #11, #12): each must run in `python -m verify`,
# so that a wrong builder or a wrong statement fails the book build, not only pytest.
NEW_CLAIMS = {
    "T1.conv1d_circular_dilated",
    "T1.circular_stride2_odd_shifts",
    "T1.circular_stride2_even_shifts",
    "T1.circular_shorter_output",
    "T1.circular_longer_output",
    "T2c.max_pool_k_not_dividing_n",
    "T2c.avg_pool_k_not_dividing_n",
    "T2d.cnn_stride_not_dividing_n",
    "T2d.cnn_linear_not_invariant",
    "T3c.conv1d_asymmetric_padding",
    "T3c.conv1d_circular_strided",
    "T3c.conv1d_circular_dilated",
    "T3c.conv1d_circular_k_gt_n",
    "T3c.im2col_strided",
    "T3c.conv2d_strided_both",
    "T3c.toeplitz_structure_dilated",
    "T3c.circulant_structure_dilated",
    "T3c.circulant_structure_k_gt_n",
    "T3c.stride_rows_1d_circular",
    "T3c.stride_rows_2d",
    "T3c.stride_rows_2d_both",
    "T3c.stride_h_blocks_toeplitz",
    "T3c.stride_h_not_block_toeplitz",
    "T3c.stride_w_block_toeplitz",
    "T3c.stride_w_blocks_not_toeplitz",
}


@pytest.fixture(scope="module")
def no_data_results(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EX2_DATA_ROOT", str(tmp_path_factory.mktemp("empty")))  # MNIST claim omitted
        return verify.run_all()


def test_run_all_passes_and_covers_every_question(no_data_results):
    results = no_data_results
    assert all(isinstance(r, verify.ClaimResult) for r in results)
    assert [r.line() for r in results if not r.passed] == []
    questions = {r.question for r in results}
    assert questions == {"T1", "T2a", "T2b", "T2c", "T2d", "T3a", "T3b", "T3c"}
    assert "T2d.cnn_mnist_not_equivariant" not in {r.id for r in results}
    assert {r.expect for r in results} == {"holds", "fails"}  # both kinds of claims


def test_ids_are_unique_and_every_new_claim_runs(no_data_results):
    ids = [r.id for r in no_data_results]
    assert len(ids) == len(set(ids))
    assert NEW_CLAIMS <= set(ids), sorted(NEW_CLAIMS - set(ids))
    # in question order
    order = ["T1", "T2a", "T2b", "T2c", "T2d", "T3a", "T3b", "T3c"]
    assert [order.index(r.question) for r in no_data_results] == sorted(
        order.index(r.question) for r in no_data_results
    )


RIGHT_SINGLE = jac_toeplitz._toeplitz_single


def overwriting_circular(h, n_in, padding, stride, dilation, padding_mode):
    """The 1D builder, but circular taps that meet on one column overwrite each other."""
    J = RIGHT_SINGLE(h, n_in, padding, stride, dilation, padding_mode)
    if padding_mode != "circular":
        return J
    J[:] = 0
    left = jac_toeplitz.pair(padding)[0]
    for i in range(J.shape[0]):
        for k in range(len(h)):
            J[i, (i * stride + k * dilation - left) % n_in] = h[k]
    return J


def im2col_without_stride(x, kernel_size, padding, stride):
    return jac_toeplitz.conv1d_kernel_jacobian(x, kernel_size, padding, 1)


def block_toeplitz_without_stride(weight, h, w, padding, stride):
    return jac_toeplitz.block_toeplitz_conv2d(weight, h, w, padding, 1)


@pytest.mark.parametrize(
    "module, name, wrong, must_fail",
    [
        ("toeplitz", "_toeplitz_single", overwriting_circular, "T3c.conv1d_circular_k_gt_n"),
        ("jacobian", "conv1d_kernel_jacobian", im2col_without_stride, "T3c.im2col_strided"),
        (
            "jacobian",
            "block_toeplitz_conv2d",
            block_toeplitz_without_stride,
            "T3c.conv2d_strided_both",
        ),
    ],
    ids=["circular-overwrites", "im2col-stride-ignored", "2d-stride-ignored"],
)
def test_a_wrong_builder_fails_run_all(tmp_path, monkeypatch, module, name, wrong, must_fail):
    monkeypatch.setattr(f"verify.{module}.{name}", wrong)
    monkeypatch.setenv("EX2_DATA_ROOT", str(tmp_path))
    failed = {r.id for r in verify.run_all() if not r.passed}
    assert must_fail in failed


def test_run_all_uses_the_mnist_file_when_present(tmp_path, monkeypatch):
    write_idx3(raw_path(tmp_path), digits())
    monkeypatch.setenv("EX2_DATA_ROOT", str(tmp_path))
    by_id = {r.id: r for r in verify.run_all()}
    r = by_id["T2d.cnn_mnist_not_equivariant"]
    assert r.passed and r.expect == "fails"
    assert np.array_equal(r.data["input"][0, 0], digits()[0] / 255.0)


# ------------------------------------------------------------------ CLI --


def test_cli_prints_one_line_per_claim_and_exits_zero(tmp_path):
    env = {**os.environ, "EX2_DATA_ROOT": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "verify"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )  # no timeout of its own: the test's (pytest-timeout) allows for a loaded machine
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    verdicts = [ln for ln in lines if ln.endswith(("PASS", "FAIL"))]
    assert all(ln.endswith("PASS") for ln in verdicts)
    controls = [ln for ln in verdicts if ln.startswith("control.")]
    claims = [ln for ln in verdicts if not ln.startswith("control.")]
    assert len(claims) >= 70 and len(controls) >= 15
    assert {ln.split()[0] for ln in claims} >= NEW_CLAIMS  # each line starts with its id
    assert any(ln.startswith("T2d.cnn_mnist_not_equivariant  [skipped]") for ln in lines)
    assert lines[-2] == f"{len(controls)} negative controls: {len(controls)} caught, 0 missed"
    assert lines[-1] == f"{len(claims)} claims: {len(claims)} passed, 0 failed"


def test_cli_exit_code_is_nonzero_when_a_claim_fails(monkeypatch, capsys):
    bad = make_result("T3a.wrong", "a wrong claim", "max |.|", 1.0, 1e-12, "holds")
    monkeypatch.setattr(cli, "run_all", lambda mnist_image=None: [bad])
    monkeypatch.setattr(cli, "load_mnist_digit", lambda: None)
    assert cli.main() == 1
    assert "FAIL" in capsys.readouterr().out


def test_cli_reports_a_bad_mnist_file(tmp_path, monkeypatch, capsys):
    write_idx3(raw_path(tmp_path), digits(), magic=1234)
    monkeypatch.setenv("EX2_DATA_ROOT", str(tmp_path))
    assert cli.main() == 2
    assert "magic" in capsys.readouterr().err
