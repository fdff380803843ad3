"""The smoke build's HTML in a real browser: Debian's headless Chromium, driven by Playwright.

Every page of the ToC is served from 127.0.0.1 and opened; the checks are what a reader sees:
MathJax has typeset all the math (at least as many formulas as the page's source has, no raw TeX
left, not even a single `$x$`, no MathJax error), every image decoded, no console error, no
request leaves the machine, every same-site link answers and every `#anchor` exists on its page,
and the page is not blank: its full-length screenshot (saved to `<build>/screenshots/<docname>.png`)
has ink in the article on at least MIN_INK_ROWS rows. The same checks run on copies of the Q1 page
with a defect planted (`test_browser_checks_catch_*`): a check that stops finding anything fails.

The browser is the system's (`chromium-headless-shell` or `chromium`, or EX2_CHROMIUM), never one
downloaded by Playwright; `make test-deps` installs Debian's `chromium-headless-shell`.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from book_build import Expected, Refs, expected, toc_docnames
from PIL import Image

pytestmark = pytest.mark.slow

CHROMIUM_NAMES = ("chromium-headless-shell", "chromium", "chromium-browser")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
LOCAL_SCHEMES = {"data", "blob", "about", "file"}

# Typesetting state of the page once MathJax is done: Sphinx wraps every formula in a `.math`
# element; MathJax puts an <mjx-container> in it. TeX delimiters left in text outside code mean
# math MathJax never saw.
MATH_JS = r"""
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const maths = [...document.querySelectorAll('.math')];
  const untypeset = maths.filter(m => !m.querySelector('mjx-container'))
                         .map(m => m.textContent.trim().slice(0, 80));
  const errors = [...document.querySelectorAll('mjx-merror, [data-mjx-error]')]
                   .map(e => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 80));
  const skip = 'pre, code, script, style, textarea, noscript, mjx-container, .highlight';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: n => n.parentElement && n.parentElement.closest(skip)
                       ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  const raw = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const t = n.textContent;
    const at = t.search(/\\\(|\\\)|\\\[|\\\]|\$\$|\$[^\s$][^$\n]{0,80}?\$/);
    if (at >= 0) raw.push(t.slice(Math.max(0, at - 30), at + 50));
  }
  return {count: maths.length, containers: document.querySelectorAll('mjx-container').length,
          untypeset, errors, raw};
}
"""

# Every <img>, lazy ones included, loaded and decoded: naturalWidth > 0.
IMAGES_JS = """
async () => {
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });
  const bad = [];
  await Promise.all(imgs.map(async i => {
    try { await i.decode(); } catch (e) {}
    if (!(i.complete && i.naturalWidth > 0)) bad.push(i.getAttribute('src'));
  }));
  return {count: imgs.length, bad};
}
"""

LINKS_JS = "() => [...document.querySelectorAll('a[href]')].map(a => a.href)"

# The article's box on the full-length page (CSS pixels = screenshot pixels at scale 1).
ARTICLE_JS = """
() => { const r = document.querySelector('article').getBoundingClientRect();
        return [r.left + scrollX, r.top + scrollY, r.width, r.height]; }
"""
MIN_INK_ROWS = 300  # rows of the article with anything on them: a heading and a line are ~60


def chromium_executable() -> str:
    override = os.environ.get("EX2_CHROMIUM")
    if override:
        path = shutil.which(override) or override
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"EX2_CHROMIUM={override}: no such executable")
        return path
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        f"no Chromium to test the HTML with: none of {', '.join(CHROMIUM_NAMES)} is on PATH. "
        "`make test-deps` installs Debian's chromium-headless-shell; EX2_CHROMIUM=<path> "
        "names another."
    )


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def site(built_book):
    """The built HTML served on a free port of 127.0.0.1: its base URL."""
    handler = partial(QuietHandler, directory=str(built_book / "html"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is not installed (pyproject.toml pins it: make setup)")
    executable = chromium_executable()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=LAUNCH_ARGS, headless=True)
        yield browser
        browser.close()


class SiteIndex:
    """Status and element ids of same-site URLs, each fetched once."""

    def __init__(self):
        self.status: dict[str, int] = {}
        self.ids: dict[str, set[str]] = {}

    def fetch(self, url: str) -> int:
        if url not in self.status:
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    body = response.read()
                    self.status[url] = response.status
                    if response.headers.get_content_type() == "text/html":
                        refs = Refs()
                        refs.feed(body.decode("utf-8", errors="replace"))
                        self.ids[url] = refs.ids
            except urllib.error.HTTPError as err:
                self.status[url] = err.code
        return self.status[url]


@pytest.fixture(scope="module")
def site_index() -> SiteIndex:
    return SiteIndex()


def broken_links(hrefs: list[str], site: str, index: SiteIndex) -> list[str]:
    broken = []
    host = urlsplit(site).netloc
    for href in dict.fromkeys(hrefs):
        parts = urlsplit(href)
        if parts.scheme not in ("http", "https") or parts.netloc != host:
            continue  # other sites are not followed (and not reachable: see the route handler)
        url = parts._replace(fragment="").geturl()
        status = index.fetch(url)
        if status != 200:
            broken.append(f"{href} -> HTTP {status}")
        elif parts.fragment and url in index.ids and unquote(parts.fragment) not in index.ids[url]:
            broken.append(f"{href} -> no element with id {unquote(parts.fragment)!r}")
    return broken


def ink_rows(screenshot: Path, box) -> int:
    """Rows of the article's box in a screenshot with a pixel that differs from the background."""
    image = np.asarray(Image.open(screenshot).convert("L"), dtype=np.int16)
    left, top, width, height = (int(round(v)) for v in box)
    article = image[top : top + height, left : left + width]
    if article.size == 0:
        return 0
    background = np.median(article)
    return int((np.abs(article - background) > 40).any(axis=1).sum())


