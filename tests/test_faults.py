"""Issue #13, the cache and the CLI: every fault is a one-line error or a correct recovery.

Each case damages the experiment cache or feeds the CLI a bad input, then checks that either a
one-line `error: ...` came out (exit 2, no traceback, nothing trained), or the run was retrained
with a one-line notice and the result served is the run's own (same numbers as an undamaged
training, its own subset). Nothing that was there before is lost, and no wrong result is served.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from readonly import run_with_read_only

from ex2 import cli, config
from ex2 import experiments as E
from ex2 import train as T
from ex2.data import MnistTensors, random_subset, sha256_of

REPO = Path(__file__).resolve().parent.parent
TINY = config.make("autoencoder", base=2, latent=4, epochs=1, max_batches=2)
TINY_ARGV = ["train-autoencoder", "--base", "2", "--latent", "4", "--dry-run"]
TINY_CLI = cli.run_config(cli.build_parser().parse_args(TINY_ARGV))


def subset_run(draw: int):
    return config.make(
        "classifier", base=2, latent=4, epochs=1, batch_size=10, subset_size=100,
        subset_seed=draw, seed=draw, max_batches=2,
    )  # fmt: skip


def notices(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("ex2: ")]


def numbers(history) -> dict:
    """A history's losses and metrics (not its timings)."""
    return {k: v for k, v in history.to_dict().items() if k != "seconds"}


def assert_own_valid_run(result, cfg, reference=None):
    """`result` is `cfg`'s own run, its cache folder agrees with it, and a later call serves it."""
    folder = E.run_dir(cfg)
    assert result.config == cfg and result.run_dir == folder
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["config"] == cfg.to_dict() and metrics["code"] == E.code_fingerprint()
    assert metrics["checkpoint_sha256"] == sha256_of(folder / "checkpoint.pt")
    expected_subset = None if cfg.subset_size is None else E.tasks.subset_of(cfg).tolist()
    assert result.subset_indices == metrics["subset_indices"] == expected_subset
    if reference is not None:  # training is deterministic: a retrain gives the same numbers
        assert numbers(result.history) == numbers(reference.history)
    again = E.run(cfg)
    assert again.cached and again.history == result.history
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def assert_one_line_error(capsys, code: int, *fragments: str) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


# --------------------------------------------------------------------------- a damaged metrics.json

DAMAGED_METRICS = {
    "truncated": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "not JSON": lambda text: "this is not JSON {",
    "not UTF-8": lambda text: b"\xff\xfe\x00garbage",
    "a JSON list": lambda text: json.dumps([json.loads(text)]),
    "JSON null": lambda text: "null",
    "no code": lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "code"}),
    "old code": lambda text: json.dumps({**json.loads(text), "code": "0123456789ab"}),
    "no train_seconds": lambda text: json.dumps(
        {k: v for k, v in json.loads(text).items() if k != "train_seconds"}
    ),
}  # fmt: skip


@pytest.mark.parametrize("damage", DAMAGED_METRICS)
def test_damaged_metrics_json_is_retrained_with_a_notice(damage, capsys):
    original = E.run(TINY)
    path = original.run_dir / "metrics.json"
    damaged = DAMAGED_METRICS[damage](path.read_text())
    path.write_bytes(damaged if isinstance(damaged, bytes) else damaged.encode())
    capsys.readouterr()
    result = E.run(TINY)
    assert not result.cached
    said = notices(capsys)
    assert len(said) == 1 and ("recomputing it" in said[0] or "retraining" in said[0]), said
    assert_own_valid_run(result, TINY, reference=original)


