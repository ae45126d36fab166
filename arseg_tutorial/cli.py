"""The command line: ``python -m arseg_tutorial --help`` lists the commands.

Each command is a function ``cmd_<name>(args) -> int`` registered in ``_build_parser``.
Introduced in notebook 00 (``info``) and notebook 05 (``train``, ``evaluate``, ``build-assets``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_info(args: argparse.Namespace) -> int:
    """Print versions, device, threads and the active profile."""
    from arseg_tutorial.config import describe_environment, get_profile

    for key, value in describe_environment().items():
        print(f"{key:>14}: {value}")
    print(f"{'profile':>14}: {get_profile()}")
    return 0


def _set_threads(threads: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


def cmd_train(args: argparse.Namespace) -> int:
    """Train one run of a profile (resuming its checkpoint in the cache) and save its weights."""
    import torch

    from arseg_tutorial import assets
    from arseg_tutorial.config import get_device, get_profile
    from arseg_tutorial.train import recipes
    from arseg_tutorial.train.data import load_clips, split_config
    from arseg_tutorial.train.trainer import train

    _set_threads(args.threads)
    profile = get_profile(args.profile)
    config = recipes.make_config(profile, args.method, args.scale, args.ablation, seed=args.seed)
    if args.steps:
        config = type(config)(**{**config.__dict__, "steps": args.steps,
                                 "stage1_steps": args.steps // 2 if args.method == "arseg" else 0})
    if args.batch_size:
        config = type(config)(**{**config.__dict__, "batch_size": args.batch_size})
    run = recipes.Run(recipes.run_name(args.method, args.scale, args.ablation), config, args.ablation)
    hr_state = None
    if args.method != "hr":
        hr = (assets.load_weights(assets.build_network(config.to_dict(), False), args.hr_checkpoint)
              if args.hr_checkpoint else assets.get_or_train("hr", profile_name=profile.name))
        hr_state = hr.state_dict()
    clips = load_clips(split_config(profile, "train"), progress=True)
    checkpoint = Path(args.checkpoint) if args.checkpoint else recipes.run_checkpoint_path(profile, run)
    result = train(config, clips, checkpoint, hr_state=hr_state, max_steps=args.max_steps,
                   device=get_device(args.device), progress=not args.quiet)
    if torch.distributed.is_initialized() and torch.distributed.get_rank() != 0:
        return 0
    print(f"{run.name}: {result.steps_done}/{config.steps} steps in {result.seconds:.0f} s, "
          f"final loss {result.history[-1]['loss']:.4f}; checkpoint {checkpoint}")
    if args.out and result.complete:
        sha = assets.export_state_dict(result.model, args.out)
        print(f"weights (float16) -> {args.out} (sha256 {sha[:12]}...)")
    return 0


def _network_config(path: str, profile, method: str, scale: float) -> dict:
    """The training config stored in a trainer checkpoint, else the profile's config."""
    import torch

    from arseg_tutorial.train.recipes import make_config

    state = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(state.get("config"), dict):
        return state["config"]
    return make_config(profile, method, scale).to_dict()


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Per-distance mIoU, GMACs and ms/frame of one method on freshly generated test clips."""
    from arseg_tutorial import assets
    from arseg_tutorial.config import get_profile
    from arseg_tutorial.train.build import evaluate_networks
    from arseg_tutorial.train.data import ClipConfig, load_clips

    _set_threads(args.threads)
    own = bool(args.checkpoint or args.hr_checkpoint)
    profile = get_profile(args.profile if args.profile or own else assets.load_manifest()["profile"])
    scale = args.scale if args.method in ("lr", "arseg") else 1.0
    clips = load_clips(ClipConfig(first_seed=args.seed, num_clips=args.clips, height=profile.height,
                                  width=profile.width, gop_length=profile.gop_length),
                       use_cache=not args.no_cache, progress=True)
    if args.checkpoint:
        trained = assets.load_weights(assets.build_network(
            _network_config(args.checkpoint, profile, "hr" if args.method == "warp" else args.method, scale),
            with_creff=args.method == "arseg"), args.checkpoint)
    hr = lr = None
    if args.method in ("hr", "arseg", "warp"):
        if args.hr_checkpoint:
            hr = assets.load_weights(assets.build_network(
                _network_config(args.hr_checkpoint, profile, "hr", 1.0), False), args.hr_checkpoint)
        elif args.method in ("hr", "warp") and args.checkpoint:
            hr = trained
        else:
            hr = assets.load_shipped("hr")
    if args.method in ("lr", "arseg"):
        lr = trained if args.checkpoint else assets.load_method(args.method, scale, args.ablation)[1]
    report = evaluate_networks(args.method, scale, hr, lr, clips, profile)
    result = {"method": args.method, "scale": scale, "ablation": args.ablation, "seed": args.seed,
              "clips": args.clips, "profile": profile.name,
              "checkpoint": args.checkpoint or "shipped", **report.to_dict()}
    if args.json:
        assets.write_json_atomic(args.json, result)
    label = f"{args.method} s={scale:g}" if args.method in ("lr", "arseg") else args.method
    print(f"{label}: mean mIoU {report.mean_miou:.2f} % over "
          f"{len(report.per_distance)} distances, {report.gmacs_per_frame:.3f} GMACs/frame, "
          f"{report.ms_per_frame:.1f} ms/frame" + (f" -> {args.json}" if args.json else ""))
    if not args.json:
        print(json.dumps(result, indent=1))
    return 0


def cmd_build_assets(args: argparse.Namespace) -> int:
    """Train (resumably), export, evaluate and write every shipped artefact in data/."""
    from arseg_tutorial.config import get_profile
    from arseg_tutorial.train.build import build_assets

    _set_threads(args.threads)
    manifest = build_assets(get_profile(args.profile), Path(args.out) if args.out else None,
                            progress=not args.quiet, workers=args.workers)
    for name, entry in manifest["checkpoints"].items():
        m = entry["metrics"]
        print(f"{name:<28} mIoU {m['mean_miou']:6.2f}  {m['gmacs_per_frame']:.3f} GMACs/frame  "
              f"{m['ms_per_frame']:.1f} ms/frame  trained {entry['train_seconds']:.0f} s")
    return 0


def _build_parser() -> argparse.ArgumentParser:
    from arseg_tutorial.evaluate import METHODS as EVALUATE_METHODS
    from arseg_tutorial.train.data import SPLIT_SEEDS
    from arseg_tutorial.train.recipes import ABLATIONS

    parser = argparse.ArgumentParser(
        prog="python -m arseg_tutorial",
        description="AR-Seg tutorial: efficient segmentation of compressed video.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = commands.add_parser("info", help="print versions, device and the active profile")
    info.set_defaults(func=cmd_info)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", help="ci, laptop or paper (default: $ARSEG_PROFILE or laptop)")
    common.add_argument("--threads", type=int, help="torch CPU threads")
    method = argparse.ArgumentParser(add_help=False)
    method.add_argument("--method", required=True, choices=("hr", "lr", "arseg"))
    method.add_argument("--scale", type=float, default=0.5, help="LR scale s (ignored for hr)")
    method.add_argument("--ablation", choices=sorted(ABLATIONS), help="an AR-Seg ablation")

    train = commands.add_parser("train", parents=[common, method],
                                help="train one model (resumable; runs data-parallel under torchrun)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--steps", type=int, help="override the profile's number of steps")
    train.add_argument("--batch-size", type=int, help="override the profile's (global) batch size")
    train.add_argument("--max-steps", type=int, help="stop after this many steps (resume later)")
    train.add_argument("--checkpoint", help="resumable checkpoint path (default: in the cache)")
    train.add_argument("--hr-checkpoint", help="HR weights to start from (default: shipped/trained)")
    train.add_argument("--out", help="also write the final float16 weights here")
    train.add_argument("--device", help="cpu, cuda or cuda:N (default: $ARSEG_DEVICE or auto)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    evaluate_method = argparse.ArgumentParser(add_help=False)
    evaluate_method.add_argument("--method", required=True, choices=EVALUATE_METHODS,
                                 help="warp = the keyframe's HR feature warped by the motion vectors "
                                      "and classified, on every P-frame (a reference, no LR branch)")
    evaluate_method.add_argument("--scale", type=float, default=0.5, help="LR scale s (lr and arseg)")
    evaluate_method.add_argument("--ablation", choices=sorted(ABLATIONS), help="an AR-Seg ablation")
    evaluate = commands.add_parser("evaluate", parents=[common, evaluate_method],
                                   help="per-distance mIoU, GMACs and ms/frame on generated clips")
    evaluate.add_argument("--seed", type=int, default=SPLIT_SEEDS["test"],
                          help="generator seed of the first clip (default: the test split)")
    evaluate.add_argument("--clips", type=int, default=16, help="number of clips (one GOP each)")
    evaluate.add_argument("--json", help="write the results here")
    evaluate.add_argument("--checkpoint", help="evaluate these weights instead of the shipped ones "
                          "(for arseg: the LR branch)")
    evaluate.add_argument("--hr-checkpoint", help="HR weights for hr/arseg (default: shipped)")
    evaluate.add_argument("--no-cache", action="store_true", help="do not cache the generated clips")
    evaluate.set_defaults(func=cmd_evaluate)

    build = commands.add_parser("build-assets", parents=[common],
                                help="rebuild every shipped checkpoint, manifest, sweep and ablation")
    build.add_argument("--out", help="output folder (default: data/)")
    build.add_argument("--quiet", action="store_true", help="no progress bars")
    build.add_argument("--workers", type=int, default=1,
                       help="processes (one torch thread each) that train the runs after HR; "
                            "2 on a 2-core machine")
    build.set_defaults(func=cmd_build_assets)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]) and run the chosen command; returns the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
