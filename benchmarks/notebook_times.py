"""Run time of every notebook, each in a fresh kernel (kernel start included), per profile.

Not a test: the numbers README's learning path and every notebook's contract cell quote.

    python benchmarks/notebook_times.py [--profiles ci,laptop] [--notebooks 03,04]

Prints one line per notebook and profile (seconds, wall clock); the machine and its load are
printed with them, since a shared machine slows every number.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def run_time(path: Path, profile: str) -> float:
    """Seconds to execute ``path`` top to bottom in a fresh kernel under ``ARSEG_PROFILE=profile``."""
    notebook = nbformat.read(path, as_version=4)
    os.environ["ARSEG_PROFILE"] = profile
    start = time.perf_counter()
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", default="ci,laptop")
    parser.add_argument("--notebooks", default="", help="comma-separated prefixes (default: all)")
    args = parser.parse_args()
    prefixes = tuple(filter(None, args.notebooks.split(",")))
    paths = [p for p in sorted(NOTEBOOKS.glob("*.ipynb")) if not prefixes or p.name.startswith(prefixes)]
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    for path in paths:
        times = {profile: run_time(path, profile) for profile in args.profiles.split(",")}
        print(f"{path.name:<32}" + "".join(f"{p} {t:6.1f} s   " for p, t in times.items()), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