@pytest.mark.parametrize("copied", [("metrics.json",), ("metrics.json", "checkpoint.pt")])
def test_files_copied_from_another_runs_folder_are_not_served(copied, capsys):
    own, other = subset_run(1), subset_run(2)
    reference = E.run(own)
    E.run(other)
    for name in copied:
        shutil.copyfile(E.run_dir(other) / name, E.run_dir(own) / name)
    capsys.readouterr()
    result = E.run(own)
    assert not result.cached
    assert notices(capsys) == [
        f"ex2: {E.run_dir(own).name}: its metrics.json belongs to another config or code: "
        "retraining"
    ]
    assert result.subset_indices == random_subset(60000, 100, 1).tolist()
    assert_own_valid_run(result, own, reference=reference)
    assert E.run(other).cached  # the other run's folder is untouched


# --------------------------------------------------------------------------- a damaged checkpoint


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def other_runs_checkpoint(path: Path) -> None:
    shutil.copyfile(E.run(replace(TINY, seed=1)).run_dir / "checkpoint.pt", path)


def forged(path: Path) -> None:
    """Another run's checkpoint, with this run's metrics.json made to vouch for it."""
    other_runs_checkpoint(path)
    metrics_path = path.parent / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics_path.write_text(json.dumps({**metrics, "checkpoint_sha256": sha256_of(path)}))


DAMAGED_CHECKPOINT = {
    "a flipped byte": (flip_a_byte, "its checkpoint and metrics.json disagree"),
    "truncated": (
        lambda p: p.write_bytes(p.read_bytes()[:100]),
        "its checkpoint and metrics.json disagree",
    ),
    "deleted": (lambda p: p.unlink(), "its checkpoint and metrics.json disagree"),
    "another run's": (other_runs_checkpoint, "its checkpoint and metrics.json disagree"),
    "another run's, hash forged": (forged, "unusable checkpoint ("),
}


@pytest.mark.parametrize("damage", DAMAGED_CHECKPOINT)
def test_damaged_checkpoint_is_retrained_with_a_notice(damage, capsys):
    original = E.run(TINY)
    change, reason = DAMAGED_CHECKPOINT[damage]
    change(original.run_dir / "checkpoint.pt")
    capsys.readouterr()
    result = E.run(TINY)
    assert not result.cached
    said = notices(capsys)
    assert len(said) == 1 and said[0].startswith(f"ex2: {original.run_dir.name}: {reason}"), said
    assert said[0].endswith(": retraining")
    assert_own_valid_run(result, TINY, reference=original)


# --------------------------------------------------------------------------- interrupted writes


def raise_after(real):
    def wrapped(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("killed after the write")

    return wrapped


def raise_instead(*args, **kwargs):
    raise RuntimeError("killed before the write")


@pytest.mark.parametrize(
    "target,replacement",
    [("save_checkpoint", raise_after), ("write_json", lambda real: raise_instead)],
    ids=["after the checkpoint write", "in the metrics write"],
)
def test_forced_retrain_interrupted_after_the_checkpoint_retrains_next_time(
    target, replacement, monkeypatch, capsys
):
    original = E.run(TINY)
    real = getattr(E, target)
    monkeypatch.setattr(E, target, replacement(real))
    with pytest.raises(RuntimeError, match="killed"):
        E.run(TINY, force=True)
    monkeypatch.setattr(E, target, real)
    folder = original.run_dir
    assert (folder / "checkpoint.pt").exists() and not (folder / "metrics.json").exists()
    capsys.readouterr()
    result = E.run(TINY)
    assert not result.cached
    assert notices(capsys) == [
        f"ex2: {folder.name}: checkpoint without metrics (an interrupted run): retraining"
    ]
    assert_own_valid_run(result, TINY, reference=original)


def child_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def wait_for(path: Path, proc: subprocess.Popen, limit_s: float = 300) -> None:
    """Until `path` exists; fails if the child exits first or `limit_s` passes."""
    deadline = time.monotonic() + limit_s
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"the child exited ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{path.name} did not appear")
        time.sleep(0.05)


STALL_IN_METRICS_WRITE = """
import json, sys, time
from pathlib import Path
from ex2 import config, experiments as E

def stall(path, payload):
    Path(sys.argv[1]).write_text(str(path))
    time.sleep(600)

E.write_json = stall
E.run(config.RunConfig.from_dict(json.loads(sys.argv[2])), force=True)
"""


