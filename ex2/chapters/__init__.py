"""The chapter registry: the one list of the book's chapters and what each of them runs.

`CHAPTERS` is the list, in reading order; each name is the page `book/<name>.md` and the key of
`make chapter CH=<name>` and `python -m ex2 rerun <name>`. `_toc.yml`, the CLI's choices and the
Makefile are checked against it by `tests/test_registry.py`.

A chapter with experiments has a module `ex2.chapters.<name>` that defines
- `runs()`: the training runs the chapter owns (upstream runs it reuses belong to their chapter),
- `measurements()`: its cached measurements, as `(function, args)` pairs,
- `results()`: everything its page shows (runs, tables, numbers, claims, checks,
  interpretations, and the raw values it shares with other chapters), computed once per process
  from the cache.
Pages call `results()` and the module's table and figure helpers. Chapters without experiments
(intro, theory, the appendices) have no `runs()`; some have a module of page helpers.
`checked()` gathers every chapter's claims, checks and interpretations, and adds the checks that
numbers printed by several chapters are one value.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from ex2 import experiments
from ex2.chapters import performance
from ex2.claims import Check, Claim, Interpretation
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


def input_files() -> list:
    """Every cached file the pages read: each run's metrics.json (which holds its checkpoint's
    SHA-256, checked when the run is loaded) and each measurement's result. The Makefile hashes
    them, so that a retrained run or a recomputed measurement rebuilds the pages."""
    runs = [experiments.run_dir(cfg) / "metrics.json" for cfg in all_runs()]
    return runs + [m.function.path(*m.args) for m in all_measurements()]


@dataclass(frozen=True)
class Checked:
    """Everything the book states about its measured results, from the cached results."""

    claims: list[Claim]  # sentences the pages print, each checked
    checks: list[Check]  # consistency checks and sanity bounds (no sentence)
    interpretations: list[Interpretation]  # explanations printed apart, not checked

    def lines(self) -> list[str]:
        return [c.line() for c in self.claims + self.checks]

    def summary(self) -> str:
        failed = [sum(not c.holds for c in group) for group in (self.claims, self.checks)]
        return (
            f"{len(self.claims)} claims: {len(self.claims) - failed[0]} passed, {failed[0]} "
            f"failed; {len(self.checks)} checks: {len(self.checks) - failed[1]} passed, "
            f"{failed[1]} failed; {len(self.interpretations)} interpretations (not checked)"
        )

    @property
    def ok(self) -> bool:
        return all(c.holds for c in self.claims + self.checks)


def same_value_checks(shared: dict[str, dict]) -> list[Check]:
    """A number that several chapters print (their `shared` values, by key) is one value."""
    by_key: dict[str, dict[str, object]] = {}
    for chapter, values in shared.items():
        for key, value in values.items():
            by_key.setdefault(key, {})[chapter] = value
    return [
        Check(
            f"book.same.{key}",
            f"{key} is the same number in {', '.join(where)}",
            "same(*values)",
            {"values": list(where.values()), "chapters": list(where)},
            "the chapters' own results",
        )
        for key, where in by_key.items()
        if len(where) > 1
    ]


@functools.cache
def checked() -> Checked:
    """Every claim, check and interpretation of the book (the chapters' results, computed once
    per process, and the performance appendix)."""
    results = {name: module(name).results() for name in WITH_EXPERIMENTS}
    claims = [c for r in results.values() for c in r.claims]
    claims += performance.claims(performance.load())
    checks = [c for r in results.values() for c in r.checks]
    checks += same_value_checks({n: getattr(r, "shared", {}) for n, r in results.items()})
    interpretations = [i for r in results.values() for i in r.interpretations]
    return Checked(claims, checks, interpretations)


def rerun(name: str, log=print) -> list:
    """Retrain a chapter's own runs (upstream runs come from the cache) and recompute its cached
    measurements."""
    check_name(name)
    results = [experiments.run(cfg, log=log, force=True) for cfg in runs_of(name)]
    for measurement in measurements_of(name):
        measurement.forget()
        measurement.compute()
    return results
