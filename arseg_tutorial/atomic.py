"""Atomic file writes: write to a temporary file beside the target, then ``os.replace`` it.

An interrupted run (Ctrl-C, a crash, a full disk) leaves either the old file or the new one,
never half a file. Checkpoints, caches, manifests and videos all go through ``atomic_path``.
Introduced in notebook 05.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; when the block ends without an error, move
    it onto ``path`` (readable by everyone, like a normal file); otherwise delete it.

    Args:
        path: the file to create or replace; missing parent folders are created.
        suffix: the temporary file's suffix (writers that guess the format from it need one).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(handle)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
