"""Study: how far AR-Seg at s = 0.5 stays from HR, against frame size and training schedule.

Not a speed benchmark and not a test: it trains, per frame size, the HR network, the LR-only
baseline and AR-Seg at s = 0.5 with the shipped recipe (``recipes.make_config``; the laptop
profile with another frame size and a crop scaled with it), then evaluates HR, LR-only, AR-Seg
and the "warp" reference (the keyframe's HR feature warped by the motion vectors, no LR branch)
on the test split. It prints each method's mIoU and the gaps to HR. A GPU is the sensible place
for it; on a 2-core CPU the three default sizes take a few hours.

    python benchmarks/gap_study.py [--sizes 180x240,240x320,360x480] [--steps 2000] [--hr-steps N]
        [--ref-distance 0] [--device cuda] [--json OUT]

``--steps`` overrides the LR-only and AR-Seg schedules (AR-Seg: half without CReFF, half with);
``--ref-distance 0`` trains AR-Seg at a random keyframe distance instead of L-1. Runs resume from
their checkpoints in the cache (``<cache>/study``).
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from arseg_tutorial.assets import write_json_atomic
from arseg_tutorial.config import cache_dir, get_device, get_profile, seed_everything
from arseg_tutorial.evaluate import evaluate_networks
from arseg_tutorial.train import recipes, trainer
from arseg_tutorial.train.data import load_clips, split_config

#: training crops used for the measured sizes (the laptop profile's 128x160 at 180x240)
CROPS = {(180, 240): (128, 160), (240, 320): (176, 224), (360, 480): (256, 320)}


def parse_size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a size is HEIGHTxWIDTH, e.g. 240x320; got {text!r}") from None
    if height % 2 or width % 2 or not (120 <= height <= 720 and 160 <= width <= 960):
        raise argparse.ArgumentTypeError(f"sizes must be even, from 120x160 to 720x960 (what the "
                                         f"scene generator draws), got {text!r}")
    return height, width


def study_size(size: tuple[int, int], args: argparse.Namespace) -> dict:
    height, width = size
    crop = CROPS.get(size, (16 * round(height * 128 / 180 / 16), 16 * round(width * 160 / 240 / 16)))
    profile = dataclasses.replace(get_profile("laptop"), name=f"study{height}x{width}", height=height,
                                  width=width, crop_height=crop[0], crop_width=crop[1])
    device = get_device(args.device)
    started = time.perf_counter()
    train_clips = load_clips(split_config(profile, "train"), workers=args.workers)
    test = load_clips(split_config(profile, "test"), workers=args.workers)
    folder = cache_dir() / "study"
    folder.mkdir(parents=True, exist_ok=True)

    def run(method: str, scale: float = 1.0, hr_state: dict | None = None) -> torch.nn.Module:
        config = recipes.make_config(profile, method, scale)
        if method == "hr" and args.hr_steps:
            config = dataclasses.replace(config, steps=args.hr_steps)
        if method != "hr" and args.steps:
            config = dataclasses.replace(config, steps=args.steps,
                                         stage1_steps=args.steps // 2 if method == "arseg" else 0)
        if method == "arseg" and args.ref_distance is not None:
            config = dataclasses.replace(config, ref_distance=args.ref_distance)
        path = folder / f"{profile.name}-{method}-{recipes.config_hash(config)}.pt"
        seed_everything(config.seed)
        result = trainer.train(config, train_clips, path, hr_state=hr_state, device=device,
                               progress=not args.quiet)
        return result.model.cpu().eval()

    hr = run("hr")
    lr = run("lr", 0.5, hr.state_dict())
    arseg = run("arseg", 0.5, hr.state_dict())
    rows = {}
    for method, lr_model in (("hr", None), ("lr", lr), ("arseg", arseg), ("warp", None)):
        report = evaluate_networks(method, 0.5 if method in ("lr", "arseg") else 1.0,
                                   hr if method != "lr" else None, lr_model, test, profile, timing_clips=0)
        rows[method] = {"mean_miou": report.mean_miou, "per_distance": report.per_distance,
                        "per_class_iou": report.per_class_iou, "gmacs_per_frame": report.gmacs_per_frame}
    return {"size": [height, width], "crop": list(crop), "rows": rows,
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="180x240,240x320,360x480",
                        help="comma-separated HEIGHTxWIDTH frame sizes")
    parser.add_argument("--steps", type=int, help="LR-only and AR-Seg steps (default: the profile's)")
    parser.add_argument("--hr-steps", type=int, help="HR steps (default: the profile's)")
    parser.add_argument("--ref-distance", type=int, help="AR-Seg's training keyframe distance "
                                                          "(default L-1; 0 = random)")
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: $ARSEG_DEVICE or auto)")
    parser.add_argument("--workers", type=int, default=4, help="processes generating clips")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args()
    try:
        sizes = [parse_size(s) for s in args.sizes.split(",")]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    print(f"{'size':>9} {'HR':>6} {'LR-only':>8} {'AR-Seg':>7} {'warp':>6}   AR-Seg-HR  AR-Seg-LR  "
          f"warp-HR  (s = 0.5, mean mIoU over d)")
    for size in sizes:
        result = study_size(size, args)
        results.append(result)
        m = {k: v["mean_miou"] for k, v in result["rows"].items()}
        print(f"{size[0]:>4}x{size[1]:<4} {m['hr']:6.2f} {m['lr']:8.2f} {m['arseg']:7.2f} {m['warp']:6.2f}"
              f"   {m['arseg'] - m['hr']:+9.2f}  {m['arseg'] - m['lr']:+9.2f}  {m['warp'] - m['hr']:+7.2f}"
              f"  ({result['seconds']:.0f} s)", flush=True)
    if args.json:
        write_json_atomic(args.json, {"steps": args.steps, "hr_steps": args.hr_steps,
                                      "ref_distance": args.ref_distance, "device": str(get_device(args.device)), "torch": torch.__version__,
                                      "results": results})


if __name__ == "__main__":
    main()
