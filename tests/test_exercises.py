"""Every exercise is real: its check fails on the student's blank and on typical wrong answers,
and passes on the solution; and no cell shows a stray object repr (``<torch._C.Generator at 0x...>``).

One kernel per notebook runs the tracked notebook's cells in order (the ``ci`` profile, this
environment, like nbval). At each cell with a ``### BEGIN SOLUTION`` region it runs the cell three
ways before moving on: with the blank of the student copy (must raise NotImplementedError), with
each of the wrong answers stored in the cell's ``metadata.arseg.wrong_answers`` (must fail an
assert of the check), and with the solution (must pass), which leaves the kernel as the solved
notebook would.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import ipykernel.kernelspec
import pytest
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat import reads

from arseg_tutorial.student import replace_solution, solution_regions

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


class _CurrentEnvironment(KernelSpecManager):
    """Kernels of this interpreter, whatever kernel the notebook names (as --nbval-current-env)."""

    def get_kernel_spec(self, kernel_name):
        return KernelSpec(resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict())


def _source(cell) -> str:
    return "".join(cell["source"])


def _exercise_cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code" and solution_regions(_source(c))]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_are_marked_with_wrong_answers_and_hints(path):
    exercises = _exercise_cells(path)
    assert exercises, f"{path.name}: no exercise (a code cell with a {'### BEGIN SOLUTION'} region)"
    for cell in exercises:
        source = _source(cell)
        assert len(solution_regions(source)) == 1, f"{path.name}: one solution region per exercise cell"
        wrong = cell["metadata"].get("arseg", {}).get("wrong_answers")
        assert wrong, f"{path.name}: exercise without metadata.arseg.wrong_answers:\n{source}"
        asserts = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Assert)]
        assert asserts, f"{path.name}: an exercise ends in an assert:\n{source}"
        for node in asserts:
            # a constant hint cannot print the expected value
            assert isinstance(node.msg, ast.Constant) and isinstance(node.msg.value, str), (
                f"{path.name}: every assert of an exercise needs a constant hint message: "
                f"{ast.unparse(node)}")


STRAY = re.compile(r"<[\w.]+ (object )?at 0x[0-9a-f]+>|<Figure size")


def _results(cell) -> list[str]:
    """The text/plain of the cell's execute_result outputs (what a bare last expression shows)."""
    return [out["data"].get("text/plain", "") for out in cell.outputs if out["output_type"] == "execute_result"]


def _run(client: NotebookClient, cell, index: int, source: str) -> str | None:
    """Run ``source`` as cell ``index`` of the notebook (in place, so that display updates find
    it); the exception name, or None when it passed."""
    cell.source, cell.outputs = source, []
    try:
        client.execute_cell(cell, index)
    except CellExecutionError as error:
        return error.ename
    return None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_check_fails_on_blank_and_wrong_answers_and_passes_on_the_solution(path):
    notebook = reads(path.read_text(), 4)
    km = KernelManager(kernel_name="current-env", kernel_spec_manager=_CurrentEnvironment())
    client = NotebookClient(notebook, km=km, timeout=600, allow_errors=False,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    tried = 0
    try:
        _try_every_cell(client, notebook, path)
        tried = sum(1 for cell in notebook.cells if cell.cell_type == "code" and solution_regions(cell.source))
    finally:
        if km.has_kernel:                    # the client does not own a kernel manager passed in
            km.shutdown_kernel(now=True)
    assert tried, f"{path.name}: no exercise was tried"


def _try_every_cell(client: NotebookClient, notebook, path: Path) -> None:
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            source = cell.source
            if solution_regions(source):
                assert _run(client, cell, index, replace_solution(source)) == "NotImplementedError", (
                    f"{path.name} cell {index}: the blank must stop the check")
                for wrong in cell.metadata["arseg"]["wrong_answers"]:
                    assert _run(client, cell, index, replace_solution(source, wrong)) == "AssertionError", (
                        f"{path.name} cell {index}: the check lets this wrong answer through:\n{wrong}")
            assert _run(client, cell, index, source) is None, f"{path.name} cell {index} failed:\n{source}"
            stray = [text for text in _results(cell) if STRAY.search(text)]
            assert not stray, f"{path.name} cell {index} shows a stray object repr (end the line with ';'): {stray}"
