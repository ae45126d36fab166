"""Study: the data regime of the laptop profile -- HR, LR-only, warp and their oracle, by distance.

Not a test: the cheap proxy used to calibrate the scene generator (docs/calibration.md) before
AR-Seg itself is trained. It trains the HR network and LR-only at the given scales with the
shipped recipe (``recipes.make_config``, optionally with fewer steps), then prints, on the test
split, each method's mean mIoU over d = 0..11, its value at d = 1 and d = 11, the per-class IoU,
and the oracle that takes, per pixel, whichever of warp and LR-only is right (the bound on a
fusion that chooses between them).

    python benchmarks/regime_study.py [--hr-steps N] [--lr-steps N] [--scales 0.5,0.35]
        [--train-clips N] [--output-stride 8] [--threads 1] [--json OUT]

Runs resume from their checkpoints in ``<cache>/study``.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from arseg_tutorial.assets import write_json_atomic
from arseg_tutorial.config import cache_dir, get_profile
from arseg_tutorial.evaluate import evaluate_networks, evaluate_oracle, make_segmenter
from arseg_tutorial.scenes import CLASS_NAMES
from arseg_tutorial.train import recipes, trainer
from arseg_tutorial.train.data import load_clips, source_fingerprint, split_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hr-steps", type=int)
    parser.add_argument("--lr-steps", type=int)
    parser.add_argument("--lr-rate", type=float, help="LR-only learning rate (default: the profile's)")
    parser.add_argument("--scales", default="0.5")
    parser.add_argument("--train-clips", type=int)
    parser.add_argument("--arseg", default="", help="comma-separated CReFF variants of AR-Seg to train "
                                                    "and evaluate at the first scale (e.g. tutorial,paper)")
    parser.add_argument("--arseg-steps", type=int)
    parser.add_argument("--skip-lr", action="store_true", help="only HR, warp and AR-Seg")
    parser.add_argument("--tag", default="", help="prefix of the AR-Seg checkpoint names (a code variant)")
    parser.add_argument("--output-stride", type=int, help="BiSeNet18's output stride (default: the profile's)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    profile = get_profile("laptop")
    if args.train_clips:
        profile = profile.with_overrides(train_clips=args.train_clips)
    if args.output_stride:
        profile = profile.with_overrides(output_stride=args.output_stride)
    started = time.perf_counter()
    train_clips = load_clips(split_config(profile, "train"), workers=args.workers)
    test = load_clips(split_config(profile, "test"), workers=args.workers)
    val = load_clips(split_config(profile, "val"), workers=args.workers)
    print(f"data {time.perf_counter() - started:.0f} s, fingerprint {source_fingerprint()}", flush=True)
    folder = cache_dir() / "study"
    folder.mkdir(parents=True, exist_ok=True)

    def run(method: str, scale: float = 1.0, hr_state: dict | None = None, **changes) -> torch.nn.Module:
        config = dataclasses.replace(recipes.make_config(profile, method, scale), **changes)
        if method == "arseg" and args.arseg_steps:
            config = dataclasses.replace(config, steps=args.arseg_steps, stage1_steps=args.arseg_steps // 2)
        if method == "hr" and args.hr_steps:
            config = dataclasses.replace(config, steps=args.hr_steps)
        if method == "lr" and args.lr_steps:
            config = dataclasses.replace(config, steps=args.lr_steps)
        if method == "lr" and args.lr_rate:
            config = dataclasses.replace(config, learning_rate=args.lr_rate)
        data_key = split_config(profile, "train").cache_key()
        tag = args.tag if method == "arseg" else ""
        path = folder / f"{tag}{method}-{scale:g}-{recipes.config_hash(config)}-{data_key}.pt"
        t0 = time.perf_counter()
        result = trainer.train(config, train_clips, path, hr_state=hr_state, progress=False, val_clips=val)
        validation = result.validation or {}
        print(f"trained {method} {scale:g}: {result.steps_done} steps, {result.seconds:.0f} s of training "
              f"({time.perf_counter() - t0:.0f} s now); best validation mIoU {validation.get('best_miou')} at "
              f"step {validation.get('best_step')}, plateau at {validation.get('plateau_step')}"
              f"{' (capped)' if validation.get('capped') else ''}", flush=True)
        if method == "arseg":
            print(f"CReFF learning-rate sum over stage 2: "
                  f"{trainer.creff_learning_rate_sum(config, result.history):.3f}")
        return result.model.eval()

    hr = run("hr")
    rows = {"hr": evaluate_networks("hr", 1.0, hr, None, test, profile, timing_clips=0),
            "warp": evaluate_networks("warp", 1.0, hr, None, test, profile, timing_clips=0)}
    scales = [float(s) for s in args.scales.split(",")]
    for variant in filter(None, args.arseg.split(",")):
        arseg = run("arseg", scales[0], hr.state_dict(), creff_variant=variant)
        rows[f"arseg-{variant}"] = evaluate_networks("arseg", scales[0], hr, arseg, test, profile, timing_clips=0)
    for scale in scales if not args.skip_lr else []:
        lr = run("lr", scale, hr.state_dict())
        rows[f"lr-{scale:g}"] = evaluate_networks("lr", scale, None, lr, test, profile, timing_clips=0)
        rows[f"oracle-{scale:g}"] = evaluate_oracle(make_segmenter("warp", hr, batched=True),
                                                    make_segmenter("lr", None, lr, scale, batched=True),
                                                    test.frames, test.labels, test.flow_key, CLASS_NAMES)
    print(f"{'method':>11} {'mean':>6} {'d1':>6} {'d11':>6}  " + " ".join(f"{c[:6]:>6}" for c in CLASS_NAMES))
    for name, r in rows.items():
        print(f"{name:>11} {r.mean_miou:6.2f} {r.per_distance[1]:6.2f} {r.per_distance[-1]:6.2f}  "
              + " ".join(f"{(r.per_class_iou[c] or 0):6.1f}" for c in CLASS_NAMES), flush=True)
    if args.json:
        write_json_atomic(args.json, {"fingerprint": source_fingerprint(), "args": vars(args),
                                      "rows": {k: v.to_dict() for k, v in rows.items()}})


if __name__ == "__main__":
    main()
