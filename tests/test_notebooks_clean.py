"""Committed notebooks carry no outputs and follow the tutorial's shape.

(Executing them is nbval's job: `pytest` collects notebooks/*.ipynb with --nbval-lax.)
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from arseg_tutorial.student import solution_regions

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_outputs_committed(path):
    dirty = [i for i, c in enumerate(_cells(path))
             if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; strip them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_tutorial_shape(path):
    cells = _cells(path)
    first = "".join(cells[0]["source"]).lower()
    assert cells[0]["cell_type"] == "markdown" and first.startswith("# "), "contract cell first"
    assert "run time" in first and "profile" in first, "contract names run time and profile"
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "get_profile()" in code, "every notebook prints its active profile"
    assert "assert " in code, "at least one check-yourself exercise ends in an assert"
    last_md = "".join(next(c for c in reversed(cells) if c["cell_type"] == "markdown")["source"])
    assert "summary" in last_md.lower() or "questions" in last_md.lower(), "ends with a summary"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_run_all_reaches_every_teaching_cell(path):
    """In the student's copy Run All stops at the first blank exercise, so the exercises come last:
    every code cell after the first exercise is an exercise too."""
    code = [(i, "".join(c["source"])) for i, c in enumerate(_cells(path)) if c["cell_type"] == "code"]
    exercises = [i for i, source in code if solution_regions(source)]
    teaching_after = [i for i, source in code if exercises and i > exercises[0] and not solution_regions(source)]
    assert not teaching_after, (f"{path.name}: cells {teaching_after} teach after the first exercise (cell "
                                f"{exercises[0]}); Run All in work/ would never reach them: move the exercises last")
