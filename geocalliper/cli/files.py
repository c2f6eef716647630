"""``geocalliper clean``: remove the temporaries that killed writes left behind."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_command

#: worked examples, the epilog of each subcommand's --help
EXAMPLES = {
    "clean": (
        "examples:\n"
        "  geocalliper clean maps/\n"
        "  geocalliper clean maps/ --dry-run\n"
        "Removes the hidden temporaries (.NAME.geocalliper-tmp-…) that writes killed\n"
        "midway left behind; outputs and the temporaries of running writes are kept."
    ),
}


def _cmd_clean(args: argparse.Namespace) -> int:
    from ..tempfiles import clean_temporaries, stale_temporaries

    folder = Path(args.folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{str(folder)!r} is not a folder: give the output folder.")
    found = stale_temporaries(folder) if args.dry_run else clean_temporaries(folder)
    for path in found:
        print(path)
    total = sum(p.stat().st_size for p in found if p.exists()) if args.dry_run else None
    if args.dry_run:
        print(f"{len(found)} stale temporaries ({total:,} bytes) would be removed from {folder}.")
    else:
        print(f"Removed {len(found)} stale temporaries from {folder}.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``clean`` to the ``geocalliper`` command (``sub``: its subparsers)."""

    def command(name: str, summary: str, func) -> argparse.ArgumentParser:
        return add_command(sub, name, summary, func, EXAMPLES[name])

    clean = command("clean", "remove temporaries that killed writes left in a folder", _cmd_clean)
    clean.add_argument("folder", help="the folder to clean (not its sub-folders)")
    clean.add_argument("--dry-run", action="store_true", help="only list what would go")
