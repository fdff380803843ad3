"""Issues #13 and #21, the cache and the CLI: every fault is a one-line error or a correct recovery.

Each case damages the experiment cache or feeds the CLI a bad input, then checks that either a
one-line `error: ...` came out (exit 2, no traceback, nothing trained), or the run was retrained
with a one-line notice and the result served is the run's own (same numbers as an undamaged
training, its own subset). Nothing that was there before is lost, and no wrong result is served.
"""

import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from readonly import run_with_read_only

from ex2 import cache, cli, config, files
from ex2 import experiments as E
from ex2 import train as T
from ex2.data import MnistTensors, data_root, random_subset, sha256_of

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
    "old code": lambda text: edited(text, code="0123456789ab"),
    "no train_seconds": lambda text: json.dumps(
        {k: v for k, v in json.loads(text).items() if k != "train_seconds"}
    ),
    "edited train_seconds": lambda text: edited(text, train_seconds=0.001),
    "edited subset_indices": lambda text: edited(text, subset_indices=list(range(100))),
    "edited final": lambda text: edited(text, final={"test_l1": 0.0}),
    "edited history": lambda text: edited(text, history={}),
    "edited device": lambda text: edited(text, device="cuda"),
    "no sha256": lambda text: json.dumps(
        {k: v for k, v in json.loads(text).items() if k != "sha256"}
    ),
}  # fmt: skip


def edited(text: str, **fields) -> str:
    return json.dumps({**json.loads(text), **fields}, indent=1)


def test_an_edit_of_any_field_of_a_result_file_is_detected():
    """metrics.json and a measurement's file: every field, edited alone, makes the file unusable."""
    metrics = E.run(TINY).run_dir / "metrics.json"
    count_calls("a")
    measurement = count_calls.path("a")
    for path, is_cached in (
        (metrics, lambda: E.is_cached(TINY)),
        (measurement, lambda: count_calls.is_cached("a")),
    ):
        original = path.read_bytes()
        fields = json.loads(original)
        assert is_cached() and "sha256" in fields
        for key in fields:
            path.write_text(json.dumps({**fields, key: "edited"}))
            assert not is_cached(), (path.name, key)
        path.write_bytes(original)
        assert is_cached()


@pytest.mark.parametrize("damage", DAMAGED_METRICS)
def test_damaged_metrics_json_is_retrained_with_a_notice(damage, capsys):
    original = E.run(TINY)
    path = original.run_dir / "metrics.json"
    damaged = DAMAGED_METRICS[damage](path.read_text())
    path.write_bytes(damaged if isinstance(damaged, bytes) else damaged.encode())
    assert not E.is_cached(TINY)  # the scheduler's question, answered by the same checks
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
    """Another run's checkpoint, with this run's metrics.json made to vouch for it (and sealed
    again: only loading the checkpoint can tell)."""
    other_runs_checkpoint(path)
    metrics_path = path.parent / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    del metrics["sha256"]
    E.write_sealed(metrics_path, {**metrics, "checkpoint_sha256": sha256_of(path)})


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
    assert E.is_cached(TINY) == (damage == "another run's, hash forged")  # loads no checkpoint
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
    [("save_checkpoint", raise_after), ("write_sealed", lambda real: raise_instead)],
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

E.write_sealed = stall
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


def test_stale_temp_files_in_a_run_folder_are_removed_by_the_next_training():
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
    assert all(p.exists() for p in stale)  # reading writes nothing, and temps are never read
    result = E.run(TINY, force=True)
    assert not any(p.exists() for p in stale)
    assert_own_valid_run(result, TINY, reference=original)


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
from ex2 import cache, config, experiments as E

sync, cfg = Path(sys.argv[1]), config.RunConfig.from_dict(json.loads(sys.argv[2]))
real_notice, real_train = cache.notice, E.tasks.train_run

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

cache.notice, E.tasks.train_run = notice, train_run
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
    assert (
        out.err
        == f"error: {original.run_dir / 'metrics.json'} is a folder, not a file: remove it\n"
    )
    assert (original.run_dir / "metrics.json" / "notes").is_dir()  # nothing lost
    assert (original.run_dir / "checkpoint.pt").read_bytes() == checkpoint


