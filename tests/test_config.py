"""ex2.config: one run config type, its validation, its dict round trip and the CLI's defaults."""

import math
from dataclasses import fields, replace

import pytest

from ex2 import cli, config
from ex2.config import RunConfig

AE = config.make("autoencoder", base=2, latent=4, epochs=1, max_batches=2)


def examples() -> list[RunConfig]:
    classifier = config.make("classifier", subset_size=100, subset_seed=7, passes_per_epoch=3)
    return [
        AE,
        classifier,
        config.make("head", encoder=AE, subset_size=100),
        config.make("decoder", encoder=AE),
        config.make("decoder", encoder=config.make("classifier", base=4, latent=8)),
    ]


@pytest.mark.parametrize("cfg", examples(), ids=lambda c: c.label)
def test_dict_round_trip_keeps_every_field_and_the_upstream_run(cfg):
    d = cfg.to_dict()
    assert RunConfig.from_dict(d) == cfg
    assert set(d) == {f.name for f in fields(RunConfig)}
    if cfg.encoder is not None:
        assert isinstance(d["encoder"], dict)
        assert RunConfig.from_dict(d).encoder == cfg.encoder


@pytest.mark.parametrize(
    "bad",
    [
        [],
        "autoencoder",
        {},
        {**AE.to_dict(), "colour": "red"},
        {k: v for k, v in AE.to_dict().items() if k != "task"},
        {**config.make("head", encoder=AE).to_dict(), "encoder": "autoencoder"},
    ],
    ids=["list", "string", "empty", "unknown key", "no task", "encoder not a dict"],
)
def test_from_dict_refuses_what_is_not_a_run_config(bad):
    with pytest.raises(ValueError):
        RunConfig.from_dict(bad)


def test_make_applies_task_defaults_and_the_upstream_shape():
    assert config.make("classifier").epochs == config.TASK_DEFAULTS["classifier"]["epochs"]
    assert config.make("autoencoder").lr_schedule == "constant"
    head = config.make("head", encoder=config.make("autoencoder", base=4, latent=8))
    assert (head.base, head.latent) == (4, 8)
    assert config.make("head").encoder == config.make("autoencoder")


