"""Test setup for tests/ and notebooks/: the `ci` profile, a non-GUI matplotlib backend in this
process, a time budget per notebook and a width limit for the figures the notebooks show.

Notebook cells run by nbval are collected per notebook; at the end a table of run times is
printed, and the session fails if any notebook took longer than NOTEBOOK_BUDGET_S. The notebooks'
kernels draw their figures as students see them (the inline backend, PNG outputs), and a cell
whose PNG is wider than MAX_FIGURE_PX fails: JupyterLab would shrink it, and its text with it, on
a laptop's screen (``arseg_tutorial.viz.FIGURE_WIDTH_IN``).
"""
from __future__ import annotations

import base64
import os
import struct
from collections import defaultdict
from pathlib import Path

os.environ["ARSEG_PROFILE"] = "ci"
os.environ.pop("MPLBACKEND", None)      # the kernels' own default: inline PNGs, as in the lab
os.environ.setdefault("PYTHONHASHSEED", "0")

import matplotlib  # noqa: E402
import pytest  # noqa: E402

matplotlib.use("agg")

NOTEBOOK_BUDGET_S = 180.0
MAX_FIGURE_PX = 934
"""JupyterLab's output width in a 1366-px-wide browser window: a wider PNG is shown scaled down."""
_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def png_width_px(data: str) -> int:
    """Width of a base64 PNG, read from its IHDR chunk."""
    return struct.unpack(">I", base64.b64decode(data[:44])[16:20])[0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    outputs = getattr(item, "test_outputs", None) or []   # nbval's outputs of a notebook cell
    widths = [png_width_px(o["data"]["image/png"]) for o in outputs if "image/png" in o.get("data", {})]
    if any(width > MAX_FIGURE_PX for width in widths):
        raise AssertionError(f"a figure of this cell is {max(widths)} px wide: JupyterLab shows at most "
                             f"{MAX_FIGURE_PX} px on a laptop and would shrink its text below 9 pt; make it at most "
                             "arseg_tutorial.viz.FIGURE_WIDTH_IN wide (stack panels in rows)")
    return result


def _over_budget() -> list[tuple[str, float]]:
    return [(p, s) for p, s in sorted(_notebook_seconds.items()) if s > NOTEBOOK_BUDGET_S]


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook run times (ci profile)")
    for path, seconds in sorted(_notebook_seconds.items()):
        flag = "  OVER BUDGET" if seconds > NOTEBOOK_BUDGET_S else ""
        terminalreporter.write_line(f"{Path(path).name:<40} {seconds:7.1f} s{flag}")
    terminalreporter.write_line(f"{'total':<40} {sum(_notebook_seconds.values()):7.1f} s "
                                f"(budget {NOTEBOOK_BUDGET_S:.0f} s per notebook)")


def pytest_sessionfinish(session, exitstatus):
    over = _over_budget()
    if over and session.exitstatus == 0:
        names = ", ".join(f"{Path(p).name} ({s:.0f} s)" for p, s in over)
        print(f"\nnotebooks over the {NOTEBOOK_BUDGET_S:.0f} s budget: {names}")
        session.exitstatus = 1
