"""A student's walk through ``make lab`` in a real browser: Run All on fresh copies, every control moved.

What a new student does, checked by a script so that it can be repeated after every change to the
notebooks. It writes fresh student copies (exercises blank, as ``make lab`` writes ``work/``) to
``build/lab-walk/work/``, starts JupyterLab from this checkout's ``.venv`` in the laptop profile
(the same quiet lab as ``make lab``), opens every notebook in headless Chromium on a laptop-sized
window and, for each one:

1. runs **Run All** and reports where it stopped: every code cell before the first blank exercise
   must have run without an error, the first error must be that exercise's
   ``NotImplementedError``, and no teaching code cell may follow it (the notebooks end with their
   exercises, so Run All runs every teaching cell and stops only at the student's first blank);
2. moves every control of every widget (a slider: arrow keys on its handle, both ways; a menu:
   every option; a multiple choice: fewer, then all; a checkbox: clicked twice; a button: clicked), waits for the kernel to go idle,
   and reports any change that raised in the kernel (the widget's message handler, patched in a
   first cell of the copy, records the exception) or that showed no new picture;
3. measures what the page shows: a control label or menu text cut off (its text wider than its
   box), and each output image's display scale (shown width / drawn width; the figures are drawn at
   100 dpi with text of at least 9 pt, so a scale s shows that text at 12.5 s px);
4. saves a screenshot of every output image as the student sees it, after Run All and after the
   controls moved, under ``build/lab-walk/shots/``, to look at.

It needs Playwright for Python, which the project does not depend on (see
``benchmarks/bench_explorers_browser.py`` for the one-time set-up)::

    /tmp/pw-venv/bin/python benchmarks/walk_lab.py [--notebooks 00 05] [--width 1366 --height 800]

Exit status 1 if any check failed; the report goes to standard output and, with ``--json OUT``, to
a file.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_explorers_browser import (CHROMIUM, ROOT, TOKEN, free_port, open_notebook,  # noqa: E402
                                     playwright_or_exit, run_all_cells, start_lab)

WALK = ROOT / "build" / "lab-walk"
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# First cell of each copy: the kernel records every exception a widget message raises (a control's
# new value handled: observers, redraw), which ipywidgets would only log to the server's console.
ERROR_PROBE = """import traceback as _walk_traceback
import ipywidgets as _walk_widgets

_walk_errors, _walk_handle = [], _walk_widgets.Widget._handle_msg


def _walk_handle_msg(self, msg):
    try:
        return _walk_handle(self, msg)
    except Exception:
        _walk_errors.append(_walk_traceback.format_exc(limit=-3))
        raise


