"""What every group of subcommands shares: how a subcommand is added, common help texts."""

from __future__ import annotations

import argparse
from collections.abc import Callable

MODEL_HELP = "model directory written by pretrain"
AREA_HELP = "study-area file (GeoPackage, GeoJSON, GeoParquet …)"


def add_command(
    sub: argparse._SubParsersAction,
    name: str,
    summary: str,
    func: Callable[[argparse.Namespace], int],
    examples: str,
) -> argparse.ArgumentParser:
    """A subcommand ``name`` running ``func(args)``, with its worked ``examples`` as epilog.

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="geocalliper")
    >>> sub = parser.add_subparsers(dest="command", required=True)
    >>> cmd = add_command(sub, "hello", "say hello", lambda args: 0, "example: hello")
    >>> parser.parse_args(["hello"]).func(None)
    0
    """
    cmd = sub.add_parser(
        name,
        help=summary,
        epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.set_defaults(func=func, command_parser=cmd)
    return cmd
