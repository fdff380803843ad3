"""The smoke build of the book shared by test_book.py, test_pdf.py and test_browser.py.

`built_book` (session scope, registered in conftest.py) runs `make book OUT=<tmp>` once in the
smoke profile, whichever of those modules asks first, and returns `<tmp>/_build`. The experiments go
to `<tmp>/runs`, never to the user's `runs/` or `_build`.

EX2_BUILT_BOOK=<folder> skips the build and checks that folder instead (a `_build` holding `html/`
and `ex2-book.pdf`): to rerun the checks on a build at hand, or on a copy broken on purpose.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def toc() -> dict:
    return yaml.safe_load((REPO / "_toc.yml").read_text())


def toc_docnames() -> list[str]:
    """Every page of the ToC, root first, in reading order."""
    book = toc()
    names = [book["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(book.get("chapters"))
    for part in book.get("parts") or []:
        walk(part.get("chapters"))
    return names


APPENDIX_PART = "Appendices"  # the ToC part whose chapters are lettered (ex2_appendix_part)


def expected_chapter_labels() -> list[tuple[str, str]]:
    """(label, docname) of every chapter of the ToC's parts: 1, 2, ... across the parts, the
    appendix part's chapters A, B, ...; the root page is front matter, without a number."""
    labels, number, letter = [], 0, 0
    for part in toc().get("parts") or []:
        for chapter in part.get("chapters") or []:
            if part.get("caption") == APPENDIX_PART:
                labels.append((chr(ord("A") + letter), chapter["file"]))
                letter += 1
            else:
                number += 1
                labels.append((str(number), chapter["file"]))
    return labels


def page_title(docname: str) -> str:
    """The first `# ` heading of a MyST page, as plain text."""
    for line in (REPO / f"{docname}.md").read_text().splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    raise AssertionError(f"{docname}.md has no '# ' title")


