"""The chapter registry: the one list of the book's chapters and what each of them runs.

`CHAPTERS` is the list, in reading order; each name is the page `book/<name>.md` and the key of
`make chapter CH=<name>` and `python -m ex2 rerun <name>`. `_toc.yml`, the CLI's choices and the
Makefile are checked against it by `tests/test_registry.py`.

A chapter with experiments has a module `ex2.chapters.<name>` that defines
- `runs()`: the training runs the chapter owns (upstream runs it reuses belong to their chapter),
- `measurements()`: its cached measurements, as `(function, args)` pairs,
- `results()`: everything its page shows (runs, tables, numbers, claims),
and pages call only that. Chapters without a module (intro, theory, ...) own no experiments.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ex2 import experiments
from ex2.config import RunConfig

CHAPTERS = (
    "intro",
    "q1",
    "q2",
    "q3",
    "q4",
    "theory",
    "spread",
    "shift",
    "latent",
    "labels100",
    "claims",
    "verification",
    "code",
    "performance",
    "provenance",
    "references",
)
WITH_EXPERIMENTS = ("q1", "q2", "q3", "q4", "spread", "shift", "latent", "labels100")


@dataclass(frozen=True)
class Measurement:
    """A cached measurement a chapter needs: `function(*args)`, where `function` is an
    `experiments.cached_measurement`."""

    function: object
    args: tuple

    @property
    def needs(self) -> list[RunConfig]:
        return [a for a in self.args if isinstance(a, RunConfig)]

    @property
    def name(self) -> str:
        return self.function.path(*self.args).name

    def compute(self):
        return self.function(*self.args)

    def forget(self) -> None:
        self.function.forget(*self.args)


def check_name(name: str) -> str:
    if name not in CHAPTERS:
        raise ValueError(f"unknown chapter {name!r}; chapters: {', '.join(CHAPTERS)}")
    return name


def module(name: str):
    """The chapter's module, or None for a chapter that owns no experiments."""
    check_name(name)
    return importlib.import_module(f"ex2.chapters.{name}") if name in WITH_EXPERIMENTS else None


def runs_of(name: str) -> list[RunConfig]:
    mod = module(name)
    return [] if mod is None else mod.runs()


def measurements_of(name: str) -> list[Measurement]:
    mod = module(name)
    return [] if mod is None else [Measurement(f, tuple(a)) for f, a in mod.measurements()]


def all_runs() -> list[RunConfig]:
    """Every run of the book, each once, upstream runs before the runs that freeze their encoder."""
    ordered: list[RunConfig] = []

    def add(cfg: RunConfig) -> None:
        if cfg.encoder is not None:
            add(cfg.encoder)
        if cfg not in ordered:
            ordered.append(cfg)

    for name in CHAPTERS:
        for cfg in runs_of(name):
            add(cfg)
    return ordered


def all_measurements() -> list[Measurement]:
    return [m for name in CHAPTERS for m in measurements_of(name)]


def all_claims() -> list:
    """Every checked claim of the book, chapter by chapter (from the cached results)."""
    from ex2.chapters import performance

    claims = [c for name in WITH_EXPERIMENTS for c in module(name).results().claims]
    return claims + performance.claims(performance.load())


def rerun(name: str, log=print) -> list:
    """Retrain a chapter's own runs (upstream runs come from the cache) and recompute its cached
    measurements."""
    check_name(name)
    results = [experiments.run(cfg, log=log, force=True) for cfg in runs_of(name)]
    for measurement in measurements_of(name):
        measurement.forget()
        measurement.compute()
    return results
