"""The smoke build's PDF, read back with poppler (`pdftotext`, `pdfimages`): how it is laid out.

Generic checks, for whatever the pages say: chapters numbered as in the HTML (the root page is
unnumbered front matter, Q1 is chapter 1, the appendices are lettered), no page without content, no
table header word broken by a hyphen, no caption left at the foot of a page without its table, no
number printed with a trailing ".0000".
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from book_build import expected_chapter_labels, normalise, page_title, refs_of, toc, toc_docnames

pytestmark = pytest.mark.slow

POPPLER = ("pdftotext", "pdfimages")
NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
).split()


@dataclass
class Line:
    words: list[str]
    x_min: float
    y_min: float
    x_max: float
    y_max: float
    first_x: float  # left edge of the first word

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass
class Page:
    number: int
    width: float
    height: float
    blocks: list[list[Line]] = field(default_factory=list)

    @property
    def lines(self) -> list[Line]:
        return [line for block in self.blocks for line in block]


def poppler(*args: str) -> str:
    missing = [tool for tool in POPPLER if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: `make test-deps` installs poppler-utils")
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def pdf(built_book) -> Path:
    path = built_book / "ex2-book.pdf"
    assert path.is_file(), f"no PDF at {path}"
    return path


@pytest.fixture(scope="module")
def page_texts(pdf) -> list[str]:
    """The text of each page (pdftotext separates pages with form feeds)."""
    return poppler("pdftotext", str(pdf), "-").split("\f")[:-1]


@pytest.fixture(scope="module")
def pages(pdf) -> list[Page]:
    """Each page's text blocks, lines and word boxes (points, y from the top)."""
    root = ET.fromstring(poppler("pdftotext", "-bbox-layout", str(pdf), "-"))
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    out = []
    for number, page in enumerate(root.iter("{http://www.w3.org/1999/xhtml}page"), start=1):
        p = Page(number, float(page.get("width")), float(page.get("height")))
        for block in page.iterfind(".//h:block", ns):
            lines = []
            for line in block.iterfind("h:line", ns):
                words = line.findall("h:word", ns)
                if not words:
                    continue
                box = [float(line.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")]
                lines.append(Line([w.text or "" for w in words], *box, float(words[0].get("xMin"))))
            if lines:
                p.blocks.append(lines)
        out.append(p)
    return out


@pytest.fixture(scope="module")
def margins(pages) -> tuple[float, float]:
    """(bottom of the running head, top of the running foot): the y where most pages have their
    first line and their last line. Lines above the one and below the other are not content."""
    tops = Counter(round(min(ln.y_max for ln in p.lines)) for p in pages if p.lines)
    bottoms = Counter(round(max(ln.y_min for ln in p.lines)) for p in pages if p.lines)
    head, foot = tops.most_common(1)[0][0], bottoms.most_common(1)[0][0]
    assert head < 0.15 * pages[0].height and foot > 0.85 * pages[0].height, (head, foot)
    return head + 2, foot - 2


def body_lines(page: Page, margins) -> list[Line]:
    head, foot = margins
    return [ln for ln in page.lines if ln.y_max > head and ln.y_min < foot]


def contents_text(page_texts: list[str]) -> str:
    """The table of contents: the pages numbered in roman numerals."""
    roman = re.compile(r"^[ivxl]+$")
    chosen = []
    for text in page_texts:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if lines and roman.match(lines[-1]):
            chosen.append(text)
    assert chosen, "no table of contents (pages numbered i, ii, ...) in the PDF"
    return normalise("\n".join(chosen))


def test_contents_numbers_chapters_from_q1_and_not_the_intro(page_texts):
    contents = contents_text(page_texts)
    intro = normalise(page_title(toc()["root"]))
    assert intro in contents, f"the contents do not list the front matter {intro!r}"
    numbered = re.search(rf"(?:^| )(\d+|[a-z]) {re.escape(intro)}", contents)
    assert numbered is None, f"the front matter is numbered in the contents: {numbered.group(0)!r}"
    for label, docname in expected_chapter_labels():
        entry = f"{label.lower()} {normalise(page_title(docname))}"
        assert entry in contents, f"the contents lack {entry!r} (chapter {label} is {docname})"


def test_chapter_heads_number_the_chapters_and_not_the_intro(page_texts):
    """Chapter opening pages say "CHAPTER ONE" (numbers in words) or "APPENDIX A" above the title;
    the front matter's opening page has no such head."""
    heads = []
    for text in page_texts:
        flat = normalise(text)
        m = re.match(r"(chapter|appendix) ([a-z]+) (.*)", flat)
        if m:
            heads.append((m.group(1), m.group(2), m.group(3)))
    expected = expected_chapter_labels()
    assert len(heads) == len(expected), (
        f"{len(heads)} chapter heads in the PDF, {len(expected)} chapters in the ToC: "
        f"{[h[:2] for h in heads]}"
    )
    for (kind, label, rest), (want, docname) in zip(heads, expected, strict=True):
        title = normalise(page_title(docname))
        shown = str(NUMBER_WORDS.index(label)) if label in NUMBER_WORDS else label
        assert (shown.upper(), rest[: len(title)]) == (want, title), (
            f"{kind} {label} opens with {rest[: len(title) + 20]!r}; expected {want} = {title!r}"
        )


def test_no_page_is_empty(pdf, pages, margins):
    """Every page shows something besides its running head and foot: text or an image."""
    with_images = set()
    for row in poppler("pdfimages", "-list", str(pdf)).splitlines()[2:]:
        with_images.add(int(row.split()[0]))
    empty = [p.number for p in pages if not body_lines(p, margins) and p.number not in with_images]
    assert not empty, f"pages with nothing but their head and foot: {empty}"


def table_header_words(built_book) -> set[str]:
    """Every word of every table header cell of the HTML (lower case; hyphenated words whole)."""
    words = set()
    for docname in toc_docnames():
        for cell in refs_of(built_book / "html" / f"{docname}.html").table_headers:
            words.update(w.strip(".,;:()[]%/").lower() for w in cell.split())
    return {w for w in words if re.search(r"[a-z]{2}", w)}


def test_no_table_header_word_is_hyphenated(built_book, pages, margins):
    """No header word of the HTML's tables shows up in the PDF broken over two lines by a hyphen.

    A line ending in `xxx-` whose continuation (the first word of a line just below, starting
    less than half the text width to its left: the same table cell, not the next line of a
    paragraph) completes a header word."""
    headers = table_header_words(built_book)
    assert headers, "no table headers in the HTML"
    split: list[str] = []
    for page in pages:
        lines = body_lines(page, margins)
        if not lines:
            continue
        width = max(ln.x_max for ln in lines) - min(ln.x_min for ln in lines)
        for upper in lines:
            m = re.search(r"([A-Za-z]+)-$", upper.words[-1])
            if not m:
                continue
            height = upper.y_max - upper.y_min
            for lower in lines:
                below = upper.y_max - 1 < lower.y_min < upper.y_max + 1.5 * height
                near = upper.x_max - width / 2 < lower.first_x < upper.x_max
                if not (below and near):
                    continue
                rest = lower.words[0].strip(".,;:()[]%/")
                whole = (m.group(1) + rest).lower()
                found = f"page {page.number}: {m.group(1)}-/{rest}"
                if whole in headers and f"{m.group(1)}-{rest}".lower() not in headers:
                    split += [] if found in split else [found]
    assert not split, f"table header words hyphenated in the PDF: {split}"


def test_no_table_caption_ends_a_page(pages, margins):
    """A table caption (above its table) is never the last thing on a page."""
    stranded = []
    for page in pages:
        lines = body_lines(page, margins)
        if not lines:
            continue
        last = max(lines, key=lambda ln: ln.y_max)
        block = next(b for b in page.blocks if last in b)
        if re.match(r"Table [A-Z0-9]+(\.\d+)*:", block[0].text):
            stranded.append(f"page {page.number}: {block[0].text[:60]!r}")
    assert not stranded, (
        f"table captions at the foot of a page, their table on the next: {stranded}"
    )


def test_no_number_ends_in_four_zero_decimals(page_texts):
    found = [
        f"page {n}: {m.group(0)!r}"
        for n, text in enumerate(page_texts, start=1)
        for m in re.finditer(r"\d+\.0000(?!\d)", text)
    ]
    assert not found, f"numbers printed with a trailing .0000 (print them as integers): {found}"
