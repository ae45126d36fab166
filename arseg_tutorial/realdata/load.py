"""Real CamVid-style footage from disk: frames and optional labels (encoding and scoring them is
``arseg_tutorial.realdata.evaluate``).

Introduced in docs/real_data.md (the notebooks use generated clips; this is for your own data).
``load_real_clip`` reads a folder of consecutive frames (or a video file) and, optionally, label
images holding CamVid class indices or colours; ``iter_real_clips`` reads long footage once, in
overlapping chunks.
"""
from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from arseg_tutorial.scenes.classes import CLASS_NAMES, IGNORE_LABEL, NUM_CLASSES

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
LOSSY_SUFFIXES = (".jpg", ".jpeg")
LABEL_FORMATS = ("index", "color")
#: a ``size=`` that changes the frames' width/height ratio by more than this warns (3 %)
MAX_ASPECT_CHANGE = 0.03

CAMVID_LABEL_COLORS: np.ndarray = np.array([
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (0, 0, 192), (128, 128, 0),
    (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192)], dtype=np.uint8)
"""(11, 3) RGB colour of each class in CamVid's colour label images (SegNet's 11-class map, the one
the official AR-Seg pre-processing reads). Any other colour (void, or one of the 21 classes the
11-class set drops) becomes the ignore label 255."""


@dataclass
class RealClip:
    """Consecutive real frames with labels where they exist (see ``load_real_clip``).

    Attributes:
        frames: (T, H, W, 3) uint8 RGB.
        labels: (T, H, W) uint8; 0..10 = ``class_names``, 255 = ignore (void, or no label file).
        labelled: (T,) bool, True where frame t had a label image.
        class_names: the 11 CamVid class names.
        frame_sources: T strings, the image file of each frame (``video.mp4#12`` for a video).
        label_sources: T label file paths (None where unlabelled).
    """

    frames: np.ndarray
    labels: np.ndarray
    labelled: np.ndarray
    class_names: tuple[str, ...]
    frame_sources: tuple[str, ...]
    label_sources: tuple[str | None, ...]

    @property
    def length(self) -> int:
        """Number of frames T."""
        return int(self.frames.shape[0])

    @property
    def frame_size(self) -> tuple[int, int]:
        """(H, W) in pixels."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    @property
    def labelled_indices(self) -> np.ndarray:
        """(M,) int64 indices of the labelled frames."""
        return np.flatnonzero(self.labelled)


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _list_images(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        state = "is a file, not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(f"{what} folder {str(folder)!r} {state}; pass the folder that holds "
                                f"the images (or a video file for the frames)")
    images = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
    if not images:
        count = sum(1 for _ in folder.iterdir())
        raise ValueError(f"{what} folder {str(folder)!r} holds no images ({count} entries, none ending "
                         f"in {', '.join(IMAGE_SUFFIXES)})")
    seen: dict[tuple, Path] = {}
    for path in images:
        key = tuple(_natural_key(Path(path.stem)))
        if key in seen:
            raise ValueError(f"{seen[key].name!r} and {path.name!r} in {what} folder {str(folder)!r} are "
                             f"the same frame number: both would be read, shifting every later frame; "
                             f"keep one of them")
        seen[key] = path
    return images


def _check_consecutive(images: list[Path], folder: Path) -> None:
    """Refuse frames whose numbers (the last number in each name) do not follow one another: a
    gap would be joined in silence, with motion vectors spanning the jump."""
    numbers = [re.findall(r"\d+", path.stem) for path in images]
    for (before, after), (a, b) in zip(itertools.pairwise(images), itertools.pairwise(numbers)):
        if a and b and int(b[-1]) != int(a[-1]) + 1:
            missing = (f"frames {int(a[-1]) + 1}-{int(b[-1]) - 1} are missing"
                       if int(b[-1]) > int(a[-1]) + 1 else "the numbers do not follow one another")
            raise ValueError(f"frames folder {str(folder)!r} jumps from {before.name!r} to "
                             f"{after.name!r} ({missing}), and a clip must be consecutive frames; "
                             f"load each run on its own with first_frame= and max_frames= (or "
                             f"separate folders)")


def _decode_image(path: Path) -> av.VideoFrame:
    try:
        with av.open(str(path)) as container:
            return next(container.decode(video=0))
    except (av.error.FFmpegError, StopIteration) as err:
        raise ValueError(f"cannot decode the image {str(path)!r} ({err}); is it a valid PNG/JPEG?") from err


def read_image(path: str | Path) -> np.ndarray:
    """One image file decoded with PyAV. Introduced in docs/real_data.md.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    return _decode_image(Path(path)).to_ndarray(format="rgb24")


