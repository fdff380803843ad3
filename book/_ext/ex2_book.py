r"""Sphinx extension for this book (loaded through `sphinx.local_extensions` in `_config.yml`).

1. PDF: give the LaTeX document the structure of the ToC. Sphinx's LaTeX writer uses the root
   page's title as the document title, turns the root page's sections into chapters 1-3 ahead of
   Q1, and drops the ToC's part captions. Instead the root page (`book/intro`) becomes unnumbered
   front matter (a chapter without a number, its sections unnumbered), each part of the ToC a
   `\part`, so Q1 is chapter 1 as in the HTML; the chapters of the appendix part
   (`ex2_appendix_part`, "Appendices") are lettered A, B, ... (`\appendix`).
2. PDF: tall tables with given column widths break across pages (longtable).
3. HTML: the chapters of the appendix part numbered A, B, ... as in the PDF (section, figure and
   table numbers too: "Fig. C.1"), not 10, 11, ...
4. HTML: each inline script once. Sphinx 7.4 adds the inline scripts that extensions register after
   the builder started (sphinx-thebe's `const THEBE_JS_URL = ...`, sphinx-togglebutton's selector)
   twice to every page; the second `const` is a SyntaxError in the browser's console.
5. The authors, from one setting: `EX2_AUTHORS` if set, else `_config.yml`'s `author`, as
   "Name (ID); Name (ID)". The PDF's title page gets one name per column (LaTeX's `\and`), every
   HTML page's header the list (the template `templates/ex2-authors.html`).
"""

from __future__ import annotations

import os
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.environment.collectors.toctree import TocTreeCollector
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import texescape


def is_toctree_wrapper(node: nodes.Node) -> bool:
    return isinstance(node, nodes.compound) and "toctree-wrapper" in node.get("classes", [])


# The root page's content is a chapter without a number, its sections without numbers: the book
# class's front-matter mode, which Sphinx's chapter heads (sphinxlatexstyleheadings.sty) honour,
# with secnumdepth lowered for the sections and restored after. Not \frontmatter itself: it would
# restart the roman page numbers of the table of contents.
FRONT_MATTER_START = r"""
\csname @mainmatterfalse\endcsname
\newcounter{exbooksecnumdepth}\setcounter{exbooksecnumdepth}{\value{secnumdepth}}
\setcounter{secnumdepth}{-1}
"""
FRONT_MATTER_END = r"""
\csname @mainmattertrue\endcsname
\setcounter{secnumdepth}{\value{exbooksecnumdepth}}
"""


def part_captions(env) -> dict[str, str]:
    """Docname of each chapter of the root page's captioned ToC parts -> that part's caption."""
    site_map = getattr(env, "external_site_map", None)
    if site_map is None:
        return {}
    captions: dict[str, str] = {}
    for tree in getattr(site_map[site_map.root.docname], "subtrees", None) or []:
        if tree.caption:
            for docname in tree.files():
                captions.setdefault(docname, tree.caption)
    return captions


def latex(text: str) -> nodes.raw:
    return nodes.raw("", text, format="latex")


class BookStructureForLatex(SphinxPostTransform):
    r"""On the assembled LaTeX doctree: front matter, parts, chapters, appendices.

    Before: section(root title, intro content..., toctree-wrapper(chapters of part 1), ...).
    After:  section(root title,
                    [front matter on] section(root title, intro content...) [front matter off],
                    [\part{caption 1}] toctree-wrapper(chapters of part 1),
                    ...
                    [\part{Appendices} \appendix] toctree-wrapper(appendix chapters)).
    The writer consumes the outer title as the document title; the inner one becomes an unnumbered
    chapter; the chapters that follow are numbered from 1.
    """

    default_priority = 690  # before sphinx-jupyterbook-latex (700), should it ever be enabled
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        if self.config.root_doc != self.env.docname or getattr(
            self.config, "use_jupyterbook_latex", False
        ):
            return
        root = next((c for c in self.document.children if isinstance(c, nodes.section)), None)
        if root is None or not root.children or not isinstance(root[0], nodes.title):
            return
        if not any(True for _ in root.findall(addnodes.start_of_file)):
            return  # not the assembled book
        chapter = nodes.section("", ids=["ex2-root-chapter"], names=[])
        chapter += root[0].deepcopy()
        wrappers = []
        for child in list(root.children[1:]):
            root.remove(child)
            if is_toctree_wrapper(child):
                wrappers.append(child)
                continue
            # toctrees appended to the root page's last section belong after the new chapter
            for inner in [
                n
                for n in child.findall(nodes.compound)
                if is_toctree_wrapper(n)
                and not any(isinstance(a, addnodes.start_of_file) for a in _ancestors(n, child))
            ]:
                inner.parent.remove(inner)
                wrappers.append(inner)
            chapter += child
        root += latex(FRONT_MATTER_START)
        root += chapter
        root += latex(FRONT_MATTER_END)
        captions = part_captions(self.env)
        appendix_part = self.config.ex2_appendix_part
        in_appendix = False
        for wrapper in wrappers:
            first = next(iter(wrapper.findall(addnodes.start_of_file)), None)
            caption = captions.get(first["docname"]) if first is not None else None
            if caption:
                root += latex(f"\n\\part{{{texescape.escape(caption)}}}\n")
                if caption == appendix_part and not in_appendix:
                    root += latex("\n\\appendix\n")
                    in_appendix = True
            root += wrapper


