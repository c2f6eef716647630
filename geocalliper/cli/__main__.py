"""``python -m geocalliper.cli`` runs the command-line interface."""

from .app import main

raise SystemExit(main())
