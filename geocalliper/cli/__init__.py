"""The ``geocalliper`` command line, one module per group of subcommands.

- :mod:`~.app`: the parser, :func:`main` (the console script) and one-line errors;
- :mod:`~.models`: ``demo``, ``pretrain``;
- :mod:`~.embed`: ``embed``, ``grid``, ``h3``;
- :mod:`~.maps`: ``query``, ``label`` (zero-shot maps);
- :mod:`~.mobility`: ``fit-predictor``, ``pretrain-activity``, ``predict``, ``evaluate``;
- :mod:`~.files`: ``clean``.

A new group is a module with ``register(sub)`` (``sub``: the subparsers of
:func:`build_parser`) listed in :data:`~.app.GROUPS`.
"""

from .app import build_parser, cli_hint, main

__all__ = ["build_parser", "cli_hint", "main"]
