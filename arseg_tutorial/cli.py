"""The command line: ``python -m arseg_tutorial --help`` lists the commands.

Each command is a function ``cmd_<name>(args) -> int`` registered in ``_build_parser``.
"""
from __future__ import annotations

import argparse
import sys


def cmd_info(args: argparse.Namespace) -> int:
    """Print versions, device, threads and the active profile."""
    from arseg_tutorial.config import describe_environment, get_profile

    for key, value in describe_environment().items():
        print(f"{key:>14}: {value}")
    print(f"{'profile':>14}: {get_profile()}")
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m arseg_tutorial",
        description="AR-Seg tutorial: efficient segmentation of compressed video.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = commands.add_parser("info", help="print versions, device and the active profile")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]) and run the chosen command; returns the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
