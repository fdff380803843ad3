import json
from dataclasses import replace

import pytest
import torch

from ex2 import experiments as E

TINY_AE = E.AutoencoderConfig(base=2, latent=4, epochs=1, max_batches=2)


def test_run_trains_once_then_loads_from_cache(monkeypatch):
    first = E.run(TINY_AE)
    assert not first.cached and (first.run_dir / "metrics.json").exists()

    def no_training(*args, **kwargs):
        raise AssertionError("a cached run must not train")

    monkeypatch.setattr(E, "train_run", no_training)
    second = E.run(TINY_AE)
    assert second.cached and second.history.test_loss == first.history.test_loss
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(first.model(x), second.model(x))


def test_hash_depends_on_every_config_field_and_the_code(monkeypatch):
    names = {E.run_dir(TINY_AE).name}
    for change in ({"seed": 1}, {"lr": 1e-3}, {"latent": 5}, {"epochs": 2}):
        names.add(E.run_dir(replace(TINY_AE, **change)).name)
    assert len(names) == 5
    monkeypatch.setattr(E, "code_fingerprint", lambda: "edited-code")
    assert E.run_dir(TINY_AE).name not in names


def test_metrics_json_has_config_history_final_and_subset():
    cfg = E.ClassifierConfig(base=2, latent=4, epochs=2, batch_size=10, subset_size=100, subset_seed=7)
    result = E.run(cfg)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["config"]["subset_seed"] == 7 and metrics["kind"] == "classifier"
    assert len(metrics["history"]["test_metric"]) == 2
    assert 0 <= metrics["final"]["test_accuracy"] <= 1
    assert metrics["subset_indices"] == E.random_subset(60000, 100, 7).tolist() == result.subset_indices


def test_head_reuses_the_cached_encoder_and_keeps_it_frozen():
    encoder_run = E.run(TINY_AE)
    head = E.run(E.HeadConfig(encoder=TINY_AE, epochs=1, max_batches=2))
    for k, v in encoder_run.model.encoder.state_dict().items():
        assert torch.equal(v, head.model.encoder.state_dict()[k]), k


def test_smoke_profile_shrinks_configs_including_upstream(monkeypatch):
    monkeypatch.setenv("EX2_PROFILE", "smoke")
    cfg = E.for_profile(E.DecoderConfig(encoder=E.ClassifierConfig()))
    assert cfg.epochs == 1 and cfg.max_batches == E.SMOKE_MAX_BATCHES
    assert cfg.encoder.epochs == 1 and cfg.encoder.max_batches == E.SMOKE_MAX_BATCHES
    monkeypatch.setenv("EX2_PROFILE", "fast")
    with pytest.raises(ValueError, match="EX2_PROFILE"):
        E.for_profile(cfg)


def test_corrupt_cached_checkpoint_names_the_folder_to_delete():
    result = E.run(TINY_AE)
    (result.run_dir / "checkpoint.pt").write_bytes(b"broken")
    with pytest.raises(E.CheckpointError, match="delete .*" + result.run_dir.name):
        E.run(TINY_AE)