@pytest.mark.parametrize("cache_only", [False, True], ids=["command line", "page"])
def test_checkpoint_that_is_a_folder_is_a_one_line_error(cache_only, monkeypatch, capsys):
    original = E.run(TINY_CLI)
    checkpoint = original.run_dir / "checkpoint.pt"
    checkpoint.unlink()
    (checkpoint / "notes").mkdir(parents=True)
    metrics = (original.run_dir / "metrics.json").read_bytes()
    message = f"{checkpoint} is a folder, not a file: remove it"
    if cache_only:  # a page reads the cache
        monkeypatch.setenv("EX2_CACHE_ONLY", "1")
        with pytest.raises(E.CacheError) as info:
            E.run(TINY_CLI)
        assert str(info.value) == message
    else:
        assert_one_line_error(capsys, cli.main(TINY_ARGV), f"error: {message}")
    assert not E.is_cached(TINY_CLI)
    assert (checkpoint / "notes").is_dir()  # nothing lost
    assert (original.run_dir / "metrics.json").read_bytes() == metrics


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
    monkeypatch.setattr(E.data, "load_mnist", lambda: poisoned(mnist))
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
    monkeypatch.setattr(E.data, "load_mnist", lambda: mnist)
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
        ('{"key": {"function": "other"}, "result": 42}', "does not match its own SHA-256"),
        ("EDITED RESULT", "does not match its own SHA-256"),
        ("SEALED, NO RESULT", "holds another measurement"),
        ("SEALED, ANOTHER KEY", "holds another measurement"),
    ],
    ids=["not JSON", "a JSON list", "unsealed", "edited result", "no result", "another key"],
)
def test_damaged_measurement_is_recomputed_with_a_notice(damage, notice, capsys):
    CALLS.clear()
    first = count_calls("a")
    path = count_calls.path("a")
    stored = json.loads(path.read_text())
    if damage == "EDITED RESULT":
        damage = json.dumps({**stored, "result": {"name": "a", "calls": 99}})
    elif damage == "SEALED, NO RESULT":
        E.write_sealed(path, {"key": stored["key"]})
        damage = path.read_text()
    elif damage == "SEALED, ANOTHER KEY":
        E.write_sealed(path, {"key": {"function": "other"}, "result": 42})
        damage = path.read_text()
    path.write_text(damage)
    assert not count_calls.is_cached("a")
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
    with pytest.raises(
        cache.MissingResult, match=r"run `python -m ex2 prepare` \(or `make book`\)"
    ):
        E.run(TINY)
    with pytest.raises(
        cache.MissingResult, match="measurement count_calls-.*python -m ex2 prepare"
    ):
        count_calls("never computed")
    assert_one_line_error(
        capsys, cli.main(TINY_ARGV), "is not in the cache", "python -m ex2 prepare"
    )
    assert not E.run_dir(TINY_CLI).exists()


# --------------------------------------------------------------------------- issue #21

HEAD_ARGV = ["train-head", "--base", "2", "--latent", "4", "--dry-run"]


def test_retrain_whose_upstream_run_is_broken_keeps_the_runs_result(capsys):
    head = cli.run_config(cli.build_parser().parse_args(HEAD_ARGV))
    assert head.encoder == TINY_CLI
    metrics = (E.run(head).run_dir / "metrics.json").read_bytes()
    broken = E.run_dir(TINY_CLI) / "metrics.json"
    broken.unlink()
    broken.mkdir()
    code = cli.main([*HEAD_ARGV, "--retrain"])
    assert_one_line_error(capsys, code, f"error: {broken} is a folder, not a file: remove it")
    assert (E.run_dir(head) / "metrics.json").read_bytes() == metrics  # nothing lost
    assert E.is_cached(head) and E.run(head).cached


def no_space(*args):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("option", ["--checkpoint", "--metrics-out"])
def test_output_copy_on_a_full_disk_names_the_output_and_leaves_the_old_file(
    option, tmp_path, monkeypatch, capsys
):
    E.run(TINY_CLI)  # cached: the command only copies
    out = tmp_path / "out" / "file"
    out.parent.mkdir()
    out.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", no_space)  # where a full disk shows up, past buffering
    code = cli.main([*TINY_ARGV, option, str(out)])
    assert_one_line_error(capsys, code, f"error: No space left on device ({out})\n")
    assert out.read_bytes() == b"old" and os.listdir(out.parent) == ["file"]


# A tmpfs of one page, mounted over $0 in a private mount namespace; then the command, its exit
# status, and what is left on that disk.
SMALL_DISK = 'mount -t tmpfs -o size=4k tmpfs "$0" || exit 77; "$@"; echo "exit $?"; ls -A "$0"'


def test_output_copy_on_a_real_full_disk_leaves_nothing_there(tmp_path):
    checkpoint = E.run(TINY_CLI).run_dir / "checkpoint.pt"
    assert checkpoint.stat().st_size > 4096  # more than the disk holds
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "ck.pt"
    mount = ["unshare", "-m" if os.geteuid() == 0 else "-rm", "sh", "-c", SMALL_DISK, str(disk)]
    if shutil.which("unshare") is None:
        pytest.skip("no `unshare`: no small disk to fill (the simulated full disk is tested)")
    command = [sys.executable, "-m", "ex2", *TINY_ARGV, "--checkpoint", str(out)]
    proc = subprocess.run([*mount, *command], env=child_env(), capture_output=True, text=True)
    if proc.returncode == 77:
        pytest.skip(f"cannot mount a small disk here: {proc.stderr.strip()}")
    assert proc.stderr == f"error: No space left on device ({out})\n"
    assert proc.stdout.splitlines()[-1] == "exit 2"  # and `ls -A` found nothing on that disk