def test_forced_retrain_killed_with_sigkill_after_the_checkpoint_retrains_next_time(
    tmp_path, capsys
):
    original = E.run(TINY)
    old_checkpoint = (original.run_dir / "checkpoint.pt").stat().st_mtime_ns
    stalled = tmp_path / "stalled"
    proc = subprocess.Popen(
        [sys.executable, "-c", STALL_IN_METRICS_WRITE, str(stalled), json.dumps(TINY.to_dict())],
        env=child_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(stalled, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    folder = original.run_dir
    assert (folder / "checkpoint.pt").stat().st_mtime_ns != old_checkpoint  # rewritten
    assert not (folder / "metrics.json").exists()
    capsys.readouterr()
    result = E.run(TINY)  # the killed process's lock went with it
    assert not result.cached
    assert notices(capsys) == [
        f"ex2: {folder.name}: checkpoint without metrics (an interrupted run): retraining"
    ]
    assert_own_valid_run(result, TINY, reference=original)


def test_stale_temp_files_in_a_run_folder_are_removed_on_the_next_run():
    original = E.run(TINY)
    stale = [
        original.run_dir / ".metrics.json.k1ll3d.tmp",
        original.run_dir / ".checkpoint.pt.x.tmp",
    ]
    for path in stale:
        path.write_bytes(b"left by a killed writer")
        os.utime(path, (0, 0))
    result = E.run(TINY)
    assert result.cached and result.history == original.history  # the same run, served
    assert not any(p.exists() for p in stale)
    assert_own_valid_run(result, TINY)


def test_stale_temp_file_in_the_runs_folder_is_removed_by_a_measurement():
    stale = E.runs_root() / ".count_calls-0123.json.k1ll3d.tmp"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"{")
    os.utime(stale, (0, 0))
    count_calls("x")
    assert not stale.exists()


# --------------------------------------------------------------------------- concurrent processes

TRAIN_ONCE = """
import json, os, sys, time
from pathlib import Path
from ex2 import config, experiments as E

sync, cfg = Path(sys.argv[1]), config.RunConfig.from_dict(json.loads(sys.argv[2]))
real_notice, real_train = E.notice, E.tasks.train_run

def notice(message):
    if message.startswith("waiting for another process"):
        (sync / "someone-waits").touch()
    real_notice(message)

def train_run(*args):
    (sync / f"trained-{os.getpid()}").touch()
    # hold the lock until the other process waits for it (or has failed)
    while not (sync / "someone-waits").exists() and not list(sync.glob("failed-*")):
        time.sleep(0.05)
    return real_train(*args)

E.notice, E.tasks.train_run = notice, train_run
(sync / f"ready-{os.getpid()}").touch()
while len(list(sync.glob("ready-*"))) < 2:  # start both calls together
    time.sleep(0.02)
try:
    r = E.run(cfg)
except BaseException:
    (sync / f"failed-{os.getpid()}").touch()
    raise
print(json.dumps({"cached": r.cached, "history": r.history.to_dict(), "seconds": r.train_seconds}))
"""


def test_two_processes_training_the_same_run_train_it_once(tmp_path):
    sync = tmp_path / "sync"
    sync.mkdir()
    command = [sys.executable, "-c", TRAIN_ONCE, str(sync), json.dumps(TINY.to_dict())]
    procs = [
        subprocess.Popen(command, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err.decode() for _, err in outputs]
    results = [json.loads(out) for out, _ in outputs]
    assert len(list(sync.glob("trained-*"))) == 1  # trained once
    assert sorted(r["cached"] for r in results) == [False, True]
    assert results[0]["history"] == results[1]["history"]
    assert results[0]["seconds"] == results[1]["seconds"]
    waiter = outputs[[r["cached"] for r in results].index(True)][1].decode()
    assert "ex2: waiting for another process (pid " in waiter
    assert E.run(TINY).cached


PROBE_TOGETHER = """
import multiprocessing, sys
from pathlib import Path
from ex2 import experiments as E

def probe(folder):
    for _ in range(300):
        E.writable_folder(folder)  # a CacheError exits 1

if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=probe, args=(Path(sys.argv[1]),)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print(*[p.exitcode for p in procs])
"""


def test_processes_checking_one_folder_together_do_not_trip_each_other(tmp_path):
    """Workers starting at once all check `runs/.locks`: one's probe file is not another's."""
    script = tmp_path / "probe.py"
    script.write_text(PROBE_TOGETHER)
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "shared")],
        env=child_env(),
        capture_output=True,
        text=True,
    )
    assert proc.stdout.split() == ["0", "0", "0", "0"], proc.stderr[-2000:]
    assert list((tmp_path / "shared").iterdir()) == []


