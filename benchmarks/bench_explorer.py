"""Benchmark: how fast notebook 06's trade-off explorer answers a change of its sliders.

Run from the repository root:
``.venv/bin/python -m benchmarks.bench_explorer [--data DIR] [--repeats 3]``.
It loads the sweep and the example predictions (computing and caching them if needed), then
walks through every (LR scale, GOP length) setting and prints, per change, the median of:

- ``state cold``: the first answer for a setting (GOP-length arithmetic on the sweep, example
  images and their mIoU) -- the goal is <= 100 ms;
- ``state memo``: the same setting asked again (memoised);
- ``figure``: building the matplotlib figure from the state;
- ``render``: that figure drawn to PNG (a full redraw: what a rebuild-per-change face costs);
- ``live view``: what the widget actually does per change (``TradeoffLiveView.render_png``: the
  state, the changed artists drawn over a cached background, PNG encoding) -- goal <= 100 ms.
"""
from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from arseg_tutorial import assets  # noqa: E402
from arseg_tutorial.widgets.tradeoff import TradeoffExplorer, example_predictions  # noqa: E402
from arseg_tutorial.widgets.tradeoff_view import TradeoffLiveView  # noqa: E402

GOAL_MS = 100.0


def _ms(run) -> tuple[float, object]:
    start = time.perf_counter()
    out = run()
    return 1000.0 * (time.perf_counter() - start), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="shipped artefacts folder (default data/)")
    parser.add_argument("--repeats", type=int, default=3, help="settings drawn per scale (render)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sweep = assets.read_json(assets.SWEEP_NAME, args.data)
    load_ms, examples = _ms(lambda: example_predictions(folder=args.data))
    print(f"example predictions: {load_ms:.0f} ms (computed or read from the cache once per session)")
    explorer = TradeoffExplorer(sweep, examples)
    settings = [(s, L) for s in explorer.scales for L in range(1, explorer.max_gop_length + 1)]
    cold = [_ms(lambda: explorer.update(s, L))[0] for s, L in settings]
    memo = [_ms(lambda: explorer.update(s, L))[0] for s, L in settings]
    figure_ms, render_ms = [], []
    for s, L in settings[:: max(1, len(settings) // (args.repeats * len(explorer.scales)))]:
        build, fig = _ms(lambda: explorer.figure(s, L))
        draw, _ = _ms(lambda: fig.savefig(io.BytesIO(), format="png"))
        figure_ms.append(build)
        render_ms.append(draw)
        plt.close(fig)
    build_ms, view = _ms(lambda: TradeoffLiveView(TradeoffExplorer(sweep, examples)))
    live = [_ms(lambda: view.render_png(s, L))[0] for s, L in settings]
    print(f"live view: built once in {build_ms:.0f} ms")
    print(f"{len(settings)} settings (scales {explorer.scales} x L = 1..{explorer.max_gop_length}), "
          f"torch threads {torch.get_num_threads()}")
    for name, values in (("state cold", cold), ("state memo", memo), ("figure", figure_ms),
                         ("render", render_ms), ("live view", live)):
        print(f"  {name:<11} median {statistics.median(values):8.2f} ms   max {max(values):8.2f} ms")
    for name, values in (("state answer (cold)", cold), ("widget answer (live view)", live)):
        median = statistics.median(values)
        print(f"{name}: median {median:.1f} ms, worst {max(values):.1f} ms vs goal {GOAL_MS:.0f} ms "
              f"-> median ratio {median / GOAL_MS:.2f} ({'meets' if median <= GOAL_MS else 'misses'} the goal)")
    total = statistics.median(figure_ms) + statistics.median(render_ms)
    print(f"full redraw instead (figure + PNG): median {total:.0f} ms, ratio to goal {total / GOAL_MS:.1f}")


if __name__ == "__main__":
    main()
