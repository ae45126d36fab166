"""Training and evaluation data: generated clips, encoded and decoded, with motion-vector flow.

Introduced in notebook 05. Each clip is one GOP (L frames) of the street-scene generator, encoded
with ``arseg_tutorial.codec`` (H.264, GOP L, P-frames only) and decoded again: the *decoded*
frames are the inputs (lossy, as in the paper), the generator's labels are the targets, and the
motion vectors chained back to the I-frame give the flow that warps the keyframe feature.
A split is a range of generator seeds; it is cached on disk under ``config.cache_dir()`` in a
file named by a hash of everything that defines it, written atomically.
"""
from __future__ import annotations

import errno
import hashlib
import json
import shutil
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from arseg_tutorial.atomic import atomic_path
from arseg_tutorial.config import Profile, cache_dir
from arseg_tutorial.memory import clips_bytes
from arseg_tutorial.train.fingerprint import library_fingerprint, source_fingerprint

#: bump when the cached arrays change meaning, so that old caches are never read
DATA_FORMAT_VERSION = 1
#: first generator seed of each split; clip i of a split uses seed ``SPLIT_SEEDS[split] + i``;
#: "unseen" seeds were never used to train, tune or choose anything (a second test set)
SPLIT_SEEDS = {"train": 1_000, "val": 500_000, "test": 900_000, "unseen": 7_000_000}


