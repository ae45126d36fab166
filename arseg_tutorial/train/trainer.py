"""The training loop: Adam + per-step cosine schedule, tqdm progress, resumable checkpoints.

Introduced in notebook 05. ``train`` runs one ``TrainConfig`` (see ``loops``) on a ``ClipSet``.
It writes an atomic checkpoint every ``checkpoint_every`` steps and at the end; called again with
the same checkpoint path it resumes where the last checkpoint stopped and, because every batch is
drawn from a generator seeded by (seed, step), ends with the same weights as an uninterrupted run.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from arseg_tutorial.checkpoint_file import CheckpointMismatchError, network_meta, weights_sha256
from arseg_tutorial.config import seed_everything
from arseg_tutorial.train import distributed, plateau
from arseg_tutorial.train.checkpoint import load_checkpoint, save_checkpoint, set_rng_state
from arseg_tutorial.train.data import ClipSet
from arseg_tutorial.train.loops import TrainConfig, arseg_loss, make_batch, per_frame_loss


@dataclass
class TrainResult:
    """What ``train`` returns.

    Attributes:
        model: the trained network (HR, LR-only, or AR-Seg's LR branch with CReFF), eval mode.
        history: one dict per step: step, loss, seg, fst (AR-Seg), lr, stage (0 for per-frame
            methods, 1 or 2 for AR-Seg).
        steps_done: steps completed (less than ``config.steps`` if stopped by ``max_steps``).
        seconds: wall-clock training time summed over all sessions of this run.
        config: the run's configuration.
        meta: what the network is (``checkpoint_file.network_meta``), for saving it.
        end_step: where the run ends (``config.steps``, or the end of the plateau schedule's
            anneal once it is known).
        validation: the ``plateau.ValidationRecord`` as a dict (evaluations, plateau, best
            step), or None for a run without validation. With one, ``model`` holds the weights
            of the best validation evaluation.
    """

    model: nn.Module
    history: list[dict[str, float]]
    steps_done: int
    seconds: float
    config: TrainConfig
    meta: dict
    end_step: int = 0
    validation: dict | None = None

    @property
    def complete(self) -> bool:
        """True when the run has reached its end (all steps, or the end of its anneal)."""
        return self.steps_done >= (self.end_step or self.config.steps)


def build_networks(config: TrainConfig, hr_state: dict | None = None,
                   device: torch.device | None = None) -> tuple[nn.Module, nn.Module | None]:
    """The network to train and, for ``arseg``, the ``ARSeg`` wrapper holding the frozen HR teacher.

    Args:
        hr_state: state dict of the trained HR network; required for ``lr`` and ``arseg`` (the
            LR network starts from it, AR-Seg's classifier is copied from it).
    Returns:
        (trainable network, ARSeg or None).
    """
    from arseg_tutorial.models import ARSeg, build_model_from_config

    seed_everything(config.seed)
    model = build_model_from_config(config.to_dict()).to(device or "cpu")
    if config.method == "hr":
        return model, None
    if hr_state is None:
        raise ValueError(f"method {config.method!r} starts from a trained HR network: pass hr_state "
                         "(train the 'hr' method first, or load the shipped HR checkpoint)")
    model.load_state_dict(hr_state)
    if config.method == "lr":
        return model, None
    teacher = build_model_from_config(config.to_dict()).to(device or "cpu")
    teacher.load_state_dict(hr_state)
    teacher.eval().requires_grad_(False)
    arseg = ARSeg(teacher, model, config.scale, creff_kernel=config.creff_kernel,
                  creff_variant=config.creff_variant)
    model.classifier.requires_grad_(not config.freeze_classifier)
    if config.creff_variant == "position_bias":
        init_creff_identity(model.creff)
    return model, arseg


def init_creff_identity(creff: nn.Module) -> None:
    """Start CReFF's key and value depthwise convs as the identity (centre tap 1, bias 0) and
    its query conv as the identity over sqrt(C).

    Introduced in notebook 05. Used for the ``position_bias`` CReFF variant: with its position bias
    on the centre tap, the fused feature then starts as the warped HR keyframe feature itself,
    which training refines rather than having to discover. The similarity has no 1/sqrt(C) of its
    own (as in the paper), so with Kaiming-random convs its dot products over C channels of
    trained features are large and the softmax starts by fetching features from arbitrary
    neighbours; the 1/sqrt(C) in the query's start keeps the softmax soft instead. No shipped run
    uses this variant; notebook 04 explains why the paper's module is the default.
    """
    with torch.no_grad():
        for conv in (creff.query_conv, creff.key_conv, creff.value_conv):
            conv.weight.zero_()
            conv.weight[:, 0, conv.kernel_size[0] // 2, conv.kernel_size[1] // 2] = 1.0
            conv.bias.zero_()
        creff.query_conv.weight.div_(creff.channels ** 0.5)


def _parameter_groups(model: nn.Module, config: TrainConfig) -> list[dict]:
    """Trainable parameters; CReFF's get ``creff_lr_multiplier`` x the learning rate."""
    creff = {id(p) for p in model.creff.parameters()} if getattr(model, "creff", None) else set()
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in trainable if id(p) not in creff], "lr": config.learning_rate}]
    if creff:
        groups.append({"params": [p for p in trainable if id(p) in creff],
                       "lr": config.learning_rate * config.creff_lr_multiplier})
    return groups


