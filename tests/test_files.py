import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ex2 import files as F

REPO = Path(__file__).resolve().parent.parent

# Each helper blocks on its stdin where it is mid-way (until killed, or told to go on): no timing.

# Writes `new` to argv[1] but stalls in fsync, after the payload is in the temp file.
STALLED_WRITER = """
import os, sys
from pathlib import Path
from ex2 import files

def stall(fd):
    print("writing", flush=True)
    sys.stdin.readline()

os.fsync = stall
files.atomic_write_bytes(Path(sys.argv[1]), b"new" * 1000)
"""

# Holds the lock of argv[1] until a line comes on stdin, then marks the release in a file.
LOCK_HOLDER = """
import sys
from pathlib import Path
from ex2.files import locked

lock = Path(sys.argv[1])
with locked(lock):
    print("held", flush=True)
    sys.stdin.readline()
    (lock.parent / "released").write_text("x")
"""

# Opens a scratch folder with `temp_folder` and stays inside it.
TEMP_FOLDER_HOLDER = """
import sys
from pathlib import Path
from ex2.files import temp_folder

with temp_folder(Path(sys.argv[1]), "download") as tmp:
    (tmp / "part").write_bytes(b"half")
    print("inside", flush=True)
    sys.stdin.readline()
"""


def start(script: str, *args) -> subprocess.Popen:
    """Run `script` in a fresh interpreter and wait for its first line (it is then mid-way)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip(), "the helper process died before it got going"
    return proc


def kill_9(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def temps(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if F.is_temp_name(p.name))


def test_atomic_write_replaces_the_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "file"
    F.atomic_write_bytes(target, b"one")
    F.atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["file"]


def test_atomic_write_leaves_old_file_intact_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "file"
    target.write_bytes(b"old")

    def crash(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # names no file

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError) as info:
        F.atomic_write_bytes(target, b"new content")
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(target))
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_killed_write_keeps_old_file_and_its_temp_is_removed_once_stale(tmp_path):
    target = tmp_path / "file"
    target.write_bytes(b"old")
    writer = start(STALLED_WRITER, target)
    try:
        [temp] = temps(tmp_path)
        assert temp.name.startswith(".file.") and temp.read_bytes() == b"new" * 1000
        age(temp, 60)
        assert F.remove_stale_temps(tmp_path, min_age_s=0) == []  # its writer is alive
    finally:
        kill_9(writer)
    assert target.read_bytes() == b"old"
    assert temps(tmp_path) == [temp]  # a kill -9 runs no cleanup: the temp is left behind...
    assert F.remove_stale_temps(tmp_path) == [temp]  # ...until the next cleanup removes it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_fresh_unlocked_temps_are_kept_old_ones_removed_other_files_never(tmp_path):
    fresh, old = tmp_path / ".a.x1.tmp", tmp_path / ".b.x2.tmp"
    others = [tmp_path / n for n in (".lock", "b.tmp", ".b.tmp", "notes.txt", ".hidden")]
    for path in [fresh, old, *others]:
        path.write_bytes(b"x")
    for path in [old, *others]:
        age(path, 60)
    assert F.remove_stale_temps(tmp_path) == [old]  # fresh: its writer may not have locked it yet
    assert temps(tmp_path) == [fresh] and all(p.exists() for p in others)
    assert F.remove_stale_temps(tmp_path / "missing") == []


def test_killed_download_folder_is_removed_once_stale(tmp_path):
    holder = start(TEMP_FOLDER_HOLDER, tmp_path)
    try:
        [scratch] = temps(tmp_path)
        assert scratch.is_dir() and scratch.name.startswith(".download.")
        age(scratch, 60)
        assert F.remove_stale_temps(tmp_path) == []  # still in use
    finally:
        kill_9(holder)
    assert F.remove_stale_temps(tmp_path) == [scratch]
    assert list(tmp_path.iterdir()) == []


def test_temp_folder_is_removed_on_exit(tmp_path):
    with pytest.raises(RuntimeError), F.temp_folder(tmp_path, "job") as scratch:
        (scratch / "f").write_text("x")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_second_process_waits_for_the_lock_and_is_told_once(tmp_path):
    lock = tmp_path / "locks" / "run.lock"
    holder = start(LOCK_HOLDER, lock)
    messages = []

    def told(message):
        messages.append(message)
        holder.stdin.write("go\n")  # the holder lets go only once we wait
        holder.stdin.flush()

    with F.locked(lock, on_wait=told) as got:
        assert got == lock
        assert (lock.parent / "released").exists()  # we got in only after the holder was done
    assert holder.wait() == 0
    assert len(messages) == 1
    assert "waiting for another process" in messages[0] and f"pid {holder.pid}" in messages[0]
    assert str(lock) in messages[0]


def test_uncontended_lock_does_not_wait_and_its_file_stays(tmp_path):
    lock = tmp_path / "new" / "folder" / ".lock"
    messages = []
    with F.locked(lock, on_wait=messages.append):
        assert lock.is_file()
    with F.locked(lock, on_wait=messages.append):
        pass
    assert messages == [] and lock.is_file()


def test_lock_of_a_killed_holder_is_free(tmp_path):
    holder = start(LOCK_HOLDER, tmp_path / ".lock")
    kill_9(holder)
    messages = []
    with F.locked(tmp_path / ".lock", on_wait=messages.append):
        pass
    assert messages == [] and not (tmp_path / "released").exists()
