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
    REPO,
    article_of,
    authors,
    expected,
    expected_chapter_labels,
    local_target,
    normalise,
    page_problems,
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


def test_every_page_shows_what_its_source_says(built_book):
    """Exactly the figures and tables of each page's source (as executed), each numbered and
    captioned, figures as SVG with a link to their code, and at least the source's formulas."""
    html = built_book / "html"
    problems = {
        doc: page_problems((html / f"{doc}.html").read_text(), expected(built_book, doc))
        for doc in toc_docnames()
    }
    problems = {docname: p for docname, p in problems.items() if p}
    assert not problems, f"pages that do not show what their source says: {problems}"


# Planted defects: the check above fails on a copy of the Q1 page with one thing broken.
DEFECTS = {
    "a figure dropped": (r"<figure .*?</figure>", "", "1 figures, the source has 2"),
    "a table caption dropped": (r"<caption>.*?</caption>", "", "has no numbered caption"),
    "a figure as PNG": (r'(_images/[0-9a-f]+)\.svg"', r'\1.png"', "is not a vector image"),
    "a caption without its code link": (r'href="code\.html#code-[\w-]+"', 'href="#"', "link to"),
    "math left as text": (r'class="math notranslate nohighlight"', 'class="x"', "formulas"),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_page_check_catches_a_planted_defect(built_book, defect):
    pattern, replacement, message = DEFECTS[defect]
    page = (built_book / "html" / "book" / "q1.html").read_text()
    doctored, n = re.subn(pattern, replacement, page, count=1, flags=re.DOTALL)
    assert n == 1, f"the Q1 page has nothing to plant {defect!r} in"
    if defect == "math left as text":
        doctored = page.replace(pattern, replacement)
    problems = page_problems(doctored, expected(built_book, "book/q1"))
    assert any(message in p for p in problems), problems


def test_every_page_header_names_the_authors(built_book):
    names = ", ".join(authors())
    for docname in toc_docnames():
        shown = article_of(built_book / "html" / f"{docname}.html").authors
        assert shown == names, f"{docname}: header says {shown!r}, the setting {names!r}"


def test_references_list_every_cited_work(built_book):
    cited = {
        key
        for page in (REPO / "book").glob("*.md")
        for keys in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", page.read_text())
        for key in keys.split(",")
    }
    bib = (REPO / "references.bib").read_text()
    entries = set(re.findall(r"^@\w+\{([^,]+),", bib, re.MULTILINE))
    assert cited and cited <= entries, f"cited but not in references.bib: {cited - entries}"
    page = (built_book / "html" / "book" / "references.html").read_text()
    listed = re.findall(r'<div class="citation" id="[^"]*" role="doc-biblioentry">', page)
    assert len(listed) == len(cited), f"{len(listed)} references listed, {len(cited)} cited"


def test_mathjax_is_served_locally(built_book):
    html = built_book / "html"
    page = html / "book" / "q1.html"
    mathjax = [s for s in refs_of(page).scripts if "mathjax" in s.lower()]
    assert mathjax, "no MathJax script on the Q1 page"
    for src in mathjax:
        assert not urlsplit(src).scheme, f"MathJax from the network: {src}"
        assert local_target(page, src).is_file()


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
