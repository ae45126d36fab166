"""``data/README.md``: what the shipped files are, how they were made, and the measured results.

Introduced in notebook 05. Written by ``build-assets`` from the manifest alone, so
``write_readme(load_manifest(), data_dir())`` rewrites it without retraining anything.
"""
from __future__ import annotations

from pathlib import Path

CURVE_EVERY = 5  # keep every 5th step of the loss history in data/ (the cache keeps all)


def _row(name: str, m: dict, hr_gmacs: float, unseen: dict | None, train_s: str) -> str:
    import math

    from arseg_tutorial.cost import saving

    seen = f"{unseen['mean_miou']:.2f}" if unseen else "-"
    gmacs = m["gmacs_per_frame"]
    cost = (f"{gmacs:.3f} | {100 * saving(hr_gmacs, gmacs):.1f} %" if gmacs is not None and math.isfinite(gmacs)
            else "- | -")
    ms = f"{m['ms_per_frame']:.1f}" if m["ms_per_frame"] is not None and math.isfinite(m["ms_per_frame"]) else "-"
    return (f"| {name} | {m['mean_miou']:.2f} | {m['per_distance'][1]:.1f} / {m['per_distance'][-1]:.1f} | "
            f"{seen} | {cost} | {ms} | {train_s} |")


def results_rows(manifest: dict) -> list[str]:
    """One markdown table row per checkpoint and reference (warp, oracle at every scale)."""
    entries = manifest["checkpoints"]
    hr_gmacs = entries["hr"]["metrics"]["gmacs_per_frame"]
    rows = [_row(name, e["metrics"], hr_gmacs, e.get("metrics_unseen"), f"{e['train_seconds']:.0f}")
            for name, e in entries.items()]
    refs = manifest.get("references") or {}
    if refs:
        warp = refs["test"]["warp"]
        rows.append(_row("warp (reference)", warp, hr_gmacs, refs["unseen"]["warp"], "-"))
        for scale, oracle in refs["test"]["oracle"].items():
            oracle = {**oracle, "gmacs_per_frame": None, "ms_per_frame": None}
            rows.append(_row(f"oracle(warp, lr-{scale})", oracle, hr_gmacs, refs["unseen"]["oracle"][scale], "-"))
    return rows


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

(`--workers 2` trains the runs after HR in two processes of one torch thread each; the result is
the same with any number.) Training time summed over the runs: {total_s / 60:.0f} min on this
machine ({manifest['machine']}, torch {manifest['torch']}) while other work shared its 2 cores.

Profile `{manifest['profile']}`: {cfg['height']}x{cfg['width']} frames, BiSeNet18 at width {cfg['net_width']},
GOP {cfg['gop_length']} (P-frames only), LR scales {cfg['lr_scales']}. Training split: {cfg['train_clips']} clips
(seeds 1000 ...). Test split: {split['num_clips']} generated clips (seeds {split['first_seed']} to
{split['first_seed'] + split['num_clips'] - 1}), encoded with H.264 (crf {split['crf']}) and decoded.{unseen_text}
Scenes/codec output fingerprint `{manifest['source_fingerprint']}`: if
`arseg_tutorial.train.data.source_fingerprint()` differs, the generator or the codec changed since,
and the numbers need a rebuild. How the scenes were calibrated: `docs/calibration.md`.

| file | what |
|---|---|
| `manifest.json` | every checkpoint: file, sha256, training config, command, train time, CReFF learning-rate sum, `metrics` (test split) and `metrics_unseen`; `references`: the warp reference and the oracle per scale, on both splits |
| `checkpoints/*.pt` | float16 state dicts (`arseg_tutorial.assets.load_shipped(name)` checks the hash) |
| `sweep.json` | notebook 06: `methods` (hr, lr, arseg, warp) x scale -> mIoU per distance d = 0..{cfg['gop_length'] - 1}, per-class IoU, per-distance per-class IoU, GMACs/frame, ms/frame; `oracle` (scale -> the same for the per-pixel oracle of warp and LR-only); `creff_variants` (tutorial / paper -> scale -> AR-Seg metrics); `unseen` (the same three tables on the unseen split) |
| `ablation.json` | notebook 05: AR-Seg at s = 0.5 full / no FST loss / unfrozen classifier / zero flow / paper CReFF, with test and unseen mIoU |
| `training_curves.json` | notebook 05: loss per step (every {CURVE_EVERY}th step) of every run |

Recipe (sized for a 2-core CPU):
- HR BiSeNet18: {cfg['hr_steps']} steps at lr {cfg['learning_rate']}.
- LR-only and AR-Seg start from the trained HR network: {cfg['lr_steps']} / {cfg['arseg_steps']} steps at lr
  {cfg['finetune_learning_rate']}.
- AR-Seg: the first half without CReFF (FST on the LR feature), the second half with CReFF, each
  sample's keyframe at a random distance 1..{cfg['gop_length'] - 1}, its HR feature warped by the
  motion vectors. CReFF has a {cfg['creff_kernel']}x{cfg['creff_kernel']} window and {cfg['creff_lr_multiplier']:g}x the learning rate, so that its learning-rate sum
  over stage 2 is {lr_sum} (the official CamVid recipe: about 0.44). Default (`tutorial`) CReFF: a
  learnable position bias on the attention logits starting at +5 on the aligned tap, convs starting
  at the identity (the query over sqrt(C)), the attention output as the fused feature. `paper`
  CReFF (run `arseg-0.5-paper`): the official module, random Kaiming convs, no positional term,
  residual LR + attention. The classifier is copied from HR and frozen; FST weight 1.
- All runs: Adam, cosine schedule per step, batch {cfg['batch_size']}, crops {cfg['crop_height']}x{cfg['crop_width']} after a random scale
  in [0.9, 1.25], flip and colour jitter (paired for AR-Seg).
- On a busy machine use `--threads 1`: two torch threads that wait on each other can be many times
  slower than one.

Results (mIoU in %, mean over the {cfg['gop_length']} keyframe distances; d1 / d11 = the first and last
P-frame; "unseen" = the same mean on the unseen split; GMACs per frame averaged over a GOP; saving vs
HR on every frame; ms per frame measured on this machine, one frame at a time, while other work
shared the CPU; "warp" = the keyframe's HR feature warped by the motion vectors and classified by
the HR classifier, no LR branch; "oracle" = per pixel, whichever of warp and LR-only is right):

| run | test mIoU | d1 / d11 | unseen mIoU | GMACs/frame | saving | ms/frame | train s |
|---|---|---|---|---|---|---|---|
""" + "\n".join(results_rows(manifest)) + "\n"
    path = Path(folder) / "README.md"
    path.write_text(text)
    return path
