"""End to end: `make book` in the smoke profile builds every page, in HTML and PDF, offline.

The build goes to a temporary folder (`make book OUT=<tmp>`), never to the user's `_build`, and the
experiments to the per-test `EX2_RUNS_DIR` of conftest.py. One build (a few minutes) serves all the
checks below.
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

pytestmark = pytest.mark.slow


def toc_docnames() -> list[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts") or []:
        walk(part.get("chapters"))
    return names


def page_title(docname: str) -> str:
    """The first `# ` heading of a MyST page, as plain text."""
    for line in (REPO / f"{docname}.md").read_text().splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    raise AssertionError(f"{docname}.md has no '# ' title")


def normalise(text: str) -> str:
    """Text as pdftotext and Markdown both end up comparable: NFKC (ligatures), no markup, one space."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[`*_$]", "", text)
    text = text.replace("\u00ad", "")
    return re.sub(r"\s+", " ", text).strip().lower()


class Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs: list[str] = []
        self.scripts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img" and a.get("src"):
            self.imgs.append(a["src"])
        elif tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])


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


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    """Run `make book` once into a temporary folder; return that folder's `_build`."""
    if shutil.which("make") is None:
        pytest.fail("`make` is not installed")
    if shutil.which("xelatex") is None or shutil.which("latexmk") is None:
        pytest.fail("xelatex/latexmk not found: run `make tex` (installs Debian's TeX packages) first")
    out = tmp_path_factory.mktemp("book")
    env = dict(os.environ)
    env.update(EX2_PROFILE="smoke", EX2_RUNS_DIR=str(out / "runs"), CI="true")
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(var, None)
    proc = subprocess.run(["make", "--no-print-directory", "book", f"OUT={out}"], cwd=REPO, env=env,
                          capture_output=True, text=True)
    log = out / "make-book.log"
    log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    assert proc.returncode == 0, f"`make book` failed (log: {log}):\n{(proc.stdout + proc.stderr)[-6000:]}"
    return out / "_build"


def test_every_page_is_built(built_book):
    html = built_book / "html"
    assert (html / "index.html").is_file()
    for docname in toc_docnames():
        assert (html / f"{docname}.html").is_file(), f"{docname}.html missing"


def test_images_links_and_scripts_are_local(built_book):
    html = built_book / "html"
    for docname in toc_docnames():
        page = html / f"{docname}.html"
        refs = refs_of(page)
        for src in refs.imgs:
            if src.startswith("data:"):
                continue
            target = local_target(page, src)
            assert target is not None, f"{docname}: image from the network: {src}"
            assert target.is_file(), f"{docname}: <img src={src!r}> does not exist"
        for src in refs.scripts:
            assert local_target(page, src) is not None, f"{docname}: script from the network: {src}"
            assert local_target(page, src).is_file(), f"{docname}: <script src={src!r}> does not exist"
        for href in refs.links:
            target = local_target(page, href)
            if target is not None:
                assert target.exists(), f"{docname}: broken link {href!r}"


# Figures each page must show (curves, image grids, confusion matrices, heatmaps, plots): a page
# whose figures silently fail to display would otherwise still build.
MIN_FIGURES = {"book/q1": 2, "book/q2": 4, "book/q3": 3,
               "book/q4": 4, "book/labels100": 1, "book/theory": 2, "book/performance": 1}


def test_every_chapter_shows_its_figures(built_book):
    html = built_book / "html"
    for docname, minimum in MIN_FIGURES.items():
        imgs = [src for src in refs_of(html / f"{docname}.html").imgs if "_images/" in src]
        assert len(imgs) >= minimum, f"{docname}: {len(imgs)} figures, expected at least {minimum}"


def test_mathjax_is_served_locally(built_book):
    html = built_book / "html"
    page = html / "book" / "intro.html"
    mathjax = [s for s in refs_of(page).scripts if "mathjax" in s.lower()]
    assert mathjax, "no MathJax script on the intro page"
    for src in mathjax:
        assert not urlsplit(src).scheme, f"MathJax from the network: {src}"
        assert local_target(page, src).is_file()
    # the formula of the intro is handed to MathJax, not dropped
    assert r"\hat{x} = D(E(x))" in page.read_text(encoding="utf-8")


def test_pdf_is_built_and_linked(built_book):
    pdf = built_book / "ex2-book.pdf"
    assert pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-"
    copy = built_book / "html" / "_static" / "ex2-book.pdf"
    assert copy.is_file() and copy.read_bytes() == pdf.read_bytes()
    intro = built_book / "html" / "book" / "intro.html"
    assert any(local_target(intro, h) == copy.resolve() for h in refs_of(intro).links), \
        "the intro does not link the PDF"


def test_pdf_contains_every_chapter_title(built_book):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) not installed")
    text = subprocess.run(["pdftotext", str(built_book / "ex2-book.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    flat = normalise(text)
    for docname in toc_docnames():
        title = normalise(page_title(docname))
        assert title in flat, f"PDF lacks the title of {docname}: {title!r}"