def creff_learning_rate_sum(config: TrainConfig, history: list[dict] | None = None) -> float:
    """Sum over the stage-2 steps of CReFF's learning rate: its learning budget (0 without CReFF).

    Introduced in notebook 05. The official CamVid recipe (Adam 1e-3, cosine per iteration over
    100 epochs, CReFF in the second 50) gives about 0.44. With a run's ``history`` the sum is over
    the rates it used (the plateau schedule's length is only known afterwards); without, over the
    cosine schedule's ``steps``.
    """
    if config.method != "arseg":
        return 0.0
    rate = config.learning_rate * config.creff_lr_multiplier
    if history is not None:
        return sum(rate * h["lr"] / config.learning_rate for h in history if h.get("stage") == 2)
    if config.schedule != "cosine":
        raise ValueError("the plateau schedule's length is known only after training: pass the "
                         "run's history")
    return sum(rate * plateau.lr_factor("cosine", step, config.steps, None, 0.0)
               for step in range(config.stage1_steps, config.steps))


def validate(model: nn.Module, arseg: nn.Module | None, config: TrainConfig, clips: ClipSet) -> float:
    """Mean mIoU (%) over the keyframe distances of the run's method on ``clips`` (validation).

    Introduced in notebook 05. The network is evaluated as the test evaluates it (AR-Seg: the HR
    teacher on the I-frame, the LR branch + CReFF on the P-frames; the zero-flow ablation with zero
    flow, as it was trained) and returned to training mode
    with its parameters' ``requires_grad`` as they were.
    """
    from arseg_tutorial.evaluate import evaluate_by_distance, make_segmenter
    from arseg_tutorial.scenes import CLASS_NAMES

    trainable = {name: p.requires_grad for name, p in model.named_parameters()}
    hr_model = arseg.hr_model if arseg is not None else (model if config.method == "hr" else None)
    lr_model = model if config.method != "hr" else None
    segmenter = make_segmenter(config.method, hr_model, lr_model, config.scale,
                               device=next(model.parameters()).device, batched=True)
    flows = clips.flow_key if config.flow == "mv" else np.zeros_like(clips.flow_key)
    report = evaluate_by_distance(segmenter, clips.frames, clips.labels, flows, CLASS_NAMES)
    model.train()
    for name, p in model.named_parameters():
        p.requires_grad_(trainable[name])
    return report.mean_miou


def _check_resume(state: dict, config: TrainConfig, hr_sha256: str | None, path: Path) -> None:
    """Refuse to resume a checkpoint of another config or HR teacher."""
    if state["config"] != config.to_dict():
        raise CheckpointMismatchError(
            f"the checkpoint {path} was made with another config "
            f"({state['config']}); delete it or choose another checkpoint path")
    if state["meta"].get("hr_sha256") != hr_sha256:
        raise CheckpointMismatchError(
            f"the checkpoint {path} was trained from HR teacher "
            f"{str(state['meta'].get('hr_sha256'))[:12]}, but this run's HR teacher is "
            f"{str(hr_sha256)[:12]}; pass the --hr-checkpoint it was trained from, or "
            f"another --checkpoint path to train from this teacher")


def _update_plateau(record: plateau.ValidationRecord, config: TrainConfig, step: int,
                    stage2_start: int) -> None:
    """Start the anneal once the validation mIoU has plateaued, or when only the anneal still
    fits under ``config.steps`` (``plateau`` schedule only)."""
    if config.schedule != "plateau" or record.plateau_step is not None:
        return
    if plateau.plateaued(record.evals, stage2_start, step, config.plateau_min_steps, config.plateau_gain):
        record.plateau_step = step
    elif step >= plateau.constant_phase_cap(config.steps, config.anneal_fraction):
        record.plateau_step, record.capped = step, True


