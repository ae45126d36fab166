"""Two CPU processes (gloo) train data-parallel for a few steps and stay identical."""
from __future__ import annotations

import os
import socket

import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, folder: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from test_train_loop import tiny_clips, tiny_config

    from arseg_tutorial.train.trainer import train

    result = train(tiny_config(steps=3, batch_size=4), tiny_clips(), os.path.join(folder, "ddp.pt"),
                   progress=False)
    params = {k: v.detach() for k, v in result.model.named_parameters()}
    torch.save(params, os.path.join(folder, f"rank{rank}.pt"))
    torch.distributed.destroy_process_group()


def test_two_replicas_stay_identical(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    first, second = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    assert first.keys() == second.keys() and len(first) > 10
    assert all(torch.equal(first[k], second[k]) for k in first)
    checkpoint = torch.load(tmp_path / "ddp.pt", weights_only=False)
    assert checkpoint["step"] == 3 and len(checkpoint["history"]) == 3
