"""The student's working copy of the notebooks: solutions blanked, outputs stripped.

Introduced in README ("Two commands"): ``make lab`` opens JupyterLab on ``work/``, a git-ignored
copy of ``notebooks/`` written by ``python -m arseg_tutorial student-copy``. The tracked notebooks
hold the solved exercises (CI runs them); in the copy, every region between a line
``### BEGIN SOLUTION`` and a line ``### END SOLUTION`` of a code cell (the nbgrader convention)
becomes a ``raise NotImplementedError`` for the student to replace.

A copy is refreshed only when asked (``make lab-refresh``), and never silently over a notebook the
student changed: ``work/.student-copy.json`` records the sha256 of every file as written, and a
file whose bytes differ from that is kept unless ``force=True``, which first saves it as
``<name>.<UTC time>.bak``.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from arseg_tutorial.atomic import atomic_path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BLANK = 'raise NotImplementedError("exercise: replace this line with your code")'
KERNEL = {"name": "arseg-tutorial", "display_name": "Python (arseg-tutorial)", "language": "python"}
"""The kernel ``make setup`` registers inside the virtual environment; every notebook names it."""
RECORD_NAME = ".student-copy.json"
_MARKER = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>### (BEGIN|END) SOLUTION)[ \t]*$")


def solution_regions(source: str) -> list[tuple[int, int, str]]:
    """The marked solution regions of one code cell.

    Returns:
        One (begin line, end line, indentation) per region, line numbers 0-based, markers included.
    Raises:
        ValueError: markers unbalanced, nested, or not alone on their line.
    """
    regions, begin = [], None
    for number, line in enumerate(source.splitlines()):
        if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line:
            continue
        match = _MARKER.match(line)
        if match is None:
            raise ValueError(f"line {number + 1}: a solution marker must stand alone on its line: {line!r}")
        if match["marker"] == BEGIN:
            if begin is not None:
                raise ValueError(f"line {number + 1}: {BEGIN} inside another region (close it with {END})")
            begin = (number, match["indent"])
        else:
            if begin is None:
                raise ValueError(f"line {number + 1}: {END} without a {BEGIN} before it")
            regions.append((begin[0], number, begin[1]))
            begin = None
    if begin is not None:
        raise ValueError(f"line {begin[0] + 1}: {BEGIN} is never closed with {END}")
    return regions


def replace_solution(source: str, replacement: str | None = None) -> str:
    """``source`` with every solution region (markers included) replaced.

    Args:
        replacement: code to put in each region, re-indented to the region's markers (used by the
            tests for the typical wrong answers); None puts the student's blank (``BLANK``).
    """
    lines = source.splitlines()
    out, start = [], 0
    for begin, end, indent in solution_regions(source):
        body = BLANK if replacement is None else replacement.strip("\n")
        out += lines[start:begin] + [indent + line if line else line for line in body.splitlines()]
        start = end + 1
    return "\n".join(out + lines[start:])


def student_notebook(notebook: dict) -> dict:
    """A student's copy of a notebook (JSON as a dict): blanks, no outputs, the project's kernel.

    Removes the test-only ``arseg`` cell metadata (the typical wrong answers).
    """
    cells = []
    for cell in notebook["cells"]:
        cell = dict(cell, metadata={k: v for k, v in cell.get("metadata", {}).items() if k != "arseg"})
        if cell["cell_type"] == "code":
            cell.update(source=replace_solution("".join(cell["source"])), outputs=[], execution_count=None)
        cells.append(cell)
    metadata = dict(notebook.get("metadata", {}), kernelspec=dict(KERNEL))
    return dict(notebook, cells=cells, metadata=metadata)


_SOURCE_FIX = "restore it with `git checkout -- {path}`"
_RECORD_FIX = ("delete it and run again (your changed notebooks are then kept, as the record no "
               "longer vouches for them)")


def _read_json(path: Path, fix: str) -> dict:
    """A JSON object from ``path``; a file that is not one is refused with ``fix``."""
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}); {fix.format(path=path)}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path} holds a JSON {type(value).__name__}, not an object; "
                         f"{fix.format(path=path)}")
    return value


def _notebook_bytes(notebook: dict) -> bytes:
    return (json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class CopyReport:
    """What ``write_student_copy`` did, by notebook file name."""
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_edited: list[str] = field(default_factory=list)
    backed_up: list[str] = field(default_factory=list)

    def lines(self, folder: Path) -> list[str]:
        """Human-readable summary lines."""
        out = [f"wrote {folder / name}" for name in self.written]
        out += [f"saved your version as {folder / name}" for name in self.backed_up]
        out += [f"kept {folder / name}: it holds your changes (a fresh copy replaces it only with "
                f"`make lab-refresh FORCE=1`, which first saves yours as a .bak file)"
                for name in self.kept_edited]
        if self.unchanged:
            out.append(f"{len(self.unchanged)} notebook(s) in {folder} already up to date")
        return out


def write_student_copy(source_dir: str | Path, out_dir: str | Path, *, refresh: bool = False,
                       force: bool = False) -> CopyReport:
    """Write the student copy of every ``*.ipynb`` of ``source_dir`` into ``out_dir``.

    Args:
        refresh: also replace copies that exist already, if the student has not changed them
            (a notebook missing from ``out_dir`` is always written).
        force: with ``refresh``, also replace copies the student changed, after saving each as
            ``<name>.<UTC time>.bak`` next to it.
    Raises:
        FileNotFoundError: ``source_dir`` holds no notebook.
        ValueError: ``out_dir`` is, or lies inside, ``source_dir``; a notebook or the record
            file is not JSON (checked before anything is written).
    """
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    sources = sorted(source_dir.glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no .ipynb in {source_dir}: run this from the repository root "
                                f"(or pass the folder of the tracked notebooks)")
    if out_dir.resolve().is_relative_to(source_dir.resolve()):
        raise ValueError(f"the working copy {out_dir} is, or lies inside, the folder of the tracked "
                         f"notebooks {source_dir}, where blanked copies would replace the solutions; "
                         f"pass another --out folder (default: work)")
    copies = {path.name: _notebook_bytes(student_notebook(_read_json(path, _SOURCE_FIX)))
              for path in sources}
    out_dir.mkdir(parents=True, exist_ok=True)
    record_path = out_dir / RECORD_NAME
    record = _read_json(record_path, _RECORD_FIX) if record_path.exists() else {}
    report = CopyReport()
    for path in sources:
        data = copies[path.name]
        target = out_dir / path.name
        if target.exists():
            current = target.read_bytes()
            if current == data:
                report.unchanged.append(path.name)
                record[path.name] = _sha256(data)
                continue
            if not refresh:
                report.unchanged.append(path.name)
                continue
            if record.get(path.name) != _sha256(current):
                if not force:
                    report.kept_edited.append(path.name)
                    continue
                backup = target.with_name(f"{target.name}.{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.bak")
                backup.write_bytes(current)
                report.backed_up.append(backup.name)
        with atomic_path(target) as tmp:
            Path(tmp).write_bytes(data)
        record[path.name] = _sha256(data)
        report.written.append(path.name)
    with atomic_path(record_path) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return report
