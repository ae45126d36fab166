"""Fingerprints of what makes the training data: the generator's and codec's code, and the libraries.

Introduced in notebook 05. ``source_fingerprint`` hashes the code itself (every module of
``arseg_tutorial.scenes``, the generator, and of ``arseg_tutorial.codec``, plus
``train.data.encode_clip``; real footage lives in ``arseg_tutorial.realdata``), token by token without comments and docstrings: a change to any
painter (a car sprite, a pole, the backdrop) changes it, an edit of prose does not, and it is the
same on every machine. ``library_fingerprint`` names the libraries whose output the data also
depend on (PyAV and its FFmpeg, NumPy). The cache key of a clip set holds both; the manifest
records the first, and a test fails when the shipped numbers no longer match the code.

(An earlier fingerprint hashed the *output* of one small probe clip. That output depends on the
machine as well as on the code — libx264's default thread count follows the CPU count, and
threads change the encoded bytes — and the probe had no car and no pole, so a change to their
painters went unnoticed.)
"""
from __future__ import annotations

import ast
import functools
import hashlib
import io
import tokenize
from pathlib import Path

_SKIPPED = (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER)
_STATEMENT_EDGES = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, None)


def _fstring_tokens() -> tuple[int, int]:
    return getattr(tokenize, "FSTRING_START", -1), getattr(tokenize, "FSTRING_END", -2)


def code_tokens(source: str) -> list[str]:
    """The significant tokens of Python source: no comments, blank lines or docstrings (string
    statements), layout reduced to NEWLINE / INDENT / DEDENT; an f-string is one token on every
    Python version (3.12 splits them)."""
    lines = source.splitlines(keepends=True)
    start_fstring, end_fstring = _fstring_tokens()
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in _SKIPPED]
    out, types, depth, opened = [], [], 0, None
    for token in tokens:
        if token.type == start_fstring:
            depth += 1
            opened = opened or token.start
            continue
        if depth:
            depth -= token.type == end_fstring
            if depth == 0:
                out.append(_slice(lines, opened, token.end))
                types.append(tokenize.STRING)
                opened = None
            continue
        out.append(token.string if token.type not in (tokenize.INDENT, tokenize.DEDENT) else tokenize.tok_name[token.type])
        types.append(token.type)
    keep, skip_newline = [], False
    for i, (text, kind) in enumerate(zip(out, types)):
        before = types[i - 1] if i else None
        after = types[i + 1] if i + 1 < len(types) else None
        if kind == tokenize.STRING and before in _STATEMENT_EDGES and after == tokenize.NEWLINE:
            skip_newline = True
            continue
        if not (skip_newline and kind == tokenize.NEWLINE):
            keep.append(text)
        skip_newline = False
    return keep


def _slice(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    (row0, col0), (row1, col1) = start, end
    if row0 == row1:
        return lines[row0 - 1][col0:col1]
    return lines[row0 - 1][col0:] + "".join(lines[row0:row1 - 1]) + lines[row1 - 1][:col1]


def data_source_files(package: Path) -> list[Path]:
    """The modules of ``package`` (the ``arseg_tutorial`` folder) whose code makes a generated,
    encoded clip (sorted)."""
    return sorted([*(package / "scenes").glob("*.py"), *(package / "codec").glob("*.py")])


def _data_module_parts(source: str) -> str:
    """``DATA_FORMAT_VERSION`` and ``encode_clip`` of ``train/data.py`` (the rest does not change
    what a clip holds)."""
    parts = []
    for node in ast.parse(source).body:
        names = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        if getattr(node, "name", None) == "encode_clip" or "DATA_FORMAT_VERSION" in names:
            parts.append(ast.get_source_segment(source, node, padded=True))
    return "\n".join(parts) + "\n"


def source_fingerprint(package: Path | None = None) -> str:
    """A short hash of the code that generates and encodes the clips (see the module docstring).

    Args:
        package: the ``arseg_tutorial`` folder to read (default: this one, read once per process).
    """
    return _installed_fingerprint() if package is None else _fingerprint(Path(package))


@functools.lru_cache(maxsize=1)
def _installed_fingerprint() -> str:
    return _fingerprint(Path(__file__).resolve().parent.parent)


def _fingerprint(package: Path) -> str:
    digest = hashlib.sha256()
    for path in data_source_files(package):
        digest.update(f"{path.relative_to(package).as_posix()}:".encode())
        digest.update("\x00".join(code_tokens(path.read_text())).encode())
    data_source = _data_module_parts((package / "train" / "data.py").read_text())
    digest.update("\x00".join(code_tokens(data_source)).encode())
    return digest.hexdigest()[:16]


def library_fingerprint() -> str:
    """The versions of the libraries the encoded clips depend on, e.g. "av 18.1.0, FFmpeg 8.1.2,
    numpy 2.4.6"."""
    import av
    import numpy

    return f"av {av.__version__}, FFmpeg {getattr(av, 'ffmpeg_version_info', '?')}, numpy {numpy.__version__}"
