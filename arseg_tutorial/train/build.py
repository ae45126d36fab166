"""Rebuild every shipped artefact: ``python -m arseg_tutorial build-assets``.

Introduced in notebook 05. Trains all runs of ``recipes.shipped_runs`` (resuming from the cache),
exports float16 checkpoints to ``data/checkpoints``, evaluates the exported weights on the test
split, and writes ``manifest.json``, ``sweep.json`` (notebook 06), ``ablation.json`` and
``training_curves.json`` (notebook 05).
"""
from __future__ import annotations

import platform
from pathlib import Path

import torch

from arseg_tutorial import assets
from arseg_tutorial.config import Profile, data_dir
from arseg_tutorial.evaluate import (DistanceReport, evaluate_by_distance, make_segmenter,
                                     measure_ms_per_frame, networks_gmacs_per_frame)
from arseg_tutorial.train import recipes
from arseg_tutorial.train.data import ClipSet, load_clips, split_config
from arseg_tutorial.train.fingerprint import library_fingerprint, source_fingerprint
from arseg_tutorial.train.trainer import TrainResult, train

CURVE_EVERY = 5  # keep every 5th step of the loss history in data/ (the cache keeps all)


def _find_run(profile: Profile, name: str) -> recipes.Run:
    runs = {r.name: r for r in recipes.shipped_runs(profile)}
    if name not in runs:
        raise KeyError(f"unknown run {name!r}; runs: {list(runs)}")
    return runs[name]


def train_shipped_run(profile: Profile, name: str, clips: ClipSet | None = None,
                      progress: bool = True, max_steps: int | None = None) -> TrainResult:
    """Train (or resume, or just load when finished) one shipped run; HR first if it needs it."""
    run = _find_run(profile, name)
    clips = clips if clips is not None else load_clips(split_config(profile, "train"), progress=progress)
    hr_state = None
    if run.method != "hr":
        hr_state = train_shipped_run(profile, "hr", clips, progress).model.state_dict()
    return train(run.config, clips, recipes.run_checkpoint_path(profile, run, hr_state),
                 hr_state=hr_state, progress=progress, max_steps=max_steps, profile=profile.name)


def evaluate_networks(method: str, scale: float, hr_model: torch.nn.Module | None,
                      lr_model: torch.nn.Module | None, clips: ClipSet, profile: Profile,
                      model_name: str = "bisenet18", timing_clips: int = 2) -> DistanceReport:
    """Per-distance report of one method on ``clips``, with its GOP-average GMACs.

    Accuracy is computed with each GOP as one batch (fast); ``ms_per_frame`` is measured frame
    by frame, as a player would run, on the first ``timing_clips`` clips (0 = not measured, NaN).
    """
    from arseg_tutorial.scenes import CLASS_NAMES

    batched = make_segmenter(method, hr_model, lr_model, scale, batched=True)
    height, width = clips.frames.shape[2:4]
    gmacs = networks_gmacs_per_frame(method, scale, hr_model, lr_model, height, width,
                                     clips.frames.shape[1])
    report = evaluate_by_distance(batched, clips.frames, clips.labels, clips.flow_key, CLASS_NAMES, gmacs)
    report.ms_per_frame = float("nan")
    if timing_clips:
        one_by_one = make_segmenter(method, hr_model, lr_model, scale, batched=False)
        report.ms_per_frame = measure_ms_per_frame(one_by_one, clips.frames, clips.flow_key, timing_clips)
    return report


def _curve(history: list[dict]) -> dict[str, list]:
    kept = [h for h in history if h["step"] % CURVE_EVERY == 0 or h["step"] == len(history)]
    keys = [k for k in kept[0] if k != "step"] if kept else []
    return {"step": [h["step"] for h in kept], **{k: [h.get(k) for h in kept] for k in keys}}


def _train_command(run: recipes.Run) -> str:
    if run.method == "hr":
        return "python -m arseg_tutorial train --method hr"
    cmd = f"python -m arseg_tutorial train --method {run.method} --scale {run.scale:g}"
    return cmd + (f" --ablation {run.ablation}" if run.ablation else "")