def one_line_value_error(match: str, build, *args, **kwargs) -> str:
    """The one-line message of the ValueError that `build(*args, **kwargs)` raises."""
    with pytest.raises(ValueError, match=match) as info:
        build(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


INT_FIELDS = sorted(config.LIMITS)


BAD_INTS = {"zero": 0, "negative": -1, "bool": True, "float": 2.0, "string": "2", "none": None}


@pytest.mark.parametrize("name", INT_FIELDS)
def test_every_int_field_refuses_bad_values_naming_the_field(name):
    limit = config.LIMITS[name]
    bad = {**BAD_INTS, "too big": limit + 1}
    if name in ("subset_size", "max_batches"):
        del bad["none"]  # None means "all images" / "no limit"
    for kind, value in bad.items():
        message = one_line_value_error(f"^{name} must be", replace, AE, **{name: value})
        assert f"from 1 to {limit}, got {value!r}" in message, kind
    for value in (1, limit):
        assert getattr(replace(AE, **{name: value}), name) == value


@pytest.mark.parametrize("name", ["seed", "subset_seed"])
def test_seeds_refuse_negative_overflowing_and_non_integer_values(name):
    for value in (-1, 2**32, 99999999999999999999, True, 0.5, None):
        one_line_value_error(f"^{name} must be .*2\\*\\*32-1", replace, AE, **{name: value})
    assert getattr(replace(AE, **{name: config.SEED_MAX}), name) == 2**32 - 1
    assert getattr(replace(AE, **{name: 0}), name) == 0


def test_lr_must_be_finite_and_in_range():
    for value in (0, 0.0, -1e-3, math.inf, -math.inf, math.nan, 10.5, 1e9, "1", None):
        one_line_value_error("^lr must be a finite number", replace, AE, lr=value)
    assert replace(AE, lr=10).lr == 10 and replace(AE, lr=1e-6).lr == 1e-6


def test_lr_schedule_must_be_known():
    for value in ("step", "", None, "Cosine"):
        one_line_value_error("^lr_schedule must be one of", replace, AE, lr_schedule=value)


@pytest.mark.parametrize("task", ["regressor", "", None, "Autoencoder"])
def test_task_must_be_known(task):
    one_line_value_error("^task must be one of", replace, AE, task=task)
    one_line_value_error("^task must be one of", config.make, task)


@pytest.mark.parametrize("task", ["head", "decoder"])
def test_frozen_encoder_runs_need_an_encoder_run(task):
    cfg = config.make(task, encoder=AE)
    one_line_value_error("needs an encoder run", replace, cfg, encoder=None)


@pytest.mark.parametrize(
    "task,upstream",
    [
        ("head", config.make("classifier", base=2, latent=4)),
        ("head", config.make("head", encoder=AE)),
        ("decoder", config.make("decoder", encoder=AE)),
        ("decoder", config.make("head", encoder=AE)),
    ],
)
def test_encoder_run_of_a_wrong_task_is_refused(task, upstream):
    cfg = config.make(task, encoder=AE)
    one_line_value_error("needs an encoder run of task", replace, cfg, encoder=upstream)


@pytest.mark.parametrize("task", ["autoencoder", "classifier"])
def test_runs_that_train_their_own_encoder_take_no_encoder_run(task):
    cfg = config.make(task, base=2, latent=4)
    one_line_value_error("takes no encoder run", replace, cfg, encoder=AE)


@pytest.mark.parametrize("change", [{"base": 4}, {"latent": 8}])
@pytest.mark.parametrize("task", ["head", "decoder"])
def test_shape_must_match_the_encoder_run(task, change):
    cfg = config.make(task, encoder=AE)
    one_line_value_error("shape of its encoder run .c=2, d=4.", replace, cfg, **change)


def test_decoder_takes_no_subset_but_a_head_does():
    one_line_value_error("takes no subset", config.make, "decoder", encoder=AE, subset_size=100)
    assert config.make("head", encoder=AE, subset_size=100).subset_size == 100


def test_smoke_profile_shrinks_configs_including_upstream(monkeypatch):
    cfg = config.make("decoder", encoder=config.make("classifier"))
    assert config.for_profile(cfg) == cfg  # full profile: unchanged
    monkeypatch.setenv("EX2_PROFILE", "smoke")
    small = config.for_profile(cfg)
    assert small.epochs == 1 and small.max_batches == config.SMOKE_MAX_BATCHES
    assert small.encoder.epochs == 1 and small.encoder.max_batches == config.SMOKE_MAX_BATCHES
    assert replace(small, epochs=cfg.epochs, max_batches=None, encoder=cfg.encoder) == cfg
    monkeypatch.setenv("EX2_PROFILE", "fast")
    with pytest.raises(ValueError, match="EX2_PROFILE"):
        config.for_profile(cfg)


# --------------------------------------------------------------------------- the CLI's defaults


def parsed(*argv: str):
    return cli.build_parser().parse_args(list(argv))


@pytest.mark.parametrize("task", config.TASKS)
def test_cli_defaults_are_the_config_defaults(task):
    assert cli.run_config(parsed(f"train-{task}")) == config.make(task)


def test_cli_decoder_on_the_classifier_encoder_has_the_config_defaults():
    got = cli.run_config(parsed("train-decoder", "--encoder-from", "classifier"))
    assert got == config.make("decoder", encoder=config.make("classifier"))


@pytest.mark.parametrize("task", ["head", "decoder"])
def test_cli_shape_options_reach_the_upstream_run(task):
    got = cli.run_config(parsed(f"train-{task}", "--base", "4", "--latent", "8"))
    assert got == config.make(task, encoder=config.make("autoencoder", base=4, latent=8))


OPTION_VALUES = {"lr": "0.01", "lr_schedule": "cosine"}


@pytest.mark.parametrize("task", config.TASKS)
def test_cli_has_an_option_for_every_field_a_user_sets(task):
    settable = {f.name for f in fields(RunConfig)} - {"task", "max_batches", "encoder"}
    assert set(cli.USER_FIELDS) == settable
    subset_only = {"subset_size", "subset_seed", "passes_per_epoch"}
    for name in settable:
        option = cli.option(name)
        if name in subset_only and task not in cli.SUBSET_TASKS:
            with pytest.raises(SystemExit):
                parsed(f"train-{task}", option, "1")
            continue
        value = OPTION_VALUES.get(name, "2")
        cfg = cli.run_config(parsed(f"train-{task}", option, value))
        assert str(getattr(cfg, name)) == value or getattr(cfg, name) == float(value), option


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["train-classifier", "--subset", "100", "--subset-seed", "3"], {"subset_size": 100}),
        (["train-head", "--passes-per-epoch", "5", "--seed", "2"], {"passes_per_epoch": 5}),
        (["train-autoencoder", "--lr-schedule", "cosine", "--lr", "0.01"], {"lr": 0.01}),
    ],
)
def test_cli_options_set_their_fields(argv, expected):
    cfg = cli.run_config(parsed(*argv))
    for name, value in expected.items():
        assert getattr(cfg, name) == value
    default = cli.run_config(parsed(argv[0]))
    changed = {
        f.name for f in fields(RunConfig) if getattr(cfg, f.name) != getattr(default, f.name)
    }
    options = {a.removeprefix("--").replace("-", "_") for a in argv[1::2]}
    options = {"subset_size" if o == "subset" else o for o in options}
    assert changed == options


def test_cli_dry_run_shrinks_the_run_and_its_upstream():
    cfg = cli.run_config(parsed("train-head", "--dry-run"))
    assert (cfg.epochs, cfg.max_batches) == (1, cli.DRY_RUN_BATCHES)
    assert (cfg.encoder.epochs, cfg.encoder.max_batches) == (1, cli.DRY_RUN_BATCHES)
