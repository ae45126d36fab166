"""The command line's input checks: one-line argparse errors, argument types, output paths, and
an error as one sentence.

Introduced in docs/safety.md. ``arseg_tutorial.cli.main`` turns every error into one line on
stderr, ``error: <what was wrong and what to do>``, exit status 2 for bad input (``BAD_INPUT``),
1 for anything else; ``--debug`` or ``ARSEG_DEBUG=1`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path

DEBUG_ENV = "ARSEG_DEBUG"
#: errors that mean the input was wrong: exit status 2 (anything else is a bug: exit status 1)
BAD_INPUT = (ValueError, KeyError, OSError, MemoryError)


def _whole_number(text: str, least: int, meaning: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be {meaning}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argument that must be 1 or more."""
    return _whole_number(text, 1, "a positive whole number")


def non_negative_int(text: str) -> int:
    """An argument that must be 0 or more."""
    return _whole_number(text, 0, "0 or more")


def batch_size(text: str) -> int:
    """A training batch size: 2 or more."""
    return _whole_number(text, 2, "at least 2 (batch norm needs 2 samples per process)")


def lr_scale(text: str) -> float:
    """An LR scale s, 0 < s <= 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= 1):
        raise argparse.ArgumentTypeError(f"must be an LR scale s with 0 < s <= 1 (e.g. 0.5), "
                                         f"got {text}")
    return value


def check_output(path: str | None, flag: str, folder: bool = False) -> None:
    """Refuse now, before any work, an output path that cannot be written (a folder where a
    file is wanted, a file where a folder is, a parent that is a file or not writable)."""
    if not path:
        return
    path = Path(path)
    if not folder and path.is_dir():
        raise IsADirectoryError(f"{flag} {path} is a folder; pass a file name, e.g. "
                                f"{path / 'results.json'}")
    if folder and path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{flag} {path} is a file, not a folder; pass a folder")
    existing = next(p for p in (path if folder else path.parent, *path.parents) if p.exists())
    if not existing.is_dir():
        raise NotADirectoryError(f"{flag} {path} lies under {existing}, which is a file, not a "
                                 f"folder; pass a path in a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"{flag} {path}: {existing} is not writable by you; pass a path in "
                              f"a folder you can write")


class OneLineParser(argparse.ArgumentParser):
    """argparse with one-line errors: the problem and where to read the options (exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"error: {message}; see `{self.prog} --help`\n")


def sentence(error: BaseException) -> str:
    """``error``'s message on one line (a KeyError's without quotes, an OSError's without
    "[Errno N]")."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    text = re.sub(r"^\[Errno \d+\] ", "", " ".join(text.split()))
    return text or type(error).__name__


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)