def check_overwrite(profile: Profile, folder: Path, force: bool = False) -> None:
    """Refuse to write ``profile``'s artefacts over a ``folder`` that holds another profile's.

    Raises:
        FileExistsError: ``folder`` has a manifest of another profile (or an unreadable one)
            and ``force`` is False; the message names both and the flag.
    """
    path = folder / assets.MANIFEST_NAME
    if force or not path.exists():
        return
    try:
        existing = assets.load_manifest(folder).get("profile")
    except ValueError:
        existing = "unknown (unreadable manifest)"
    if existing != profile.name:
        raise FileExistsError(
            f"{folder} holds artefacts of profile {existing}, and this build is for profile "
            f"{profile.name}: pass --profile {existing} to rebuild them, --out DIR to write "
            f"elsewhere, or --force to replace them")


def build_assets(profile: Profile, folder: Path | None = None, progress: bool = True,
                 force: bool = False) -> dict:
    """Train, export, evaluate and write everything; returns the manifest.

    Args:
        profile: the profile the shipped checkpoints are for (``laptop``).
        folder: where to write (default ``data/``).
        force: write even over the artefacts of another profile (see ``check_overwrite``).
    """
    folder = folder or data_dir()
    check_overwrite(profile, folder, force)
    train_clips = load_clips(split_config(profile, "train"), progress=progress)
    test_config = split_config(profile, "test")
    test_clips = load_clips(test_config, progress=progress)
    entries, curves, shipped = {}, {}, {}
    for run in recipes.shipped_runs(profile):
        result = train_shipped_run(profile, run.name, train_clips, progress)
        file = f"{assets.CHECKPOINT_FOLDER}/{run.name}.pt"
        sha = assets.export_state_dict(result.model, folder / file, result.meta)
        shipped[run.name] = assets.load_weights(
            assets.build_network(run.config.to_dict(), run.method == "arseg"), folder / file,
            asked={"profile": profile.name, "method": run.method})
        hr = shipped.get("hr")
        report = evaluate_networks(run.method, run.scale, hr if run.method != "lr" else None,
                                   shipped[run.name] if run.method != "hr" else None, test_clips, profile)
        entries[run.name] = {
            "file": file, "sha256": sha, "method": run.method, "scale": run.scale,
            "ablation": run.ablation, "config": run.config.to_dict(),
            "train_seconds": round(result.seconds, 1), "steps": result.steps_done,
            "command": _train_command(run), "metrics": report.to_dict(),
        }
        curves[run.name] = _curve(result.history)
        manifest = _manifest(profile, test_config, entries)
        assets.write_json_atomic(folder / assets.MANIFEST_NAME, manifest)
    assets.write_json_atomic(folder / assets.CURVES_NAME, curves)
    assets.write_json_atomic(folder / assets.SWEEP_NAME, sweep_from_manifest(manifest))
    assets.write_json_atomic(folder / assets.ABLATION_NAME, ablation_from_manifest(manifest, curves))
    write_readme(manifest, folder)
    return manifest