# --------------------------------------------------------------------------- the cache in the way


def test_run_folder_name_taken_by_a_file_is_a_one_line_error(capsys):
    folder = E.run_dir(TINY_CLI)
    folder.parent.mkdir(parents=True)
    folder.write_text("my notes")
    assert_one_line_error(
        capsys, cli.main(TINY_ARGV), f"{folder} is a file, not a run folder: remove it"
    )
    assert folder.read_text() == "my notes"  # nothing lost
    with pytest.raises(E.CacheError, match="is a file, not a run folder"):
        E.run(TINY_CLI)


def test_runs_folder_that_is_a_file_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    taken = tmp_path / "runs-file"
    taken.write_text("keep me")
    for root in (taken, taken / "sub"):
        monkeypatch.setenv("EX2_RUNS_DIR", str(root))
        assert_one_line_error(
            capsys, cli.main(TINY_ARGV), "error: cannot write to ", "EX2_RUNS_DIR"
        )
    assert taken.read_text() == "keep me"


def test_locks_folder_taken_by_a_file_is_a_one_line_error(capsys):
    locks = E.runs_root() / ".locks"
    locks.parent.mkdir(parents=True)
    locks.write_text("keep me")
    assert_one_line_error(capsys, cli.main(TINY_ARGV), f"error: cannot write to {locks} (")
    assert locks.read_text() == "keep me" and not E.run_dir(TINY_CLI).exists()


def test_metrics_json_that_is_a_folder_is_a_one_line_error_before_training(capsys):
    original = E.run(TINY_CLI)
    (original.run_dir / "metrics.json").unlink()
    (original.run_dir / "metrics.json" / "notes").mkdir(parents=True)
    checkpoint = (original.run_dir / "checkpoint.pt").read_bytes()
    code = cli.main(TINY_ARGV)
    out = capsys.readouterr()
    assert code == 2 and "[01/1]" not in out.out  # no training started
    errors = [line for line in out.err.splitlines() if not line.startswith("ex2: ")]
    assert errors == [f"error: Is a directory ({original.run_dir / 'metrics.json'})"]
    assert (original.run_dir / "metrics.json" / "notes").is_dir()  # nothing lost
    assert (original.run_dir / "checkpoint.pt").read_bytes() == checkpoint


def run_read_only_runs(folder: Path, command: list[str]) -> subprocess.CompletedProcess:
    """Run `command` with `folder` as a read-only runs dir."""
    return run_with_read_only(folder, command, {**child_env(), "EX2_RUNS_DIR": str(folder)})


