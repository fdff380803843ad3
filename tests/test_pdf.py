"""The smoke build's PDF, read back with poppler (`pdftotext`, `pdfimages`) and its LaTeX log: how
it is laid out.

Generic checks, for whatever the pages say: chapters numbered as in the HTML (the root page is
unnumbered front matter, Q1 is chapter 1, the appendices are lettered), no page without content or
near-blank, no table header word broken by a hyphen, no caption left at the foot of a page without
its table, no number printed with a trailing ".0000", no TeX left in the text, no "??", no
undefined reference and no box wider than the text in the log, images at print resolution, each
chapter with exactly the figure and table captions of its source, none above its section's
heading, the authors on the title page, every cited work in the bibliography. Each of these also
runs on a copy with the slip planted (the `*_catches_*` tests).
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
from book_build import (
    REPO,
    article_of,
    authors,
    chapter_label,
    expected,
    expected_chapter_labels,
    normalise,
    page_title,
    refs_of,
    toc,
    toc_docnames,
)

pytestmark = pytest.mark.slow

POPPLER = ("pdftotext", "pdfimages", "pdftohtml")


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
    """Each chapter opens with its number or appendix letter and its title ("1 Q1 Autoencoder",
    "A Checked claims"), in the order of the ToC, on the page where the previous chapter ends or
    later; the front matter's title carries no number."""
    contents = contents_text(page_texts)
    body = [
        {normalise(line) for line in text.splitlines() if line.strip()}
        for text in page_texts
        if normalise(text) not in contents
    ]
    intro = normalise(page_title(toc()["root"]))
    numbered = [
        p for p in body if any(re.fullmatch(rf"(\d+|[a-z]) {re.escape(intro)}", ln) for ln in p)
    ]
    assert not numbered, f"the front matter's title is numbered: {intro!r}"
    previous = 0
    for want, docname in expected_chapter_labels():
        label, title = want.lower(), normalise(page_title(docname))
        # the head is one line, or the label and the title on lines of their own (pdftotext)
        found = [
            i for i, lines in enumerate(body)
            if f"{label} {title}" in lines or (label in lines and title in lines)
        ]  # fmt: skip
        assert found, f"no chapter head {want} {title!r} in the PDF (chapter {want} is {docname})"
        assert found[0] >= previous, f"chapter head {want} {title!r} comes before the one before it"
        previous = found[0]


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


# --------------------------------------------------------------------------- layout slips
# Each check is a function of what poppler (or the LaTeX log) gives, so that the `*_catches_*`
# tests can run it on a copy with the slip planted: a check that stops finding anything fails.

RAW_TEX = re.compile(r"\$\$|\$[^\s$][^$\n]{0,80}?\$|\\[A-Za-z]{2,}|\\[()\[\]]")
MIN_WORDS = 20  # a page with fewer, and no image, is near-blank (a part page, a stray heading)
MIN_PPI = 200  # images inside figures (digits, dense scatter plots) print sharp
OVERFULL_PT = 1.0  # LaTeX reports boxes wider than the text; below this it is invisible
CAPTION = re.compile(r"^(Fig\.|Table) ((?:[A-Z]|\d+)(?:\.\d+)?):", re.MULTILINE)


def code_lines() -> set[str]:
    """Every line of the package's source: the PDF's listings show these ($ and \\ included)."""
    repo = Path(__file__).resolve().parent.parent
    return {
        line.strip()
        for path in [*repo.glob("ex2/**/*.py"), *repo.glob("verify/*.py")]
        for line in path.read_text().splitlines()
        if line.strip()
    }


def raw_tex(page_texts: list[str], code: set[str]) -> list[str]:
    """Lines of prose with TeX left in them: $...$, $$, \\command, \\( or \\[ (not listings)."""
    found = []
    for n, text in enumerate(page_texts, start=1):
        for line in text.splitlines():
            m = RAW_TEX.search(line)
            if m and line.strip() not in code:
                found.append(f"page {n}: {line.strip()[:80]!r}")
    return found


def unresolved_references(page_texts: list[str]) -> list[str]:
    return [
        f"page {n}: {text[max(0, m.start() - 30) : m.end() + 10]!r}"
        for n, text in enumerate(page_texts, start=1)
        for m in re.finditer(r"\?\?", text)
    ]


