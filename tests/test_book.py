"""End to end: `make book` in the smoke profile builds every page, in HTML and PDF, offline.

The build goes to a temporary folder (`make book OUT=<tmp>`), never to the user's `_build`, and the
experiments to `<tmp>/runs`. One build (a few minutes) serves the checks below and those of
test_pdf.py and test_browser.py: the `built_book` fixture of book_build.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
from book_build import (
    expected_chapter_labels,
    local_target,
    normalise,
    page_title,
    refs_of,
    toc,
    toc_docnames,
)

pytestmark = pytest.mark.slow


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
            target = local_target(page, src)
            assert target is not None, f"{docname}: script from the network: {src}"
            assert target.is_file(), f"{docname}: <script src={src!r}> does not exist"
        for href in refs.links:
            target = local_target(page, href)
            if target is not None:
                assert target.exists(), f"{docname}: broken link {href!r}"


# Figures each page must show (curves, image grids, confusion matrices, heatmaps, plots): a page
# whose figures silently fail to display would otherwise still build.
MIN_FIGURES = {
    "book/q1": 2,
    "book/q2": 3,
    "book/q3": 2,
    "book/q4": 2,
    "book/theory": 2,
    "book/spread": 1,
    "book/shift": 1,
    "book/latent": 2,
    "book/labels100": 1,
}


def test_every_chapter_shows_its_figures(built_book):
    html = built_book / "html"
    for docname, minimum in MIN_FIGURES.items():
        imgs = [src for src in refs_of(html / f"{docname}.html").imgs if "_images/" in src]
        assert len(imgs) >= minimum, f"{docname}: {len(imgs)} figures, expected at least {minimum}"


def test_mathjax_is_served_locally(built_book):
    html = built_book / "html"
    page = html / "book" / "q1.html"
    mathjax = [s for s in refs_of(page).scripts if "mathjax" in s.lower()]
    assert mathjax, "no MathJax script on the Q1 page"
    for src in mathjax:
        assert not urlsplit(src).scheme, f"MathJax from the network: {src}"
        assert local_target(page, src).is_file()
    # the first formula of Q1 is handed to MathJax, not dropped
    assert r"\hat{x} = D(z)" in page.read_text(encoding="utf-8")


def test_pdf_is_built_and_linked(built_book):
    pdf = built_book / "ex2-book.pdf"
    assert pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-"
    copy = built_book / "html" / "_static" / "ex2-book.pdf"
    assert copy.is_file() and copy.read_bytes() == pdf.read_bytes()
    intro = built_book / "html" / "book" / "intro.html"
    assert any(local_target(intro, h) == copy.resolve() for h in refs_of(intro).links), (
        "the intro does not link the PDF"
    )


def test_pdf_contains_every_chapter_title(built_book):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) not installed")
    text = subprocess.run(
        ["pdftotext", str(built_book / "ex2-book.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    flat = normalise(text)
    for docname in toc_docnames():
        title = normalise(page_title(docname))
        assert title in flat, f"PDF lacks the title of {docname}: {title!r}"


def heading_number(page) -> str | None:
    """The section number Sphinx put before a page's title (`<h1><span class="section-number">`)."""
    m = re.search(r'<h1><span class="section-number">([^<]*?)\.\s*</span>', page.read_text())
    return m.group(1) if m else None


def test_html_numbers_chapters_as_the_pdf(built_book):
    """Q1 is chapter 1, the chapters count on across the parts, the appendices are A, B, ...;
    the root page has no number."""
    html = built_book / "html"
    assert heading_number(html / f"{toc()['root']}.html") is None, "the front matter is numbered"
    shown = [(heading_number(html / f"{doc}.html"), doc) for _, doc in expected_chapter_labels()]
    assert shown == expected_chapter_labels()
