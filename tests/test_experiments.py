"""ex2.experiments: runs are trained once and served from the cache; measurements likewise."""

import importlib
import json
import types
from dataclasses import fields, replace

import pytest
import torch

from ex2 import cache, config
from ex2 import experiments as E
from ex2.config import RunConfig
from ex2.data import random_subset, sha256_of

TINY_AE = config.make("autoencoder", base=2, latent=4, epochs=1, max_batches=2)
TINY_SUBSET = config.make(
    "classifier", base=2, latent=4, epochs=2, batch_size=10, subset_size=100, subset_seed=7,
    max_batches=2,
)  # fmt: skip


def no_training(*args, **kwargs):
    raise AssertionError("a cached run must not train")


def test_run_trains_once_then_loads_from_cache(monkeypatch):
    first = E.run(TINY_AE)
    assert not first.cached and (first.run_dir / "metrics.json").exists()
    assert first.run_dir == E.run_dir(TINY_AE) and first.run_dir.parent == E.runs_root()
    monkeypatch.setattr(E.tasks, "train_run", no_training)
    second = E.run(TINY_AE)
    assert second.cached and second.history == first.history
    assert second.train_seconds == pytest.approx(first.train_seconds)
    assert second.final == first.final
    x = torch.rand(2, 1, 28, 28)
    assert not second.model.training
    assert torch.equal(first.model(x), second.model(x))


def test_force_retrains_the_same_run_to_the_same_numbers():
    first = E.run(TINY_AE)
    again = E.run(TINY_AE, force=True)
    assert not again.cached and again.history.test_loss == first.history.test_loss
    assert E.run(TINY_AE).cached


def test_run_folder_depends_on_every_config_field_and_the_code(monkeypatch):
    changes = {
        "epochs": 2, "lr": 1e-3, "batch_size": 32, "lr_schedule": "cosine", "base": 3,
        "latent": 5, "seed": 1, "passes_per_epoch": 2, "subset_size": 50, "subset_seed": 1,
        "max_batches": 3, "task": "classifier",
    }  # fmt: skip
    assert set(changes) == {f.name for f in fields(RunConfig)} - {"encoder"}
    names = {E.run_dir(TINY_AE).name}
    for name, value in changes.items():
        names.add(E.run_dir(replace(TINY_AE, **{name: value})).name)
    assert len(names) == len(changes) + 1
    head = config.make("head", encoder=TINY_AE)
    other_encoder = config.make("head", encoder=replace(TINY_AE, seed=1))
    assert E.run_dir(head) != E.run_dir(other_encoder)
    assert E.run_dir(head).name.startswith("head-")
    monkeypatch.setattr(E, "code_fingerprint", lambda *modules: "edited-code")
    assert E.run_dir(TINY_AE).name not in names


def test_a_measurement_is_keyed_by_the_source_it_was_imported_with(tmp_path, monkeypatch):
    source = tmp_path / "ex2_planted_measurement.py"
    first = "from ex2.experiments import cached_measurement\n\n@cached_measurement\n"
    first += "def planted():\n    return 1\n"
    source.write_text(first)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("ex2_planted_measurement")
    source.write_text(first.replace("return 1", "return 2"))  # edited while a process runs
    keyed_while_edited = module.planted.path()

    def path_in_a_new_process(text: str):
        E.code_fingerprint.cache_clear()
        source.write_text(text)
        return importlib.reload(module).planted.path()

    assert path_in_a_new_process(first) == keyed_while_edited  # the code it imported
    assert path_in_a_new_process(first.replace("return 1", "return 2")) != keyed_while_edited
    E.code_fingerprint.cache_clear()


def test_code_fingerprint_follows_the_source_of_each_module(tmp_path):
    source = tmp_path / "shaping.py"
    source.write_text("LR = 1\n")
    module = types.ModuleType("shaping")
    module.__file__ = str(source)
    before = E.code_fingerprint((module, E))
    assert E.code_fingerprint((E, module)) == before  # order does not matter
    source.write_text("LR = 2\n")
    assert E.code_fingerprint((module, E)) == before  # read once: a process keys by what it loaded
    E.code_fingerprint.cache_clear()
    assert E.code_fingerprint((module, E)) != before
    assert set(E.RESULT_MODULES) >= {config, E.tasks, E.train}
    assert E not in E.RESULT_MODULES  # the cache's plumbing does not shape results


def test_metrics_json_has_config_code_checkpoint_hash_history_final_and_subset():
    result = E.run(TINY_SUBSET)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert RunConfig.from_dict(metrics["config"]) == TINY_SUBSET
    assert metrics["code"] == E.code_fingerprint()
    assert metrics["checkpoint_sha256"] == sha256_of(result.run_dir / "checkpoint.pt")
    assert len(metrics["history"]["test_metric"]) == 2
    assert 0 <= metrics["final"]["test_accuracy"] <= 1
    assert metrics["final"] == pytest.approx(result.final)
    expected = random_subset(60000, 100, 7).tolist()
    assert metrics["subset_indices"] == expected == result.subset_indices
    assert E.run(TINY_SUBSET).subset_indices == expected  # served from the cache
    assert sorted(p.name for p in result.run_dir.iterdir()) == ["checkpoint.pt", "metrics.json"]