@dataclass(frozen=True)
class ClipConfig:
    """Everything that defines a set of encoded clips (and therefore its cache file).

    Attributes:
        first_seed: generator seed of the first clip; clip i uses ``first_seed + i``.
        num_clips: number of clips (one GOP each).
        height, width: frame size in pixels.
        gop_length: frames per clip = frames per GOP (L).
        crf: x264 constant rate factor of the encoding.
    """

    first_seed: int
    num_clips: int
    height: int
    width: int
    gop_length: int = 12
    crf: int = 18

    def __post_init__(self) -> None:
        if self.num_clips < 1:
            raise ValueError(f"num_clips must be at least 1, got {self.num_clips} (e.g. --clips 4)")

    def cache_key(self) -> str:
        """A short hash of this config, the data format version, the generator's and codec's
        code and the libraries' versions (``train.fingerprint``; names the cache file: a change
        to any of them never reads a stale file)."""
        text = json.dumps({**asdict(self), "format": DATA_FORMAT_VERSION,
                           "sources": source_fingerprint(), "libraries": library_fingerprint()},
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def split_config(profile: Profile, split: str, num_clips: int | None = None) -> ClipConfig:
    """The ``ClipConfig`` of a split ("train", "val", "test") of a profile.

    Args:
        num_clips: override the profile's ``<split>_clips`` ("unseen" has as many as "test").
    """
    if split not in SPLIT_SEEDS:
        raise ValueError(f"unknown split {split!r}; use one of {sorted(SPLIT_SEEDS)}")
    count = num_clips if num_clips is not None else getattr(profile, f"{split.replace('unseen', 'test')}_clips")
    return ClipConfig(first_seed=SPLIT_SEEDS[split], num_clips=count, height=profile.height,
                      width=profile.width, gop_length=profile.gop_length)


@dataclass
class ClipSet:
    """Decoded clips with labels and motion-vector flow to the keyframe.

    Attributes:
        frames: (N, L, H, W, 3) uint8 decoded RGB frames.
        labels: (N, L, H, W) uint8 class indices, 255 = ignore.
        flow_key: (N, L, H, W, 2) float32 backward flow from frame t to the I-frame (pixels,
            x first; zeros at t = 0), chained from the codec's motion vectors.
        valid_key: (N, L, H, W) bool, False where the motion vectors give no motion (intra blocks).
        packet_bytes: (N, L) int64 compressed size of each frame.
    """

    frames: np.ndarray
    labels: np.ndarray
    flow_key: np.ndarray
    valid_key: np.ndarray
    packet_bytes: np.ndarray

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def encode_clip(frames: np.ndarray, gop_length: int, crf: int) -> tuple[np.ndarray, np.ndarray,
                                                                        np.ndarray, np.ndarray]:
    """Encode one clip (P-frames only), decode it, and chain its motion vectors to the I-frame.

    Args:
        frames: (L, H, W, 3) uint8 RGB frames.
    Returns:
        decoded (L, H, W, 3) uint8, flow (L, H, W, 2) float32, valid (L, H, W) bool,
        packet sizes (L,) int64.
    """
    from arseg_tutorial import codec

    data = codec.encode_to_bytes(frames, gop=gop_length, bframes=0, crf=crf)
    video = codec.read_video(data)
    if video.frames.shape != frames.shape:
        raise RuntimeError(f"decoded video has shape {video.frames.shape}, expected {frames.shape}")
    flows = np.zeros(frames.shape[:3] + (2,), np.float32)
    valid = np.ones(frames.shape[:3], bool)
    for t in range(1, len(frames)):
        flows[t], valid[t] = codec.flow_to_keyframe(video, t)
    return video.frames, flows, valid, np.asarray(video.packet_sizes, np.int64)


def build_clips(config: ClipConfig, progress: bool = False, workers: int = 1) -> ClipSet:
    """Generate, encode and decode the clips of ``config`` (no cache; see ``load_clips``).

    Args:
        config: the clips.
        progress: show a tqdm bar (with one worker).
        workers: processes to split the clips over; every clip depends only on its own seed, so
            the result is the same for any number.
    """
    from tqdm.auto import tqdm

    from arseg_tutorial.scenes import generate_clip

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    n, length, h, w = config.num_clips, config.gop_length, config.height, config.width
    if workers > 1 and n > 1:
        return _build_in_processes(config, workers)
    out = ClipSet(np.zeros((n, length, h, w, 3), np.uint8), np.zeros((n, length, h, w), np.uint8),
                  np.zeros((n, length, h, w, 2), np.float32), np.zeros((n, length, h, w), bool),
                  np.zeros((n, length), np.int64))
    for i in tqdm(range(n), desc="encoding clips", disable=not progress, leave=False):
        clip = generate_clip(config.first_seed + i, length=length, height=h, width=w)
        out.labels[i] = clip.labels
        out.frames[i], out.flow_key[i], out.valid_key[i], out.packet_bytes[i] = encode_clip(
            np.asarray(clip.frames), length, config.crf)
    return out


def _build_in_processes(config: ClipConfig, workers: int) -> ClipSet:
    """``build_clips`` split over ``workers`` spawned processes.

    Spawned workers import the calling script again: call this under
    ``if __name__ == "__main__":`` in a script. (Forking instead deadlocked under pytest.) A
    worker that meets an unguarded call while importing the script stops at once, and the call
    fails naming the script, instead of each worker starting workers of its own.
    """
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import current_process, get_context

    inheriting = getattr(current_process(), "_inheriting", False)  # a spawned worker importing __main__
    script = getattr(sys.modules.get("__mp_main__" if inheriting else "__main__"), "__file__", None)
    fix = ("put the call under `if __name__ == \"__main__\":` (each worker process imports the "
           "script again), or use workers=1")
    if inheriting:
        raise RuntimeError(f"build_clips(workers={workers}) was called while a worker process was "
                           f"importing the script {script} again: {fix}")
    n = config.num_clips
    per_part = -(-n // min(workers, n))
    parts = [replace(config, first_seed=config.first_seed + i, num_clips=min(per_part, n - i))
             for i in range(0, n, per_part)]
    try:
        with ProcessPoolExecutor(len(parts), mp_context=get_context("spawn")) as pool:
            built = list(pool.map(build_clips, parts))
    except BrokenProcessPool:
        cause = (f"the script {script} calls it outside the guard, or the worker was killed "
                 f"(out of memory?)" if script else "it was killed (out of memory?)")
        raise RuntimeError(f"a worker process of build_clips(workers={workers}) died: {cause}; "
                           f"{fix}") from None
    return ClipSet(*[np.concatenate([getattr(b, f) for b in built]) for f in ClipSet.__dataclass_fields__])


def _save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def clips_cache_path(config: ClipConfig, create: bool = True) -> Path:
    """Where ``load_clips`` caches ``config``'s clips (``create``: make the cache folder)."""
    return cache_dir(create) / "clips" / f"clips-{config.cache_key()}.npz"


def _read_cached(path: Path, config: ClipConfig) -> ClipSet | None:
    """The cached clips at ``path``, or None (with a warning) if the file is damaged."""
    import warnings
    import zipfile

    try:
        with np.load(path) as data:
            clips = ClipSet(**{k: data[k] for k in ClipSet.__dataclass_fields__})
    except (zipfile.BadZipFile, EOFError, KeyError, ValueError, OSError) as error:
        warnings.warn(f"the cached clips {path} are damaged ({type(error).__name__}: {error}); "
                      f"rebuilding them", RuntimeWarning, stacklevel=3)
        return None
    if clips.frames.shape[:2] != (config.num_clips, config.gop_length):
        warnings.warn(f"the cached clips {path} hold {clips.frames.shape[:2]} clips x frames, not "
                      f"{(config.num_clips, config.gop_length)}; rebuilding them", RuntimeWarning,
                      stacklevel=3)
        return None
    return clips


def _check_writable(folder: Path) -> None:
    """Fail now, before any clip is built, if the cache cannot be written."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise PermissionError(f"cannot write the clip cache in {folder} ({error.strerror}); pass "
                              f"use_cache=False (--no-cache on the command line) or set "
                              f"ARSEG_CACHE_DIR to a writable folder") from None


_NO_SPACE = ("no space left on the device for the clip cache in {folder}; free some space, set "
             "ARSEG_CACHE_DIR to a folder on another disk, or pass use_cache=False (--no-cache on "
             "the command line)")


def _check_space(folder: Path, config: ClipConfig) -> None:
    """Fail now, before any clip is built, if the cache file cannot fit on its disk."""
    needed = clips_bytes(config.num_clips, config.gop_length, config.height, config.width)
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise OSError(errno.ENOSPC, f"the clips need about {needed / 2**20:.0f} MB but "
                      f"{free / 2**20:.0f} MB are free: " + _NO_SPACE.format(folder=folder))


def load_clips(config: ClipConfig, use_cache: bool = True, progress: bool = False,
               workers: int = 1) -> ClipSet:
    """The clips of ``config``, from the cache when present, else built and cached.

    The cache file name is a hash of ``config`` (so a changed config never reads a stale file) and
    the file is written to a temporary name and renamed (so an interrupted build leaves none); a
    damaged cache file is rebuilt (with a warning). With ``use_cache=False`` nothing is written
    (not even the cache folder).

    Raises:
        PermissionError: the cache folder cannot be written (checked before building).
        OSError: ENOSPC, the cache folder's disk is full (checked before building, and again
            while writing), naming the folder and ``use_cache=False``.
    """
    if not use_cache:
        return build_clips(config, progress=progress, workers=workers)
    path = clips_cache_path(config, create=False)
    if path.is_file():
        clips = _read_cached(path, config)
        if clips is not None:
            return clips
    _check_writable(path.parent)
    _check_space(path.parent, config)
    clips = build_clips(config, progress=progress, workers=workers)
    try:
        _save_npz_atomic(path, asdict(clips))
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise OSError(errno.ENOSPC, _NO_SPACE.format(folder=path.parent)) from None
    return clips
