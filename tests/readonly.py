"""Run a command in a process that sees one folder read-only, as root too."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MOUNT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" || exit 77; exec "$@"'


def run_with_read_only(folder: Path, command: list[str], env: dict) -> subprocess.CompletedProcess:
    """Permission bits do not stop root, so as root the folder is bind-mounted read-only in a
    private mount namespace (`unshare -m`): a real read-only file system, gone with the process.
    Skips the test where neither works."""
    run = dict(env=env, capture_output=True, text=True, cwd=REPO)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            return subprocess.run(command, **run)
        finally:
            folder.chmod(0o755)
    if shutil.which("unshare") is None:
        pytest.skip("running as root without `unshare`: no way to make a folder read-only")
    proc = subprocess.run(["unshare", "-m", "sh", "-c", MOUNT, str(folder), *command], **run)
    if proc.returncode == 77 or proc.stderr.startswith("unshare:"):
        pytest.skip(f"running as root and cannot mount read-only: {proc.stderr.strip()}")
    return proc
