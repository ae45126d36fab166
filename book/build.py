"""Build the tutorial as a book that reads offline: ``make book`` (or ``python book/build.py``).

Steps:

1. execute every notebook in a fresh kernel in the chosen profile (``laptop`` unless told
   otherwise) with nbclient, keeping the widget state so that each explorer shows its first view
   on a page without a kernel; executed notebooks are cached under ``build/book-cache/<profile>``,
   keyed by the notebook, the library sources and the shipped data;
2. stage the pages in ``build/book-src``: ``book/*.md`` (index, glossary, references), the executed
   notebooks with their chapter's further reading appended, ``docs/*.md``, ``data/README.md``,
   ``README.md``, and every other repository file that a page links to;
3. unpack the two JavaScript packages the pages need, MathJax 3 (formulas) and the ipywidgets
   HTML manager (widgets), from npm tarballs pinned by version and sha512 in ``book/js.json``:
   they are fetched once with ``npm pack`` at build time and served from the book's ``_static``,
   so opening a page requests nothing from the network;
4. run Sphinx (MyST-NB, sphinx-book-theme) with warnings as errors, so a broken link fails.

Options: ``--profile ci`` for a fast build, ``--out DIR`` (default ``build/book``).
"""
from __future__ import annotations

import argparse
import base64
import copy
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
NOTEBOOKS = ROOT / "notebooks"
PAGES_FROM_REPO = ("README.md", "data/README.md")
CELL_TIMEOUT_S = 1800
LINK = re.compile(r"\]\(([^)\s]+)\)")


def log(message: str) -> None:
    print(f"[book] {message}", flush=True)


# 1. execution ------------------------------------------------------------------------------------

def _digest(paths: list[Path], *extra: str) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for item in extra:
        h.update(item.encode())
    return h.hexdigest()


def _library_digest() -> str:
    sources = [p for p in (ROOT / "arseg_tutorial").rglob("*.py")]
    data = [p for p in (ROOT / "data").rglob("*") if p.is_file()]
    return _digest(sources + data, sys.version, _package_versions())


def _package_versions() -> str:
    import matplotlib
    import numpy
    import torch
    return f"torch {torch.__version__} numpy {numpy.__version__} matplotlib {matplotlib.__version__}"


def _kernel_manager(spec_dir: Path):
    """A kernel manager for *this* interpreter: a private kernelspec, never a user-level one."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    kernel = spec_dir / "kernels" / "arseg-book"
    kernel.mkdir(parents=True, exist_ok=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "arseg-tutorial book build", "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(spec_dir / "kernels")])
    return KernelManager(kernel_name="arseg-book", kernel_spec_manager=specs, transport="ipc",
                         connection_file=str(spec_dir / "kernel.json"))


def execute(notebook: Path, profile: str, cache: Path, library_digest: str) -> nbformat.NotebookNode:
    """The notebook executed top to bottom in a fresh kernel (from the cache when unchanged)."""
    from nbclient import NotebookClient

    from arseg_tutorial.atomic import atomic_path

    key = _digest([notebook], profile, library_digest)
    cached = cache / notebook.name
    if cached.exists():
        previous = nbformat.read(cached, as_version=4)
        if previous.metadata.get("arseg_book_key") == key:
            log(f"{notebook.name}: executed copy is up to date")
            return previous
    nb = nbformat.read(notebook, as_version=4)
    env = {**os.environ, "ARSEG_PROFILE": profile,
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as spec_dir:
        client = NotebookClient(nb, km=_kernel_manager(Path(spec_dir)), timeout=CELL_TIMEOUT_S,
                                resources={"metadata": {"path": str(NOTEBOOKS)}},
                                store_widget_state=True, record_timing=False)
        client.execute(cleanup_kc=True, env=env)
    log(f"{notebook.name}: executed in the {profile} profile in {time.perf_counter() - start:.0f} s")
    nb.metadata["arseg_book_key"] = key
    with atomic_path(cached, suffix=".ipynb") as tmp:
        nbformat.write(nb, tmp)
    return nb


# 2. staging ----------------------------------------------------------------------------------------

def further_reading(chapter: str) -> str | None:
    """The ``## <chapter>`` section of book/further_reading.md (None if it has none)."""
    text = (BOOK / "further_reading.md").read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    for section in sections:
        title, _, body = section.partition("\n")
        if title.strip() == chapter:
            return body.strip()
    return None


SOLUTION_TAGS = ("hide-input", "hide-output")
"""MyST-NB's tags for a code cell whose source and output are folded behind "Show code cell
source" / "Show code cell output" toggles: the book folds every exercise's solution and its
check's output (which may print the answer) this way."""


def book_page(nb: nbformat.NotebookNode, chapter: str) -> nbformat.NotebookNode:
    """The executed notebook as a book page: exercise solutions and their output folded, further
    reading appended."""
    from arseg_tutorial.student import solution_regions

    reading = further_reading(chapter)
    if reading is None:
        raise SystemExit(f"book/further_reading.md has no '## {chapter}' section: add one")
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and solution_regions(cell.source):
            tags = cell.metadata.setdefault("tags", [])
            tags.extend(tag for tag in SOLUTION_TAGS if tag not in tags)
    nb.cells.append(nbformat.v4.new_markdown_cell("## Further reading\n\n" + reading))
    return nb


