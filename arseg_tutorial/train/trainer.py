"""The training loop: Adam + per-step cosine schedule, tqdm progress, resumable checkpoints.

Introduced in notebook 05. ``train`` runs one ``TrainConfig`` (see ``loops``) on a ``ClipSet``.
It writes an atomic checkpoint every ``checkpoint_every`` steps and at the end; called again with
the same checkpoint path it resumes where the last checkpoint stopped and, because every batch is
drawn from a generator seeded by (seed, step), ends with the same weights as an uninterrupted run.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from arseg_tutorial.config import seed_everything
from arseg_tutorial.train import distributed
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
    """

    model: nn.Module
    history: list[dict[str, float]]
    steps_done: int
    seconds: float
    config: TrainConfig

    @property
    def complete(self) -> bool:
        """True when all ``config.steps`` steps are done."""
        return self.steps_done >= self.config.steps


def build_networks(config: TrainConfig, hr_state: dict | None = None,
                   device: torch.device | None = None) -> tuple[nn.Module, nn.Module | None]:
    """The network to train and, for ``arseg``, the ``ARSeg`` wrapper holding the frozen HR teacher.

    Args:
        hr_state: state dict of the trained HR network; required for ``lr`` and ``arseg`` (the
            LR network starts from it, AR-Seg's classifier is copied from it).
    Returns:
        (trainable network, ARSeg or None).
    """
    from arseg_tutorial.models import ARSeg, build_model

    seed_everything(config.seed)
    model = build_model(config.model, config.num_classes, config.net_width).to(device or "cpu")
    if config.method == "hr":
        return model, None
    if hr_state is None:
        raise ValueError(f"method {config.method!r} starts from a trained HR network: pass hr_state "
                         "(train the 'hr' method first, or load the shipped HR checkpoint)")
    model.load_state_dict(hr_state)
    if config.method == "lr":
        return model, None
    teacher = build_model(config.model, config.num_classes, config.net_width).to(device or "cpu")
    teacher.load_state_dict(hr_state)
    teacher.eval().requires_grad_(False)
    arseg = ARSeg(teacher, model, config.scale, creff_kernel=config.creff_kernel,
                  creff_variant=config.creff_variant)
    model.classifier.requires_grad_(not config.freeze_classifier)
    if config.creff_variant == "tutorial":
        init_creff_identity(model.creff)
    return model, arseg


def init_creff_identity(creff: nn.Module) -> None:
    """Start CReFF's key and value depthwise convs as the identity (centre tap 1, bias 0) and
    its query conv as the identity over sqrt(C).

    Introduced in notebook 05. Used for the ``tutorial`` CReFF variant: with its position bias
    on the centre tap, the fused feature then starts as the warped HR keyframe feature itself,
    which training refines rather than having to discover. The similarity has no 1/sqrt(C) of its
    own (as in the paper), so with Kaiming-random convs its dot products over C channels of
    trained features are large and the softmax starts by fetching features from arbitrary
    neighbours; the 1/sqrt(C) in the query's start keeps the softmax soft instead. Shipped laptop
    checkpoints (s = 0.5, test split, mean mIoU over the 12 distances): tutorial 52.96, paper
    (random convs, no bias, residual) 48.05; LR-only 44.03, warp 54.59.
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


def _cosine(total_steps: int):
    return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))


def creff_learning_rate_sum(config: TrainConfig) -> float:
    """Sum over the stage-2 steps of CReFF's learning rate: its learning budget (0 without CReFF).

    Introduced in notebook 05. The official CamVid recipe (Adam 1e-3, cosine per iteration over
    100 epochs, CReFF in the second 50) gives about 0.44; a shorter run reaches the same budget
    with a larger ``creff_lr_multiplier``.
    """
    if config.method != "arseg":
        return 0.0
    factor = _cosine(config.steps)
    return sum(config.learning_rate * config.creff_lr_multiplier * factor(step)
               for step in range(config.stage1_steps, config.steps))


def train(config: TrainConfig, clips: ClipSet, checkpoint_path: str | Path, *,
          hr_state: dict | None = None, max_steps: int | None = None,
          device: torch.device | None = None, progress: bool = True,
          checkpoint_every: int = 100,
          on_step: Callable[[dict[str, float]], None] | None = None) -> TrainResult:
    """Train (or resume) one run; under ``torchrun`` it runs data-parallel.

    Args:
        config: the run.
        clips: the training ``ClipSet``.
        checkpoint_path: the run's resumable checkpoint (read if present, written periodically).
        hr_state: trained HR weights, for ``lr`` and ``arseg``.
        max_steps: stop (with a checkpoint) once this many steps are done, e.g. to split a run.
        device: where to train (default CPU, or the process's GPU under torchrun).
        progress: show a tqdm bar (on the main process).
        checkpoint_every: steps between checkpoints.
        on_step: called with each step's history record (e.g. to draw a live loss curve).
    Returns:
        A ``TrainResult``.
    Raises:
        ValueError: the checkpoint at ``checkpoint_path`` belongs to a different config.
    """
    from tqdm.auto import tqdm

    context = distributed.setup(device)
    if config.batch_size < 2 * context.world_size:
        raise ValueError(f"batch_size {config.batch_size} gives each of the {context.world_size} "
                         f"processes fewer than 2 samples, too few for batch norm; use a batch size "
                         f">= {2 * context.world_size} (python -m arseg_tutorial train --batch-size N)")
    model, arseg = build_networks(config, hr_state, context.device)
    optimizer = torch.optim.Adam(_parameter_groups(model, config), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _cosine(config.steps))
    step, history, seconds = 0, [], 0.0
    checkpoint_path = Path(checkpoint_path)
    if checkpoint_path.is_file():
        state = load_checkpoint(checkpoint_path, context.device)
        if state["config"] != config.to_dict():
            raise ValueError(f"the checkpoint {checkpoint_path} was made with another config "
                             f"({state['config']}); delete it or choose another checkpoint path")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, history = state["step"], state["history"]
        seconds = state["seconds"]
        set_rng_state(state["rng"])
    stop = config.steps if max_steps is None else min(config.steps, max_steps)
    trained = distributed.wrap(model, context, find_unused_parameters=config.method == "arseg")
    trained.train()

    def checkpoint() -> None:
        if context.is_main:
            save_checkpoint(checkpoint_path, model=model, optimizer=optimizer, scheduler=scheduler,
                            step=step, history=history, config=config.to_dict(), seconds=seconds)
        distributed.barrier(context)

    bar = tqdm(total=stop, initial=step, desc=f"train {config.method} s={config.scale}",
               disable=not (progress and context.is_main), leave=False)
    while step < stop:
        start = time.perf_counter()
        batch = make_batch(clips, config, step, context.rank, context.world_size, context.device)
        stage = 0 if arseg is None else (1 if step < config.stage1_steps else 2)
        if arseg is None:
            losses = per_frame_loss(trained, batch, config.scale)
        else:
            losses = arseg_loss(trained, arseg, batch, config, stage)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizer.step()
        scheduler.step()
        step += 1
        seconds += time.perf_counter() - start
        record = {k: round(float(v.detach()), 6) for k, v in losses.items()}
        history.append({"step": step, **record, "lr": scheduler.get_last_lr()[0], "stage": stage})
        bar.update(1)
        bar.set_postfix(loss=f"{record['loss']:.3f}")
        if on_step is not None and context.is_main:
            on_step(history[-1])
        if step % checkpoint_every == 0 or step == stop:
            checkpoint()
    bar.close()
    model.eval()
    return TrainResult(model, history, step, seconds, config)
