"""Test setup for tests/ and notebooks/: the `ci` profile, a non-GUI matplotlib backend and a
time budget per notebook.

Notebook cells run by nbval are collected per notebook; at the end a table of run times is
printed, and the session fails if any notebook took longer than NOTEBOOK_BUDGET_S.
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

os.environ["ARSEG_PROFILE"] = "ci"
os.environ["MPLBACKEND"] = "agg"
os.environ.setdefault("PYTHONHASHSEED", "0")

import matplotlib  # noqa: E402

matplotlib.use("agg")

NOTEBOOK_BUDGET_S = 180.0
_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


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
