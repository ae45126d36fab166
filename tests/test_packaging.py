"""The three descriptions of the environment (pyproject, environment.yml, requirements.lock)
name the same packages, and the lock pins every one of them exactly."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement string ("torch>=2.2" -> "torch")."""
    name = re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject_names() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [req for group in project["optional-dependencies"].values() for req in group]
    return {_name(req) for req in project["dependencies"] + extras}


def _environment_yml_names() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    names = set()
    for line in lines[start + 1:]:
        match = re.match(r"^\s+-\s+(\S+)", line)
        if match:
            names.add(_name(match.group(1)))
    return names


def _lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"requirements.lock line {line!r} is not an exact pin (name==version)"
            pins[_name(name)] = version
    return pins


def test_environment_yml_lists_the_pyproject_packages():
    assert _environment_yml_names() == _pyproject_names()


def test_lock_pins_every_declared_package():
    pins = _lock_pins()
    missing = _pyproject_names() - set(pins)
    assert not missing, f"requirements.lock lacks {sorted(missing)}"
    assert pins["torch"] == "2.13.0", "torch must stay pinned to 2.13.0 (the CPU build on local disk)"


def test_lock_matches_installed_versions():
    """The environment the tests run in is the one the lock describes (make installs it)."""
    from importlib.metadata import PackageNotFoundError, version

    mismatched = []
    for name in _pyproject_names():
        try:
            installed = version(name).split("+")[0]
        except PackageNotFoundError:
            mismatched.append(f"{name} not installed")
            continue
        if installed != _lock_pins()[name]:
            mismatched.append(f"{name} {installed} != lock {_lock_pins()[name]}")
    assert not mismatched, mismatched


def test_cli_lists_its_commands():
    result = subprocess.run([sys.executable, "-m", "arseg_tutorial", "--help"],
                            capture_output=True, text=True, check=True)
    assert "info" in result.stdout


def test_unknown_profile_is_a_clear_error():
    from arseg_tutorial.config import get_profile

    import pytest

    with pytest.raises(ValueError, match="ci.*laptop.*paper"):
        get_profile("fastest")
