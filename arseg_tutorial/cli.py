"""The command line: ``python -m arseg_tutorial --help`` lists the commands.

Each command is a function ``cmd_<name>(args) -> int`` registered in ``_build_parser``.
Introduced in notebook 00 (``info``) and notebook 05 (``train``, ``evaluate``, ``build-assets``);
``student-copy`` is what ``make lab`` runs (README, "Two commands").
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from arseg_tutorial.cli_checks import (BAD_INPUT, DEBUG_ENV, OneLineParser, batch_size,
                                       check_output, lr_scale, non_negative_int, positive_int,
                                       sentence, show_warning)


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
    from arseg_tutorial.train.build import get_or_train
    from arseg_tutorial.train.data import load_clips, split_config
    from arseg_tutorial.train.trainer import train

    _set_threads(args.threads)
    profile = get_profile(args.profile)
    device = get_device(args.device)
    check_output(args.out, "--out")
    check_output(args.checkpoint, "--checkpoint")
    config = recipes.make_config(profile, args.method, args.scale, args.ablation, seed=args.seed)
    if args.steps is not None:
        config = type(config)(**{**config.__dict__, "steps": args.steps,
                                 "stage1_steps": min(config.stage1_steps, args.steps // 2)})
    if args.batch_size is not None:
        config = type(config)(**{**config.__dict__, "batch_size": args.batch_size})
    _check_train_memory(config, profile, device)
    run = recipes.Run(recipes.run_name(args.method, args.scale, args.ablation, args.seed), config, args.ablation)
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    if checkpoint is not None and checkpoint.exists():
        from arseg_tutorial.train.checkpoint import load_checkpoint

        load_checkpoint(checkpoint)   # a folder or a foreign file fails now, not after training
    hr_state = None
    if args.method != "hr":
        if args.hr_checkpoint:
            hr = assets.load_weights(assets.build_network(config.to_dict(), False), args.hr_checkpoint,
                                     asked={"method": "hr", "profile": profile.name},
                                     what="HR checkpoint")
        else:
            hr = get_or_train("hr", profile_name=profile.name)
        hr_state = hr.state_dict()
    checkpoint = checkpoint or recipes.run_checkpoint_path(profile, run, hr_state)
    clips = load_clips(split_config(profile, "train"), progress=True)
    val_clips = load_clips(split_config(profile, "val"), progress=True) if config.eval_every else None
    result = train(config, clips, checkpoint, hr_state=hr_state, max_steps=args.max_steps,
                   device=device, progress=not args.quiet, profile=profile.name,
                   val_clips=val_clips)
    if torch.distributed.is_initialized() and torch.distributed.get_rank() != 0:
        return 0
    loss = f"final loss {result.history[-1]['loss']:.4f}" if result.history else "no steps trained"
    print(f"{run.name}: {result.steps_done}/{result.end_step} steps in {result.seconds:.0f} s, "
          f"{loss}; checkpoint {checkpoint}")
    if args.out and result.complete:
        sha = assets.export_state_dict(result.model, args.out, result.meta)
        print(f"weights (float16) -> {args.out} (sha256 {sha[:12]}...)")
    return 0


def _check_train_memory(config, profile, device) -> None:
    """Refuse, before any work, a batch (with the profile's crop and training clips) that cannot
    fit in memory."""
    from arseg_tutorial.memory import check_fits, clips_bytes, train_step_bytes

    step = train_step_bytes(config.batch_size, config.crop_size, config.net_width, config.method)
    clips = clips_bytes(profile.train_clips, profile.gop_length, profile.height, profile.width)
    per_sample = train_step_bytes(1, config.crop_size, config.net_width, config.method)
    check_fits(step + clips, f"--batch-size {config.batch_size} (crops of "
               f"{config.crop_size[0]}x{config.crop_size[1]} px, {profile.train_clips} training "
               f"clips, profile {profile.name})", "a smaller --batch-size (each sample needs about "
               f"{per_sample / 2**20:.0f} MB)", device)


def _shipped_scale(args: argparse.Namespace) -> None:
    """Refuse an LR scale that data/ holds no checkpoint for, naming the shipped ones."""
    from arseg_tutorial import assets
    from arseg_tutorial.train.recipes import run_name

    if args.method not in ("lr", "arseg") or args.checkpoint:
        return
    shipped = assets.load_manifest()["checkpoints"]
    if run_name(args.method, args.scale, args.ablation) in shipped:
        return
    scales = sorted({entry["config"]["scale"] for entry in shipped.values()
                     if entry["config"]["method"] == args.method})
    ablation = f" --ablation {args.ablation}" if args.ablation else ""
    raise ValueError(
        f"--scale {args.scale:g}: data/ ships no {args.method}{ablation} checkpoint at that scale "
        f"(shipped scales: {', '.join(f'{s:g}' for s in scales)}); pass one of those, or train "
        f"one with `python -m arseg_tutorial train --method {args.method} --scale {args.scale:g}"
        f"{ablation} --out {args.method}-{args.scale:g}.pt` and pass --checkpoint "
        f"{args.method}-{args.scale:g}.pt")


def _load_evaluated(args: argparse.Namespace, profile, scale: float):
    """(HR network, LR network) of ``evaluate``, each checked against what was asked."""
    from arseg_tutorial import assets
    from arseg_tutorial.checkpoint_file import CheckpointMismatchError, weights_sha256

    trained = meta = None
    if args.checkpoint:
        asked = {"profile": profile.name, "method": "hr" if args.method == "warp" else args.method}
        if args.method in ("lr", "arseg"):
            asked["scale"] = scale
        trained, meta = assets.load_network(args.checkpoint, asked)
    hr = lr = None
    if args.method in ("hr", "arseg", "warp"):
        if args.hr_checkpoint:
            hr, _ = assets.load_network(args.hr_checkpoint, {"profile": profile.name, "method": "hr"},
                                        what="HR checkpoint")
        elif args.method in ("hr", "warp") and trained is not None:
            hr = trained
        else:
            hr = assets.load_shipped("hr")
    if args.method in ("lr", "arseg"):
        lr = trained if trained is not None else assets.load_method(args.method, scale, args.ablation)[1]
    teacher = (meta or {}).get("hr_sha256")
    if args.method == "arseg" and teacher is not None and teacher != weights_sha256(hr.state_dict()):
        raise CheckpointMismatchError(
            f"{args.checkpoint} was trained from HR teacher {teacher[:12]}, but the HR network "
            f"here is {weights_sha256(hr.state_dict())[:12]} "
            f"({args.hr_checkpoint or 'the shipped hr.pt'}); pass --hr-checkpoint with the HR "
            f"weights it was trained from")
    if not args.checkpoint and not args.hr_checkpoint:
        shipped = assets.load_manifest()["profile"]
        if shipped != profile.name:
            raise CheckpointMismatchError(
                f"the shipped checkpoints in data/ were made for profile {shipped}, but profile "
                f"{profile.name} was asked for; pass --profile {shipped} (or --checkpoint with "
                f"weights trained for {profile.name})")
    return hr, lr


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Per-distance mIoU, GMACs and ms/frame of one method on freshly generated test clips."""
    from arseg_tutorial import assets
    from arseg_tutorial.config import get_profile
    from arseg_tutorial.evaluate import evaluate_networks
    from arseg_tutorial.train.data import ClipConfig, load_clips

    from arseg_tutorial.memory import check_fits, clips_bytes

    _set_threads(args.threads)
    check_output(args.json, "--json")
    own = bool(args.checkpoint or args.hr_checkpoint)
    profile = get_profile(args.profile if args.profile or own else assets.load_manifest()["profile"])
    check_fits(clips_bytes(args.clips, profile.gop_length, profile.height, profile.width),
               f"--clips {args.clips} (profile {profile.name})", "fewer --clips")
    scale = args.scale if args.method in ("lr", "arseg") else 1.0
    _shipped_scale(args)
    hr, lr = _load_evaluated(args, profile, scale)
    clips = load_clips(ClipConfig(first_seed=args.seed, num_clips=args.clips, height=profile.height,
                                  width=profile.width, gop_length=profile.gop_length),
                       use_cache=not args.no_cache, progress=True)
    report = evaluate_networks(args.method, scale, hr, lr, clips, profile)
    result = {"method": args.method, "scale": scale, "ablation": args.ablation, "seed": args.seed,
              "clips": args.clips, "profile": profile.name,
              "checkpoint": args.checkpoint or "shipped", **report.to_dict()}
    if args.json:
        assets.write_json_atomic(args.json, result)
    label = f"{args.method} s={scale:g}" if args.method in ("lr", "arseg") else args.method
    print(f"{label}: mean mIoU {report.mean_miou:.2f} % over "
          f"{len(report.per_distance)} distances, {report.gmacs_per_frame:.3f} GMACs/frame, "
          f"{report.ms_per_frame:.1f} ms/frame in the networks (decoding and motion vectors not "
          f"included: bench-player times decode to label map)" + (f" -> {args.json}" if args.json else ""))
    if not args.json:
        print(json.dumps(result, indent=1))
    return 0


def cmd_build_assets(args: argparse.Namespace) -> int:
    """Train (resumably), export, evaluate and write every shipped artefact in data/."""
    from arseg_tutorial.config import get_profile
    from arseg_tutorial.train.build import build_assets, reevaluate_assets

    _set_threads(args.threads)
    check_output(args.out, "--out", folder=True)
    folder = Path(args.out) if args.out else None
    if args.reevaluate:
        manifest = reevaluate_assets(get_profile(args.profile), folder, progress=not args.quiet)
    else:
        manifest = build_assets(get_profile(args.profile), folder, progress=not args.quiet,
                                workers=args.workers, force=args.force)
    for name, entry in manifest["checkpoints"].items():
        m = entry["metrics"]
        print(f"{name:<28} mIoU {m['mean_miou']:6.2f}  {m['gmacs_per_frame']:.3f} GMACs/frame  "
              f"{m['ms_per_frame']:.1f} network ms/frame  trained {entry['train_seconds']:.0f} s")
    return 0


def cmd_student_copy(args: argparse.Namespace) -> int:
    """Write the student's working copy of the notebooks (solutions blanked), as `make lab` does."""
    from arseg_tutorial.student import write_student_copy

    if args.force and not args.refresh:
        raise ValueError("--force only applies with --refresh: pass both, or neither")
    check_output(args.out, "--out", folder=True)
    report = write_student_copy(args.source, args.out, refresh=args.refresh, force=args.force)
    for line in report.lines(Path(args.out)):
        print(line)
    return 0


def cmd_bench_player(args: argparse.Namespace) -> int:
    """Per-frame HR against AR-Seg (s = 0.5) on a video, decode to label map, in lock step."""
    import torch

    from arseg_tutorial import assets
    from arseg_tutorial.codec.errors import VideoError
    from arseg_tutorial.playerbench import bench_player, check_playable, format_table, player_networks

    torch.set_num_threads(args.threads or 1)
    torch.manual_seed(0)
    check_output(args.json, "--json")
    try:
        check_playable(args.video, args.frames)
    except (VideoError, ValueError) as error:
        message = str(error)
        raise ValueError(message if str(args.video) in message else f"{args.video}: {message}") from error
    profile = args.profile or ("paper" if args.random_weights else "laptop")
    if not args.random_weights and profile != assets.load_manifest()["profile"]:
        raise ValueError(f"there are no shipped {profile!r} checkpoints (data/ holds "
                         f"{assets.load_manifest()['profile']!r} ones); add --random-weights to time "
                         f"{profile!r}-sized networks with random weights")
    hr, arseg = player_networks(profile, args.random_weights)
    result = bench_player(args.video, hr, arseg, passes=args.passes, max_frames=args.frames,
                          batch_gop=args.batch_gop)
    result.update(video=str(args.video), profile=profile, random_weights=bool(args.random_weights),
                  lr_scale=0.5)
    print(f"{args.video}: {profile} networks ({'random weights' if args.random_weights else 'shipped'}), "
          f"AR-Seg s=0.5")
    print(format_table(result))
    if args.json:
        assets.write_json_atomic(args.json, result)
        print(f"-> {args.json}")
    return 0


def _build_parser() -> argparse.ArgumentParser:
    from arseg_tutorial.evaluate import METHODS as EVALUATE_METHODS
    from arseg_tutorial.train.data import SPLIT_SEEDS
    from arseg_tutorial.train.recipes import ABLATIONS

    from arseg_tutorial.config import PROFILES

    parser = OneLineParser(
        prog="python -m arseg_tutorial",
        description="AR-Seg tutorial: efficient segmentation of compressed video. Bad input ends "
                    "in one sentence on stderr and exit status 2; --debug (or ARSEG_DEBUG=1) "
                    "shows the traceback instead.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an error (or set ARSEG_DEBUG=1)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = commands.add_parser("info", parents=[debug], help="print versions, device and the active profile")
    info.set_defaults(func=cmd_info)

    common = argparse.ArgumentParser(add_help=False, parents=[debug])
    common.add_argument("--profile", choices=sorted(PROFILES),
                        help="ci, laptop or paper (default: $ARSEG_PROFILE or laptop)")
    common.add_argument("--threads", type=positive_int, help="torch CPU threads")
    method = argparse.ArgumentParser(add_help=False)
    method.add_argument("--method", required=True, choices=("hr", "lr", "arseg"))
    method.add_argument("--scale", type=lr_scale, default=0.5, help="LR scale s (ignored for hr)")
    method.add_argument("--ablation", choices=sorted(ABLATIONS), help="an AR-Seg ablation")

    train = commands.add_parser("train", parents=[common, method],
                                help="train one model (resumable; runs data-parallel under torchrun)")
    train.add_argument("--seed", type=non_negative_int, default=0)
    train.add_argument("--steps", type=positive_int, help="override the profile's number of steps")
    train.add_argument("--batch-size", type=batch_size,
                       help="override the profile's (global) batch size")
    train.add_argument("--max-steps", type=non_negative_int,
                       help="stop after this many steps (resume later; 0 = only load)")
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
    evaluate_method.add_argument("--scale", type=lr_scale, default=0.5,
                                 help="LR scale s (lr and arseg; without --checkpoint, a shipped one)")
    evaluate_method.add_argument("--ablation", choices=sorted(ABLATIONS), help="an AR-Seg ablation")
    evaluate = commands.add_parser("evaluate", parents=[common, evaluate_method],
                                   help="per-distance mIoU, GMACs and ms/frame on generated clips")
    evaluate.add_argument("--seed", type=non_negative_int, default=SPLIT_SEEDS["test"],
                          help="generator seed of the first clip (default: the test split)")
    evaluate.add_argument("--clips", type=positive_int, default=16,
                          help="number of clips (one GOP each)")
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
    build.add_argument("--reevaluate", action="store_true",
                       help="train nothing: evaluate the shipped checkpoints again with this code and "
                            "rewrite the metrics, sweep, ablation, README and code fingerprint")
    build.add_argument("--force", action="store_true",
                       help="replace the artefacts of another profile in the output folder")
    build.add_argument("--workers", type=positive_int, default=1,
                       help="processes (one torch thread each) that train the runs after HR; "
                            "2 on a 2-core machine")
    build.set_defaults(func=cmd_build_assets)

    copy = commands.add_parser("student-copy", parents=[debug], help="write the notebooks with their solutions blanked "
                               "into a working folder (make lab does this)")
    copy.add_argument("--source", default="notebooks", help="tracked notebooks (default: notebooks)")
    copy.add_argument("--out", default="work", help="working copy (default: work)")
    copy.add_argument("--refresh", action="store_true",
                      help="replace copies that exist already, unless you changed them")
    copy.add_argument("--force", action="store_true",
                      help="with --refresh: replace changed copies too, saving each as a .bak first")
    copy.set_defaults(func=cmd_student_copy)
    player = commands.add_parser("bench-player", parents=[debug], help="time per-frame HR against AR-Seg on a video, "
                                 "decode to label map (ms/frame by stage, speed-up)")
    player.add_argument("video", help="an H.264 video with P-frames only (its I-frames are the keyframes)")
    player.add_argument("--profile", choices=("ci", "laptop", "paper"),
                        help="network size (default: laptop, or paper with --random-weights)")
    player.add_argument("--random-weights", action="store_true",
                        help="untrained networks shaped by the profile (timing only)")
    player.add_argument("--threads", type=positive_int, help="torch CPU threads (default 1)")
    player.add_argument("--passes", type=positive_int, default=3, help="timed passes (medians)")
    player.add_argument("--frames", type=positive_int, help="play only the first frames")
    player.add_argument("--batch-gop", action="store_true", help="both players run a GOP's frames "
                        "as one batch (faster for small networks; latency: one GOP)")
    player.add_argument("--json", help="write the results here")
    player.set_defaults(func=cmd_bench_player)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]) and run the chosen command; returns the exit code.

    An error ends in one line on stderr, ``error: <what was wrong and what to do>``, with exit
    status 2 for bad input (1 for an unexpected error); ``--debug`` or ``ARSEG_DEBUG=1`` raises it
    instead, with its traceback. Warnings are printed as one ``warning: ...`` line each.
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:      # --help, or a bad argument (one line printed by OneLineParser)
        return int(stop.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "debug", False) or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        return args.func(args)
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            return args.func(args)
        except BAD_INPUT as error:
            print(f"error: {sentence(error)}", file=sys.stderr)
            return 2
        except Exception as error:   # noqa: BLE001 - a bug: say so in one line, not a traceback
            print(f"error: {type(error).__name__}: {sentence(error)} (an unexpected error: run "
                  f"again with --debug to see the traceback, and report it)", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
