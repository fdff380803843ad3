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
