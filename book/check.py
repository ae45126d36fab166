"""Check a built book in a real headless browser: ``make book-check`` (or ``python book/check.py``).

Static checks, on every HTML page of the book:

- every internal link (``<a href>`` to another page, or to ``#anchor``) leads to a file of the
  book and, if it names an anchor, to an element with that id;
- no page loads anything (script, stylesheet, image, frame, font) from the network, and no
  stylesheet imports or points at an ``http(s)`` URL;
- every ``<details>`` block (the answers to the questions) is folded: no ``open`` attribute.

Browser checks, with Debian's ``chromium`` (headless, fresh profile, DNS switched off):

- each checked page loads, and its DOM after scripts have run holds the expected content: the
  index links every chapter; a page with formulas holds one MathJax output element
  (``mjx-container``) per formula; a page with widgets holds the rendered widgets, and its
  explorers (Output widgets) show their first figure from the saved widget state;
- no page throws an uncaught JavaScript error or logs an error (Chromium's console log, read
  from its stderr, does not give a message's level: a message that is uncaught or names an
  error counts; the theme's and the widget manager's notes do not);
- Chromium's network log shows no request made by a page to anything but ``file:`` or ``data:``
  (requests that the browser itself makes, such as update checks, are told apart by their
  initiator and ignored);
- screenshots of the index, a chapter with formulas and the glossary, when ``--screenshots DIR``
  is given.

Exit status 0 when everything passes; otherwise every problem is printed.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
NETWORK = re.compile(r"^(https?:)?//", re.I)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
RESOURCE_ATTRS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "video": "src",
                  "audio": "src", "embed": "src", "object": "data", "link": "href"}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync",
                  "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=20000",
                  "--disable-smooth-scrolling", "--enable-logging=stderr", "--v=0"]
CONSOLE_LINE = re.compile(r":CONSOLE(?:\(\d+\)|:\d+)\] (?P<message>.*)$")
CONSOLE_ERROR = re.compile(r"uncaught|error", re.I)
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "chrome-error:")


class Page(HTMLParser):
    """The ids, links, resources and <details> blocks of one HTML page."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.resources: list[str] = []
        self.open_details = 0
        self.math = 0
        self.first_math_at = -1  # character offset of the first formula in the page
        self.widget_views = 0
        self._in_widget_script = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href") is not None:
            self.links.append(attrs["href"])
        if tag in RESOURCE_ATTRS and attrs.get(RESOURCE_ATTRS[tag]):
            if tag != "link" or attrs.get("rel", "") not in ("canonical", "next", "prev"):
                self.resources.append(attrs[RESOURCE_ATTRS[tag]])
        if tag == "details" and "open" in attrs:
            self.open_details += 1
        if "math" in (attrs.get("class") or "").split():
            self.math += 1
            if self.first_math_at < 0:
                self.first_math_at = self.getpos()[0]
        if tag == "script" and attrs.get("type") == "application/vnd.jupyter.widget-view+json":
            self.widget_views += 1


def read_pages(book: Path) -> dict[Path, Page]:
    return {p: Page(p.read_text(encoding="utf-8")) for p in sorted(book.rglob("*.html"))
            if "_static" not in p.relative_to(book).parts}


def _target(page: Path, href: str) -> tuple[Path, str]:
    parts = urlsplit(href)
    path = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
    if path.is_dir():
        path = path / "index.html"
    return path, unquote(parts.fragment)


