"""``python -m geocalliper`` runs the command-line interface."""

from .cli.app import main

raise SystemExit(main())