def write_readme(manifest: dict, folder: Path) -> Path:
    """``data/README.md``: what the files are, how they were made, and the results table."""
    from arseg_tutorial.cost import saving

    entries = manifest["checkpoints"]
    hr = entries["hr"]["metrics"]
    rows = []
    for name, entry in entries.items():
        m = entry["metrics"]
        rows.append(f"| {name} | {m['mean_miou']:.2f} | {m['per_distance'][0]:.1f} / "
                    f"{m['per_distance'][-1]:.1f} | {m['gmacs_per_frame']:.3f} | "
                    f"{100 * saving(hr['gmacs_per_frame'], m['gmacs_per_frame']):.1f} % | "
                    f"{m['ms_per_frame']:.1f} | {entry['train_seconds']:.0f} |")
    cfg = manifest["profile_config"]
    split = manifest["test_split"]
    text = f"""# Shipped artefacts

Everything here is made by one command (resumable; trained runs are cached under `.cache/`):

    {manifest['build_command']}

Profile `{manifest['profile']}`: {cfg['height']}x{cfg['width']} frames, BiSeNet18 at width {cfg['net_width']},
GOP {cfg['gop_length']} (P-frames only), LR scales {cfg['lr_scales']}. Test split: {split['num_clips']} generated
clips (seeds {split['first_seed']} to {split['first_seed'] + split['num_clips'] - 1}), encoded with H.264
(crf {split['crf']}, one x264 thread: same frames, same bytes) and decoded. Machine: {manifest['machine']},
torch {manifest['torch']}, {manifest.get('libraries', '?')}. Code fingerprint of the scene generator and the
codec `{manifest['source_fingerprint']}`: if `arseg_tutorial.train.data.source_fingerprint()` differs, their
code changed since, and the numbers need a rebuild (`tests/test_assets.py` checks this).

| file | what |
|---|---|
| `manifest.json` | every checkpoint: file, sha256, training config, command, train time, test metrics |
| `checkpoints/*.pt` | float16 state dicts (`arseg_tutorial.assets.load_shipped(name)` checks the hash) |
| `sweep.json` | notebook 06: method x scale -> mIoU per distance d = 0..{cfg['gop_length'] - 1}, per-class IoU, GMACs/frame, ms/frame |
| `ablation.json` | notebook 05: AR-Seg at s = 0.5 full / no FST loss / unfrozen classifier / zero flow |
| `training_curves.json` | notebook 05: loss per step (every {CURVE_EVERY}th step) of every run |

Recipe ([the paper's](../docs/method.md#fst-feature-similarity-training), sized for a 2-core CPU):
- HR BiSeNet18: {cfg['hr_steps']} steps at lr {cfg['learning_rate']}.
- LR-only and AR-Seg start from the trained HR network: {cfg['lr_steps']} / {cfg['arseg_steps']} steps at lr
  {cfg['finetune_learning_rate']}.
- AR-Seg: the first half without CReFF, the second half with CReFF and the keyframe feature warped
  over d = {cfg['gop_length'] - 1} frames. CReFF has a {cfg['creff_kernel']}x{cfg['creff_kernel']} window; its key and value convs start as the
  identity and its query conv as the identity over sqrt(C). The classifier is copied from HR and
  frozen; FST weight 1.
- All runs: Adam, cosine schedule per step, batch {cfg['batch_size']}, crops {cfg['crop_height']}x{cfg['crop_width']} after a random scale
  in [0.9, 1.25], flip and colour jitter (paired for AR-Seg).
- On a busy machine use `--threads 1`: two torch threads that wait on each other can be many times
  slower than one.

Results on the test split (mIoU in %, mean over the {cfg['gop_length']} keyframe distances; d0 / d11 =
first and last distance; GMACs per frame averaged over a GOP; saving vs HR on every frame; ms per
frame measured on this machine, one frame at a time, while other work shared the CPU):

| run | mean mIoU | d0 / d11 | GMACs/frame | saving | ms/frame | train s |
|---|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n"
    path = folder / "README.md"
    path.write_text(text)
    return path


def _manifest(profile: Profile, test_config, entries: dict) -> dict:
    return {
        "profile": profile.name, "profile_config": profile.__dict__,
        "source_fingerprint": source_fingerprint(), "libraries": library_fingerprint(),
        "build_command": assets.BUILD_COMMAND,
        "test_split": test_config.__dict__, "torch": torch.__version__,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "checkpoints": entries,
    }


def sweep_from_manifest(manifest: dict) -> dict:
    """Notebook 06's table: method -> scale -> metrics (HR under scale "1")."""
    sweep: dict[str, dict[str, dict]] = {"hr": {}, "lr": {}, "arseg": {}}
    for entry in manifest["checkpoints"].values():
        if entry["ablation"] is None:
            sweep[entry["method"]][f"{entry['scale']:g}"] = entry["metrics"]
    return {"profile": manifest["profile"], "gop_length": manifest["profile_config"]["gop_length"],
            "test_split": manifest["test_split"], "methods": sweep}


def ablation_from_manifest(manifest: dict, curves: dict) -> dict:
    """Notebook 05's ablation table at s = 0.5: variant -> metrics, final losses and the command."""
    scale = recipes.ABLATION_SCALE
    variants = {"full": recipes.run_name("arseg", scale)}
    variants.update({a: recipes.run_name("arseg", scale, a) for a in recipes.ABLATIONS})
    table = {}
    for variant, name in variants.items():
        entry = manifest["checkpoints"][name]
        table[variant] = {"run": name, "mean_miou": entry["metrics"]["mean_miou"],
                          "per_distance": entry["metrics"]["per_distance"],
                          "changes": recipes.ABLATIONS.get(variant, {}), "command": entry["command"],
                          "final_loss": curves[name]["loss"][-1]}
    return {"scale": scale, "hr_mean_miou": manifest["checkpoints"]["hr"]["metrics"]["mean_miou"],
            "lr_mean_miou": manifest["checkpoints"][recipes.run_name("lr", scale)]["metrics"]["mean_miou"],
            "variants": table}