def static_problems(book: Path, pages: dict[Path, Page]) -> list[str]:
    problems = []
    for path, page in pages.items():
        name = path.relative_to(book)
        for href in page.links:
            if SCHEME.match(href) or NETWORK.match(href):
                continue  # a link the reader may follow to the web; nothing is loaded
            target, fragment = _target(path, href)
            if not target.is_file():
                problems.append(f"{name}: link {href!r} leads to no file of the book")
            elif fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else Page(target.read_text()).ids
                if fragment not in ids:
                    problems.append(f"{name}: link {href!r}: {target.name} has no id {fragment!r}")
        for src in page.resources:
            if src.startswith("data:"):
                continue  # embedded in the page (images, the overlay video)
            if NETWORK.match(src) or SCHEME.match(src):
                problems.append(f"{name}: loads {src[:200]!r} from outside the book")
            elif not _target(path, src)[0].is_file():
                problems.append(f"{name}: loads {src[:200]!r}, which is not in the book")
        if page.open_details:
            problems.append(f"{name}: {page.open_details} <details> block(s) open by default")
    for css in book.rglob("*.css"):
        text = re.sub(r"/\*.*?\*/", "", css.read_text(encoding="utf-8", errors="replace"), flags=re.S)
        for url in re.findall(r"(?:url\(\s*['\"]?|@import\s+['\"])(https?:|//)", text):
            problems.append(f"{css.relative_to(book)}: points at a network URL ({url}...)")
    return problems


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(url: str, workdir: Path, screenshot: Path | None = None,
                 height: int = 1600) -> tuple[str, list[dict], list[str]]:
    """(DOM after scripts ran, page-initiated network requests, console errors) of ``url`` in a
    fresh profile."""
    profile = Path(tempfile.mkdtemp(dir=workdir))
    netlog = profile / "netlog.json"
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--log-net-log={netlog}"]
    if screenshot is None:
        command.append("--dump-dom")
    else:
        command += [f"--screenshot={screenshot}", f"--window-size=1280,{height}", "--hide-scrollbars"]
    result = subprocess.run(command + [url], capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise RuntimeError(f"chromium failed on {url}: {result.stderr[-2000:]}")
    return result.stdout, page_requests(netlog), console_errors(result.stderr)


def console_errors(stderr: str) -> list[str]:
    """The console messages of a page in Chromium's log that are errors (uncaught, or naming one)."""
    return [match["message"][:300] for match in map(CONSOLE_LINE.search, stderr.splitlines())
            if match and CONSOLE_ERROR.search(match["message"])]


def page_requests(netlog: Path) -> list[dict]:
    """Requests in a Chromium net log that a page made (initiator other than the browser)."""
    if not netlog.exists():
        return []
    text = netlog.read_text()
    if not text.rstrip().endswith("}"):  # the log of a killed browser lacks its closing brackets
        text = text.rstrip().rstrip(",") + "]}"
    log = json.loads(text)
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    starts = [e["params"] for e in log["events"]
              if e["type"] == start_job and "url" in e.get("params", {})]
    return [p for p in starts if p.get("initiator") != "not an origin"]


def browser_problems(book: Path, pages: dict[Path, Page], workdir: Path) -> tuple[list[str], list[str]]:
    """(problems, one line per checked page) for the index and every page with math or widgets."""
    problems, report = [], []
    checked = [book / "index.html"] + [p for p, page in pages.items()
                                       if p.name != "index.html" and (page.math or page.widget_views)]
    chapters = sorted(p.relative_to(book).as_posix() for p in (book / "notebooks").glob("*.html"))
    for path in checked:
        name = path.relative_to(book).as_posix()
        dom, requests, errors = run_chromium(path.as_uri(), workdir)
        page = pages[path]
        typeset = dom.count("<mjx-container")
        widgets = len(re.findall(r'class="[^"]*\bjupyter-widgets\b', dom))
        outputs = len(re.findall(r'"_model_name": *"OutputModel"', path.read_text(encoding="utf-8")))
        figures = _output_widgets_with_figures(dom)
        report.append(f"{name}: {len(dom)} bytes of DOM, {page.math} formulas -> {typeset} typeset, "
                      f"{page.widget_views} widget views -> {widgets} widget elements, "
                      f"{outputs} output widgets -> {figures} showing a figure, "
                      f"{len(requests)} page requests, {len(errors)} console errors")
        for error in errors:
            problems.append(f"{name}: JavaScript error: {error}")
        if "</html>" not in dom:
            problems.append(f"{name}: the page did not load")
        if name == "index.html":
            missing = [c for c in chapters if f'href="{c}"' not in dom]
            if missing:
                problems.append(f"index.html: no link to {missing}")
        if typeset < page.math:
            problems.append(f"{name}: {page.math} formulas but {typeset} typeset by MathJax")
        if widgets < page.widget_views:
            problems.append(f"{name}: {page.widget_views} widgets but {widgets} rendered")
        if outputs and not figures:
            problems.append(f"{name}: no explorer shows its first figure (saved widget state)")
        for request in requests:
            url = request.get("url", "")
            if not url.startswith(LOCAL_SCHEMES):
                problems.append(f"{name}: the page requested {url}")
    return problems, report


def _output_widgets_with_figures(dom: str) -> int:
    """How many rendered Output widgets in ``dom`` hold an image (an explorer's first view)."""
    starts = [m.start() for m in re.finditer(r'<div class="[^"]*\bwidget-output\b', dom)]
    ends = starts[1:] + [len(dom)]
    return sum("<img" in dom[a:min(b, a + 20000)] for a, b in zip(starts, ends))


def take_screenshots(book: Path, pages: dict[Path, Page], folder: Path, workdir: Path) -> list[Path]:
    """The index, the glossary, and the top of the chapter whose first formula comes earliest
    (a tall window, so that the formula is on it: headless Chromium paints pages opened at an
    anchor wrongly)."""
    folder.mkdir(parents=True, exist_ok=True)
    shots = {"index.png": (book / "index.html", 1600), "glossary.png": (book / "glossary.html", 1600)}
    with_math = [p for p in sorted(pages) if p.parent.name == "notebooks" and pages[p].math]
    if with_math:
        shots["formula.png"] = (min(with_math, key=lambda p: pages[p].first_math_at), 3200)
    for png, (page, height) in shots.items():
        run_chromium(page.as_uri(), workdir, screenshot=folder / png, height=height)
        print(f"screenshot {folder / png}: {page.relative_to(book)}")
    return [folder / png for png in shots]


def check(book: Path, screenshots: Path | None = None) -> list[str]:
    """Every problem found in the book at ``book`` (empty when it passes); prints a report."""
    if not (book / "index.html").is_file():
        return [f"{book} holds no index.html: build the book first (make book)"]
    pages = read_pages(book)
    problems = static_problems(book, pages)
    print(f"{len(pages)} pages, {sum(len(p.links) for p in pages.values())} links checked")
    if chromium() is None:
        return problems + ["chromium is not installed (apt-get install chromium)"]
    with tempfile.TemporaryDirectory() as workdir:
        found, report = browser_problems(book, pages, Path(workdir))
        print("\n".join(report))
        problems += found
        if screenshots is not None:
            take_screenshots(book, pages, screenshots, Path(workdir))
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("book", nargs="?", type=Path, default=ROOT / "build" / "book")
    parser.add_argument("--screenshots", type=Path, default=None)
    args = parser.parse_args(argv)
    problems = check(args.book.resolve(), args.screenshots)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("book check passed" if not problems else f"book check failed: {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
