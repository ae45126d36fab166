"""``data/README.md``: what the shipped files are, how they were made, and the measured results.

Introduced in notebook 05. Written by ``build-assets`` from the manifest alone, so
``write_readme(load_manifest(), data_dir())`` rewrites it without retraining anything.
"""
from __future__ import annotations

from pathlib import Path

CURVE_EVERY = 5  # keep every 5th step of the loss history in data/ (the cache keeps all)


def _row(name: str, m: dict, hr_gmacs: float, unseen: dict | None, train_s: str, steps: str = "-") -> str:
    import math

    from arseg_tutorial.cost import saving

    seen = f"{unseen['mean_miou']:.2f}" if unseen else "-"
    gmacs = m["gmacs_per_frame"]
    cost = (f"{gmacs:.3f} | {100 * saving(hr_gmacs, gmacs):.1f} %" if gmacs is not None and math.isfinite(gmacs)
            else "- | -")
    ms = f"{m['ms_per_frame']:.1f}" if m["ms_per_frame"] is not None and math.isfinite(m["ms_per_frame"]) else "-"
    return (f"| {name} | {m['mean_miou']:.2f} | {m['per_distance'][1]:.1f} / {m['per_distance'][-1]:.1f} | "
            f"{seen} | {cost} | {ms} | {steps} | {train_s} |")


def _steps(validation: dict | None, steps: int) -> str:
    """"best / plateau / total" steps of a validated run ("capped" if the cap started its anneal)."""
    if not validation:
        return f"{steps}"
    mark = " capped" if validation.get("capped") else ""
    return (f"{validation['best_step']} ({validation['best_miou']:.1f}) / {validation['plateau_step']}{mark} / "
            f"{steps}")


def results_rows(manifest: dict) -> list[str]:
    """One markdown table row per checkpoint and reference (warp, oracle at every scale)."""
    entries = manifest["checkpoints"]
    hr_gmacs = entries["hr"]["metrics"]["gmacs_per_frame"]
    rows = [_row(name, e["metrics"], hr_gmacs, e.get("metrics_unseen"), f"{e['train_seconds']:.0f}",
                 _steps(e.get("validation"), e["steps"]))
            for name, e in entries.items()]
    refs = manifest.get("references") or {}
    if refs:
        warp = refs["test"]["warp"]
        rows.append(_row("warp (reference)", warp, hr_gmacs, refs["unseen"]["warp"], "-"))
        for scale, oracle in refs["test"]["oracle"].items():
            oracle = {**oracle, "gmacs_per_frame": None, "ms_per_frame": None}
            rows.append(_row(f"oracle(warp, lr-{scale})", oracle, hr_gmacs, refs["unseen"]["oracle"][scale], "-"))
    return rows


def _reevaluated(manifest: dict) -> str:
    if "trained_by" not in manifest:
        return ""
    return (f"\n\nThe weights were trained with an earlier version of the scene and codec code (data "
            f"fingerprint `{manifest['trained_by']}`: the same scenes, encoded before x264 was held to "
            f"one thread). Every number here was measured afterwards with this code, by `python -m "
            f"arseg_tutorial build-assets --reevaluate` (no training); a fresh `build-assets` "
            f"retrains them on this code's encode.")


