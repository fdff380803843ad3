"""Run a command in a process that sees one folder, and everything under it, read-only.

The same verdict as root, as a normal user and in a container, by the first method that works:

1. a read-only bind mount of the folder in a private mount namespace: `unshare -m` as root,
   `unshare -rm` (a user namespace) as a normal user. A real read-only file system (EROFS).
2. no write bits on the folder and on everything under it (symlinks are not followed), and as
   root the child runs without the capabilities that override permission bits (`setpriv`), as
   in a container that may not mount. Writes fail with EACCES.

Each method is probed (a write must fail) before it is used. Where neither works the test is
skipped, and under CI (`CI` set) it fails: a check that cannot run must not pass unseen.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MOUNT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" || exit 77; exec "$@"'
TRY_WRITE = ': > "$0/.write-probe"'
NO_OVERRIDE = [
    "setpriv",
    "--inh-caps=-all",
    "--bounding-set=-dac_override,-dac_read_search,-fowner,-linux_immutable",
    "--",
]


def writes_fail(prefix: list[str], folder: Path) -> bool:
    """Whether `prefix` runs commands (at all) that cannot write into `folder`."""
    if not shutil.which(prefix[0]):
        return False
    runs = subprocess.run([*prefix, "true"], capture_output=True).returncode == 0
    probe = subprocess.run([*prefix, "sh", "-c", TRY_WRITE, str(folder)], capture_output=True)
    (folder / ".write-probe").unlink(missing_ok=True)
    return runs and probe.returncode != 0


@contextmanager
def write_bits_removed(folder: Path) -> Iterator[None]:
    """Every file and folder under `folder` (not what symlinks point to) without write bits."""
    modes = {
        path: stat.S_IMODE(path.lstat().st_mode)
        for path in [folder, *folder.rglob("*")]
        if not path.is_symlink()
    }
    try:
        for path, mode in modes.items():
            path.chmod(mode & ~0o222)
        yield
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def unavailable(reason: str) -> None:
    message = f"cannot make a read-only folder here: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run this check)")
    pytest.skip(message)


def run_with_read_only(folder: Path, command: list[str], env: dict) -> subprocess.CompletedProcess:
    """Run `command` (cwd: the repository) in a process that sees `folder` read-only."""
    run = dict(env=env, capture_output=True, text=True, cwd=REPO)
    as_root = os.geteuid() == 0
    mount = ["unshare", "-m" if as_root else "-rm", "sh", "-c", MOUNT, str(folder)]
    if writes_fail(mount, folder):
        return subprocess.run([*mount, *command], **run)
    prefix = NO_OVERRIDE if as_root else ["env"]
    with write_bits_removed(folder):
        if not writes_fail(prefix, folder):
            unavailable("no mount namespace, and permission bits do not stop this account")
        return subprocess.run([*prefix, *command], **run)
