"""The ``geocalliper`` command line (:mod:`~.app`: the parser, :func:`main` and its errors)."""

from .app import build_parser, cli_hint, main

__all__ = ["build_parser", "cli_hint", "main"]
