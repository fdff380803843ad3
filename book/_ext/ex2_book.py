"""Sphinx extension for this book (loaded through `sphinx.local_extensions` in `_config.yml`).

1. Read, and so execute, the pages in table-of-contents order. Sphinx reads changed documents in
   alphabetical order and myst-nb executes each notebook while it is read; the last page,
   `book/provenance`, lists the experiment runs found on disk, so it must run after the chapters
   that train them (alphabetically it would run before `book/q1_*`).
2. PDF: make the root page (`book/intro`) a chapter of its own. Sphinx's LaTeX writer uses the root
   page's title as the document title and would turn the root page's sections into chapters 1-3
   ahead of Q1, with its first paragraphs left in the front matter.
"""

from __future__ import annotations

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform


def toc_docnames(site_map) -> list[str]:
    """Docnames of the external ToC, depth first, in the order the book presents them."""
    order: list[str] = []

    def walk(docname: str) -> None:
        if docname in order:
            return
        order.append(docname)
        doc = site_map[docname] if docname in site_map else None
        for tree in getattr(doc, "subtrees", None) or []:
            for child in tree.files():
                walk(child)

    walk(site_map.root.docname)
    return order


def read_in_toc_order(app, env, docnames: list[str]) -> None:
    site_map = getattr(env, "external_site_map", None)
    if site_map is None:
        return
    rank = {name: i for i, name in enumerate(toc_docnames(site_map))}
    docnames.sort(key=lambda name: (rank.get(name, len(rank)), name))


def is_toctree_wrapper(node: nodes.Node) -> bool:
    return isinstance(node, nodes.compound) and "toctree-wrapper" in node.get("classes", [])


class RootPageAsChapter(SphinxPostTransform):
    """On the assembled LaTeX doctree, wrap the root page's own content in a section.

    Before: section(root title, intro content..., toctree-wrapper(chapters)).
    After:  section(root title, section(root title, intro content...), toctree-wrapper(chapters)).
    The writer consumes the outer title as the document title, so the inner one becomes chapter 1.
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
        if not any(
            isinstance(n, addnodes.start_of_file) for n in root.findall(addnodes.start_of_file)
        ):
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
        root += chapter
        for wrapper in wrappers:
            root += wrapper


def _ancestors(node: nodes.Node, stop: nodes.Node):
    parent = node.parent
    while parent is not None and parent is not stop:
        yield parent
        parent = parent.parent


def setup(app):
    app.connect("env-before-read-docs", read_in_toc_order)
    app.add_post_transform(RootPageAsChapter)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
