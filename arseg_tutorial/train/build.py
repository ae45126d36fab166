"""Rebuild every shipped artefact: ``python -m arseg_tutorial build-assets``.

Introduced in notebook 05. Trains all runs of ``recipes.shipped_runs`` (resuming from the cache;
with ``workers`` > 1 the runs after HR train in that many processes of one torch thread each),
exports float16 checkpoints to ``data/checkpoints``, evaluates the exported weights on the test
split and on clips from seeds no split uses ("unseen"), and writes ``manifest.json``,
``sweep.json`` (notebook 06), ``ablation.json`` and ``training_curves.json`` (notebook 05). The
manifest's ``references`` hold the "warp" reference and the per-pixel oracle of warp and LR-only
(at every scale), which no checkpoint of their own stands for. ``get_or_train`` gives the network
of one run, shipped or trained. The one module of ``train`` that stands on ``assets``: it writes
the shipped files and reads them back; in the library only the command line imports it.
"""
from __future__ import annotations

import dataclasses
import platform
from pathlib import Path

import numpy as np
import torch

from arseg_tutorial import assets
from arseg_tutorial.config import Profile, data_dir, get_profile
from arseg_tutorial.evaluate import evaluate_networks, evaluate_oracle, make_segmenter
from arseg_tutorial.train import recipes
from arseg_tutorial.train.data import ClipSet, load_clips, split_config
from arseg_tutorial.train.fingerprint import library_fingerprint, source_fingerprint
from arseg_tutorial.train.readme import write_readme
from arseg_tutorial.train.trainer import TrainResult, creff_learning_rate_sum, train

CURVE_EVERY = 5  # keep every 5th step of the loss history in data/ (the cache keeps all)


def _find_run(profile: Profile, name: str) -> recipes.Run:
    runs = {r.name: r for r in recipes.shipped_runs(profile)}
    if name not in runs:
        raise KeyError(f"unknown run {name!r}; runs: {list(runs)}")
    return runs[name]


def train_shipped_run(profile: Profile, name: str, clips: ClipSet | None = None,
                      progress: bool = True, max_steps: int | None = None,
                      val_clips: ClipSet | None = None) -> TrainResult:
    """Train (or resume, or just load when finished) one shipped run; HR first if it needs it.
    Runs that validate (``profile.eval_every``) load the validation split unless given it."""
    run = _find_run(profile, name)
    clips = clips if clips is not None else load_clips(split_config(profile, "train"), progress=progress)
    if run.config.eval_every and val_clips is None:
        val_clips = load_clips(split_config(profile, "val"), progress=progress)
    hr_state = None
    if run.method != "hr":
        hr_state = train_shipped_run(profile, "hr", clips, progress, val_clips=val_clips).model.state_dict()
    return train(run.config, clips, recipes.run_checkpoint_path(profile, run, hr_state),
                 hr_state=hr_state, progress=progress, max_steps=max_steps, profile=profile.name,
                 val_clips=val_clips)


def _curve(history: list[dict]) -> dict[str, list]:
    kept = [h for h in history if h["step"] % CURVE_EVERY == 0 or h["step"] == len(history)]
    keys = list(dict.fromkeys(k for h in kept for k in h if k != "step"))   # "val_miou" on some steps only
    return {"step": [h["step"] for h in kept], **{k: [h.get(k) for h in kept] for k in keys}}


def _train_in_worker(args: tuple[str, str]) -> str:
    """Pool worker: train one shipped run with one torch thread (returns its name)."""
    from arseg_tutorial.config import get_profile

    torch.set_num_threads(1)
    profile_name, name = args
    train_shipped_run(get_profile(profile_name), name, progress=False)
    return name


def train_all(profile: Profile, workers: int = 1, progress: bool = True) -> None:
    """Train (or resume) every shipped run: HR first, then the others in ``workers`` processes.

    Every run resumes from and writes to its own checkpoint in the cache, so ``build_assets``
    afterwards only loads them. Only for profiles in ``config.PROFILES`` (the workers look the
    profile up by name).
    """
    clips = load_clips(split_config(profile, "train"), progress=progress, workers=workers)
    val_clips = load_clips(split_config(profile, "val"), progress=progress, workers=workers)
    train_shipped_run(profile, "hr", clips, progress=progress, val_clips=val_clips)
    names = [r.name for r in recipes.shipped_runs(profile) if r.name != "hr"]
    if workers <= 1:
        return
    from multiprocessing import get_context

    with get_context("spawn").Pool(workers, maxtasksperchild=1) as pool:
        for name in pool.imap_unordered(_train_in_worker, [(profile.name, n) for n in names]):
            if progress:
                print(f"trained {name}", flush=True)


