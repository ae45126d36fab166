"""Benchmark: how long each notebook explorer takes to answer a control in a real browser (goal <= 150 ms).

``benchmarks/bench_explorers.py`` times the kernel's side of a change (the live view's update and
its PNG). This script times what a student sees: it starts JupyterLab from this checkout (its
``.venv``, laptop profile, a fixed token on a free port), opens notebooks 00, 01, 02, 03, 04 and
06 in headless Chromium, runs all their cells, then changes every control of each explorer several
times, as a student would (a slider: arrow keys on its handle; a menu: a new option; a checkbox: a
click), and measures in the page, with ``performance.now()``, the time from the input event until
the explorer's ``<img>`` shows the new picture (its ``src`` replaced, the image decoded, the next
frame begun). A value not seen before ("first") may need work the face caches (an encode, a cost
count, a new background: the face shows a busy sign then); "revisit" rows are values seen before.

It needs Playwright for Python, which the project does not depend on; install it into a separate
virtual environment (Playwright drives Debian's ``/usr/bin/chromium``; no browser is downloaded)::

    python3 -m venv /tmp/pw-venv && /tmp/pw-venv/bin/pip install playwright
    /tmp/pw-venv/bin/python benchmarks/bench_explorers_browser.py [--notebooks 00 03] [--passes 2]

The notebooks are copied (without outputs) to ``build/browser-bench/`` and run there, each with a
first cell that times the kernel's part of a change (the widget message handled, the live view's
render in it); the tracked notebooks are not touched. A probe on the page's websocket splits the
rest (socket, image decoding), as the table's footnote says. The kernel runs on ``--threads``
torch threads (default 1, through ``OMP_NUM_THREADS``). Nothing is asserted; ``--json OUT`` keeps
every sample.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS = 150.0
TOKEN = "arseg-browser-bench"
CHROMIUM = "/usr/bin/chromium"
COPIES = ROOT / "build" / "browser-bench"
EXPLORER_CELLS = {                       # notebook -> the source of the cell that displays its explorer
    "00_welcome": "clip_player(clip)",
    "01_codec_frame_types": "gop_explorer(clip.frames)",
    "02_motion_vectors": "frame_scrubber(video, clip)",
    "03_resolution_vs_cost": "explorer.show(lr_scale=0.5)",
    "04_creff_attention": "explorer.show(pixel_y=int(pixel_y), pixel_x=int(pixel_x))",
    "06_tradeoff_explorer": "explorer.show(lr_scale=0.5, gop_length=12)",
}
LAB_SETTINGS = {                         # a quiet lab that renders every cell (no windowing)
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}
# Put first in the notebook's copy: the kernel logs how long it takes to handle each widget message
# from the browser (the control's new value, the explorer's redraw, sending the PNG back), and the
# live view's part of that (LiveView.render_png: update and PNG, what bench_explorers.py times).
KERNEL_PROBE = """import time as _bench_time
import ipywidgets as _bench_widgets
from arseg_tutorial.widgets.live import LiveView as _BenchView

_bench_log, _bench_last, _bench_render = {"handler": [], "render": [], "idle": []}, [], _BenchView.render_png


def _bench_timed(log, method, keep=lambda *args: True):
    def timed(*args, **kwargs):
        start = _bench_time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            if keep(*args):
                _bench_log[log].append(1000 * (_bench_time.perf_counter() - start))
                if log == "render":
                    _bench_last[:] = [args, kwargs]
    return timed


def _bench_read():
    for _ in range(5 if _bench_last and _bench_log["render"] else 0):   # the last render again, browser idle
        start = _bench_time.perf_counter()
        _bench_render(*_bench_last[0], **_bench_last[1])
        _bench_log["idle"].append(1000 * (_bench_time.perf_counter() - start))
    print(__import__("json").dumps(_bench_log))
    for times in _bench_log.values():
        times.clear()


_bench_widgets.Widget._handle_msg = _bench_timed("handler", _bench_widgets.Widget._handle_msg,
                                                 lambda self, msg: msg["content"]["data"].get("method") == "update")
