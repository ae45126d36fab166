"""Atomic writes: an interrupted write keeps the old file and leaves no temporary file behind."""
from __future__ import annotations

import pytest

from arseg_tutorial.atomic import atomic_path


def test_a_finished_write_replaces_the_file(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert not target.exists()
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o644
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_an_interrupted_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target, suffix=".mp4") as tmp:
            assert tmp.suffix == ".mp4"
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_the_same_weights_save_to_the_same_bytes(tmp_path):
    import hashlib

    import torch

    from arseg_tutorial.train.checkpoint import atomic_torch_save

    state = {"w": torch.arange(6.0).reshape(2, 3), "n": torch.tensor(3)}
    digests = {hashlib.sha256(atomic_torch_save(state, tmp_path / name).read_bytes()).hexdigest()
               for name in ("a.pt", "b.pt", "a.pt")}
    assert len(digests) == 1
    assert torch.equal(torch.load(tmp_path / "b.pt")["w"], state["w"])