def _colors_to_classes(rgb: np.ndarray) -> np.ndarray:
    weights = np.array([65536, 256, 1])
    codes = rgb.astype(np.int64) @ weights
    table = CAMVID_LABEL_COLORS.astype(np.int64) @ weights
    order = np.argsort(table)
    found = np.searchsorted(table[order], codes).clip(0, NUM_CLASSES - 1)
    hit = table[order][found] == codes
    return np.where(hit, order[found], IGNORE_LABEL).astype(np.uint8)


def _check_colour_label(frame: av.VideoFrame, path: Path) -> np.ndarray:
    """The classes of a colour label image, refusing images that are not CamVid colours."""
    rgb = frame.to_ndarray(format="rgb24")
    grey = np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])
    if grey and not np.isin(rgb[..., 0], (0, 128)).all():   # CamVid's only greys: void and sky
        raise ValueError(f"label image {str(path)!r} is grey ({frame.format.name}) with values "
                         f"{_shown(np.unique(rgb[..., 0]))}, so it holds class indices, not CamVid "
                         f"colours; pass label_format='index'")
    classes = _colors_to_classes(rgb)
    other = (classes == IGNORE_LABEL) & rgb.any(axis=-1)   # neither a CamVid colour nor black void
    if other.mean() > 0.5:
        colours, counts = np.unique(rgb[other], axis=0, return_counts=True)
        common = ", ".join(str(tuple(int(v) for v in colours[i])) for i in np.argsort(-counts)[:3])
        raise ValueError(f"{other.mean():.0%} of the pixels of label image {str(path)!r} have colours "
                         f"that are not CamVid's (most common: {common}): map your dataset's colours "
                         f"to CAMVID_LABEL_COLORS first, or pass label_format='index' if the image "
                         f"holds class indices")
    return classes


def read_label_image(path: str | Path, *, void_index: int | None = 11,
                     label_format: str = "index") -> np.ndarray:
    """One label image as class indices. Introduced in docs/real_data.md.

    Args:
        path: a lossless image (PNG): 8-bit grey or palette with class indices 0..10 in CamVid
            order (``label_format="index"``, SegNet's ``*annot`` images), or CamVid colours
            (``label_format="color"``, see ``CAMVID_LABEL_COLORS``).
        void_index: the index that means "void" (-> 255); None if the images have none.
    Returns:
        (H, W) uint8; 0..10 = classes, 255 = ignore.
    Raises:
        ValueError: an index image with values other than 0..10, ``void_index`` and 255 (the
            message names the file and the values), or a colour image read as indices.
    """
    path = Path(path)
    if label_format not in LABEL_FORMATS:
        raise ValueError(f"label_format must be one of {LABEL_FORMATS}, got {label_format!r}")
    if path.suffix.lower() in LOSSY_SUFFIXES:
        raise ValueError(f"label image {str(path)!r} is a JPEG: lossy compression changes class values "
                         f"at edges; save labels as PNG")
    frame = _decode_image(path)
    if label_format == "color":
        return _check_colour_label(frame, path)
    if frame.format.name == "pal8":
        values = frame.to_ndarray()[0]
    elif frame.format.name.startswith("gray"):
        values = frame.to_ndarray()
    else:
        rgb = frame.to_ndarray(format="rgb24")
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise ValueError(f"label image {str(path)!r} is a colour image ({frame.format.name}), not "
                             f"class indices; if it uses CamVid's colours pass label_format='color'")
        values = rgb[..., 0]
    return _map_void(np.asarray(values), void_index, path)


def _shown(values) -> str:
    values = [int(v) for v in values]
    return ", ".join(map(str, values[:12])) + (" ..." if len(values) > 12 else "")


def _map_void(values: np.ndarray, void_index: int | None, path: Path) -> np.ndarray:
    allowed = set(range(NUM_CLASSES)) | {IGNORE_LABEL} | ({void_index} if void_index is not None else set())
    bad = sorted(set(np.unique(values).tolist()) - allowed)
    if bad:
        raise ValueError(f"label image {str(path)!r} holds values {_shown(bad)}: expected class indices "
                         f"0..{NUM_CLASSES - 1} in CamVid order, 255, or the void index "
                         f"{void_index}; pass void_index= to match your data, or label_format='color' "
                         f"for colour labels")
    if void_index is not None:
        values = np.where(values == void_index, IGNORE_LABEL, values)
    return values.astype(np.uint8)


