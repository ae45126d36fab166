"""The accuracy/cost explorer of notebook 06: LR scale x GOP length -> Pareto plot, per-distance
curves and example predictions, all answered from the precomputed sweep (``data/sweep.json``).

Introduced in notebook 06. A GOP length L up to the sweep's L0 (12) needs no new evaluation: the
numbers at every (s, L) come from ``arseg_tutorial.sweep`` (``gop_metrics``, ``pareto_points``).

Built like every explorer (``arseg_tutorial.widgets``): ``TradeoffExplorer.update`` is the pure
core (numbers and arrays, memoised), ``figure`` draws one state (the static figure), ``show``
adds the sliders over a live copy of that figure, redrawn by blitting (``tradeoff_view``).
Example predictions come from the shipped checkpoints (``example_predictions``), computed once
and cached on disk.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from arseg_tutorial.atomic import atomic_path
from arseg_tutorial.config import cache_dir
from arseg_tutorial.sweep import gop_metrics, pareto_points, sweep_methods, sweep_scales
from arseg_tutorial.viz import SMALL_FONT_PT
from arseg_tutorial.widgets.tradeoff_view import TradeoffLiveView, state_title, tradeoff_figsize, tradeoff_grids

EXAMPLE_SEED = 950_000
"""Generator seed of the example clip: outside the train (1,000+), val (500,000+) and test
(900,000 .. 900,000 + test_clips) seeds."""


def curve_label(method: str, lr_scale: float) -> str:
    """The legend label of a method's curve at scale s ("AR-Seg s=0.5", "warped keyframe").

    Introduced in notebook 06.
    """
    return {"hr": "HR every frame", "lr": f"LR-only s={lr_scale:g}", "arseg": f"AR-Seg s={lr_scale:g}",
            "warp": "warped keyframe"}[method]


@dataclass
class ExamplePredictions:
    """One encoded GOP and every shipped method's prediction of each frame.

    Attributes:
        frames: (L, H, W, 3) uint8 decoded frames (frame 0 = the I-frame).
        labels: (L, H, W) uint8 true labels, 255 = ignore.
        predictions: run name ("hr", "lr-0.5", "arseg-0.5", ...; "warp" for the warped keyframe)
            -> (L, H, W) uint8 labels.
        seed: the generator seed of the clip.
    """

    frames: np.ndarray
    labels: np.ndarray
    predictions: dict[str, np.ndarray]
    seed: int


def _examples_key(manifest: dict, seed: int) -> str:
    shas = {name: entry["sha256"] for name, entry in manifest["checkpoints"].items()}
    text = json.dumps({"shas": shas, "seed": seed, "profile": manifest["profile_config"], "with": "warp",
                       "sources": manifest.get("source_fingerprint")}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _compute_examples(manifest: dict, seed: int, folder: Path | None) -> ExamplePredictions:
    from arseg_tutorial import assets
    from arseg_tutorial.evaluate import make_segmenter
    from arseg_tutorial.scenes import generate_clip
    from arseg_tutorial.train.data import encode_clip
    from arseg_tutorial.train.recipes import run_name

    config = manifest["profile_config"]
    length = int(config["gop_length"])
    clip = generate_clip(seed, length=length, height=int(config["height"]), width=int(config["width"]))
    frames, flows, _, _ = encode_clip(np.asarray(clip.frames), length, 18)
    hr = assets.load_shipped("hr", folder)
    predictions = {"hr": make_segmenter("hr", hr)(frames, flows).astype(np.uint8),
                   "warp": make_segmenter("warp", hr)(frames, flows).astype(np.uint8)}
    for scale in {float(e["scale"]) for e in manifest["checkpoints"].values() if e["method"] != "hr"}:
        for method in ("lr", "arseg"):
            name = run_name(method, scale)
            if name in manifest["checkpoints"]:
                lr = assets.load_shipped(name, folder)
                segment = make_segmenter(method, hr if method == "arseg" else None, lr, scale)
                predictions[name] = segment(frames, flows).astype(np.uint8)
    return ExamplePredictions(frames, np.asarray(clip.labels), predictions, seed)


def example_predictions(seed: int = EXAMPLE_SEED, folder: Path | None = None,
                        use_cache: bool = True) -> ExamplePredictions:
    """Predictions of the shipped HR, LR-only and AR-Seg networks on one new encoded GOP.

    Introduced in notebook 06. The clip has the shipped profile's frame size; the result is
    cached in memory and on disk (``cache_dir()/examples``) under a hash of the checkpoints'
    sha256s and the seed, so a new set of checkpoints never reads old predictions.

    Args:
        seed: generator seed of the clip (default ``EXAMPLE_SEED``, in no split).
        folder: the shipped artefacts (default ``data/``).
        use_cache: read and write the disk cache.
    """
    from arseg_tutorial import assets

    manifest = assets.load_manifest(folder)
    key = _examples_key(manifest, seed)
    return _examples_cached(key, seed, str(folder) if folder else "", use_cache)


@functools.lru_cache(maxsize=4)
def _examples_cached(key: str, seed: int, folder: str, use_cache: bool) -> ExamplePredictions:
    from arseg_tutorial import assets

    path = cache_dir() / "examples" / f"examples-{key}.npz"
    if use_cache and path.is_file():
        with np.load(path) as data:
            predictions = {k[5:]: data[k] for k in data.files if k.startswith("pred_")}
            return ExamplePredictions(data["frames"], data["labels"], predictions, seed)
    result = _compute_examples(assets.load_manifest(Path(folder) if folder else None), seed,
                               Path(folder) if folder else None)
    if use_cache:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, frames=result.frames, labels=result.labels,
                                **{f"pred_{k}": v for k, v in result.predictions.items()})
    return result


class TradeoffExplorer:
    """LR scale x GOP length -> Pareto plot, per-distance curves and example predictions.

    Introduced in notebook 06.

    Args:
        sweep: the content of ``data/sweep.json``.
        examples: ``example_predictions()`` (optional: without it the figure has no image row).
    """

    def __init__(self, sweep: dict, examples: ExamplePredictions | None = None):
        self.sweep = sweep
        self.examples = examples
        self.scales = sweep_scales(sweep)
        self.max_gop_length = int(sweep["gop_length"])
        self.methods = sweep_methods(sweep)
        self.update = functools.lru_cache(maxsize=256)(self._update)

    def _update(self, lr_scale: float, gop_length: int) -> dict:
        """The explorer's state (pure; memoised per (s, L)).

        Returns:
            dict with ``points`` (``pareto_points``), ``chosen`` (method -> ``gop_metrics`` at s, L),
            ``saving`` (AR-Seg's GMACs saving against HR), ``example_distance`` (d = L-1, the
            farthest frame of the GOP) and, with examples, ``images``: name -> (H, W) or (H, W, 3)
            array and ``example_miou``: name -> mIoU (%) of that frame.
        """
        lr_scale = float(lr_scale)
        if not any(abs(lr_scale - s) < 1e-9 for s in self.scales):
            raise ValueError(f"lr_scale {lr_scale:g} is not in the sweep; choose one of {self.scales}")
        chosen = {m: gop_metrics(self.sweep, m, lr_scale, gop_length) for m in self.methods}
        state = {"lr_scale": lr_scale, "gop_length": int(gop_length),
                 "points": pareto_points(self.sweep, gop_length), "chosen": chosen,
                 "saving": 1 - chosen["arseg"]["gmacs"] / chosen["hr"]["gmacs"],
                 "example_distance": int(gop_length) - 1}
        if self.examples is not None:
            state.update(self._example_state(lr_scale, int(gop_length) - 1))
        return state

    def _example_state(self, lr_scale: float, distance: int) -> dict:
        from arseg_tutorial.evaluate import confusion_matrix, mean_iou
        from arseg_tutorial.scenes import NUM_CLASSES

        ex = self.examples
        names = {"HR": "hr", f"LR-only s={lr_scale:g}": f"lr-{lr_scale:g}",
                 f"AR-Seg s={lr_scale:g}": f"arseg-{lr_scale:g}", "warp": "warp"}
        images = {"frame": ex.frames[distance], "ground truth": ex.labels[distance]}
        scores = {}
        for title, run in names.items():
            if run in ex.predictions:
                images[title] = ex.predictions[run][distance]
                scores[title] = mean_iou(confusion_matrix(images[title], ex.labels[distance], NUM_CLASSES))
        return {"images": images, "example_miou": scores}

    def figure(self, lr_scale: float, gop_length: int) -> Figure:
        """Draw one state: Pareto plot, per-distance curve, and the example frame d = L-1."""
        from arseg_tutorial.viz import add_class_legend, colorize_labels
        from arseg_tutorial.viz.training import plot_pareto, plot_per_distance

        state = self.update(float(lr_scale), int(gop_length))
        images = state.get("images", {})
        fig = plt.figure(figsize=tradeoff_figsize(bool(images)))
        top, bottom = tradeoff_grids(fig, len(images))
        pareto_ax, distance_ax = fig.add_subplot(top[0, 0]), fig.add_subplot(top[0, 1])
        plot_pareto(pareto_ax, state["points"], state["lr_scale"], state["gop_length"])
        chosen = state["chosen"]
        s = state["lr_scale"]
        plot_per_distance(distance_ax, {curve_label(m, s): chosen[m]["per_distance"] for m in self.methods},
                          gop_length=state["gop_length"])
        if images:
            for column, (title, image) in enumerate(images.items()):
                ax = fig.add_subplot(bottom[0, column])
                ax.imshow(image if image.ndim == 3 else colorize_labels(image), interpolation="nearest")
                score = state["example_miou"].get(title)
                ax.set_title(title + (f"\nmIoU {score:.1f} %" if score is not None else "\n"),
                             fontsize=SMALL_FONT_PT)
                ax.set_xticks([])
                ax.set_yticks([])
            add_class_legend(ax, fontsize=SMALL_FONT_PT, ncol=6, loc="upper right", bbox_to_anchor=(1.0, -0.04))
        fig.suptitle(state_title(state) + (f"; examples: frame d = {state['example_distance']}" if images else ""),
                     fontsize="medium")
        return fig

    def show(self, lr_scale: float = 0.5, gop_length: int | None = None):
        """The interactive face: an LR-scale selector and a GOP-length slider over the figure.

        The figure is kept alive and redrawn by blitting (``tradeoff_view.TradeoffLiveView``), so
        that a change is answered in about a tenth of a second instead of a full redraw.
        """
        return TradeoffLiveView(self).show(lr_scale, gop_length)