def inspect(browser, url: str, shot: Path, doctored: str | None = None) -> dict:
    """Open a page (with `doctored`, that HTML served at its URL) and read what a reader sees."""
    outside: list[str] = []
    console: list[str] = []

    def route(route):
        parts = urlsplit(route.request.url)
        if doctored is not None and route.request.url == url:
            route.fulfill(body=doctored, content_type="text/html")
        elif parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(f"uncaught: {e}"))
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, f"{url} not served"
        seen = {
            "math": page.evaluate(MATH_JS),
            "images": page.evaluate(IMAGES_JS),
            "links": page.evaluate(LINKS_JS),
            "article": page.evaluate(ARTICLE_JS),
        }
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()
    seen.update(outside=outside, console=console, ink_rows=ink_rows(shot, seen["article"]))
    return seen


def reader_problems(seen: dict, want: Expected) -> list[str]:
    math, images, problems = seen["math"], seen["images"], []
    if math["untypeset"] or math["errors"] or math["raw"]:
        problems.append(
            f"math not typeset by MathJax ({math['count']} formulas, {math['containers']} "
            f"typeset): untypeset {math['untypeset'][:5]}, errors {math['errors'][:5]}, "
            f"raw TeX in the text {math['raw'][:5]}"
        )
    if math["count"] < want.math:
        problems.append(f"{math['count']} formulas, the page's source has at least {want.math}")
    if images["bad"]:
        problems.append(
            f"{len(images['bad'])} of {images['count']} images not decoded: {images['bad']}"
        )
    if seen["console"]:
        problems.append(f"console errors: {seen['console']}")
    if seen["outside"]:
        problems.append(f"requests leaving the machine (aborted): {seen['outside']}")
    if seen["ink_rows"] < MIN_INK_ROWS:
        problems.append(f"near-blank: ink on {seen['ink_rows']} rows of the article")
    return problems


@pytest.mark.parametrize("docname", toc_docnames())
def test_page_in_browser(docname, browser, site, site_index, built_book):
    shot = built_book / "screenshots" / f"{docname}.png"
    seen = inspect(browser, site + f"{docname}.html", shot)
    problems = reader_problems(seen, expected(built_book, docname))
    links = broken_links(seen["links"], site, site_index)
    if links:
        problems.append(f"broken links: {links}")
    assert not problems, f"{docname} (screenshot {shot}):\n" + "\n".join(problems)


# Defects planted in a copy of the Q1 page: (what is replaced, by what, what the check says).
PLANTED = {
    "a single raw $x$": ('<article class="bd-article">', "\\g<0><p>Let $x$ be raw.</p>", "raw TeX"),
    "math as plain text": (r'class="math notranslate nohighlight"', 'class="x"', "formulas, the"),
    "a MathJax error": (
        '<article class="bd-article">',
        '\\g<0><p><span class="math notranslate nohighlight">\\\\(\\\\frac{1}\\\\)</span></p>',
        "errors ['",
    ),
    "an empty article": (r'(<article class="bd-article">).*(</article>)', r"\1\2", "near-blank"),
}


@pytest.mark.parametrize("defect", PLANTED)
def test_browser_checks_catch_a_planted_defect(defect, browser, site, built_book, tmp_path):
    pattern, replacement, message = PLANTED[defect]
    page = (built_book / "html" / "book" / "q1.html").read_text(encoding="utf-8")
    doctored, n = re.subn(pattern, replacement, page, flags=re.DOTALL)
    assert n >= 1, f"nothing to plant {defect!r} in"
    seen = inspect(browser, site + "book/q1.html", tmp_path / "q1.png", doctored)
    problems = reader_problems(seen, expected(built_book, "book/q1"))
    assert any(message in p for p in problems), problems