def _markdown_of(path: Path) -> str:
    if path.suffix != ".ipynb":
        return path.read_text()
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _copy_linked_files(stage: Path) -> None:
    """Copy every repository file (not a page) that a staged page links to, at the same place."""
    pending = [p for p in stage.rglob("*") if p.suffix in (".md", ".ipynb")]
    for page in pending:
        for target in LINK.findall(_markdown_of(page)):
            target = target.split("#", 1)[0]
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.I):
                continue
            staged = (page.parent / target).resolve()
            try:
                relative = staged.relative_to(stage.resolve())
            except ValueError:
                continue  # outside the repository: Sphinx reports it
            source = ROOT / relative
            if source.is_file() and not staged.exists():
                staged.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, staged)


def stage_pages(stage: Path, executed: dict[str, nbformat.NotebookNode]) -> None:
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "notebooks").mkdir(parents=True)
    shutil.copy2(BOOK / "conf.py", stage / "conf.py")
    for page in BOOK.glob("*.md"):
        if page.name != "further_reading.md":
            shutil.copy2(page, stage / page.name)
    for name, nb in executed.items():
        nbformat.write(book_page(nb, Path(name).stem), stage / "notebooks" / name)
    (stage / "docs").mkdir()
    for page in (ROOT / "docs").glob("*.md"):
        shutil.copy2(page, stage / "docs" / page.name)
    (stage / "_static").mkdir()
    for name in ("mathjax2_hub.js", "wide_figures.css"):
        shutil.copy2(BOOK / name, stage / "_static" / name)
    for name in PAGES_FROM_REPO:
        (stage / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, stage / name)
    _copy_linked_files(stage)


# 3. JavaScript -------------------------------------------------------------------------------------

def _fetch_tarball(name: str, pin: dict, cache: Path) -> Path:
    """The npm tarball of ``name@pin['version']``, checked against ``pin['integrity']``."""
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"{name.lstrip('@').replace('/', '-')}-{pin['version']}.tgz"
    if not tarball.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("the book needs npm once, to fetch MathJax and the ipywidgets HTML "
                             "manager (apt-get install npm, or see nodejs.org); nothing is "
                             "fetched when the book is read")
        log(f"npm pack {name}@{pin['version']}")
        subprocess.run([npm, "pack", "--silent", f"{name}@{pin['version']}",
                        "--pack-destination", str(cache)], check=True, stdout=subprocess.DEVNULL)
    algorithm, _, expected = pin["integrity"].partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if actual != expected:
        tarball.unlink()
        raise SystemExit(f"{tarball.name}: {algorithm} does not match book/js.json; "
                         "the file was removed, run the build again")
    return tarball


def _unpack(tarball: Path, patterns: list[str], target: Path) -> None:
    """Extract the files of ``tarball`` that match ``patterns`` (paths inside the package; a
    trailing ``/`` takes a whole folder) into ``target``; every pattern must match something."""
    def wanted(name: str, pattern: str) -> bool:
        return name.startswith(pattern) if pattern.endswith("/") else fnmatch.fnmatchcase(name, pattern)

    with tarfile.open(tarball) as archive:
        files = {m.name.removeprefix("package/"): m for m in archive.getmembers() if m.isfile()}
        chosen = {name: files[name] for pattern in patterns for name in files if wanted(name, pattern)}
        missing = [p for p in patterns if not any(wanted(name, p) for name in files)]
        if missing or any(".." in Path(name).parts or name.startswith("/") for name in chosen):
            raise SystemExit(f"{tarball.name}: unexpected contents (patterns {missing} match nothing)")
        for name, member in chosen.items():
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.extractfile(member).read())


def stage_javascript(static: Path, cache: Path) -> None:
    pins = json.loads((BOOK / "js.json").read_text())
    for name, pin in pins.items():
        if name == "comment":
            continue
        _unpack(_fetch_tarball(name, pin, cache), pin["files"], static / pin["into"])


# 4. Sphinx -----------------------------------------------------------------------------------------

def sphinx(stage: Path, out: Path, doctrees: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
               "-d", str(doctrees), str(stage), str(out)]
    subprocess.run(command, check=True)


def build(profile: str, out: Path, work: Path, cache: Path = ROOT / "build") -> Path:
    """Build the book into ``out``; returns the path of its index.html.

    ``work`` receives the staged pages and Sphinx's doctrees; ``cache`` keeps the executed
    notebooks (``book-cache/<profile>``) and the npm tarballs (``book-js``) between builds.
    """
    start = time.perf_counter()
    library = _library_digest()
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    executed = {nb.name: execute(nb, profile, cache / "book-cache" / profile, library)
                for nb in notebooks}
    stage = work / "book-src"
    stage_pages(stage, executed)
    stage_javascript(stage / "_static", cache / "book-js")
    sphinx(stage, out, work / "book-doctrees")
    log(f"built {out / 'index.html'} in {time.perf_counter() - start:.0f} s")
    return out / "index.html"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=os.environ.get("ARSEG_PROFILE", "laptop"),
                        choices=("ci", "laptop", "paper"))
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "book")
    parser.add_argument("--work", type=Path, default=ROOT / "build",
                        help="where the staged pages go (default build/)")
    args = parser.parse_args(argv)
    build(args.profile, args.out.resolve(), args.work.resolve())


if __name__ == "__main__":
    main()
