"""The chapter registry (ex2.chapters) agrees with the table of contents, the pages, the CLI and the
Makefile, and lists every run with its upstream runs first."""

import ast
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from ex2 import chapters, cli
from ex2.chapters import configs
from ex2.config import RunConfig

REPO = Path(__file__).resolve().parent.parent
MAX_FUNCTION_LINES = 5


def toc_pages() -> list[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return files


def test_chapters_are_the_table_of_contents_in_reading_order():
    files = toc_pages()
    assert all(f.startswith("book/") for f in files), files
    assert [f.removeprefix("book/") for f in files] == list(chapters.CHAPTERS)


def test_every_chapter_has_a_page_and_every_page_is_a_chapter():
    pages = {p.stem for p in (REPO / "book").glob("*.md")}
    assert pages == set(chapters.CHAPTERS)
    assert len(chapters.CHAPTERS) == len(set(chapters.CHAPTERS))


def test_cli_chapters_command_prints_the_registry(capsys):
    assert cli.main(["chapters"]) == 0
    assert capsys.readouterr().out.split() == list(chapters.CHAPTERS)


def test_cli_rerun_accepts_exactly_the_chapters(capsys):
    parser = cli.build_parser()
    for name in chapters.CHAPTERS:
        assert parser.parse_args(["rerun", name]).chapter == name
    for wrong in ("q9", "book/q1", "Q1", ""):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(["rerun", wrong])
        assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_unknown_chapter_is_a_value_error_listing_the_chapters():
    listed = ", ".join(chapters.CHAPTERS)
    for call in (chapters.rerun, chapters.runs_of, chapters.measurements_of, chapters.module):
        with pytest.raises(ValueError, match=f"unknown chapter 'q9'; chapters: {listed}$"):
            call("q9")


def make(*args: str) -> subprocess.CompletedProcess:
    """`make ARGS` in the repository, never re-creating `.venv` (`-o`), outside any outer make."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)


def test_make_chapter_retrains_through_the_cli():
    for name in ("q3", "labels100"):
        proc = make("-n", "chapter", f"CH={name}")
        assert proc.returncode == 0, proc.stderr
        assert f".venv/bin/python -m ex2 rerun {name}\n" in proc.stdout


def test_make_chapter_without_a_name_lists_the_registry():
    proc = make("chapter")
    assert proc.returncode == 2
    usage = proc.stderr.splitlines()[0]
    assert usage.split() == [
        "usage:",
        "make",
        "chapter",
        "CH=<name>,",
        "one",
        "of:",
        *chapters.CHAPTERS,
    ]


def test_the_makefile_holds_no_chapter_list_of_its_own():
    names = "|".join(chapters.CHAPTERS)
    for line in (REPO / "Makefile").read_text().splitlines():
        listed = re.findall(rf"(?<![\w/.-])(?:{names})(?![\w/.-])", line)
        assert len(listed) < 3, f"a hard-coded chapter list in the Makefile: {line.strip()}"


@pytest.mark.parametrize("name", chapters.WITH_EXPERIMENTS)
def test_every_chapter_with_experiments_has_runs_measurements_and_results(name):
    assert name in chapters.CHAPTERS
    mod = chapters.module(name)
    for function in ("runs", "measurements", "results"):
        assert callable(getattr(mod, function, None)), f"ex2.chapters.{name}.{function}"
    assert all(isinstance(c, RunConfig) for c in chapters.runs_of(name))
    for m in chapters.measurements_of(name):
        assert callable(m.function.path) and callable(m.function.forget), m.function
        assert m.name.endswith(".json")


def test_chapters_without_experiments_own_nothing():
    for name in set(chapters.CHAPTERS) - set(chapters.WITH_EXPERIMENTS):
        assert chapters.module(name) is None
        assert chapters.runs_of(name) == [] and chapters.measurements_of(name) == []


@pytest.fixture(params=["full", "smoke"])
def profile(request, monkeypatch):
    monkeypatch.setenv("EX2_PROFILE", request.param)
    return request.param


def test_all_runs_lists_each_encoder_before_the_runs_that_freeze_it(profile):
    ordered = chapters.all_runs()
    assert len(ordered) == len(set(ordered))
    for i, cfg in enumerate(ordered):
        if cfg.encoder is not None:
            assert cfg.encoder in ordered[:i], cfg.label
    owned = [cfg for name in chapters.CHAPTERS for cfg in chapters.runs_of(name)]
    assert set(owned) <= set(ordered)
    if profile == "smoke":
        assert all(c.epochs == 1 and c.max_batches for c in ordered)


def test_no_run_is_owned_by_two_chapters(profile):
    owner = {}
    for name in chapters.CHAPTERS:
        for cfg in chapters.runs_of(name):
            assert cfg not in owner, f"{cfg.label}: owned by {owner.get(cfg)} and {name}"
            owner[cfg] = name


def test_every_run_a_measurement_needs_is_one_of_the_books_runs(profile):
    runs = set(chapters.all_runs())
    for m in chapters.all_measurements():
        for cfg in m.needs:
            assert cfg in runs, f"{m.name} needs {cfg.label}, which no chapter trains"


def test_chapter_runs_share_the_subset_and_the_pretrained_encoder(profile):
    q2, q3, q4 = configs.classifiers(), configs.heads(), configs.decoders()
    assert (q2["subset"].subset_size, q2["subset"].subset_seed) == (
        q3["subset"].subset_size,
        q3["subset"].subset_seed,
    )
    assert q3["full"].encoder == configs.pretrained_autoencoder() == q4["autoencoder"].encoder
    assert q3["subset"].encoder == configs.pretrained_autoencoder()
    assert q4["classifier"].encoder == q2["full"]
    # Q2(ii) is a fresh run with Q2(i)'s seed, not a continuation of it
    assert q2["subset"].seed == q2["full"].seed and q2["subset"] != q2["full"]
    repeated = configs.repeated(q2)
    assert repeated["subset"][0] == q2["subset"] and repeated["full"][0] == q2["full"]


# --------------------------------------------------------------------------- the pages' code


def code_cells(page: Path) -> list[tuple[int, str]]:
    """(first line number, source) of each code cell of a MyST notebook, options removed."""
    cells, lines = [], page.read_text().splitlines()
    i = 0
    while i < len(lines):
        if re.match(r"^(`{3,})\{code-cell\}", lines[i]):
            fence = re.match(r"^`+", lines[i]).group()
            i += 1
            if i < len(lines) and lines[i].strip() == "---":  # a YAML block of options
                i = lines.index("---", i + 1) + 1
            while i < len(lines) and lines[i].startswith(":"):  # `:tags: [...]` options
                i += 1
            start, body = i + 1, []
            while lines[i] != fence:
                body.append("" if lines[i].lstrip().startswith(("%", "!")) else lines[i])
                i += 1
            cells.append((start, "\n".join(body)))
        i += 1
    return cells


def long_functions(page: Path) -> list[str]:
    found = []
    for start, source in code_cells(page):
        tree = ast.parse(source, filename=f"{page.name}:{start}")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{page.name}:{start + node.lineno - 1} {node.name} ({length})")
    return found


def test_code_cells_are_found_and_parsed():
    page = REPO / "book" / "q1.md"
    cells = code_cells(page)
    assert cells and "q1.results()" in cells[0][1]
    assert not any(source.lstrip().startswith(":") for _, source in cells)


def test_long_function_detector_finds_a_long_function(tmp_path):
    page = tmp_path / "p.md"
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    page.write_text(f"```{{code-cell}} ipython3\n:tags: [remove-cell]\ndef f():\n{body}\n```\n")
    assert long_functions(page) == [f"p.md:3 f ({MAX_FUNCTION_LINES + 1})"]
    page.write_text("```{code-cell} ipython3\ndef f(x):\n    return x\n```\n")
    assert long_functions(page) == []


@pytest.mark.parametrize("name", chapters.CHAPTERS)
def test_pages_define_no_function_longer_than_five_lines(name):
    """Pages call the chapter modules; logic that needs a real function belongs in ex2/."""
    assert long_functions(REPO / "book" / f"{name}.md") == []