_walk_widgets.Widget._handle_msg = _walk_handle_msg"""
ERROR_READ = "print(__import__('json').dumps(_walk_errors)); _walk_errors.clear()"
PROBE_ID = "walk-error-probe"

CELLS = """() => window.__panel.content.widgets.map((cell, index) => {
  const model = cell.model, outputs = model.type === "code" ? model.outputs.toJSON() : [];
  return {index, type: model.type, source: model.sharedModel.getSource(), id: model.sharedModel.getId(),
          exercise: model.sharedModel.getSource().includes('raise NotImplementedError("exercise:'),
          count: model.type === "code" ? model.executionCount : null,
          errors: outputs.filter(o => o.output_type === "error").map(o => o.ename + ": " + o.evalue)};
})"""
# Every widget label, checkbox description and menu whose text is wider than its box; every image's
# drawn and shown width.
LAYOUT = """() => {
  const canvas = document.createElement("canvas").getContext("2d"), cut = [];
  const area = window.__panel.content.node;
  const clean = (text) => (text || "").replace(/\\u200b/g, "").trim();
  for (const el of area.querySelectorAll(".widget-label, .widget-label-basic, .widget-readout, button.jupyter-button")) {
    if (!el.offsetParent) continue;
    if (el.scrollWidth > el.clientWidth + 1) cut.push({text: clean(el.textContent), shown_px: el.clientWidth, needs_px: el.scrollWidth});
  }
  for (const select of area.querySelectorAll(".widget-dropdown select")) {
    const style = getComputedStyle(select), option = select.selectedOptions[0];
    if (!option) continue;
    canvas.font = `${style.fontSize} ${style.fontFamily}`;
    const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const needs = canvas.measureText(option.textContent).width;
    if (needs > room + 1) cut.push({text: clean(option.textContent), shown_px: Math.round(room), needs_px: Math.round(needs)});
  }
  const images = [...area.querySelectorAll(".jp-OutputArea-output img")].filter(img => img.naturalWidth > 0)
    .map(img => {
      const cell = window.__panel.content.widgets.findIndex(c => c.node.contains(img));
      return {cell, drawn_px: img.naturalWidth, shown_px: img.clientWidth, widget: img.classList.contains("widget-image")};
    });
  return {cut, images};
}"""
CONTROLS = """(index) => {
  const cell = window.__panel.content.widgets[index], found = [];
  cell.node.querySelectorAll(".widget-slider, .widget-dropdown, .widget-select-multiple, .widget-checkbox, button.jupyter-button")
    .forEach((el, i) => {
      if (!el.offsetParent || el.closest(".walk-control")) return;
      el.setAttribute("data-walk-control", `${index}-${i}`);
      const kind = el.classList.contains("widget-slider") ? "slider" : el.classList.contains("widget-checkbox")
        ? "checkbox" : el.classList.contains("widget-dropdown") ? "select"
        : el.classList.contains("widget-select-multiple") ? "multi" : "button";
      const label = (el.querySelector(".widget-label")?.textContent || el.textContent || "").replace(/\\u200b/g, "").trim();
      found.push({id: `${index}-${i}`, kind, label: label.slice(0, 40),
                  options: [...el.querySelectorAll("option")].map(o => o.value)});
    });
  return found;
}"""


def student_copies(stems: list[str]) -> Path:
    """Fresh student copies of ``stems`` under build/lab-walk/work, each with the error probe first."""
    work = WALK / "work"
    shutil.rmtree(work, ignore_errors=True)
    python = ROOT / ".venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "arseg_tutorial", "student-copy", "--source", "notebooks", "--out", str(work)],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    for stem in stems:
        path = work / f"{stem}.ipynb"
        notebook = json.loads(path.read_text())
        notebook["cells"].insert(0, {"cell_type": "code", "execution_count": None, "id": PROBE_ID, "metadata": {},
                                     "outputs": [], "source": ERROR_PROBE})
        path.write_text(json.dumps(notebook))
    return work


def kernel_errors(page) -> list[str]:
    text = page.evaluate("""(code) => new Promise((resolve, reject) => {
      let out = "";
      const future = window.__panel.sessionContext.session.kernel.requestExecute({code, store_history: false});
      future.onIOPub = (msg) => { if (msg.header.msg_type === "stream") out += msg.content.text; };
      future.done.then(() => resolve(out), reject);
    })""", ERROR_READ)
    return json.loads(text)


def wait_idle(page, timeout_s: float) -> bool:
    """Wait until the kernel has been idle for half a second; False if it was still busy at the timeout."""
    try:
        page.wait_for_function("""() => {
          const idle = window.__panel.sessionContext.session.kernel.status === "idle", now = performance.now();
          if (!idle) { window.__busySince = now; return false; }
          return now - (window.__busySince ?? 0) > 500;
        }""", timeout=timeout_s * 1000, polling=100)
        return True
    except Exception:                                 # playwright's TimeoutError
        return False


def run_all(page, path: str, timeout_s: float) -> float:
    """Open ``path`` and Run All; the seconds until the kernel has been idle for half a second."""
    open_notebook(page, path)
    start = time.monotonic()
    run_all_cells(page, timeout_s)
    wait_idle(page, timeout_s)
    return time.monotonic() - start


def check_run_all(cells: list[dict]) -> tuple[list[str], dict]:
    """Problems with where Run All stopped; and a summary (cells run, first blank exercise)."""
    code = [c for c in cells if c["type"] == "code" and c["id"] != PROBE_ID]
    failed = [c for c in code if c["errors"]]
    problems, stop = [], failed[0] if failed else None
    if stop is not None and not (stop["exercise"] and any("NotImplementedError: exercise" in e for e in stop["errors"])):
        problems.append(f"cell {stop['index']} failed and is not a blank exercise: {stop['errors']}")
    before = [c for c in code if stop is None or c["index"] < stop["index"]]
    problems += [f"cell {c['index']} before the first blank never ran: {c['source'][:60]!r}" for c in before
                 if c["count"] is None]
    after = [c for c in code if stop is not None and c["index"] > stop["index"]]
    problems += [f"teaching cell {c['index']} comes after the first blank and never ran: {c['source'][:60]!r}"
                 for c in after if not c["exercise"]]
    exercises = [c for c in code if c["exercise"]]
    return problems, {"code_cells": len(code), "ran": sum(c["count"] is not None for c in code),
                      "exercises": len(exercises), "stopped_at": None if stop is None else stop["index"]}


def actions(page, control: dict) -> list:
    """One pass over ``control``'s values: zero-argument callables, each one change."""
    root = page.locator(f"[data-walk-control='{control['id']}']")
    if control["kind"] == "slider":
        handle = root.locator(".noUi-handle").first

        def press(key: str) -> None:
            handle.focus()
            page.keyboard.press(key)
        low, high, now = (float(handle.get_attribute(f"aria-value{n}")) for n in ("min", "max", "now"))
        first, back = ("ArrowRight", "ArrowLeft") if now <= (low + high) / 2 else ("ArrowLeft", "ArrowRight")
        return [lambda key=key: press(key) for key in [first] * 3 + [back] * 3]
    if control["kind"] == "checkbox":
        return [root.locator("input[type=checkbox]").click] * 2
    if control["kind"] == "button":
        return [root.click]
    select, options = root.locator("select"), control["options"]
    if control["kind"] == "multi":                  # fewer panels, then all of them again
        return [lambda o=o: select.select_option(o) for o in (options[:2], options[:1], options)]
    start = select.input_value()
    return [lambda o=o: select.select_option(o) for o in [o for o in options if o != start] + [start]]