def evaluate_references(hr: torch.nn.Module, lr_models: dict[float, torch.nn.Module], clips: ClipSet,
                        profile: Profile) -> dict:
    """The "warp" reference and, per scale, the oracle of warp and LR-only, as report dicts."""
    from arseg_tutorial.scenes import CLASS_NAMES

    warp = evaluate_networks("warp", 1.0, hr, None, clips, profile, timing_clips=0)
    oracle = {}
    for scale, lr in sorted(lr_models.items()):
        report = evaluate_oracle(make_segmenter("warp", hr, batched=True),
                                 make_segmenter("lr", None, lr, scale, batched=True),
                                 clips.frames, clips.labels, clips.flow_key, CLASS_NAMES)
        report.ms_per_frame = float("nan")
        oracle[f"{scale:g}"] = report.to_dict()
    return {"warp": warp.to_dict(), "oracle": oracle}


def get_or_train(method: str, scale: float = 0.5, ablation: str | None = None,
                 profile_name: str | None = None, progress: bool = True) -> torch.nn.Module:
    """The network of a run: shipped if the profile is the shipped one, else trained (and cached).

    Introduced in notebook 05. Training resumes from the cache, so a second call is instant.
    """
    profile = get_profile(profile_name)
    name = recipes.run_name(method, scale, ablation)
    try:
        manifest = assets.load_manifest()
        if manifest["profile"] == profile.name and name in manifest["checkpoints"]:
            return assets.load_shipped(name)
    except FileNotFoundError:
        pass
    return train_shipped_run(profile, name, progress=progress).model


def _train_command(run: recipes.Run) -> str:
    if run.method == "hr":
        return "python -m arseg_tutorial train --method hr"
    cmd = f"python -m arseg_tutorial train --method {run.method} --scale {run.scale:g}"
    cmd += f" --ablation {run.ablation}" if run.ablation else ""
    return cmd + (f" --seed {run.config.seed}" if run.config.seed else "")


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
                 workers: int = 1, force: bool = False) -> dict:
    """Train, export, evaluate and write everything; returns the manifest.

    Args:
        profile: the profile the shipped checkpoints are for (``laptop``).
        folder: where to write (default ``data/``).
        workers: processes that train the runs after HR (one torch thread each).
        force: write even over the artefacts of another profile (see ``check_overwrite``).
    """
    folder = folder or data_dir()
    check_overwrite(profile, folder, force)
    train_all(profile, workers, progress)
    train_clips = load_clips(split_config(profile, "train"), progress=progress)
    splits = {"test": split_config(profile, "test"), "unseen": split_config(profile, "unseen")}
    eval_clips = {k: load_clips(c, progress=progress, workers=workers) for k, c in splits.items()}
    entries, curves, shipped = {}, {}, {}
    for run in recipes.shipped_runs(profile):
        result = train_shipped_run(profile, run.name, train_clips, progress)
        file = f"{assets.CHECKPOINT_FOLDER}/{run.name}.pt"
        sha = assets.export_state_dict(result.model, folder / file, result.meta)
        entries[run.name] = {
            "file": file, "sha256": sha, "method": run.method, "scale": run.scale,
            "ablation": run.ablation, "config": run.config.to_dict(),
            "train_seconds": round(result.seconds, 1), "steps": result.steps_done,
            "creff_lr_sum": round(creff_learning_rate_sum(run.config, result.history), 4),
            "validation": result.validation, "command": _train_command(run),
        }
        _evaluate_entry(profile, folder, run, entries[run.name], shipped, eval_clips)
        curves[run.name] = _curve(result.history)
        assets.write_json_atomic(folder / assets.MANIFEST_NAME, _manifest(profile, splits, entries, {}))
    return _write_all(profile, folder, splits, entries, shipped, eval_clips, curves)


