"""No reference in the repository points at something that is not in it.

Scanned: every tracked text file (code and its docstrings, Markdown, notebooks' cell sources).
A reference fails when it names

- the developers' design notes or shared folder, which are not part of the repository;
- a relative Markdown link whose file does not exist;
- an anchor (``page.md#section`` or ``notebook.ipynb#section``) that is no heading of that page;
- a ``docs/<page>.md`` page, or ``docs/<page>.md#section``, that does not exist (docstrings cite
  the docs this way).

The book's own pages (``book/*.md``) are read as the book lays them out: they sit at the root of
the book next to ``docs/``, ``notebooks/`` and ``data/``, and the per-chapter further reading is
appended to the chapters in ``notebooks/``.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Spelled in two halves so that this file does not match itself.
FORBIDDEN = [re.compile(r"\bDES" r"IGN\b"), re.compile(r"\.\./shar" r"ed\b|/work/shar" r"ed\b")]
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
DOCS_MENTION = re.compile(r"(?<![\w./-])((?:\.\./)*docs/[\w.-]+\.md)(?:#([\w-]+))?")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1", re.M | re.S)
EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|//|#)", re.I)


def tracked_files(root: Path) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True)
    return [root / name for name in listed.stdout.decode().split("\0") if name]


def text_of(path: Path) -> str | None:
    """The text of a tracked file (a notebook's cell sources joined), None if it is binary."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None
    if path.suffix == ".ipynb":
        return "\n\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
    return text


def markdown_of(path: Path) -> str:
    """The Markdown of a page: a .md file, or a notebook's markdown cells."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return path.read_text(encoding="utf-8")


def slug(title: str) -> str:
    """GitHub's (and MyST's) anchor of a heading: lower case, punctuation dropped, spaces -> -."""
    title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link keeps its text
    title = re.sub(r"[`*_]", "", title).strip().lower()
    return re.sub(r"[^\w\- ]", "", title).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for _, title in HEADING.findall(FENCE.sub("", markdown_of(path))):
        anchor = slug(title)
        n, unique = 0, anchor
        while unique in found:
            n += 1
            unique = f"{anchor}-{n}"
        found.add(unique)
    return found


def resolve(root: Path, page: Path, target: str) -> Path:
    """Where a relative link of ``page`` leads, with the book's layout for book/*.md."""
    relative = page.relative_to(root)
    if relative.parts[0] == "book":
        base = root / "notebooks" if page.name == "further_reading.md" else root
        path = (base / target).resolve()
        book_page = root / "book" / path.name
        if path.parent == root.resolve() and book_page.exists():
            return book_page
        return path
    return (page.parent / target).resolve()


def link_problems(root: Path, page: Path) -> list[str]:
    problems = []
    name = page.relative_to(root)
    for target in MARKDOWN_LINK.findall(FENCE.sub("", markdown_of(page))):
        if EXTERNAL.match(target):
            if target.startswith("#") and target[1:] not in anchors(page):
                problems.append(f"{name}: link {target!r}: no such heading in this page")
            continue
        file_part, _, fragment = target.partition("#")
        path = resolve(root, page, file_part)
        if not path.exists():
            problems.append(f"{name}: link {target!r}: {file_part} does not exist")
        elif fragment and path.suffix in (".md", ".ipynb") and fragment not in anchors(path):
            problems.append(f"{name}: link {target!r}: {path.name} has no heading #{fragment}")
    return problems


def mention_problems(root: Path, path: Path, text: str) -> list[str]:
    """``docs/<page>.md[#section]`` written anywhere (docstrings, comments, prose)."""
    problems = []
    for page, fragment in DOCS_MENTION.findall(MARKDOWN_LINK.sub("", text)):
        while page.startswith("../"):
            page = page[3:]
        target = root / page
        if not target.exists():
            problems.append(f"{path.relative_to(root)}: mentions {page}, which does not exist")
        elif fragment and fragment not in anchors(target):
            problems.append(f"{path.relative_to(root)}: mentions {page}#{fragment}: no such heading")
    return problems


def repository_problems(root: Path) -> list[str]:
    problems = []
    for path in tracked_files(root):
        text = text_of(path)
        if text is None:
            continue
        for pattern in FORBIDDEN:
            for match in pattern.finditer(text):
                line = text[:match.start()].count("\n") + 1
                problems.append(f"{path.relative_to(root)}:{line}: refers to {match.group(0)!r}, "
                                "which is not in the repository")
        if path.suffix in (".md", ".ipynb"):
            problems += link_problems(root, path)
        problems += mention_problems(root, path, text)
    return sorted(set(problems))


def test_the_repository_refers_only_to_what_it_holds():
    problems = repository_problems(ROOT)
    assert not problems, "dangling references:\n" + "\n".join(problems)


@pytest.fixture()
def planted(tmp_path: Path) -> Path:
    """A small git repository with one good and several bad references of each kind."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "method.md").write_text("# Method\n\n## Cost per frame\n\ntext\n")
    (tmp_path / "notebooks").mkdir()
    cells = [{"cell_type": "markdown", "metadata": {}, "source": [
        "# 00 · Welcome\n", "See [cost](../docs/method.md#cost-per-frame) and "
        "[gone](../docs/gone.md) and [bad anchor](../docs/method.md#no-such-part).\n"]}]
    (tmp_path / "notebooks" / "00.ipynb").write_text(json.dumps(
        {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    (tmp_path / "mod.py").write_text('"""Convention (docs/method.md#cost-per-frame); see '
                                     'DES' 'IGN §1 and docs/' 'method.md#missing-one."""\n')
    (tmp_path / "README.md").write_text("Notes in ../shar" "ed/x.md; [ok](docs/method.md).\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    return tmp_path


def test_the_scan_catches_each_kind_of_dangling_reference(planted):
    problems = "\n".join(repository_problems(planted))
    assert "mod.py:1: refers to 'DES" "IGN'" in problems
    assert "README.md:1: refers to '../shar" "ed'" in problems
    assert "docs/" "gone.md does not exist" in problems
    assert "method.md has no heading #no-such-part" in problems
    assert "mentions docs/" "method.md#missing-one: no such heading" in problems
    assert "cost-per-frame" not in problems, "a correct anchor was reported"
    assert len(repository_problems(planted)) == 5, problems


def test_slugs_follow_github():
    assert slug("The paper's reference numbers") == "the-papers-reference-numbers"
    assert slug("CReFF: cross-resolution feature fusion") == "creff-cross-resolution-feature-fusion"
    assert slug("H.264") == "h264"
    assert slug("`make lab` and [links](x.md)") == "make-lab-and-links"