def images_of(page, index: int) -> list[str]:
    return page.evaluate("(i) => [...window.__panel.content.widgets[i].node.querySelectorAll('.jp-OutputArea-output img')]"
                         ".map(img => img.src.slice(-64))", index)


def shoot(page, index: int, name: str) -> list[str]:
    """Screenshots of cell ``index``'s output images (as shown) under build/lab-walk/shots."""
    shots = []
    for k, img in enumerate(page.locator(f".jp-Notebook .jp-Cell >> nth={index}").locator(".jp-OutputArea-output img").all()):
        img.scroll_into_view_if_needed()
        path = WALK / "shots" / f"{name}-cell{index:02d}-{k}.png"
        img.screenshot(path=str(path))
        shots.append(str(path.relative_to(ROOT)))
    return shots


def walk_controls(page, stem: str, cells: list[dict], timeout_s: float) -> tuple[list[str], list[dict]]:
    problems, moved = [], []
    for cell in cells:
        if cell["type"] != "code":
            continue
        controls = page.evaluate(CONTROLS, cell["index"])
        if not controls:
            continue
        page.locator(f".jp-Notebook .jp-Cell >> nth={cell['index']}").scroll_into_view_if_needed()
        for control in controls:
            changes = unchanged = 0
            for act in actions(page, control):
                before = images_of(page, cell["index"])
                act()
                changes += 1
                if not wait_idle(page, timeout_s):
                    problems.append(f"cell {cell['index']} {control['label']!r}: kernel still busy after {timeout_s:.0f} s")
                    break
                time.sleep(0.2)                      # the new picture's message reaches the page
                unchanged += images_of(page, cell["index"]) == before
            errors = kernel_errors(page)
            problems += [f"cell {cell['index']} {control['label']!r}: {e.strip().splitlines()[-1]}" for e in errors]
            if control["kind"] != "button" and unchanged == changes:
                problems.append(f"cell {cell['index']} {control['label']!r}: {changes} changes, the picture never changed")
            moved.append({"cell": cell["index"], "control": control["label"], "kind": control["kind"],
                          "changes": changes, "picture_unchanged": unchanged, "errors": len(errors)})
        shoot(page, cell["index"], f"{stem[:2]}-moved")
    return problems, moved