def test_a_full_disk_while_caching_names_the_file_and_serves_nothing(monkeypatch, capsys):
    real = os.fsync
    monkeypatch.setattr(os, "fsync", no_space)
    code = cli.main(TINY_ARGV)
    folder = E.run_dir(TINY_CLI)
    where = folder / "checkpoint.pt"
    assert_one_line_error(capsys, code, f"error: No space left on device ({where})\n")
    monkeypatch.setattr(os, "fsync", real)
    assert not E.is_cached(TINY_CLI) and not [p for p in folder.iterdir() if p.name != ".lock"]
    result = E.run(TINY_CLI)
    assert not result.cached
    assert_own_valid_run(result, TINY_CLI)


def test_make_n_chapter_is_a_dry_run(tmp_path):
    """`make -n` runs the lines that hold `$(MAKE)`: none of them may train."""
    ran = tmp_path / "ran"
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> {ran}\n')
    python.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    argv = ["make", "-n", "--no-print-directory", "-o", ".venv/.installed", "chapter", "CH=q3"]
    proc = subprocess.run(
        [*argv, f"PY={python}", f"OUT={tmp_path}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{python} -m ex2 rerun q3" in proc.stdout and f"{python} -m ex2 prepare" in proc.stdout
    assert not ran.exists() and not (tmp_path / "_build").exists()


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_have_the_mode_the_umask_gives(mask, mode, tmp_path):
    old = os.umask(mask)
    try:
        files.atomic_write_bytes(tmp_path / "file", b"x")
        folder = E.run(TINY).run_dir
    finally:
        os.umask(old)
    for path in (tmp_path / "file", folder / "metrics.json", folder / "checkpoint.pt"):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


READ_RESULTS = """
import json, sys
from ex2 import config, experiments as E

@E.cached_measurement
def doubled(x):
    return 2 * x

result = E.run(config.RunConfig.from_dict(json.loads(sys.argv[1])))
print(json.dumps({"cached": result.cached, "measured": doubled(21)}))
"""


def test_a_read_only_copy_of_a_finished_cache_is_read(tmp_path):
    """Reading takes no lock and writes nothing: a read-only cache (another account's, a copy of a
    finished build) serves its runs and measurements."""
    script = tmp_path / "read_results.py"
    script.write_text(READ_RESULTS)
    command = [sys.executable, str(script), json.dumps(TINY.to_dict())]
    first = subprocess.run(command, env=child_env(), capture_output=True, text=True)
    assert json.loads(first.stdout) == {"cached": False, "measured": 42}, first.stderr
    shutil.rmtree(E.runs_root() / ".locks")  # reading must not need them
    proc = run_read_only_runs(E.runs_root(), command)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"cached": True, "measured": 42}
    assert proc.stderr == "" and not (E.runs_root() / ".locks").exists()


def symlink_loop(tmp_path) -> Path:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    return tmp_path / "a" / "sub"


@pytest.mark.parametrize(
    "variable,argv", [("EX2_RUNS_DIR", TINY_ARGV), ("EX2_DATA_ROOT", ["fetch-data"])]
)
def test_a_symlink_loop_in_a_folder_setting_is_a_one_line_error(
    variable, argv, tmp_path, monkeypatch, capsys
):
    loop = symlink_loop(tmp_path)
    monkeypatch.setenv(variable, str(loop))
    code = cli.main(argv)
    fragments = f"error: {variable}={loop} cannot be resolved (", "): point it at a folder\n"
    assert_one_line_error(capsys, code, *fragments)


def test_empty_folder_settings_mean_the_defaults_not_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EX2_RUNS_DIR", "")
    monkeypatch.setenv("EX2_DATA_ROOT", "")
    assert E.runs_root() == (REPO / "runs").resolve()
    assert data_root() == (REPO / "data").resolve()


@pytest.mark.parametrize("argv", [TINY_ARGV, HEAD_ARGV, ["chapters"]], ids=lambda a: a[0])
def test_a_mistyped_profile_is_a_one_line_error(argv, monkeypatch, capsys):
    monkeypatch.setenv("EX2_PROFILE", "fast")
    message = "error: EX2_PROFILE must be 'full' or 'smoke', got 'fast'"
    assert_one_line_error(capsys, cli.main(argv), message)
    assert not E.runs_root().exists()  # nothing trained, nothing created
