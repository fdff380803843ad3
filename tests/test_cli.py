"""The command line `python -m ex2`: trains through the experiment cache; one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ex2 import chapters, cli, config
from ex2 import experiments as E
from ex2.claims import Check, Claim, Interpretation
from ex2.data import random_subset

REPO = Path(__file__).resolve().parent.parent
COMMANDS = ("fetch-data", "chapters", "prepare", "rerun", "claims") + tuple(
    f"train-{task}" for task in config.TASKS
)


def test_help_lists_every_command():
    text = cli.build_parser().format_help()
    for command in COMMANDS:
        assert command in text, command


def test_python_m_ex2_runs_the_cli_and_reports_bad_values_in_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "ex2", "train-autoencoder", "--base", "0"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "error: --base must be an integer from 1 to 256, got 0\n"
    assert proc.stdout == ""


def test_dry_run_autoencoder_prints_epoch_line_and_writes_metrics_and_checkpoint(tmp_path, capsys):
    out, ck = tmp_path / "out" / "m.json", tmp_path / "ae.pt"
    argv = ["train-autoencoder", "--base", "2", "--latent", "4", "--dry-run"]
    assert cli.main(argv + ["--metrics-out", str(out), "--checkpoint", str(ck)]) == 0
    printed = capsys.readouterr().out
    cfg = config.make("autoencoder", base=2, latent=4, epochs=1, max_batches=cli.DRY_RUN_BATCHES)
    assert f"-> {E.run_dir(cfg)}" in printed
    assert "[01/1] train L1=" in printed and "final: test_l1=" in printed
    assert "cached" not in printed
    metrics = json.loads(out.read_text())
    assert config.RunConfig.from_dict(metrics["config"]) == cfg
    assert 0 < metrics["final"]["test_l1"] < 1
    assert out.read_bytes() == (E.run_dir(cfg) / "metrics.json").read_bytes()
    assert ck.read_bytes() == (E.run_dir(cfg) / "checkpoint.pt").read_bytes()
    assert cli.main(argv) == 0
    assert "cached: this run was trained before" in capsys.readouterr().out
    assert cli.main(argv + ["--retrain"]) == 0
    again = capsys.readouterr().out
    assert "[01/1] train L1=" in again and "cached" not in again


def test_classifier_subset_saves_its_indices(tmp_path):
    out = tmp_path / "m.json"
    argv = ["train-classifier", "--base", "2", "--latent", "4", "--subset", "100"]
    argv += ["--subset-seed", "5", "--batch-size", "10", "--dry-run", "--metrics-out", str(out)]
    assert cli.main(argv) == 0
    metrics = json.loads(out.read_text())
    assert metrics["subset_indices"] == random_subset(60000, 100, 5).tolist()
    assert 0 <= metrics["final"]["test_accuracy"] <= 1


@pytest.mark.parametrize(
    "command,upstream",
    [(["train-head"], "autoencoder"), (["train-decoder", "--encoder-from", "classifier"], None)],
)
def test_frozen_encoder_commands_train_their_upstream_run_first(tmp_path, command, upstream):
    upstream = upstream or "classifier"
    out = tmp_path / "m.json"
    argv = command + ["--base", "2", "--latent", "4", "--dry-run", "--metrics-out", str(out)]
    assert cli.main(argv) == 0
    metrics = json.loads(out.read_text())
    assert metrics["config"]["encoder"]["task"] == upstream
    encoder_cfg = config.RunConfig.from_dict(metrics["config"]["encoder"])
    assert encoder_cfg.max_batches == cli.DRY_RUN_BATCHES  # a dry run's upstream run is small too
    assert (E.run_dir(encoder_cfg) / "metrics.json").exists()
    final = metrics["final"]
    assert ("test_accuracy" if command[0] == "train-head" else "test_l1") in final


def test_chapters_and_rerun_of_a_chapter_without_runs(capsys):
    assert cli.main(["chapters"]) == 0
    assert capsys.readouterr().out.splitlines() == list(chapters.CHAPTERS)
    assert cli.main(["rerun", "intro"]) == 0
    assert capsys.readouterr().out == "intro: retrained 0 run(s), recomputed its measurements\n"


@pytest.mark.parametrize("failing", [False, True])
def test_claims_command_prints_each_claim_and_fails_on_a_false_one(monkeypatch, capsys, failing):
    claims = [Claim("q1.x", "", "a < 1", {"a": 0.5}), Claim("q2.y", "", "b", {"b": not failing})]
    checked = chapters.Checked(
        claims, [Check("q1.c", "", "True")], [Interpretation("q1.i", "", "")]
    )
    monkeypatch.setattr(chapters, "checked", lambda: checked)
    assert cli.main(["claims"]) == (1 if failing else 0)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "PASS q1.x: a < 1 [a=0.5]"
    assert lines[1].startswith("FAIL q2.y" if failing else "PASS q2.y")
    assert lines[2] == "PASS q1.c: True []"
    passed = "1 passed, 1 failed" if failing else "2 passed, 0 failed"
    assert (
        lines[3]
        == f"2 claims: {passed}; 1 checks: 1 passed, 0 failed; 1 interpretations (not checked)"
    )


def test_unknown_command_or_option_is_an_argparse_usage_error(capsys):
    for argv in (["train-everything"], ["train-autoencoder", "--subset", "100"], ["rerun", "q9"]):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