def walk_notebook(page, work: Path, stem: str, timeout_s: float) -> dict:
    seconds = run_all(page, str((work / f"{stem}.ipynb").relative_to(ROOT)), timeout_s)
    cells = page.evaluate(CELLS)
    problems, summary = check_run_all(cells)
    layout = page.evaluate(LAYOUT)
    shots = [shot for cell in sorted({i["cell"] for i in layout["images"]}) for shot in shoot(page, cell, stem[:2])]
    control_problems, moved = walk_controls(page, stem, cells, timeout_s)
    problems += control_problems
    after = page.evaluate(LAYOUT)
    cut = {(c["text"], c["shown_px"], c["needs_px"]) for c in layout["cut"] + after["cut"]}
    problems += [f"cut-off text {text!r}: {shown} px shown, {needs} px needed" for text, shown, needs in sorted(cut)]
    page.evaluate("async () => { await window.__panel.sessionContext.shutdown(); window.__panel.dispose(); }")
    scales = [round(i["shown_px"] / i["drawn_px"], 2) for i in layout["images"]]
    return {"notebook": stem, "run_all_s": round(seconds, 1), **summary, "problems": problems, "controls": moved,
            "images": layout["images"], "smallest_scale": min(scales, default=None), "shots": shots}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="+", default=[s[:2] for s in NOTEBOOKS], help="two-digit numbers")
    parser.add_argument("--width", type=int, default=1366, help="browser window width in px (a laptop's)")
    parser.add_argument("--height", type=int, default=800, help="browser window height in px")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for Run All, or one control's change")
    parser.add_argument("--json", type=Path, help="write the whole report here")
    args = parser.parse_args()
    sync_playwright = playwright_or_exit("walk_lab.py")
    stems = [s for s in NOTEBOOKS if s[:2] in args.notebooks]
    if not stems:
        sys.exit(f"--notebooks must name some of {[s[:2] for s in NOTEBOOKS]}, got {args.notebooks}")
    shutil.rmtree(WALK / "shots", ignore_errors=True)
    (WALK / "shots").mkdir(parents=True)
    work = student_copies(stems)
    home = Path(tempfile.mkdtemp(prefix="arseg-lab-walk-"))
    port = free_port()
    lab = start_lab(port, threads=1, home=home)
    reports = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto(f"http://127.0.0.1:{port}/lab?token={TOKEN}")
            page.wait_for_function("window.jupyterapp && window.jupyterapp.commands.hasCommand('notebook:run-all-cells')",
                                   timeout=120_000)
            for stem in stems:
                report = walk_notebook(page, work, stem, args.timeout)
                reports.append(report)
                verdict = "ok" if not report["problems"] else f"{len(report['problems'])} problem(s)"
                print(f"{stem}: Run All {report['run_all_s']:.0f} s, {report['ran']}/{report['code_cells']} code cells ran, "
                      f"stopped at cell {report['stopped_at']} ({report['exercises']} exercise cells); "
                      f"{len(report['controls'])} controls moved ({sum(c['changes'] for c in report['controls'])} changes); "
                      f"{len(report['images'])} images, smallest display scale {report['smallest_scale']}; {verdict}",
                      flush=True)
                for problem in report["problems"]:
                    print(f"    {problem}", flush=True)
            browser.close()
    finally:
        lab.terminate()
        lab.wait(30)
        shutil.rmtree(home, ignore_errors=True)
    print(f"window {args.width}x{args.height}; screenshots in {(WALK / 'shots').relative_to(ROOT)}/; "
          f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    sys.exit(1 if any(r["problems"] for r in reports) else 0)


if __name__ == "__main__":
    main()
