"""The ``geocalliper`` command: its parser, one-line errors and hints in the command's flags.

The subcommands live one group per module, each adding its own with ``register(sub)``:
:mod:`~.models` (``demo``, ``pretrain``), :mod:`~.embed` (``embed``, ``grid``, ``h3``),
:mod:`~.maps` (``query``, ``label``), :mod:`~.mobility` (``fit-predictor``,
``pretrain-activity``, ``predict``, ``evaluate``), :mod:`~.gps` (``gps-to-visits``,
``split``) and :mod:`~.files` (``clean``). Each
subcommand hands off to the library; errors are one clear line on stderr and a non-zero
exit status.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from . import embed, files, gps, maps, mobility, models

#: the groups of subcommands, in the order ``geocalliper --help`` lists them
GROUPS = (models, embed, maps, mobility, gps, files)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``geocalliper`` command."""
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="geocalliper",
        description="CaLLiPer location embeddings for GeoPandas.",
        epilog=(
            "Start with 'geocalliper demo' (real Helsinki OSM data, about 15 s); "
            "'geocalliper COMMAND --help' shows each command's options and examples."
        ),
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--version", action="version", version=f"geocalliper {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


#: ``gdf.calliper.embed(model, how='mean')`` in a library hint: the argument alone
_PY_CALL = re.compile(r"gdf\.calliper\.embed\(model, (\w+=[^)]*)\)")
#: ``name='value'`` / ``name=value`` in a library hint
_KWARG = re.compile(r"\b([a-z][a-z_]*)=('[^']*'|\"[^\"]*\"|[\w.\-]+)")


def cli_hint(message: str, flags: frozenset[str] | set[str]) -> str:
    """Rewrite the Python arguments a library message suggests (``how='mean'``) as the
    command's flags (``--how mean``) where the command has that flag.

    Examples
    --------
    >>> cli_hint("Pass how='centroid' or text='A place of {fclass}'.", {"--how", "--text"})
    "Pass --how centroid or --text 'A place of {fclass}'."
    """
    message = _PY_CALL.sub(r"\1", message)

    def flag(m: re.Match) -> str:
        name, value = "--" + m.group(1).replace("_", "-"), m.group(2)
        if name not in flags:
            return m.group(0)
        if value[:1] in "'\"" and re.fullmatch(r"[\w.\-]+", value[1:-1]):
            value = value[1:-1]
        return f"{name} {value}"

    return _KWARG.sub(flag, message)


def _check_out(out: str | None) -> None:
    """Refuse an ``--out`` below a file before any work (not "[Errno 17] File exists")."""
    if not out:
        return
    for parent in Path(out).parents:
        if parent.exists() and not parent.is_dir():
            raise ValueError(
                f"Cannot write --out {out}: {parent} is a file, not a folder. Choose an "
                "--out in an existing folder or a new one."
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``geocalliper`` console script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    sub = getattr(args, "command_parser", None)  # the hints of a library message use its flags
    flags = frozenset(sub._option_string_actions) if sub is not None else frozenset()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = " ".join(str(message).split())
        print(f"geocalliper: warning: {cli_hint(text, flags)}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show  # one line each, with the command's flags
            _check_out(getattr(args, "out", None))
            return int(args.func(args))
    except KeyboardInterrupt:
        print("geocalliper: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, not a traceback
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"geocalliper: error: {cli_hint(message, flags)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
