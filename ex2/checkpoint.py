"""Checkpoints: weights + the config that produced them + the training history, in one atomic file.

Config and history travel as JSON strings so the file loads with `torch.load(weights_only=True)`
(no pickled code). Loading compares the saved config with the one the caller expects.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch
from torch import nn

from ex2.data import atomic_write_bytes

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint that is unreadable or was made with another config."""


def save_checkpoint(
    path: Path, model: nn.Module, config: dict, history: dict | None = None
) -> None:
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


def read_checkpoint(path: Path) -> dict:
    """The raw payload with `config` and `history` decoded; raises CheckpointError if unreadable."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
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


def load_checkpoint(path: Path, model: nn.Module, expected_config: dict | None = None) -> dict:
    """Load weights into `model` after checking the config; returns the decoded payload."""
    payload = read_checkpoint(path)
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
