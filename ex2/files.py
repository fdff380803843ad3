"""Files that several processes may write at once: atomic writes, their leftovers, folder locks.

Temp files and folders are named `.NAME.<random>.tmp` (see `is_temp_name`) and live next to their
target, so a rename onto the target is atomic. Their writer holds an `fcntl.flock` on them from
creation to rename; the kernel drops that lock when the writer dies, `kill -9` included. This gives
the rule of `remove_stale_temps`: a temp is stale when nobody holds its lock and it is older than
`STALE_AFTER_S` seconds (the age covers the instant between creating a temp and locking it).

`locked(path)` holds an exclusive `flock` on the lock file `path` (a folder's lock is, by
convention, `folder/.lock`). Locks are advisory and per open file: two `locked` blocks on the same
path exclude each other even inside one process, so never nest them on one path.

Written files get the mode the umask gives (as `open` would), so that another account, or a
read-only copy, can read them.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

STALE_AFTER_S = 5.0


def is_temp_name(name: str) -> bool:
    """True for the names of our temp files and folders, `.NAME.<random>.tmp`."""
    return name.startswith(".") and name.endswith(".tmp") and name.count(".") >= 3


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (a crash right after it cannot undo it)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def folder_setting(variable: str, default: Path) -> Path:
    """The folder `$variable` names (empty or unset: `default`), as an absolute path.

    Empty counts as unset, as the Makefile's `${VAR:-}` reads it: it never means the current
    folder. A symlink loop is a one-line ValueError.
    """
    value = os.environ.get(variable) or str(default)
    try:
        return Path(value).resolve()
    except (OSError, RuntimeError) as err:  # Python 3.11 says RuntimeError("Symlink loop ...")
        raise ValueError(
            f"{variable}={value} cannot be resolved ({err}): point it at a folder"
        ) from None


def current_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it: set something, then put it back
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write `payload` to `path` so that readers see the old file or the new one, never a part.

    A failure (a full disk, a read-only folder) leaves `path` as it was, removes the temp, and
    raises an OSError that names `path`.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # marks the temp as live until it is renamed
            os.fchmod(f.fileno(), 0o666 & ~current_umask())  # not mkstemp's 600: others read it
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, path)  # still locked: the lock never marks a finished temp stale
        _fsync_folder(path.parent)
    except BaseException as err:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and not _names_a_real_file(err):
            raise OSError(err.errno, err.strerror or str(err), str(path)) from err
        raise


def _names_a_real_file(err: OSError) -> bool:
    """False when the error names no file (write, fsync) or only our temp (mkstemp, rename)."""
    return err.filename is not None and not is_temp_name(Path(err.filename).name)


@contextmanager
def temp_folder(parent: Path, name: str) -> Iterator[Path]:
    """A locked scratch folder `parent/.NAME.<random>.tmp`, removed on exit."""
    Path(parent).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.", suffix=".tmp"))
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)


def _remove_if_unlocked(path: Path) -> bool:
    """Remove the temp `path` if no live process holds its lock; True if removed."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False  # renamed or removed meanwhile
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.stat(path).st_ino != os.fstat(fd).st_ino:
            return False  # the name now belongs to another file
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        return True
    except BlockingIOError:
        return False  # a live writer holds it
    except FileNotFoundError:
        return False
    finally:
        os.close(fd)


def remove_stale_temps(folder: Path, min_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Delete the temps in `folder` left by killed writers; return what was deleted.

    Stale = unlocked and not modified for `min_age_s` seconds. A temp that cannot be deleted
    (read-only folder) is left alone: it is never read, only in the way of nothing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    now = time.time()
    for path in sorted(folder.iterdir()):
        if not is_temp_name(path.name):
            continue
        try:
            if now - path.lstat().st_mtime < min_age_s or path.is_symlink():
                continue
            if _remove_if_unlocked(path):
                removed.append(path)
        except OSError as err:
            if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
    return removed


@contextmanager
def locked(path: Path, on_wait: Callable[[str], None] | None = None) -> Iterator[Path]:
    """Hold the lock file `path` (created, with its folder, if needed); yield `path`.

    Blocks while another process holds it; `on_wait(message)` is called once before blocking.
    The lock file is never deleted: deleting it would let two processes lock two different files.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait(f"waiting for another process ({_holder(path)}) holding {path}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        _record_holder(fd)
        yield path
    finally:
        os.close(fd)  # releases the lock


def _record_holder(fd: int) -> None:
    """Write our pid into the lock file, for the message of the next process that must wait
    (only for that message: a full disk must not stop the lock)."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass


def _holder(lock_path: Path) -> str:
    try:
        pid = lock_path.read_text().strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "pid unknown"