def train(config: TrainConfig, clips: ClipSet, checkpoint_path: str | Path, *,
          hr_state: dict | None = None, max_steps: int | None = None,
          val_clips: ClipSet | None = None,
          device: torch.device | None = None, progress: bool = True,
          checkpoint_every: int = 100, profile: str | None = None,
          on_step: Callable[[dict[str, float]], None] | None = None) -> TrainResult:
    """Train (or resume) one run; under ``torchrun`` it runs data-parallel.

    Args:
        config: the run.
        clips: the training ``ClipSet``.
        checkpoint_path: the run's resumable checkpoint (read if present, written periodically).
        hr_state: trained HR weights, for ``lr`` and ``arseg``.
        max_steps: stop (with a checkpoint) once this many steps are done, e.g. to split a run.
        val_clips: the validation ``ClipSet``, needed when ``config.eval_every`` > 0: the run is
            evaluated on it, and the best evaluation's weights are its result.
        device: where to train (default CPU, or the process's GPU under torchrun).
        progress: show a tqdm bar (on the main process).
        checkpoint_every: steps between checkpoints.
        profile: the profile the run belongs to, recorded in the checkpoint's ``meta``.
        on_step: called with each step's history record (e.g. to draw a live loss curve).
    Returns:
        A ``TrainResult``.
    Raises:
        CheckpointMismatchError: the checkpoint at ``checkpoint_path`` belongs to a different
            config or was trained from a different HR teacher.
        CheckpointFileError: ``checkpoint_path`` is a folder or not a trainer checkpoint.
    """
    from tqdm.auto import tqdm

    if max_steps is not None and max_steps < 0:
        raise ValueError(f"max_steps must be >= 0 (0 = only load the checkpoint), got {max_steps}")
    context = distributed.setup(device)
    if config.batch_size < 2 * context.world_size:
        raise ValueError(f"batch_size {config.batch_size} gives each of the {context.world_size} "
                         f"processes fewer than 2 samples, too few for batch norm; use a batch size "
                         f">= {2 * context.world_size} (python -m arseg_tutorial train --batch-size N)")
    model, arseg = build_networks(config, hr_state, context.device)
    if config.eval_every and val_clips is None:
        raise ValueError(f"this run validates every {config.eval_every} steps (schedule "
                         f"{config.schedule!r}): pass val_clips (load_clips(split_config(profile, 'val')))")
    record = plateau.ValidationRecord()
    optimizer = torch.optim.Adam(_parameter_groups(model, config), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: plateau.lr_factor(
        config.schedule, s, config.steps, record.plateau_step, config.anneal_fraction))
    step, history, seconds, best_state = 0, [], 0.0, None
    hr_sha256 = weights_sha256(hr_state) if hr_state is not None else None
    checkpoint_path = Path(checkpoint_path)

    def meta() -> dict:
        return network_meta(config.to_dict(), profile=profile, has_creff=model.creff is not None,
                            state_dict=model.state_dict(), hr_sha256=hr_sha256)

    if checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path, context.device)
        _check_resume(state, config, hr_sha256, checkpoint_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, history = state["step"], state["history"]
        seconds = state["seconds"]
        record = plateau.ValidationRecord.from_dict(state.get("validation") or {})
        best_state = state.get("best_model")
        set_rng_state(state["rng"])
    cap = config.steps if max_steps is None else min(config.steps, max_steps)
    trained = distributed.wrap(model, context, find_unused_parameters=config.method == "arseg")
    trained.train()
    stage2_start = config.stage1_steps if arseg is not None else 0

    def end() -> int:
        return plateau.final_step(config.schedule, config.steps, record.plateau_step, config.anneal_fraction)

    def checkpoint() -> None:
        if context.is_main:
            save_checkpoint(checkpoint_path, model=model, optimizer=optimizer, scheduler=scheduler,
                            step=step, history=history, config=config.to_dict(), meta=meta(),
                            seconds=seconds, validation=record.to_dict(), best_model=best_state)
        distributed.barrier(context)

    bar = tqdm(total=min(cap, end()), initial=step, desc=f"train {config.method} s={config.scale}",
               disable=not (progress and context.is_main), leave=False)
    while step < min(cap, end()):
        start = time.perf_counter()
        batch = make_batch(clips, config, step, context.rank, context.world_size, context.device)
        stage = 0 if arseg is None else (1 if step < config.stage1_steps else 2)
        if arseg is None:
            losses = per_frame_loss(trained, batch, config.scale)
        else:
            losses = arseg_loss(trained, arseg, batch, config, stage)
        rate = optimizer.param_groups[0]["lr"]
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizer.step()
        scheduler.step()
        step += 1
        values = {k: round(float(v.detach()), 6) for k, v in losses.items()}
        history.append({"step": step, **values, "lr": rate, "stage": stage})
        if config.eval_every and step > stage2_start and \
                ((step - stage2_start) % config.eval_every == 0 or step == end()):
            if record.add(step, validate(model, arseg, config, val_clips)):
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            history[-1]["val_miou"] = record.evals[-1][1]
            _update_plateau(record, config, step, stage2_start)
            for group, base in zip(optimizer.param_groups, scheduler.base_lrs):
                group["lr"] = base * scheduler.lr_lambdas[0](step)
        seconds += time.perf_counter() - start
        bar.total = min(cap, end())
        bar.update(1)
        bar.set_postfix(loss=f"{values['loss']:.3f}")
        if on_step is not None and context.is_main:
            on_step(history[-1])
        if step % checkpoint_every == 0 or step == min(cap, end()):
            checkpoint()
    bar.close()
    if best_state is not None and step >= end():
        model.load_state_dict(best_state)
    model.eval()
    validation = record.to_dict() if config.eval_every else None
    return TrainResult(model, history, step, seconds, config, meta(), end(), validation)
