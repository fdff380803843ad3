"""Checkpoints: weights + the config that produced them + the training history, in one atomic file.

Config and history travel as JSON strings so the file loads with `torch.load(weights_only=True)`
(no pickled code). Loading compares the saved config with the one the caller expects. A caller
that has checked the file's bytes (the experiment cache checks their SHA-256) passes those bytes,
so that what is loaded is what was checked.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import torch
from torch import nn

from ex2.files import atomic_write_bytes

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint that is unreadable or was made with another config."""


def save_checkpoint(path: Path, model: nn.Module, config: dict, history: dict | None = None) -> str:
    """Write the checkpoint atomically; return the SHA-256 of the bytes written."""
    buffer = io.BytesIO()
    torch.save(
        {
            "format": FORMAT_VERSION,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "config_json": json.dumps(config, sort_keys=True),
            "history_json": json.dumps(history),
        },
        buffer,
    )
    atomic_write_bytes(Path(path), buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def read_checkpoint(path: Path, contents: bytes | None = None) -> dict:
    """The raw payload with `config` and `history` decoded; raises CheckpointError if unreadable.
    `contents`: the file's bytes, already read (then `path` only names it in messages)."""
    path = Path(path)
    if contents is None and not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    try:
        source = path if contents is None else io.BytesIO(contents)
        payload = torch.load(source, map_location="cpu", weights_only=True)
        return {
            "state_dict": payload["state_dict"],
            "config": json.loads(payload["config_json"]),
            "history": json.loads(payload["history_json"]),
        }
    except Exception as err:  # truncated zip, wrong format, missing keys: all mean "not usable"
        raise CheckpointError(
            f"{path} is not a readable ex2 checkpoint ({type(err).__name__}): "
            f"delete it and train again"
        ) from None


def config_differences(saved: dict, expected: dict) -> list[str]:
    keys = sorted(set(saved) | set(expected))
    return [
        f"{k}: saved {saved.get(k)!r}, expected {expected.get(k)!r}"
        for k in keys
        if saved.get(k) != expected.get(k)
    ]


def load_checkpoint(
    path: Path, model: nn.Module, expected_config: dict | None = None, contents: bytes | None = None
) -> dict:
    """Load weights into `model` after checking the config; returns the decoded payload."""
    payload = read_checkpoint(path, contents)
    if expected_config is not None:
        diffs = config_differences(payload["config"], json.loads(json.dumps(expected_config)))
        if diffs:
            raise CheckpointError(f"{path} was made with another config ({'; '.join(diffs)})")
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(f"{path} does not fit this model: {first}") from None
    return payload