# A tabular cannot break across pages: one taller than what is left of the page runs over the
# footer. Sphinx makes a longtable (breaks between rows, repeats the header) only beyond 30 rows;
# here, beyond about half a page of text lines (a page holds about 55).
LONGTABLE_LINES = 28
CHARS_PER_LINE = 100  # of body text across the full text width, in a table cell


def estimated_lines(table: nodes.table) -> float:
    """Text lines a table takes in the PDF, from the length of each cell's text and its column's
    share of the width (rows a little taller for their padding)."""
    widths = [spec.get("colwidth", 1) for spec in table.findall(nodes.colspec)] or [1]
    total = sum(widths)
    lines = 0.0
    for row in table.findall(nodes.row):
        row_lines = 1
        for i, entry in enumerate(e for e in row.children if isinstance(e, nodes.entry)):
            share = widths[min(i, len(widths) - 1)] / total
            chars = max(8, int(share * CHARS_PER_LINE))
            row_lines = max(row_lines, -(-len(entry.astext()) // chars))
        lines += row_lines + 0.3
    return lines


class LongTablesBreakAcrossPages(SphinxPostTransform):
    """PDF: a table with given column widths (MyST list-tables with `:widths:`) longer than
    `LONGTABLE_LINES` becomes a longtable. Shorter ones stay tabulars, kept on one page with their
    caption. Tables without given widths stay as Sphinx sets them (as longtables their columns
    would not wrap)."""

    default_priority = 700
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for table in self.document.findall(nodes.table):
            if "colwidths-given" not in table["classes"] or "longtable" in table["classes"]:
                continue
            if estimated_lines(table) > LONGTABLE_LINES:
                table["classes"].append("longtable")


def letter_appendices(env) -> None:
    """Renumber the appendix part's chapters A, B, ... in the section numbers that
    sphinx-multitoc-numbering assigned (10, 11, ... continuing the other parts): in the numbers by
    anchor (page titles, headings, {numref}) and on the ToC nodes the navigation is built from."""
    site_map = getattr(env, "external_site_map", None)
    part = env.config.ex2_appendix_part
    if site_map is None or not part:
        return
    root = site_map[site_map.root.docname]
    docs = [f for tree in root.subtrees or [] if tree.caption == part for f in tree.files()]
    letters = {}
    for i, doc in enumerate(docs):
        number = (env.toc_secnumbers.get(doc) or {}).get("")
        if number:
            letters[number[0]] = chr(ord("A") + i)

    def relabel(number):
        if number and number[0] in letters:
            return type(number)([letters[number[0]], *number[1:]])
        return number

    for doc in docs:
        numbers = env.toc_secnumbers.get(doc, {})
        for anchor, number in numbers.items():
            numbers[anchor] = relabel(number)
        for tree in (env.tocs.get(doc), env.titles.get(doc)):
            if tree is None:
                continue
            for node in tree.findall(nodes.Element):
                if node.get("secnumber"):
                    node["secnumber"] = relabel(node["secnumber"])


def assign_figure_numbers_after_lettering(original):
    """TocTreeCollector.assign_figure_numbers, run once the section numbers are final: figure
    numbers are built from them. (Wraps the method assign_section_numbers is run just before; that
    one is sphinx-multitoc-numbering's.)"""

    def assign_figure_numbers(self, env):
        letter_appendices(env)
        return original(self, env)

    assign_figure_numbers.ex2_wrapped = True
    return assign_figure_numbers


AUTHORS_VARIABLE = "EX2_AUTHORS"
TEMPLATES = Path(__file__).parent / "templates"


def author_names(setting: str) -> list[str]:
    return [name.strip() for name in setting.split(";") if name.strip()]


def apply_authors(app, config) -> None:
    """Authors from EX2_AUTHORS (else `author`) into the LaTeX title page and the HTML header."""
    config.author = os.environ.get(AUTHORS_VARIABLE, "").strip() or config.author
    names = author_names(config.author)
    latex_author = r" \and ".join(texescape.escape(name) for name in names)
    config.latex_documents = [(*doc[:3], latex_author, *doc[4:]) for doc in config.latex_documents]
    config.html_context = {**config.html_context, "ex2_authors": names}
    options = dict(config.html_theme_options or {})
    start = options.get("article_header_start", ["toggle-primary-sidebar.html"])
    options["article_header_start"] = [*start, "ex2-authors.html"]
    config.html_theme_options = options
    config.templates_path = [*config.templates_path, str(TEMPLATES)]


def inline_scripts_once(app, pagename, templatename, context, doctree) -> None:
    """Drop repeated scripts from a page; an inline one is registered once with the file name None
    and once with '' (sphinx/builders/html/__init__.py, prepare_writing)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        attributes = getattr(js, "attributes", {})
        key = (getattr(js, "filename", js) or "", tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def _ancestors(node: nodes.Node, stop: nodes.Node):
    parent = node.parent
    while parent is not None and parent is not stop:
        yield parent
        parent = parent.parent


def setup(app):
    if not getattr(TocTreeCollector.assign_figure_numbers, "ex2_wrapped", False):
        TocTreeCollector.assign_figure_numbers = assign_figure_numbers_after_lettering(
            TocTreeCollector.assign_figure_numbers
        )
    app.connect("config-inited", apply_authors, priority=950)  # after sphinx-external-toc: root_doc
    app.add_config_value("ex2_appendix_part", "Appendices", "env", [str])
    app.add_post_transform(BookStructureForLatex)
    app.add_post_transform(LongTablesBreakAcrossPages)
    app.connect("html-page-context", inline_scripts_once, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