def _video_frames(path: Path, first: int, count: int | None) -> Iterator[tuple[str, str, np.ndarray]]:
    from arseg_tutorial.codec import iter_video

    for frame in iter_video(path, motion_vectors=False):
        if count is not None and frame.index >= first + count:
            return
        if frame.index >= first:
            yield f"{path}#{frame.index}", str(frame.index), frame.image


def _label_index(folder: Path, suffix: str, is_frame_key: Callable[[str], bool],
                 example: str) -> dict[str, Path]:
    by_key = {}
    for path in _list_images(folder, "labels"):
        if path.stem.endswith(suffix):
            by_key[path.stem[:len(path.stem) - len(suffix)] if suffix else path.stem] = path
    if not any(is_frame_key(key) for key in by_key):
        raise ValueError(f"no label image in {str(folder)!r} is named after a frame: name each label like "
                         f"its frame (e.g. '{example}{suffix}.png'; for a video, by frame index, e.g. "
                         f"'0{suffix}.png'); pass label_suffix= if they carry one (e.g. '_L')")
    return by_key


def _check_size(size: tuple[int, int] | None, first: tuple[int, int], source: str) -> None:
    if size is not None:
        if len(size) != 2 or any(not isinstance(v, (int, np.integer)) or v < 2 or v % 2 for v in size):
            raise ValueError(f"size must be (height, width) in pixels, both even and >= 2, got {size!r}")
        change = (size[1] / size[0]) / (first[1] / first[0])
        if abs(change - 1) > MAX_ASPECT_CHANGE:
            warnings.warn(f"size={tuple(size)} is (height, width) and stretches the {first[0]}x{first[1]} "
                          f"frames ({source}) to a width/height ratio {size[1] / size[0]:.2f} instead of "
                          f"{first[1] / first[0]:.2f}; if you meant width {size[0]}, height {size[1]}, "
                          f"pass size={(size[1], size[0])}", UserWarning, stacklevel=4)
    elif first[0] % 2 or first[1] % 2:
        even = (first[0] - first[0] % 2, first[1] - first[1] % 2)
        raise ValueError(f"frames are {first[0]}x{first[1]} ({source}): H.264 needs even sizes; pass "
                         f"size=(height, width) with even values, e.g. size={even}")


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize (antialiased when shrinking). Introduced in docs/real_data.md.

    Args:
        frames: (T, H, W, 3) uint8.
    Returns:
        (T, size[0], size[1], 3) uint8.
    """
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    shrink = size[0] < frames.shape[1] or size[1] < frames.shape[2]
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of (T, H, W) uint8 labels to (T, size[0], size[1]) uint8."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(labels))[:, None].float()
    return F.interpolate(x, size=size, mode="nearest-exact")[:, 0].to(torch.uint8).numpy()


def check_gop_length(gop_length: int) -> None:
    """Refuse a GOP length that is not a whole number of frames >= 1."""
    if isinstance(gop_length, bool) or not isinstance(gop_length, (int, np.integer)) or gop_length < 1:
        raise ValueError(f"gop_length must be an int >= 1 (frames per GOP; the paper uses 12), "
                         f"got {gop_length!r}")


Record = tuple[str, np.ndarray, np.ndarray, Path | None]  # frame name, image, label, label file


def _records(source: str | Path, labels_dir: str | Path | None, size: tuple[int, int] | None,
             first_frame: int, max_frames: int | None, label_suffix: str, void_index: int | None,
             label_format: str) -> Iterator[Record]:
    """Read, check and resize frames and their labels one at a time (one pass over the source)."""
    source = Path(source)
    if first_frame < 0 or (max_frames is not None and max_frames < 1):
        raise ValueError(f"need first_frame >= 0 and max_frames >= 1, got {first_frame!r}, {max_frames!r}")
    if source.is_file():
        items, is_frame_key, example = _video_frames(source, first_frame, max_frames), str.isdigit, "0"
    else:
        every = _list_images(source, "frames")
        _check_consecutive(every[first_frame:][:max_frames], source)
        items = ((str(p), p.stem, read_image(p)) for p in every[first_frame:][:max_frames])
        is_frame_key, example = {p.stem for p in every}.__contains__, every[0].stem
    label_files = ({} if labels_dir is None
                   else _label_index(Path(labels_dir), label_suffix, is_frame_key, example))
    first = None
    for name, key, image in items:
        if first is None:
            first, first_name = image.shape[:2], name
            _check_size(size, first, name)
        elif image.shape[:2] != first:
            raise ValueError(f"frame {name!r} is {image.shape[0]}x{image.shape[1]} but {first_name!r} "
                             f"is {first[0]}x{first[1]}: all frames of a clip must share one size")
        path = label_files.get(key)
        label = (np.full(first, IGNORE_LABEL, np.uint8) if path is None
                 else read_label_image(path, void_index=void_index, label_format=label_format))
        if label.shape != first:
            raise ValueError(f"label {str(path)!r} is {label.shape[0]}x{label.shape[1]} but its frame "
                             f"{name!r} is {first[0]}x{first[1]}: labels must match their frame")
        if size is not None and tuple(size) != first:
            image = resize_frames(image[None], tuple(size))[0]
            label = resize_labels(label[None], tuple(size))[0]
        yield name, image, label, path
    if first is None:
        raise ValueError(f"{str(source)!r} holds no frames from frame {first_frame} on")


def _as_clip(records: Sequence[Record]) -> RealClip:
    names, frames, labels, label_paths = zip(*records)
    return RealClip(np.stack(frames), np.stack(labels), np.array([p is not None for p in label_paths]),
                    CLASS_NAMES, names, tuple(None if p is None else str(p) for p in label_paths))


def load_real_clip(source: str | Path, labels_dir: str | Path | None = None, *,
                   size: tuple[int, int] | None = None, void_index: int | None = 11,
                   first_frame: int = 0, max_frames: int | None = None, label_suffix: str = "",
                   label_format: str = "index") -> RealClip:
    """Read consecutive real frames and their (optional, possibly sparse) labels.

    Introduced in docs/real_data.md.

    Args:
        source: a folder of frames (PNG/JPEG, in natural name order: ``f2`` before ``f10``) or a
            video file FFmpeg can read (any codec).
        labels_dir: folder of label images named like their frame (the frame's file stem, or for
            a video the 0-based frame index, e.g. ``42.png``) plus ``label_suffix``.
            Frames without a label image get all-255 labels and ``labelled[t] = False``.
        size: (height, width) to resize to while reading (bilinear frames, nearest labels); even
            values. Needed when the frames have an odd size.
        void_index: label value meaning "void" (CamVid/SegNet: 11) -> 255; None for none.
        first_frame, max_frames: read frames ``first_frame`` .. ``first_frame + max_frames - 1``
            only (0-based, in name order; default: all). ``iter_real_clips`` reads in chunks.
        label_suffix: text between the frame's stem and the label's extension (CamVid's
            original colour labels: ``"_L"``).
        label_format: "index" (grey or palette class indices) or "color" (CamVid colours).
    Returns:
        A ``RealClip``.
    Raises:
        FileNotFoundError: a missing folder or video. ValueError: no images, a gap in the frame
        numbers (e.g. 0-9 then 15-24), frames of different sizes, a label of a different size than its frame, label values outside 0..10 (and not
        void or 255), an odd frame size without ``size=``; each message names the file.
    """
    return _as_clip(list(_records(source, labels_dir, size, first_frame, max_frames, label_suffix,
                                  void_index, label_format)))


def iter_real_clips(source: str | Path, labels_dir: str | Path | None = None, *,
                    chunk_frames: int = 600, gop_length: int = 12, size: tuple[int, int] | None = None,
                    void_index: int | None = 11, label_suffix: str = "",
                    label_format: str = "index") -> Iterator[RealClip]:
    """``load_real_clip`` in chunks of ``chunk_frames`` frames, for footage too long for memory.

    Introduced in docs/real_data.md. Reads the source once. Consecutive chunks share
    ``gop_length - 1`` frames, so every GOP window of the whole footage lies in exactly one chunk:
    ``evaluate_real(segment, iter_real_clips(...))`` scores each (labelled frame, distance) pair
    once, as on the whole footage (protocol "every_distance"; "consecutive" GOPs restart at each
    chunk). Arguments as in ``load_real_clip``.
    """
    check_gop_length(gop_length)
    if chunk_frames < gop_length:
        raise ValueError(f"chunk_frames ({chunk_frames}) must be at least gop_length ({gop_length})")
    stream = _records(source, labels_dir, size, 0, None, label_suffix, void_index, label_format)
    chunk = list(itertools.islice(stream, chunk_frames))
    while True:
        yield _as_clip(chunk)
        carry = chunk[len(chunk) - (gop_length - 1):]
        new = list(itertools.islice(stream, chunk_frames - len(carry)))
        if not new:
            return
        chunk = carry + new
