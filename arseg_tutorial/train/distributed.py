"""Data-parallel training: the same command under ``torchrun --nproc_per_node=N``.

Introduced in notebook 05. ``torchrun`` sets RANK, WORLD_SIZE and LOCAL_RANK; ``setup`` then joins
the process group (gloo on CPU, nccl on GPU) and the trainer wraps the trained network in
``DistributedDataParallel``. Each process draws the same global batch of sample seeds and
augments its own share, so N processes compute what one process with the whole batch would
(up to batch-norm statistics, which each replica computes on its share).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a (possibly 1-process) data-parallel run.

    Attributes:
        rank: this process's index, 0 .. world_size-1.
        world_size: number of processes.
        device: the device this process computes on.
    """

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """True on the process that writes checkpoints and shows progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1


def setup(device: torch.device | None = None) -> DistContext:
    """Join the process group if ``torchrun`` (or the caller) set WORLD_SIZE > 1.

    Args:
        device: the device to use; on GPU each process takes cuda:LOCAL_RANK.
    Returns:
        The ``DistContext`` (rank 0 of 1 when not distributed).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = device or torch.device("cpu")
    if world_size <= 1:
        return DistContext(0, 1, device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), device)


def wrap(model: torch.nn.Module, context: DistContext,
         find_unused_parameters: bool = False) -> torch.nn.Module:
    """``DistributedDataParallel(model)`` when distributed, else ``model`` itself."""
    if not context.enabled:
        return model
    ids = [context.device.index] if context.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=ids, find_unused_parameters=find_unused_parameters)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The network inside a ``DistributedDataParallel`` wrapper (or the network itself)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def barrier(context: DistContext) -> None:
    """Wait for all processes (no-op when not distributed)."""
    if context.enabled:
        dist.barrier()