_BenchView.render_png = _bench_timed("render", _BenchView.render_png)"""
KERNEL_READ = "_bench_read()"
# Before the lab's scripts: the kernel's websocket notes when the change leaves for the kernel (first
# send) and when the largest message since (the new PNG) arrives.
SOCKET_PROBE = """(() => {
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        const bench = window.__bench, data = event.data;
        if (!bench || !bench.armed || bench.t0 === null) return;
        const size = data.byteLength ?? data.size ?? data.length;
        if (size > bench.rxBytes) Object.assign(bench, {rx: performance.now(), rxBytes: size});
      });
    }
    send(data) {
      const bench = window.__bench;
      if (bench && bench.armed && bench.t0 !== null && bench.tx === null) bench.tx = performance.now();
      return super.send(data);
    }
  };
})();"""
# In the page: every input event after arm() starts the clock; the image's new src, its load and
# the animation frame after it stop it.
PAGE_PROBE = """() => {
  if (window.__bench) return;
  const bench = window.__bench = {armed: false};
  bench.arm = () => Object.assign(bench, {armed: true, t0: null, tx: null, rx: null, rxBytes: 0, src: null,
                                          load: null, shown: null, bytes: null});
  for (const type of ["keydown", "pointerdown", "input", "change"])
    window.addEventListener(type, () => { if (bench.armed && bench.t0 === null) bench.t0 = performance.now(); }, true);
  bench.watch = (img) => {
    new MutationObserver(() => { if (bench.armed && bench.src === null) bench.src = performance.now(); })
      .observe(img, {attributes: true, attributeFilter: ["src"]});
    img.addEventListener("load", async () => {
      if (!bench.armed || bench.src === null || bench.load !== null) return;
      bench.load = performance.now();
      requestAnimationFrame(() => { bench.shown = performance.now(); bench.armed = false; });
      bench.bytes = (await (await fetch(img.src)).blob()).size;
    });
  };
}"""


def playwright_or_exit(script: str):
    """Playwright's ``sync_playwright``, or exit saying how to install it (apart from the project)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sys.exit(f"{script} needs Playwright for Python, which the project does not install: "
                 "python3 -m venv /tmp/pw-venv && /tmp/pw-venv/bin/pip install playwright, then run it with "
                 f"/tmp/pw-venv/bin/python benchmarks/{script} (no `playwright install`: it drives {CHROMIUM})")
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    return sync_playwright


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(port: int, threads: int, home: Path) -> subprocess.Popen:
    """JupyterLab from this checkout's .venv on ``port``, its settings and runtime files under ``home``."""
    jupyter = ROOT / ".venv" / "bin" / "jupyter"
    if not jupyter.exists():
        sys.exit(f"{jupyter} is missing: run `make setup` in {ROOT} first")
    for name, settings in LAB_SETTINGS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    env = dict(os.environ, ARSEG_PROFILE="laptop", JUPYTER_PREFER_ENV_PATH="1", OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    command = [str(jupyter), "lab", "--no-browser", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={ROOT}",
               "--LabApp.expose_app_in_browser=True", f"--LabApp.user_settings_dir={home / 'settings'}",
               f"--LabApp.workspaces_dir={home / 'workspaces'}"]
    if os.getuid() == 0:
        command.append("--allow-root")          # JupyterLab refuses root (a container's usual user) unless told
    lab = subprocess.Popen(command, env=env, cwd=ROOT, stdout=open(home / "lab.log", "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if lab.poll() is not None:
            sys.exit(f"JupyterLab exited with status {lab.returncode}; its log: {home / 'lab.log'}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", timeout=2)
            return lab
        except OSError:
            time.sleep(0.5)
    lab.terminate()
    sys.exit(f"JupyterLab did not answer on port {port} within 120 s; its log: {home / 'lab.log'}")


def open_notebook(page, path: str) -> None:
    """Open ``path`` (relative to the checkout) in the lab as ``window.__panel``; wait for its kernel."""
    page.evaluate("""async (path) => {
      const panel = await window.jupyterapp.commands.execute("docmanager:open", {path, factory: "Notebook"});
      await panel.context.ready;
      await panel.sessionContext.ready;
      window.__panel = panel;
    }""", path)
    page.wait_for_function("window.__panel.sessionContext.session?.kernel?.status === 'idle'", timeout=120_000)


def run_all_cells(page, timeout_s: float) -> None:
    """The lab's Run All on ``window.__panel``; returns when the command has finished (idle kernel)."""
    page.evaluate("() => { window.__ran = false; window.jupyterapp.commands.execute('notebook:run-all-cells')"
                  ".then(() => { window.__ran = true; }); }")
    page.wait_for_function("window.__ran === true && window.__panel.sessionContext.session.kernel.status === 'idle'",
                           timeout=timeout_s * 1000, polling=500)


def open_and_run(page, path: str, timeout_s: float) -> float:
    """Open ``path`` (relative to the checkout) in the lab, run all its cells; returns the seconds taken."""
    open_notebook(page, path)
    start = time.monotonic()
    run_all_cells(page, timeout_s)
    errors = page.evaluate("""() => window.__panel.content.widgets.filter(c => c.model.type === 'code')
      .map((c, i) => [i, c.model.outputs.toJSON().filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue)])
      .filter(([, e]) => e.length)""")
    if errors:
        raise RuntimeError(f"{path}: cells failed: {errors}")
    return time.monotonic() - start


def find_explorer(page, source: str) -> list[dict]:
    """Tag the explorer's output (cell whose source is ``source``) and list its controls."""
    found = page.evaluate("""(source) => {
      const cell = window.__panel.content.widgets.find(c => c.model.sharedModel.getSource().trim() === source);
      if (!cell) return null;
      cell.node.scrollIntoView();
      cell.node.setAttribute("data-bench", "explorer");
      const img = cell.node.querySelector("img.widget-image");
      if (!img) return [];
      window.__bench.watch(img);
      const controls = [];
      const text = (el, selector) => (el.querySelector(selector)?.textContent || "").replace(/\u200b/g, "").trim();
      const label = (el) => text(el, ":scope > .widget-label") || text(el, ".widget-label-basic span");
      cell.node.querySelectorAll(".widget-slider, .widget-dropdown, .widget-select-multiple, .widget-checkbox")
        .forEach((el, i) => {
          el.setAttribute("data-bench-control", String(i));
          const kind = el.classList.contains("widget-slider") ? "slider" : el.classList.contains("widget-checkbox")
            ? "checkbox" : el.classList.contains("widget-dropdown") ? "select" : "multi";
          const options = [...el.querySelectorAll("option")].map(o => o.value);
          controls.push({index: i, kind, label: label(el), options});
        });
      return controls;
    }""", source)
    if found is None:
        raise RuntimeError(f"no cell with the source {source!r}")
    if not found:
        raise RuntimeError(f"the cell {source!r} shows no image (did the explorer fail to build?)")
    return found


def state_of(page) -> str:
    """Every control's value in the explorer (what the kernel's caches are keyed by)."""
    return page.evaluate("""() => [...document.querySelectorAll("[data-bench='explorer'] [data-bench-control]")].map(el => {
      const handle = el.querySelector(".noUi-handle"), box = el.querySelector("input[type=checkbox]");
      if (handle) return el.querySelector(".widget-readout")?.textContent.trim() || handle.getAttribute("aria-valuenow");
      if (box) return String(box.checked);
      return [...el.querySelector("select").selectedOptions].map(o => o.value).join("+");
    }).join("|")""")


def actions(page, control: dict, passes: int) -> list:
    """The changes to make to ``control``: zero-argument callables, each one change of its value."""
    root = page.locator(f"[data-bench='explorer'] [data-bench-control='{control['index']}']")
    if control["kind"] == "slider":
        handle = root.locator(".noUi-handle").first
        value = lambda name: float(handle.get_attribute(f"aria-value{name}"))  # noqa: E731
        low, high = value("min"), value("max")
        forward, back = ("ArrowRight", "ArrowLeft") if value("now") <= (low + high) / 2 else ("ArrowLeft", "ArrowRight")

        def press(key: str) -> None:                 # away from an end the slider has reached
            now = value("now")
            if (key == "ArrowRight" and now >= high) or (key == "ArrowLeft" and now <= low):
                key = "ArrowLeft" if key == "ArrowRight" else "ArrowRight"
            handle.focus()
            page.keyboard.press(key)
        return [lambda key=key: press(key) for _ in range(passes) for key in [forward] * 3 + [back] * 3]
    if control["kind"] == "checkbox":
        box = root.locator("input[type=checkbox]")
        return [box.click] * (2 * passes)
    select = root.locator("select")
    options = control["options"]
    if control["kind"] == "multi":                  # fewer panels, then all of them again
        choices = [options[:2], options[:1], options]
    else:
        start = select.input_value()
        choices = [o for o in options if o != start] + [start]
    return [lambda choice=choice: select.select_option(choice) for _ in range(passes) for choice in choices]


def time_change(page, act, timeout_s: float) -> dict:
    """Make one change; ms from its input event to the image's new src, its load, and the frame after."""
    page.evaluate("() => window.__bench.arm()")
    act()
    try:
        page.wait_for_function("window.__bench.shown !== null && window.__bench.bytes !== null",
                               timeout=timeout_s * 1000, polling="raf")
    except Exception as error:                       # playwright's TimeoutError
        page.evaluate("() => { window.__bench.armed = false; }")
        return {"error": f"no new image within {timeout_s:.0f} s ({type(error).__name__})"}
    b = page.evaluate("() => window.__bench")
    since = lambda name: None if b[name] is None else b[name] - b["t0"]  # noqa: E731
    return {"tx_ms": since("tx"), "rx_ms": since("rx"), "src_ms": since("src"), "load_ms": since("load"),
            "ms": since("shown"), "png_bytes": b["bytes"], "rx_bytes": b["rxBytes"]}


def kernel_log(page) -> dict[str, list[float]]:
    """The kernel's times (ms) since the last call: "handler" per widget message, "render" per PNG (KERNEL_PROBE)."""
    text = page.evaluate("""(code) => new Promise((resolve, reject) => {
      let out = "";
      const future = window.__panel.sessionContext.session.kernel.requestExecute({code, store_history: false});
      future.onIOPub = (msg) => {
        if (msg.header.msg_type === "stream") out += msg.content.text;
        if (msg.header.msg_type === "error") reject(new Error(msg.content.ename + ": " + msg.content.evalue));
      };
      future.done.then(() => resolve(out), reject);
    })""", KERNEL_READ)
    return json.loads(text)


def bench_notebook(page, stem: str, passes: int, pause_s: float, timeout_s: float) -> list[dict]:
    COPIES.mkdir(parents=True, exist_ok=True)
    notebook = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())
    notebook["cells"].insert(0, {"cell_type": "code", "execution_count": None, "id": "bench-kernel-probe",
                                 "metadata": {}, "outputs": [], "source": KERNEL_PROBE})
    (COPIES / f"{stem}.ipynb").write_text(json.dumps(notebook))
    ran_s = open_and_run(page, str((COPIES / f"{stem}.ipynb").relative_to(ROOT)), timeout_s=1800)
    print(f"{stem}: all cells ran in {ran_s:.0f} s", flush=True)
    rows = []
    for control in find_explorer(page, EXPLORER_CELLS[stem]):
        seen, samples = {state_of(page)}, []
        kernel_log(page)
        for act in actions(page, control, passes):
            time.sleep(pause_s)                      # let the kernel's last messages (busy sign) settle
            sample = time_change(page, act, timeout_s)
            state = state_of(page)
            sample.update(state=state, first=state not in seen)
            seen.add(state)
            samples.append(sample)
        time.sleep(pause_s)
        rows.append({"notebook": stem[:2], "control": control["label"] or control["kind"], "samples": samples,
                     "kernel_ms": kernel_log(page)})
    page.evaluate("async () => { await window.__panel.sessionContext.shutdown(); window.__panel.dispose(); }")
    return rows


def _median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def summary(row: dict) -> dict:
    good = [s for s in row["samples"] if "error" not in s]
    gap = lambda a, b: [s[b] - s[a] for s in good if s[a] is not None and s[b] is not None]  # noqa: E731
    first = [s["ms"] for s in good if s["first"]]
    again = [s["ms"] for s in good if not s["first"]]
    median = statistics.median(again) if again else float("nan")
    return {"first": max(first) if first else float("nan"), "median": median, "worst": max(again, default=float("nan")),
            "send": _median(s["tx_ms"] for s in good), "kernel": _median(gap("tx_ms", "rx_ms")),
            "widget": _median(gap("rx_ms", "src_ms")), "decode": _median(gap("src_ms", "ms")),
            "handler": _median(row["kernel_ms"]["handler"]), "render": _median(row["kernel_ms"]["render"]),
            "idle": _median(row["kernel_ms"]["idle"]),
            "kb": statistics.median(s["png_bytes"] for s in good) / 1000 if good else float("nan"),
            "failed": len(row["samples"]) - len(good), "meets": median <= GOAL_MS}


def print_table(rows: list[dict]) -> None:
    print(f"\n{'nb':<4}{'control':<28}{'first ms':>9}{'revisit median':>15}{'worst ms':>9}   {'meets?':<8}"
          f"{'send':>5}{'socket':>7}{'handler':>8}{'render':>7}{'idle':>5}{'widget':>7}{'image':>6}{'PNG kB':>7}   "
          f"goal <= {GOAL_MS:.0f} ms "
          f"(revisit median)")
    for row in rows:
        s = summary(row)
        verdict = "meets" if s["meets"] else "misses"
        extra = f", {s['failed']} changes showed no new image" if s["failed"] else ""
        print(f"{row['notebook']:<4}{row['control'][:27]:<28}{s['first']:>9.0f}{s['median']:>15.0f}{s['worst']:>9.0f}"
              f"   {verdict:<8}{s['send']:>5.0f}{s['kernel']:>7.0f}{s['handler']:>8.0f}{s['render']:>7.0f}{s['idle']:>5.0f}{s['widget']:>7.0f}"
              f"{s['decode']:>6.0f}{s['kb']:>7.0f}"
              f"{extra}")
    print("first: worst first visit of a state. Medians over all changes: send = input event to the message to the "
          "kernel;\nsocket = that message to the PNG's arrival (server, kernel and back); handler = the kernel's part "
          "of it (the\nwidget message handled: new value, redraw, PNG sent), render = the live view's update and PNG in it;\nidle = the same render run again in the kernel while the browser waits; widget = arrival to the <img>'s new src;\n"
          "image = new src to the frame after the image loaded (decoding, layout)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="+", default=[s[:2] for s in EXPLORER_CELLS],
                        help="two-digit notebook numbers (default: all with an explorer)")
    parser.add_argument("--passes", type=int, default=2, help="passes over each control's values")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the kernel")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds between two changes")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one new image")
    parser.add_argument("--json", type=Path, help="write every sample here")
    args = parser.parse_args()
    sync_playwright = playwright_or_exit("bench_explorers_browser.py")
    stems = [stem for stem in EXPLORER_CELLS if stem[:2] in args.notebooks]
    if not stems:
        sys.exit(f"--notebooks must name some of {[s[:2] for s in EXPLORER_CELLS]}, got {args.notebooks}")
    load_before = os.getloadavg()
    home = Path(tempfile.mkdtemp(prefix="arseg-browser-bench-"))
    port = free_port()
    lab = start_lab(port, args.threads, home)
    rows = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.add_init_script(SOCKET_PROBE)
            page.goto(f"http://127.0.0.1:{port}/lab?token={TOKEN}")
            page.wait_for_function("window.jupyterapp && window.jupyterapp.commands.hasCommand('notebook:run-all-cells')",
                                   timeout=120_000)
            page.evaluate(PAGE_PROBE)
            for stem in stems:
                rows += bench_notebook(page, stem, args.passes, args.pause, args.timeout)
            user_agent = page.evaluate("navigator.userAgent")
            browser.close()
    finally:
        lab.terminate()
        lab.wait(30)
        shutil.rmtree(home, ignore_errors=True)
    load_after = os.getloadavg()
    print_table(rows)
    print(f"laptop profile, {args.threads} torch thread(s), {os.cpu_count()} CPUs; load average (1, 5, 15 min) "
          f"before {', '.join(f'{x:.2f}' for x in load_before)}, after {', '.join(f'{x:.2f}' for x in load_after)}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "load_before": load_before, "load_after": load_after,
                                         "threads": args.threads, "browser": user_agent}, indent=1))


if __name__ == "__main__":
    main()
