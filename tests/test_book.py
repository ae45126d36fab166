"""The offline book: built from the notebooks in the ci profile and opened in headless Chromium.

``book/build.py`` executes the notebooks and runs Sphinx; ``book/check.py`` is what
``make book-check`` runs. Without Chromium the tests skip, except under CI (``$CI`` set), where
``.ci/run`` installs it and a missing browser is a failure.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"book_{name}", ROOT / "book" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load("build")
check = _load("check")

pytestmark = pytest.mark.skipif(
    check.chromium() is None and not os.environ.get("CI"),
    reason="chromium is not installed (apt-get install chromium); CI installs it and runs these")


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("book")
    build.build("ci", work / "html", work)
    return work / "html"


def test_the_built_book_passes_the_browser_check(book):
    problems = check.check(book)
    assert not problems, "\n".join(problems)


def test_every_chapter_is_a_page_with_previous_next_and_further_reading(book):
    chapters = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    for i, name in enumerate(chapters):
        html = (book / "notebooks" / f"{name}.html").read_text()
        assert 'class="left-prev"' in html, f"{name}: no link to the previous page"
        if i + 1 < len(chapters):
            assert f'href="{chapters[i + 1]}.html"' in html, f"{name}: no link to the next chapter"
        assert 'id="further-reading"' in html, f"{name}: no further reading"
    index = (book / "index.html").read_text()
    assert all(f'href="notebooks/{name}.html"' in index for name in chapters)
    for page in book.rglob("*.html"):
        assert not re.search(r'href="[^"#]*\.ipynb', page.read_text()), f"{page.name} links a .ipynb"


def test_the_book_holds_the_glossary_and_the_docs(book):
    glossary = (book / "glossary.html").read_text()
    for term in ("GOP", "I-frame", "P-frame", "B-frame", "motion vector", "backward flow", "EPE",
                 "GMACs", "OHEM", "FST", "CReFF", "mIoU", "keyframe distance"):
        assert f'id="term-{term.replace(" ", "-")}"' in glossary, f"glossary lacks {term}"
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert (book / "docs" / f"{page.stem}.html").is_file(), f"docs/{page.name} is not in the book"


def test_the_check_catches_network_loads_broken_links_and_missing_typesetting(tmp_path):
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><html><head><script src="https://cdn.jsdelivr.net/npm/mathjax@3"></script>'
        '</head><body><a href="gone.html">x</a><a href="other.html#nowhere">y</a>'
        '<span class="math">\\(x^2\\)</span><details open><summary>answer</summary>42</details>'
        '<script>console.error(new Error("a widget failed")); console.log("a note"); window.MathJax.Hub.Queue(["Typeset"]);</script>'
        '</body></html>')
    (tmp_path / "other.html").write_text('<!DOCTYPE html><html><body><p id="here">z</p></body></html>')
    (tmp_path / "style.css").write_text('@import "https://fonts.googleapis.com/css?family=Roboto";')
    problems = "\n".join(check.check(tmp_path))
    for expected in ("loads 'https://cdn.jsdelivr.net/npm/mathjax@3' from outside the book",
                     "link 'gone.html' leads to no file", "other.html has no id 'nowhere'",
                     "<details> block(s) open by default", "style.css: points at a network URL",
                     "1 formulas but 0 typeset", "JavaScript error: \"Error: a widget failed",
                     "JavaScript error: \"Uncaught TypeError: Cannot read properties of undefined",
                     "the page requested https://cdn.jsdelivr.net/npm/mathjax@3"):
        assert expected in problems, f"not reported: {expected}\n{problems}"
    assert "a note" not in problems


def test_answers_in_details_blocks_render_folded(tmp_path):
    """Answers to the questions (a <details> block in a markdown cell) stay folded in the book."""
    stage = tmp_path / "src"
    (stage / "_static").mkdir(parents=True)
    shutil.copy2(ROOT / "book" / "conf.py", stage / "conf.py")
    (stage / "index.md").write_text("# Book\n\n```{toctree}\nchapter\n```\n")
    answer = ("<details>\n<summary>Answer</summary>\n\nThe cost is $(1 + 11 s^2) / 12$ of HR.\n\n"
              "</details>\n")
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Chapter\n"},
                          {"cell_type": "markdown", "metadata": {}, "source": "## Questions\n\n" + answer}],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                            "language": "python"},
                             "language_info": {"name": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    (stage / "chapter.ipynb").write_text(json.dumps(notebook))
    build.sphinx(stage, tmp_path / "html", tmp_path / "doctrees")
    html = (tmp_path / "html" / "chapter.html").read_text()
    block = re.search(r"<details>(.*?)</details>", html, flags=re.S)
    assert block, "the <details> block did not reach the page"
    assert "<summary>Answer</summary>" in block.group(1) and "The cost is" in block.group(1)
    assert 'class="math' in block.group(1), "the formula inside the answer is not typeset"
    assert "<details open" not in html


def test_exercise_solutions_are_folded_in_the_book(book):
    """Each exercise's solution cell is folded behind MyST-NB's "show code" toggle, and its output
    (the check may print the answer) behind "show output"."""
    folded = 0
    for page in sorted((book / "notebooks").glob("*.html")):
        html = page.read_text()
        for hit in re.finditer("BEGIN SOLUTION", html):
            before = html[:hit.start()]
            opened = before.rfind("<details")
            assert opened > before.rfind("</details>"), f"{page.name}: a solution is not folded"
            assert "hide above-input" in html[opened:html.index(">", opened)], page.name
            cell = before.rfind('<div class="cell ')
            assert "tag_hide-output" in html[cell:html.index(">", cell)], f"{page.name}: output shown"
            folded += 1
    assert folded >= 8, f"only {folded} folded solutions found in the book"