def test_head_reuses_the_cached_encoder_and_keeps_it_frozen(monkeypatch):
    encoder_run = E.run(TINY_AE)
    head_cfg = config.make("head", encoder=TINY_AE, epochs=1, max_batches=2)
    trained = []
    real = E.tasks.train_run
    record = lambda cfg, *a: trained.append(cfg.task) or real(cfg, *a)  # noqa: E731
    monkeypatch.setattr(E.tasks, "train_run", record)
    head = E.run(head_cfg)
    assert trained == ["head"]  # the autoencoder came from the cache
    for k, v in encoder_run.model.encoder.state_dict().items():
        assert torch.equal(v, head.model.encoder.state_dict()[k]), k


def test_decoder_on_an_uncached_classifier_trains_the_classifier_first():
    clf = config.make("classifier", base=2, latent=4, epochs=1, max_batches=2)
    decoder = E.run(config.make("decoder", encoder=clf, epochs=1, max_batches=2))
    assert (E.run_dir(clf) / "metrics.json").exists()
    assert "test_l1" in decoder.final
    clf_encoder = E.run(clf).model.encoder.state_dict()
    assert all(
        torch.equal(v, decoder.model.encoder.state_dict()[k]) for k, v in clf_encoder.items()
    )


def test_cache_only_refuses_to_train(monkeypatch):
    real = E.tasks.train_run
    monkeypatch.setenv("EX2_CACHE_ONLY", "1")
    monkeypatch.setattr(E.tasks, "train_run", no_training)
    with pytest.raises(
        cache.MissingResult, match=f"run {E.run_dir(TINY_AE).name} .*python -m ex2 prepare"
    ):
        E.run(TINY_AE)
    monkeypatch.delenv("EX2_CACHE_ONLY")
    monkeypatch.setattr(E.tasks, "train_run", real)
    E.run(TINY_AE)
    monkeypatch.setenv("EX2_CACHE_ONLY", "1")
    monkeypatch.setattr(E.tasks, "train_run", no_training)
    assert E.run(TINY_AE).cached  # a cached run is served


def test_a_run_does_not_depend_on_the_callers_thread_count():
    # 1 and 2 torch threads sum in different orders; a cached result must be the same either way
    cfg = config.make("autoencoder", base=16, latent=16, epochs=1, max_batches=4)
    before = torch.get_num_threads()
    try:
        losses = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            losses.append(E.run(cfg, force=True).history.train_loss)
            assert torch.get_num_threads() == threads  # the caller's setting is restored
    finally:
        torch.set_num_threads(before)
    assert losses[0] == losses[1]


def test_only_the_bench_computes_with_the_callers_threads():
    seen = []

    def compute():
        seen.append(torch.get_num_threads())
        return "done"

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert cache.cached("threads-a", lambda: (None, None), compute, "x", "redo") == "done"
        with cache.callers_threads():
            cache.cached("threads-b", lambda: (None, None), compute, "x", "redo")
        cache.cached("threads-c", lambda: (None, None), compute, "x", "redo")
    finally:
        torch.set_num_threads(before)
    assert seen == [cache.COMPUTE_THREADS, 2, cache.COMPUTE_THREADS]


# --------------------------------------------------------------------------- measurements

CALLS = []


@E.cached_measurement
def measure(cfg: RunConfig, scale: float = 1.0) -> dict:
    CALLS.append((cfg, scale))
    return {"scaled_seed": scale * cfg.seed, "items": [1, 2]}


def test_measurement_is_computed_once_per_arguments():
    CALLS.clear()
    assert measure(TINY_AE, 2.0) == {"scaled_seed": 0.0, "items": [1, 2]}
    assert measure(TINY_AE, 2.0) == {"scaled_seed": 0.0, "items": [1, 2]}
    assert len(CALLS) == 1
    measure(TINY_AE, 3.0)
    measure(replace(TINY_AE, seed=4), 2.0)
    assert len(CALLS) == 3
    path = measure.path(TINY_AE, 2.0)
    assert path.parent == E.runs_root() and path.name.startswith("measure-")
    stored = json.loads(path.read_text())
    assert stored["key"]["args"] == [E.run_dir(TINY_AE).name, 2.0]
    assert len({measure.path(TINY_AE, 2.0), measure.path(TINY_AE, 3.0)}) == 2


def test_forget_makes_a_measurement_compute_again(monkeypatch):
    CALLS.clear()
    measure(TINY_AE)
    measure.forget(TINY_AE)
    assert not measure.path(TINY_AE).exists()
    measure(TINY_AE)
    assert len(CALLS) == 2
    monkeypatch.setenv("EX2_CACHE_ONLY", "1")
    assert measure(TINY_AE)["items"] == [1, 2] and len(CALLS) == 2
    measure.forget(TINY_AE)
    with pytest.raises(cache.MissingResult, match="measurement measure-.*python -m ex2 prepare"):
        measure(TINY_AE)


def test_measurement_key_covers_its_module_and_the_ex2_modules_it_uses():
    import ex2.measurements as M

    modules = {m.__name__ for m in E.measurement_modules(M.reconstruction_quality.__wrapped__)}
    assert {"ex2.measurements", "ex2.analysis", "ex2.tasks", "ex2.train"} <= modules
    assert "ex2.experiments" not in modules  # the cache's plumbing
    assert {"ex2.config", "ex2.data", "ex2.models"} <= modules