def latex_log_problems(log: str) -> list[str]:
    """Undefined references, citations and hyperlinks, and boxes wider than the text."""
    problems = [
        line.strip()
        for line in log.splitlines()
        if re.search(r"(Reference|Citation|Hyper reference) `[^']*' on page \d+ undefined", line)
        or "There were undefined references" in line
    ]
    for m in re.finditer(r"Overfull \\hbox \(([\d.]+)pt too wide\) (.*)", log):
        if float(m.group(1)) > OVERFULL_PT:
            problems.append(f"{m.group(1)} pt wider than the text {m.group(2)}")
    return problems


def broken_links(pdf: Path) -> list[str]:
    """Internal links of a PDF whose destination does not exist (pdftohtml turns each link into
    `<a href="<name>.html#<page>">`, and one without a destination into `<a href="">`)."""
    xml = poppler("pdftohtml", "-xml", "-i", "-stdout", "-q", str(pdf))
    pages = len(re.findall(r"<page number=", xml))
    broken = []
    for m in re.finditer(r'<a href="([^"]*)"', xml):
        href = m.group(1)
        if re.match(r"(https?|mailto|file):", href):
            continue
        target = re.fullmatch(r"[^#]*\.html#(\d+)", href)
        if not target or not 1 <= int(target.group(1)) <= pages:
            page = xml.count("<page number=", 0, m.start())
            broken.append(f"page {page}: link to {href!r}")
    return broken


def image_pages(pdf: Path) -> set[int]:
    return {int(row.split()[0]) for row in poppler("pdfimages", "-list", str(pdf)).splitlines()[2:]}


def near_blank(pages: list[Page], margins, with_images: set[int]) -> list[str]:
    """Pages after the title page with fewer than MIN_WORDS words and no image."""
    found = []
    for page in pages[1:]:
        words = sum(len(ln.words) for ln in body_lines(page, margins))
        if words < MIN_WORDS and page.number not in with_images:
            found.append(f"page {page.number}: {words} words")
    return found


def low_resolution_images(image_list: str) -> list[str]:
    """Rows of `pdfimages -list` whose image prints below MIN_PPI."""
    found = []
    for row in image_list.splitlines()[2:]:
        cols = row.split()
        if cols[2] == "image" and min(int(cols[12]), int(cols[13])) < MIN_PPI:
            found.append(f"page {cols[0]}: image {cols[1]} at {cols[12]}x{cols[13]} ppi")
    return found


def captions_per_chapter(page_texts: list[str]) -> Counter:
    """Distinct figure and table captions in the PDF, by chapter label ("" for the front matter)."""
    seen = {(m.group(1), m.group(2)) for text in page_texts for m in CAPTION.finditer(text)}
    return Counter(
        (kind, number.rsplit(".", 1)[0] if "." in number else "") for kind, number in seen
    )


def caption_count_problems(build: Path, page_texts: list[str]) -> list[str]:
    shown = captions_per_chapter(page_texts)
    problems = []
    for docname in toc_docnames():
        label = chapter_label(docname) or ""
        want = expected(build, docname)
        for kind, count in (("Fig.", want.figures), ("Table", want.tables)):
            if shown[(kind, label)] != count:
                problems.append(
                    f"{docname}: {shown[(kind, label)]} {kind} captions in chapter "
                    f"{label or '(front matter)'}, the source has {count}"
                )
    return problems


def first_line(pages: list[Page], margins, test) -> tuple[int, float] | None:
    """(page, y) of the first body line that satisfies `test`."""
    for page in pages:
        for line in sorted(body_lines(page, margins), key=lambda ln: ln.y_min):
            if test(normalise(line.text)):
                return page.number, line.y_min
    return None


