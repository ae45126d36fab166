"""Atomic file writes: write to a temporary file beside the target, then ``os.replace`` it.

An interrupted run (Ctrl-C, a crash, a full disk) leaves either the old file or the new one,
never half a file. Checkpoints, caches, manifests and videos all go through ``atomic_path``.
A process killed outright (``kill -9``) cannot delete its temporary file; the temporary name holds
the writer's process id, and the next write of the same target deletes the temporary files of
writers that no longer run (or, for names without a live id, older than ``STALE_AFTER_S``).
Introduced in notebook 05.
"""
from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

#: temporary files of a target without a running writer are deleted once this old
STALE_AFTER_S = 3600.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(path: str | Path, suffix: str = ".tmp") -> list[Path]:
    """Delete the temporary files an interrupted ``atomic_path(path)`` left; returns them.

    A temporary file is stale when the process id in its name no longer runs, or when it has
    no such id and is older than ``STALE_AFTER_S``.
    """
    path = Path(path)
    removed = []
    for candidate in path.parent.glob(f".{path.name}.*{suffix}"):
        middle = candidate.name[len(path.name) + 2:-len(suffix) or None].split(".")
        pid = int(middle[0][3:]) if middle[0].startswith("pid") and middle[0][3:].isdigit() else None
        try:
            stale = (not _alive(pid)) if pid is not None else (
                time.time() - candidate.stat().st_mtime > STALE_AFTER_S)
            if stale and pid != os.getpid():
                candidate.unlink()
                removed.append(candidate)
        except FileNotFoundError:
            continue
    return removed


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
    remove_stale_temporaries(path, suffix)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.pid{os.getpid()}.", suffix=suffix,
                                   dir=path.parent)
    os.close(handle)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
