import json
import subprocess
import sys

import pytest

from ex2.cli import main


def test_help_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "ex2", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("fetch-data", "train-autoencoder", "train-classifier", "train-head", "train-decoder"):
        assert command in out


def test_dry_run_autoencoder_prints_epoch_line_and_writes_metrics(tmp_path, capsys):
    out = tmp_path / "m.json"
    ck = tmp_path / "ae.pt"
    assert main(["train-autoencoder", "--base", "4", "--latent", "4", "--dry-run",
                 "--metrics-out", str(out), "--checkpoint", str(ck)]) == 0
    printed = capsys.readouterr().out
    assert "[01/1] train L1=" in printed
    metrics = json.loads(out.read_text())
    assert metrics["config"]["base"] == 4 and metrics["config"]["max_batches"] == 3
    assert 0 < metrics["final"]["test_l1"] < 1
    assert ck.exists()


def test_classifier_subset_saves_its_indices(tmp_path):
    out = tmp_path / "m.json"
    assert main(["train-classifier", "--base", "4", "--latent", "4", "--subset", "100", "--subset-seed", "5",
                 "--batch-size", "10", "--dry-run", "--metrics-out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert len(metrics["subset_indices"]) == 100
    assert 0 <= metrics["final"]["test_accuracy"] <= 1


@pytest.mark.parametrize("command", [["train-head"], ["train-decoder", "--encoder-from", "classifier"]])
def test_frozen_encoder_commands_dry_run(tmp_path, command, capsys):
    out = tmp_path / "m.json"
    assert main(command + ["--base", "4", "--latent", "4", "--dry-run", "--metrics-out", str(out)]) == 0
    assert "pretrained encoder:" in capsys.readouterr().out
    final = json.loads(out.read_text())["final"]
    assert ("test_accuracy" if command[0] == "train-head" else "test_l1") in final


def test_encoder_checkpoint_of_wrong_size_is_a_one_line_error(tmp_path, capsys):
    ck = tmp_path / "ae.pt"
    main(["train-autoencoder", "--base", "4", "--latent", "4", "--dry-run", "--checkpoint", str(ck)])
    code = main(["train-head", "--base", "4", "--latent", "8", "--dry-run", "--encoder-checkpoint", str(ck)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1


def test_bad_arguments_exit_with_usage_error():
    proc = subprocess.run([sys.executable, "-m", "ex2", "train-autoencoder", "--base", "0"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "must be a positive integer" in proc.stderr