def floats_before_their_heading(build: Path, pages: list[Page], margins) -> list[str]:
    """Figures and tables that the PDF prints before the heading of the section they are in (in
    the HTML): e.g. a figure floated to the top of the page its section starts on."""
    problems = []
    body = [p for p in pages if not contents_page(p)]
    for docname in toc_docnames():
        section = None
        for kind, number, title in article_of(build / "html" / f"{docname}.html").order:
            if kind == "section":
                words = normalise(title.split("\\(")[0])[:20]
                section = (number, words)
                continue
            if section is None or "." not in section[0]:
                continue  # in the chapter's opening text: before any section
            head = first_line(body, margins, lambda t, s=section: t.startswith(f"{s[0]} {s[1]}"))
            cap = first_line(body, margins, lambda t, c=number: t.startswith(f"{c.lower()}:"))
            if head and cap and cap < head:
                problems.append(
                    f"{number} (page {cap[0]}) is printed above the heading of its section "
                    f"{section[0]} (page {head[0]})"
                )
    return problems


def contents_page(page: Page) -> bool:
    """A page of the table of contents (numbered in roman numerals)."""
    last = max(page.lines, key=lambda ln: ln.y_max, default=None)
    return last is not None and re.fullmatch(r"[ivxl]+", last.text.strip()) is not None


def test_no_raw_tex_and_no_unresolved_reference(page_texts):
    problems = raw_tex(page_texts, code_lines()) + unresolved_references(page_texts)
    assert not problems, f"TeX left in the text, or ?? for a reference: {problems}"


def test_latex_log_has_no_undefined_reference_and_no_overfull_box(built_book):
    log = (built_book / "latex" / "ex2-book.log").read_text(errors="replace")
    problems = latex_log_problems(log)
    assert not problems, f"the LaTeX log reports {len(problems)} problems: {problems[:20]}"


def test_every_internal_link_has_a_destination(pdf):
    found = broken_links(pdf)
    assert not found, f"links to nowhere: {found}"


def test_no_page_is_near_blank(pdf, pages, margins):
    found = near_blank(pages, margins, image_pages(pdf))
    assert not found, f"near-blank pages (fewer than {MIN_WORDS} words, no image): {found}"


def test_images_print_at_print_resolution(pdf):
    found = low_resolution_images(poppler("pdfimages", "-list", str(pdf)))
    assert not found, f"images below {MIN_PPI} ppi: {found}"


def test_each_chapter_has_the_captions_of_its_source(built_book, page_texts):
    problems = caption_count_problems(built_book, page_texts)
    assert not problems, problems


def test_no_figure_or_table_before_its_section_heading(built_book, pages, margins):
    problems = floats_before_their_heading(built_book, pages, margins)
    assert not problems, problems


def test_title_page_names_the_authors(page_texts):
    title_page = normalise(page_texts[0])
    missing = [a for a in authors() if normalise(a) not in title_page]
    assert not missing, f"the title page lacks {missing}: {page_texts[0][:300]!r}"


def test_pdf_lists_every_cited_work(page_texts):
    bib = (REPO / "references.bib").read_text()
    titles = re.findall(r"^\s*title = \{(.*)\},$", bib, re.MULTILINE)
    text = normalise(" ".join(page_texts)).replace("- ", "")
    missing = [t for t in titles if normalise(re.sub(r"[{}]", "", t)) not in text]
    assert not missing, f"works of references.bib missing from the PDF: {missing}"


# --------------------------------------------------------------------------- planted slips


def test_raw_tex_check_catches_dollars_and_commands(page_texts):
    planted = [*page_texts, "Let $x$ be a digit and \\frac{1}{2} a half.\nfine prose"]
    found = raw_tex(planted, code_lines())
    assert len(found) == 1 and "Let $x$ be" in found[0], found
    assert not raw_tex(['x = f"${tex(r.error)}$"'], {'x = f"${tex(r.error)}$"'})


def test_reference_check_catches_question_marks(page_texts):
    found = unresolved_references([*page_texts, "as in Table ?? above"])
    assert found == [f"page {len(page_texts) + 1}: 'as in Table ?? above'"]


def test_log_check_catches_overfull_boxes_and_undefined_references():
    log = "\n".join(
        [
            "Overfull \\hbox (60.822pt too wide) in paragraph at lines 4432--4434",
            "Overfull \\hbox (0.822pt too wide) in paragraph at lines 4458--4460",
            "LaTeX Warning: Reference `book/q1:fig-q1-curves' on page 5 undefined on input line 3.",
            "LaTeX Warning: There were undefined references.",
        ]
    )
    problems = latex_log_problems(log)
    assert len(problems) == 3, problems
    assert "60.822 pt wider than the text in paragraph at lines 4432--4434" in problems