def write_readme(manifest: dict, folder: Path) -> Path:
    """Write ``folder/README.md`` from ``manifest``; returns its path."""
    cfg = manifest["profile_config"]
    split, unseen = manifest["test_split"], manifest.get("unseen_split")
    entries = manifest["checkpoints"]
    total_s = sum(e["train_seconds"] for e in entries.values())
    arseg = entries.get("arseg-0.5", {})
    lr_sum = arseg.get("creff_lr_sum")
    unseen_text = (f" Unseen split: {unseen['num_clips']} clips from seeds {unseen['first_seed']} to "
                   f"{unseen['first_seed'] + unseen['num_clips'] - 1}, which no split trains, tunes or "
                   f"chooses anything on." if unseen else "")
    text = f"""# Shipped artefacts

Everything here is made by one command (resumable: each run's checkpoint is cached under
`.cache/runs/`, and a finished run is only loaded again):

    {manifest['build_command']} --workers 2 --threads 1

(`--workers 2` trains the runs after HR in two processes of one torch thread each; every run is
seeded, so the number of workers does not change what a run computes.) Training time summed over the runs: {total_s / 60:.0f} min on this
machine ({manifest['machine']}, torch {manifest['torch']}) while other work shared its 2 cores.{_reevaluated(manifest)}

Profile `{manifest['profile']}`: {cfg['height']}x{cfg['width']} frames, BiSeNet18 at width {cfg['net_width']},
GOP {cfg['gop_length']} (P-frames only), LR scales {cfg['lr_scales']}. Training split: {cfg['train_clips']} clips
(seeds 1000 ...). Test split: {split['num_clips']} generated clips (seeds {split['first_seed']} to
{split['first_seed'] + split['num_clips'] - 1}), encoded with H.264 (crf {split['crf']}, one x264 thread) and decoded. Under heavy CPU load, two builds
of the 96 training clips were seen to differ in a few late P-frames of 2 clips (an open problem of the
encoder's determinism); the runs here were trained on one build, and the test and validation clips
came out identical across builds.{unseen_text} Libraries: {manifest.get('libraries', '?')}. Code fingerprint of the scene
generator and the codec `{manifest['source_fingerprint']}`: if
`arseg_tutorial.train.fingerprint.source_fingerprint()` differs, their code changed since, and the
numbers need a rebuild (`tests/test_reproducible_data.py` checks this). How the scenes were
calibrated: `docs/calibration.md`.

| file | what |
|---|---|
| `manifest.json` | every checkpoint: file, sha256, training config, command, train time, CReFF learning-rate sum, `metrics` (test split) and `metrics_unseen`; `references`: the warp reference and the oracle per scale, on both splits |
| `checkpoints/*.pt` | float16 weights with what they are (`meta`: model, width, classes, method, scale, profile, CReFF window and variant, HR teacher's sha256, training config); read with `torch.load(weights_only=True)` only; `arseg_tutorial.assets.load_shipped(name)` checks the hash and the meta |
| `sweep.json` | notebook 06: `methods` (hr, lr, arseg, warp) x scale -> mIoU per distance d = 0..{cfg['gop_length'] - 1}, per-class IoU, per-distance per-class IoU, GMACs/frame, ms/frame; `oracle` (scale -> the same for the per-pixel oracle of warp and LR-only); `creff_windows` (CReFF window 3 / 5 -> scale -> AR-Seg metrics); `unseen` (the same three tables on the unseen split) |
| `ablation.json` | notebook 05: AR-Seg at s = 0.5 full and each ablation, with test and unseen mIoU, and `seeds`: AR-Seg and zero flow over three seeds (mean, spread) |
| `training_curves.json` | notebook 05: loss per step (every {CURVE_EVERY}th step) and every validation mIoU of every run |

Recipe (sized for a 2-core CPU; `arseg_tutorial.train.plateau` says the rule):
- BiSeNet18 at output stride {cfg['output_stride']} (the paper's cell-to-frame geometry at this frame size).
- Every run trains until its validation mIoU stops rising, by one rule: a constant learning rate,
  the mean mIoU over the {cfg['gop_length']} distances on the validation split ({cfg['val_clips']} clips) every {cfg['eval_every']} steps;
  once the best of the last quarter of the steps is less than 0.5 above the best before (after
  at least {cfg['plateau_min_steps']} steps), a half-cosine anneal over a quarter of the steps so far; the weights of
  the best validation evaluation are shipped. Caps: HR {cfg['hr_steps']}, LR-only {cfg['lr_steps']}, AR-Seg {cfg['arseg_steps']} steps.
- HR from scratch at lr {cfg['learning_rate']}; LR-only and AR-Seg start from the trained HR network at lr
  {cfg['finetune_learning_rate']}.
- AR-Seg: {cfg['stage1_steps']} steps without CReFF (FST on the LR feature), then CReFF joins and the rule
  starts counting; each sample's keyframe at a random distance 1..{cfg['gop_length'] - 1}; the keyframe's HR
  feature is computed on the whole keyframe and warped by the motion vectors into the training
  crop, as on a test frame. CReFF is the paper's module (LR feature + {cfg['creff_kernel']}x{cfg['creff_kernel']} local attention,
  random Kaiming depthwise convs) with {cfg['creff_lr_multiplier']:g}x the learning rate: its learning-rate sum over
  stage 2 was {lr_sum} in `arseg-0.5` (the official CamVid recipe: about 0.44). The classifier is
  copied from HR and frozen; FST weight 1. Ablations: `-no_fst`, `-unfrozen_classifier`,
  `-zero_flow` (trained, validated and tested with zero flow), `-kernel5` (the window the
  profile's was chosen against on validation); `-seed1`, `-seed2`
  repeat AR-Seg and its zero-flow ablation with other seeds.
- All runs: Adam, batch {cfg['batch_size']}, crops {cfg['crop_height']}x{cfg['crop_width']} (offsets on an 8-pixel grid) after a random
  scale in [0.9, 1.25], flip and colour jitter (paired for AR-Seg).
- On a busy machine use `--threads 1`: two torch threads that wait on each other can be many times
  slower than one.

Results (mIoU in %, mean over the {cfg['gop_length']} keyframe distances; d1 / d11 = the first and last
P-frame; "unseen" = the same mean on the unseen split; GMACs per frame averaged over a GOP; saving vs
HR on every frame; ms per frame measured on this machine, one frame at a time, while other work
shared the CPU; steps: the best validation evaluation (its mIoU), the step the anneal began, the
last step; "warp" = the keyframe's HR feature warped by the motion vectors and classified by
the HR classifier, no LR branch; "oracle" = per pixel, whichever of warp and LR-only is right):

| run | test mIoU | d1 / d11 | unseen mIoU | GMACs/frame | saving | ms/frame | steps: best (val mIoU) / plateau / total | train s |
|---|---|---|---|---|---|---|---|---|
""" + "\n".join(results_rows(manifest)) + "\n"
    path = Path(folder) / "README.md"
    path.write_text(text)
    return path