def normalise(text: str) -> str:
    """Text as pdftotext and Markdown both end up comparable: NFKC (ligatures), no markup, single
    spaces, lower case."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[`*_$]", "", text)
    text = text.replace("\u00ad", "")
    return re.sub(r"\s+", " ", text).strip().lower()


class Refs(HTMLParser):
    """The images, scripts and links of an HTML page, and the text of its table header cells."""

    def __init__(self):
        super().__init__()
        self.imgs: list[str] = []
        self.scripts: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.table_headers: list[str] = []
        self._th_depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        if tag == "img" and a.get("src"):
            self.imgs.append(a["src"])
        elif tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "th":
            self._th_depth += 1
            self.table_headers.append("")

    def handle_endtag(self, tag):
        if tag == "th" and self._th_depth:
            self._th_depth -= 1

    def handle_data(self, data):
        if self._th_depth:
            self.table_headers[-1] += data


def refs_of(page: Path) -> Refs:
    parser = Refs()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def local_target(page: Path, url: str) -> Path | None:
    """The file a relative URL of `page` points to, or None for external/data/anchor-only URLs."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return (page.parent / unquote(parts.path)).resolve()


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """Run `make book` once into a temporary folder; return that folder's `_build`."""
    given = os.environ.get("EX2_BUILT_BOOK")
    if given:
        build = Path(given).resolve()
        assert (build / "html" / "index.html").is_file(), f"EX2_BUILT_BOOK={given}: no html/"
        return build
    if shutil.which("make") is None:
        pytest.fail("`make` is not installed")
    if shutil.which("xelatex") is None or shutil.which("latexmk") is None:
        pytest.fail("xelatex/latexmk not found: `make test-deps` installs Debian's TeX packages")
    out = tmp_path_factory.mktemp("book")
    env = dict(os.environ)
    env.update(EX2_PROFILE="smoke", EX2_RUNS_DIR=str(out / "runs"), CI="true")
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(var, None)
    proc = subprocess.run(
        ["make", "--no-print-directory", "book", f"OUT={out}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    log = out / "make-book.log"
    log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, f"`make book` failed (log: {log}):\n{tail}"
    return out / "_build"


# --------------------------------------------------------------------------- what the sources show
# Expected counts per page come from the page as executed: its Markdown cells and the outputs its
# code cells display, as the build's notebook cache (`_build/.jupyter_cache`) holds them (the
# notebooks myst-nb writes to `_build/jupyter_execute` lack outputs when they came from the cache).

HIDDEN_TAGS = {"remove-cell", "remove-output"}
TABLE_FENCE = re.compile(r"^(?::{3,}|`{3,})\{list-table\}", re.MULTILINE)
PIPE_TABLE = re.compile(r"^\|.*\|\s*\n\|?\s*:?-{3,}", re.MULTILINE)
FIGURE_FENCE = re.compile(r"^(?::{3,}|`{3,})\{(?:glue:figure|figure)\}", re.MULTILINE)
CODE_FENCE = re.compile(  # code, not directives whose body is Markdown (tables, figures)
    r"^(`{3,}|~{3,})(?:\{(?:code-cell|code-block|code|literalinclude|raw)\}|(?!\{))[^\n]*\n"
    r".*?^\1\s*$",
    re.MULTILINE | re.DOTALL,
)
MATH_FENCE = re.compile(r"^(?:`{3,}|:{3,})\{(?:math|glue:math)\}", re.MULTILINE)
DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.DOTALL)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$(?!\$)")
FENCE_LINE = re.compile(r"^(?:`{3,}|:{3,}|~{3,}).*$", re.MULTILINE)
INLINE_CODE = re.compile(r"(`+)[^\n]+?\1")


def executed_notebook(build: Path, docname: str) -> dict:
    """The page as myst-nb reads it, each code cell with the outputs of its run in the build's
    cache (which keeps the code cells only)."""
    from jupyter_cache import get_cache
    from myst_nb.core.read import read_myst_markdown_notebook

    notebook = read_myst_markdown_notebook((REPO / f"{docname}.md").read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    if not code:
        return notebook
    cache = get_cache(build / ".jupyter_cache")
    try:
        record = cache.match_cache_notebook(notebook)
    except KeyError:
        raise AssertionError(f"{docname}: no executed notebook in {build}/.jupyter_cache") from None
    executed = [
        c for c in cache.get_cache_bundle(record.pk).nb["cells"] if c["cell_type"] == "code"
    ]
    for cell, run in zip(code, executed, strict=True):
        cell["outputs"] = run.get("outputs", [])
    return notebook


def shown_markdown(notebook: dict) -> list[str]:
    """The Markdown a page shows: its Markdown cells, and the text/markdown its visible code cells
    display (glued values are shown where a page cites them, not counted here)."""
    texts = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            texts.append(source)
        elif cell["cell_type"] == "code" and not HIDDEN_TAGS & set(
            cell["metadata"].get("tags", [])
        ):
            for out in cell.get("outputs", []):
                markdown = out.get("data", {}).get("text/markdown")
                if markdown is not None:
                    texts.append("".join(markdown))
    return texts


def shown_images(notebook: dict) -> int:
    """Images displayed by visible code cells (glued figures are counted by their directive)."""
    count = 0
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and not HIDDEN_TAGS & set(cell["metadata"].get("tags", [])):
            for out in cell.get("outputs", []):
                count += any(k.startswith("image/") for k in out.get("data", {}))
    return count


def count_tables(markdown: str) -> int:
    return len(TABLE_FENCE.findall(markdown)) + len(PIPE_TABLE.findall(markdown))


def count_figures(markdown: str) -> int:
    return len(FIGURE_FENCE.findall(markdown))


def count_math(markdown: str) -> int:
    """Formulas in MyST prose: math directives, $$...$$ blocks and $...$ inline math (code and
    code fences left out)."""
    fenced_math = len(MATH_FENCE.findall(markdown))
    prose = INLINE_CODE.sub("", FENCE_LINE.sub("", CODE_FENCE.sub("", markdown)))
    display = len(DISPLAY_MATH.findall(prose))
    return fenced_math + display + len(INLINE_MATH.findall(DISPLAY_MATH.sub("", prose)))


@dataclass
class Expected:
    figures: int
    tables: int
    math: int  # at least this many formulas


def expected(build: Path, docname: str) -> Expected:
    notebook = executed_notebook(build, docname)
    shown = shown_markdown(notebook)
    markdown_cells = [
        "".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"
    ]
    return Expected(
        figures=sum(map(count_figures, shown)) + shown_images(notebook),
        tables=sum(map(count_tables, shown)),
        math=sum(map(count_math, markdown_cells)),
    )


def chapter_label(docname: str) -> str | None:
    """The chapter number or letter of a page ("1", "A"); None for the root page."""
    return dict((doc, label) for label, doc in expected_chapter_labels()).get(docname)


def authors() -> list[str]:
    """The authors the build prints (EX2_AUTHORS, else _config.yml's `author`), one per entry of
    the ';'-separated list."""
    setting = (
        os.environ.get("EX2_AUTHORS")
        or yaml.safe_load((REPO / "_config.yml").read_text())["author"]
    )
    return [a.strip() for a in setting.split(";") if a.strip()]


class Article(HTMLParser):
    """What the article of a built HTML page shows: its figures (image sources, caption number,
    caption links), its tables (caption number), its math elements, its section heading numbers
    in order with the figure and table numbers that follow each, and the header's authors."""

    def __init__(self):
        super().__init__()
        self.figures: list[dict] = []
        self.tables: list[dict] = []
        self.math = 0
        # ("section", "1.2", "(b) Four configurations, ...") or ("caption", "Fig. 1.1", "")
        self.order: list[tuple[str, str, str]] = []
        self.authors = ""
        self._depth = 0  # inside <article>
        self._in = None  # "figcaption", "caption", "section-number", "caption-number", "authors"
        self._text = ""
        self._heading: str | None = None  # text of the heading being read
        self._section = ""
        self._stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if "ex2-authors" in classes:
            self._in, self._text = "authors", ""
        if tag == "article":
            self._depth += 1
        if not self._depth:
            return
        if tag == "figure":
            self.figures.append({"imgs": [], "number": "", "links": []})
        elif tag == "table":
            self.tables.append({"number": ""})
        elif tag == "img" and self.figures and self._stack.count("figure"):
            self.figures[-1]["imgs"].append(a.get("src", ""))
        elif tag == "a" and "figcaption" in self._stack and a.get("href"):
            self.figures[-1]["links"].append(a["href"])
        if "math" in classes:
            self.math += 1
        if re.fullmatch(r"h[1-6]", tag):
            self._heading, self._section = "", ""
        if "section-number" in classes or "caption-number" in classes:
            self._in, self._text = classes[0] if "section-number" in classes else "caption", ""
        if tag not in ("img", "br", "col", "meta", "link", "hr", "input"):
            self._stack.append(tag)

    def handle_endtag(self, tag):
        if self._in == "authors" and tag == "div":
            self.authors, self._in = self._text.strip(), None
        if not self._depth:
            return
        if tag == "article":
            self._depth -= 1
        if re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            if self._section:
                self.order.append(("section", self._section, self._heading.strip().rstrip("#")))
            self._heading = None
        if self._in in ("section-number", "caption") and tag == "span":
            number = self._text.strip().rstrip(".")
            if self._in == "section-number":
                self._section, self._heading = number, ""
            else:
                self.order.append(("caption", number, ""))
                if "figcaption" in self._stack and self.figures:
                    self.figures[-1]["number"] = number
                elif "caption" in self._stack and self.tables:
                    self.tables[-1]["number"] = number
            self._in = None
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass

    def handle_data(self, data):
        if self._in:
            self._text += data
        elif self._heading is not None:
            self._heading += data


def article_of(page: Path | str) -> Article:
    parser = Article()
    parser.feed(page.read_text(encoding="utf-8") if isinstance(page, Path) else page)
    return parser


def page_problems(html: str, want: Expected) -> list[str]:
    """What an HTML page shows against what its source says it shows: exactly its figures and
    tables, each numbered and captioned, each figure a vector image (SVG) whose caption links to
    the listing of the function that drew it, and at least the formulas of its prose."""
    shown = article_of(html)
    problems = []
    if len(shown.figures) != want.figures:
        problems.append(f"{len(shown.figures)} figures, the source has {want.figures}")
    if len(shown.tables) != want.tables:
        problems.append(f"{len(shown.tables)} tables, the source has {want.tables}")
    for i, fig in enumerate(shown.figures, start=1):
        name = fig["number"] or f"figure {i}"
        if not fig["number"]:
            problems.append(f"figure {i} has no numbered caption")
        if not fig["imgs"] or not all(src.endswith(".svg") for src in fig["imgs"]):
            problems.append(f"{name} is not a vector image: {fig['imgs']}")
        if not any(re.search(r"code\.html#code-[\w-]+$", href) for href in fig["links"]):
            problems.append(f"{name}'s caption does not link to the code that drew it")
    for i, table in enumerate(shown.tables, start=1):
        if not table["number"]:
            problems.append(f"table {i} has no numbered caption")
    if shown.math < want.math:
        problems.append(f"{shown.math} formulas, the source has at least {want.math}")
    return problems