def test_link_check_catches_a_link_to_nowhere(tmp_path):
    """A two-link PDF made with XeLaTeX and hyperref, one link to a target that does not exist."""
    tex = tmp_path / "links.tex"
    tex.write_text(
        "\\documentclass{article}\\usepackage{hyperref}\\begin{document}\n"
        "\\hypertarget{here}{Target}. \\hyperlink{here}{good} and \\hyperlink{nowhere}{broken}.\n"
        "\\end{document}\n"
    )
    subprocess.run(
        ["xelatex", "-interaction=nonstopmode", tex.name],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert broken_links(tmp_path / "links.pdf") == ["page 1: link to ''"]


def test_near_blank_check_catches_a_part_page(pages, margins):
    part = Page(99, pages[1].width, pages[1].height)
    y = pages[1].height / 2
    part.blocks = [[Line("Part I The exercise's answers".split(), 200, y, 400, y + 20, 200)]]
    assert near_blank([pages[0], part], margins, set()) == ["page 99: 5 words"]


def test_resolution_check_catches_a_screen_resolution_figure():
    listing = (
        "page   num  type   width height color comp bpc  enc interp  object ID x-ppi y-ppi size\n"
        "---\n"
        "   8     0 image     990   350  rgb     3   8  image  no       122  0   141   141 31.6K\n"
        "   8     1 smask     990   350  gray    1   8  image  no       122  0   141   141  765B\n"
        "   9     0 image    2100   900  rgb     3   8  image  no       130  0   300   300 80K\n"
    )
    assert low_resolution_images(listing) == ["page 8: image 0 at 141x141 ppi"]


def test_caption_count_check_catches_a_missing_caption(built_book, page_texts):
    doctored = [re.sub(r"^Fig\. 1\.1:", "Fig 1.1", t, flags=re.MULTILINE) for t in page_texts]
    problems = caption_count_problems(built_book, doctored)
    assert problems == ["book/q1: 1 Fig. captions in chapter 1, the source has 2"], problems


def test_float_check_catches_a_figure_above_its_heading(built_book, pages, margins):
    """Move Fig. 1.1's caption to the top of the page of its section's heading (1.2)."""
    body = [p for p in pages if not contents_page(p)]
    head = first_line(body, margins, lambda t: t.startswith("1.2 (b)"))
    assert head is not None
    doctored = [Page(p.number, p.width, p.height, [list(b) for b in p.blocks]) for p in pages]
    page = doctored[head[0] - 1]
    top = min(ln.y_min for ln in body_lines(page, margins))
    for p in doctored:
        p.blocks = [[ln for ln in b if not ln.text.startswith("Fig. 1.1:")] for b in p.blocks]
    page.blocks.append([Line(["Fig.", "1.1:", "planted"], 80, top - 1, 300, top + 9, 80)])
    problems = floats_before_their_heading(built_book, doctored, margins)
    assert problems == [
        f"Fig. 1.1 (page {head[0]}) is printed above the heading of its section "
        f"1.2 (page {head[0]})"
    ], problems


def test_title_page_check_catches_other_authors(page_texts, monkeypatch):
    monkeypatch.setenv("EX2_AUTHORS", "Nobody Here (000)")
    with pytest.raises(AssertionError, match="lacks"):
        test_title_page_names_the_authors(page_texts)


def test_caption_check_catches_a_stranded_caption(pages, margins):
    page = next(p for p in pages if body_lines(p, margins))
    bottom = max(ln.y_max for ln in body_lines(page, margins))
    planted = Page(page.number, page.width, page.height, [list(b) for b in page.blocks])
    planted.blocks.append(
        [Line(["Table", "1.1:", "stranded"], 80, bottom + 1, 300, bottom + 2, 80)]
    )
    with pytest.raises(AssertionError, match="stranded"):
        test_no_table_caption_ends_a_page([planted], margins)


def test_four_zero_check_catches_a_trailing_0000(page_texts):
    with pytest.raises(AssertionError, match="'3.0000'"):
        test_no_number_ends_in_four_zero_decimals([*page_texts, "took 3.0000 s"])