def reevaluate_assets(profile: Profile, folder: Path | None = None, progress: bool = True) -> dict:
    """Evaluate the shipped checkpoints again on the splits this code makes, without training.

    Introduced in notebook 05. For a change of the scene or codec code that should not change
    what the networks learned (a bit-identical speed-up, a fix of the encoder's determinism):
    every metric, the references, the sweep, the ablation table, the README and the code
    fingerprint are written anew; the weights, their hashes, training configs and times are
    kept. ``python -m arseg_tutorial build-assets --reevaluate``.
    """
    folder = folder or data_dir()
    check_overwrite(profile, folder)
    old = assets.load_manifest(folder)
    splits = {"test": split_config(profile, "test"), "unseen": split_config(profile, "unseen")}
    eval_clips = {k: load_clips(c, progress=progress) for k, c in splits.items()}
    entries, shipped = {}, {}
    for run in recipes.shipped_runs(profile):
        entry = {k: v for k, v in old["checkpoints"][run.name].items() if not k.startswith("metrics")}
        if assets.sha256_of(assets.shipped_file(folder, entry)) != entry["sha256"]:
            raise ValueError(f"{folder / entry['file']} does not match its sha256 in the manifest: "
                             "re-evaluate only the files the manifest describes (or rebuild them)")
        entries[run.name] = entry
        _evaluate_entry(profile, folder, run, entry, shipped, eval_clips)
    curves = assets.read_json(assets.CURVES_NAME, folder)
    manifest = _write_all(profile, folder, splits, entries, shipped, eval_clips, curves,
                          trained_by=old.get("trained_by") or old["source_fingerprint"])
    return manifest


def _evaluate_entry(profile: Profile, folder: Path, run: recipes.Run, entry: dict, shipped: dict,
                    eval_clips: dict) -> None:
    """Load the exported network of ``run`` into ``shipped`` and put its metrics in ``entry``."""
    shipped[run.name] = assets.load_weights(
        assets.build_network(run.config.to_dict(), run.method == "arseg"),
        assets.shipped_file(folder, entry), asked={"profile": profile.name, "method": run.method})
    hr = shipped.get("hr")
    reports = {split: evaluate_networks(run.method, run.scale, hr if run.method != "lr" else None,
                                        shipped[run.name] if run.method != "hr" else None,
                                        clips_as_trained(clips, run.config), profile,
                                        timing_clips=2 if split == "test" else 0)
               for split, clips in eval_clips.items()}
    entry["metrics"], entry["metrics_unseen"] = reports["test"].to_dict(), reports["unseen"].to_dict()


def clips_as_trained(clips: ClipSet, config) -> ClipSet:
    """The clips with the flow a run was trained with: zero for the zero-flow ablation, which is
    validated and tested with zero flow too."""
    if config.flow == "mv":
        return clips
    return dataclasses.replace(clips, flow_key=np.zeros_like(clips.flow_key))


def _write_all(profile: Profile, folder: Path, splits: dict, entries: dict, shipped: dict,
               eval_clips: dict, curves: dict, trained_by: str | None = None) -> dict:
    """The references, then manifest, curves, sweep, ablation and README into ``folder``."""
    lr_models = {r.scale: shipped[r.name] for r in recipes.shipped_runs(profile) if r.method == "lr"}
    references = {split: evaluate_references(shipped["hr"], lr_models, clips, profile)
                  for split, clips in eval_clips.items()}
    manifest = _manifest(profile, splits, entries, references)
    if trained_by is not None and trained_by != manifest["source_fingerprint"]:
        manifest["trained_by"] = trained_by
    assets.write_json_atomic(folder / assets.MANIFEST_NAME, manifest)
    assets.write_json_atomic(folder / assets.CURVES_NAME, curves)
    assets.write_json_atomic(folder / assets.SWEEP_NAME, sweep_from_manifest(manifest))
    assets.write_json_atomic(folder / assets.ABLATION_NAME, ablation_from_manifest(manifest, curves))
    write_readme(manifest, folder)
    return manifest


def _manifest(profile: Profile, splits: dict, entries: dict, references: dict) -> dict:
    return {
        "profile": profile.name, "profile_config": profile.__dict__,
        "source_fingerprint": source_fingerprint(), "libraries": library_fingerprint(),
        "build_command": assets.BUILD_COMMAND,
        "test_split": splits["test"].__dict__, "unseen_split": splits["unseen"].__dict__,
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "checkpoints": entries, "references": references,
    }