def test_read_only_runs_folder_is_a_one_line_error_before_training(tmp_path):
    runs = tmp_path / "read-only-runs"
    runs.mkdir()
    proc = run_read_only_runs(runs, [sys.executable, "-m", "ex2", *TINY_ARGV])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: cannot write to {runs / '.locks'} (")
    assert "[01/1]" not in proc.stdout  # no training started
    assert list(runs.iterdir()) == []


@pytest.mark.parametrize(
    "option,make_path,message",
    [
        ("--metrics-out", lambda t: t / "a-file" / "m.json", "is a file, not a folder"),
        ("--metrics-out", lambda t: t, "is a folder: give a file path"),
        ("--checkpoint", lambda t: t, "is a folder: give a file path"),
        ("--checkpoint", lambda t: t / "a-file" / "deeper" / "ck.pt", "cannot create"),
    ],
    ids=[
        "metrics under a file",
        "metrics a folder",
        "checkpoint a folder",
        "checkpoint under a file",
    ],
)
def test_unwritable_output_path_is_a_one_line_error_before_training(
    tmp_path, capsys, option, make_path, message
):
    (tmp_path / "a-file").write_text("keep me")
    path = make_path(tmp_path)
    code = cli.main(TINY_ARGV + [option, str(path)])
    assert_one_line_error(capsys, code, f"error: {option} {path}", message)
    assert not E.run_dir(TINY_CLI).exists()  # no training started
    assert (tmp_path / "a-file").read_text() == "keep me"


# --------------------------------------------------------------------------- absurd arguments

ABSURD = [
    (["--base", "100000"], "--base must be an integer from 1 to 256, got 100000"),
    (["--latent", "0"], "--latent must be an integer from 1 to 4096, got 0"),
    (["--seed", "99999999999999999999"], "--seed must be an integer from 0 to 2**32-1"),
    (["--seed", "-1"], "--seed must be an integer from 0 to 2**32-1, got -1"),
    (["--lr", "inf"], "--lr must be a finite number in (0, 10], got inf"),
    (["--lr", "nan"], "--lr must be a finite number in (0, 10], got nan"),
    (["--lr", "1e9"], "--lr must be a finite number in (0, 10], got 1000000000.0"),
    (["--lr", "0"], "--lr must be a finite number in (0, 10], got 0.0"),
    (["--epochs", "0"], "--epochs must be an integer from 1 to 1000, got 0"),
    (["--epochs", "1001"], "--epochs must be an integer from 1 to 1000, got 1001"),
    (["--batch-size", "-1"], "--batch-size must be an integer from 1 to 60000, got -1"),
]
ABSURD_SUBSET = [
    (["--subset", "0"], "--subset must be an integer from 1 to 60000, got 0"),
    (["--subset", "60001"], "--subset must be an integer from 1 to 60000, got 60001"),
    (["--subset-seed", "-5"], "--subset-seed must be an integer from 0 to 2**32-1, got -5"),
    (["--passes-per-epoch", "0"], "--passes-per-epoch must be an integer from 1 to 1000, got 0"),
]
ABSURD_CASES = [(f"train-{t}", a, m) for t in config.TASKS for a, m in ABSURD] + [
    (f"train-{t}", a, m) for t in cli.SUBSET_TASKS for a, m in ABSURD_SUBSET
]


@pytest.mark.parametrize(
    "command,args,message", ABSURD_CASES, ids=[f"{c} {' '.join(a)}" for c, a, _ in ABSURD_CASES]
)
def test_absurd_arguments_are_one_line_errors_naming_the_option(command, args, message, capsys):
    assert_one_line_error(capsys, cli.main([command, *args]), f"error: {message}")
    assert not E.runs_root().exists()  # nothing trained, nothing created


@pytest.mark.parametrize("args", [["--base", "abc"], ["--lr", "fast"], ["--lr-schedule", "step"]])
def test_unparsable_arguments_are_argparse_usage_errors(args, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train-classifier", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"argument {args[0]}: invalid" in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- training that fails


def poisoned(mnist: MnistTensors) -> MnistTensors:
    images = mnist.train_images.clone()
    images[::2] = float("nan")
    return MnistTensors(images, mnist.train_labels, mnist.test_images, mnist.test_labels)


def test_diverged_training_is_a_one_line_error_and_nothing_is_cached(mnist, monkeypatch, capsys):
    monkeypatch.setattr(E.tasks, "load_mnist", lambda: poisoned(mnist))
    argv = ["train-classifier", "--base", "2", "--latent", "4", "--dry-run"]
    cfg = cli.run_config(cli.build_parser().parse_args(argv))
    with pytest.raises(T.TrainingDiverged):
        E.run(cfg)
    code = cli.main(argv)
    assert_one_line_error(
        capsys, code, "error: training diverged in epoch 1: the CE loss is nan", "--lr"
    )
    folder = E.run_dir(cfg)
    assert not (folder / "metrics.json").exists() and not (folder / "checkpoint.pt").exists()
    monkeypatch.setattr(E.tasks, "load_mnist", lambda: mnist)
    result = E.run(cfg)
    assert not result.cached and all(torch.isfinite(torch.tensor(result.history.train_loss)))
    assert_own_valid_run(result, cfg)


def test_keyboard_interrupt_exits_130_and_caches_nothing(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    real = T.train_one_epoch
    monkeypatch.setattr(T, "train_one_epoch", interrupted)
    assert cli.main(TINY_ARGV) == 130
    err = capsys.readouterr().err
    assert err == (
        "interrupted: runs that finished before are cached; the interrupted one was not saved "
        "and trains again next time\n"
    )
    folder = E.run_dir(TINY_CLI)
    assert not (folder / "metrics.json").exists() and not (folder / "checkpoint.pt").exists()
    monkeypatch.setattr(T, "train_one_epoch", real)
    result = E.run(TINY_CLI)
    assert not result.cached
    assert_own_valid_run(result, TINY_CLI)


# --------------------------------------------------------------------------- measurements

CALLS = []


@E.cached_measurement
def count_calls(name: str) -> dict:
    CALLS.append(name)
    return {"name": name, "calls": len(CALLS)}


@pytest.mark.parametrize(
    "damage,notice",
    [
        ("{", "is unreadable (JSONDecodeError): recomputing it"),
        ("[1, 2]", "does not hold a JSON object: recomputing it"),
        ('{"key": {"function": "other"}, "result": 42}', "holds another measurement"),
        ('{"result": 42}', "holds another measurement"),
        ("OWN KEY, NO RESULT", "holds another measurement"),
    ],
    ids=["not JSON", "a JSON list", "another key", "no key", "no result"],
)
def test_damaged_measurement_is_recomputed_with_a_notice(damage, notice, capsys):
    CALLS.clear()
    first = count_calls("a")
    path = count_calls.path("a")
    if damage == "OWN KEY, NO RESULT":
        damage = json.dumps({"key": json.loads(path.read_text())["key"]})
    path.write_text(damage)
    capsys.readouterr()
    again = count_calls("a")
    assert again == {"name": "a", "calls": 2} != first
    said = notices(capsys)
    assert len(said) == 1 and path.name in said[0] and notice in said[0], said
    assert count_calls("a") == again and len(CALLS) == 2  # cached again


def test_measurement_copied_from_other_arguments_is_not_served(capsys):
    CALLS.clear()
    count_calls("a")
    count_calls("b")
    shutil.copyfile(count_calls.path("b"), count_calls.path("a"))
    capsys.readouterr()
    assert count_calls("a")["name"] == "a"
    assert notices(capsys) == [
        f"ex2: {count_calls.path('a').name} holds another measurement or none: recomputing it"
    ]


def test_cache_only_with_a_missing_run_or_measurement_names_prepare(monkeypatch, capsys):
    monkeypatch.setenv("EX2_CACHE_ONLY", "1")
    with pytest.raises(E.MissingResult, match=r"run `python -m ex2 prepare` \(or `make book`\)"):
        E.run(TINY)
    with pytest.raises(E.MissingResult, match="measurement count_calls-.*python -m ex2 prepare"):
        count_calls("never computed")
    assert_one_line_error(
        capsys, cli.main(TINY_ARGV), "is not in the cache", "python -m ex2 prepare"
    )
    assert not E.run_dir(TINY_CLI).exists()
