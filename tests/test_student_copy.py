"""The student's working copy (``make lab``): blanks instead of solutions, refreshed only when asked,
never over the student's edits, and any amount of lab use leaves the repository clean."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from arseg_tutorial.cli import main
from arseg_tutorial.student import (BLANK, KERNEL, RECORD_NAME, replace_solution, solution_regions,
                                    student_notebook, write_student_copy)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

CELL = """x = 1
def f(a):
    ### BEGIN SOLUTION
    b = a + 1
    return b
    ### END SOLUTION
assert f(1) == 2, "hint"
"""


def _notebook(*sources: str) -> dict:
    cells = [{"cell_type": "code", "id": f"c{i}", "metadata": {"arseg": {"wrong_answers": ["return 0"]}},
              "execution_count": 3, "outputs": [{"output_type": "stream", "name": "stdout", "text": "2\n"}],
              "source": source} for i, source in enumerate(sources)]
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}


def test_regions_are_found_with_their_indentation():
    assert solution_regions(CELL) == [(2, 5, "    ")]
    assert solution_regions("a = 1\n") == []


def test_blank_and_replacement_keep_the_code_around_the_region():
    blank = replace_solution(CELL)
    assert blank.splitlines() == ["x = 1", "def f(a):", "    " + BLANK, 'assert f(1) == 2, "hint"']
    wrong = replace_solution(CELL, "return a\n")
    assert wrong.splitlines()[2] == "    return a"
    with pytest.raises(AssertionError, match="hint"):
        exec(wrong, {})
    with pytest.raises(NotImplementedError):
        exec(blank, {})
    exec(CELL, {})


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
    ("x = 1  ### BEGIN SOLUTION\n### END SOLUTION\n", "alone on its line"),
])
def test_malformed_markers_are_refused_with_the_line(source, message):
    with pytest.raises(ValueError, match=message):
        solution_regions(source)


def test_student_notebook_has_no_solution_no_outputs_and_the_project_kernel():
    copy = student_notebook(_notebook(CELL))
    cell = copy["cells"][0]
    assert "a + 1" not in cell["source"] and BLANK in cell["source"]
    assert cell["outputs"] == [] and cell["execution_count"] is None and "arseg" not in cell["metadata"]
    assert copy["metadata"]["kernelspec"] == KERNEL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_solution_line_is_gone_from_the_shipped_notebooks_copy(path):
    notebook = json.loads(path.read_text())
    copy = student_notebook(notebook)
    for original, blank in zip(notebook["cells"], copy["cells"]):
        source = "".join(original["source"])
        for begin, end, _ in solution_regions(source):
            for line in source.splitlines()[begin + 1:end]:
                if line.strip():
                    assert line not in blank["source"].splitlines(), f"{path.name}: solution line left: {line}"


def _write_sources(folder: Path, text: str) -> None:
    folder.mkdir(exist_ok=True)
    for name in ("00_a.ipynb", "01_b.ipynb"):
        (folder / name).write_text(json.dumps(_notebook(text.replace("a + 1", f"a + 1  # {name}"))))


def test_refresh_replaces_untouched_copies_and_keeps_edited_ones(tmp_path):
    source, work = tmp_path / "notebooks", tmp_path / "work"
    _write_sources(source, CELL)
    first = write_student_copy(source, work)
    assert first.written == ["00_a.ipynb", "01_b.ipynb"] and (work / RECORD_NAME).exists()
    edited = (work / "00_a.ipynb").read_text().replace("x = 1", "x = 1  # my work")
    (work / "00_a.ipynb").write_text(edited)
    _write_sources(source, CELL.replace("x = 1", "x = 2"))           # the course was updated
    assert write_student_copy(source, work).written == []          # make lab: nothing replaced
    again = write_student_copy(source, work, refresh=True)         # make lab-refresh
    assert again.written == ["01_b.ipynb"] and again.kept_edited == ["00_a.ipynb"]
    assert (work / "00_a.ipynb").read_text() == edited
    assert "x = 2" in (work / "01_b.ipynb").read_text()
    assert any("FORCE=1" in line for line in again.lines(work))
    forced = write_student_copy(source, work, refresh=True, force=True)
    assert forced.written == ["00_a.ipynb"] and len(forced.backed_up) == 1
    assert (work / forced.backed_up[0]).read_text() == edited
    assert "x = 2" in (work / "00_a.ipynb").read_text()


def test_copying_an_empty_folder_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="repository root"):
        write_student_copy(tmp_path, tmp_path / "work")


def test_cli_student_copy(tmp_path, capsys):
    source = tmp_path / "notebooks"
    _write_sources(source, CELL)
    assert main(["student-copy", "--source", str(source), "--out", str(tmp_path / "w")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["student-copy", "--source", str(source), "--out", str(tmp_path / "w"), "--force"]) == 2


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def _autosave_with_outputs(path: Path) -> None:
    """What JupyterLab writes after a student ran every cell: outputs, counts, their own code."""
    notebook = json.loads(path.read_text())
    for count, cell in enumerate(notebook["cells"], 1):
        if cell["cell_type"] == "code":
            cell["source"] = cell["source"].replace(BLANK, "answer = 42")
            cell["execution_count"] = count
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * 1000}]
    path.write_text(json.dumps(notebook))


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout (an unpacked sdist)")
def test_lab_use_leaves_tracked_notebooks_clean_and_git_status_unchanged():
    from test_notebooks_clean import test_no_outputs_committed

    before = _git("status", "--porcelain", "--untracked-files=all")
    work = ROOT / "work" / f"_pytest_autosave_{os.getpid()}"
    try:
        write_student_copy(ROOT / "notebooks", work)
        for path in sorted(work.glob("*.ipynb")):
            _autosave_with_outputs(path)
        assert _git("status", "--porcelain", "--untracked-files=all") == before
        assert _git("check-ignore", str(work / "00_welcome.ipynb")).strip()
        for path in NOTEBOOKS:
            test_no_outputs_committed(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_make_lab_opens_the_copy_at_the_repository_root_with_extra_arguments():
    if shutil.which("make") is None:
        pytest.fail("make is needed: it is one of the two commands of README")
    out = subprocess.run(["make", "-n", "-C", str(ROOT), "lab", 'ARGS=--port 9999 --no-browser'],
                         capture_output=True, text=True, check=True).stdout.replace("\\\n", " ")
    lab = next(line for line in out.splitlines() if "jupyter lab" in line)
    assert f'--ServerApp.root_dir="{ROOT}"' in lab and "--port 9999 --no-browser" in lab
    assert "work/00_welcome.ipynb" in lab and "student-copy" in out
    assert ("--allow-root" in lab) == (os.getuid() == 0)


def test_notebooks_name_the_kernel_that_setup_registers_in_this_environment(monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager

    for path in NOTEBOOKS:
        assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == KERNEL["name"], path.name
    spec_dir = Path(sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL["name"]
    assert (spec_dir / "kernel.json").exists(), "kernel not registered in this environment: run `make setup`"
    argv = json.loads((spec_dir / "kernel.json").read_text())["argv"]
    assert Path(argv[0]).resolve() == Path(sys.executable).resolve()
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "1")                 # as `make lab` sets it
    found = KernelSpecManager().find_kernel_specs()[KERNEL["name"]]
    assert Path(found).resolve() == spec_dir.resolve()