def _method_table(manifest: dict, metrics_key: str, references: dict) -> dict:
    sweep: dict[str, dict[str, dict]] = {"hr": {}, "lr": {}, "arseg": {}}
    for entry in manifest["checkpoints"].values():
        if entry["ablation"] is None and not entry["config"].get("seed"):
            sweep[entry["method"]][f"{entry['scale']:g}"] = entry[metrics_key]
    if references:
        sweep["warp"] = {"1": references["warp"]}
    return sweep


def sweep_from_manifest(manifest: dict) -> dict:
    """Notebook 06's table: method -> scale -> metrics (HR and warp under scale "1").

    Keys: ``methods`` (hr, lr, arseg with the default CReFF, warp; test split), ``oracle``
    (scale -> the per-pixel oracle of warp and LR-only), ``creff_windows`` (CReFF window -> scale ->
    metrics of AR-Seg), and ``unseen`` (the same three tables on the unseen seeds).
    """
    references = manifest.get("references", {})
    entries = manifest["checkpoints"]
    scale = f"{recipes.ABLATION_SCALE:g}"
    sweep = {"profile": manifest["profile"], "gop_length": manifest["profile_config"]["gop_length"],
             "test_split": manifest["test_split"],
             "methods": _method_table(manifest, "metrics", references.get("test"))}
    windows = {entry["config"]["creff_kernel"]: name for name, entry in entries.items()
               if name in (recipes.run_name("arseg", recipes.ABLATION_SCALE),
                           recipes.run_name("arseg", recipes.ABLATION_SCALE, "kernel5"))}
    if references:
        sweep["oracle"] = references["test"]["oracle"]
        sweep["creff_windows"] = {f"{k}": {scale: entries[n]["metrics"]} for k, n in sorted(windows.items())}
        unseen = _method_table(manifest, "metrics_unseen", references["unseen"])
        sweep["unseen"] = {"split": manifest["unseen_split"], "methods": unseen,
                           "oracle": references["unseen"]["oracle"],
                           "creff_windows": {f"{k}": {scale: entries[n]["metrics_unseen"]}
                                             for k, n in sorted(windows.items())}}
    return sweep


def seed_spread(manifest: dict, metrics_key: str = "metrics") -> dict:
    """AR-Seg at s = 0.5 and its zero-flow ablation over their seeds: variant -> {"seeds",
    "mean_miou" (one per seed), "mean", "spread" (max - min)}, for notebooks to say which
    differences are larger than seed noise."""
    out = {}
    for ablation in recipes.SEEDED:
        names = [recipes.run_name("arseg", recipes.ABLATION_SCALE, ablation, seed)
                 for seed in (0, *recipes.EXTRA_SEEDS)]
        values = [manifest["checkpoints"][n][metrics_key]["mean_miou"] for n in names]
        out[ablation or "full"] = {"seeds": [0, *recipes.EXTRA_SEEDS], "runs": names, "mean_miou": values,
                                   "mean": sum(values) / len(values), "spread": max(values) - min(values)}
    return out


def ablation_from_manifest(manifest: dict, curves: dict) -> dict:
    """Notebook 05's ablation table at s = 0.5: variant -> metrics, final losses and the command."""
    scale = recipes.ABLATION_SCALE
    variants = {"full": recipes.run_name("arseg", scale)}
    variants.update({a: recipes.run_name("arseg", scale, a) for a in recipes.ABLATIONS})
    seeds = {split: seed_spread(manifest, key) for split, key in (("test", "metrics"), ("unseen", "metrics_unseen"))
             if all(key in entry for entry in manifest["checkpoints"].values())}
    table = {}
    for variant, name in variants.items():
        entry = manifest["checkpoints"][name]
        table[variant] = {"run": name, "mean_miou": entry["metrics"]["mean_miou"],
                          "per_distance": entry["metrics"]["per_distance"],
                          "mean_miou_unseen": entry.get("metrics_unseen", {}).get("mean_miou"),
                          "changes": recipes.ABLATIONS.get(variant, {}), "command": entry["command"],
                          "final_loss": curves[name]["loss"][-1]}
    return {"scale": scale, "hr_mean_miou": manifest["checkpoints"]["hr"]["metrics"]["mean_miou"],
            "lr_mean_miou": manifest["checkpoints"][recipes.run_name("lr", scale)]["metrics"]["mean_miou"],
            "warp_mean_miou": manifest.get("references", {}).get("test", {}).get("warp", {}).get("mean_miou"),
            "variants": table, "seeds": seeds}
