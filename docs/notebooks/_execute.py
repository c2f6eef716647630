"""Execute the docs' notebooks: each ``*.py`` here (jupytext percent format) becomes the
``.ipynb`` beside it, with its outputs, which the docs show as they are (``make notebooks``).

The kernel is this Python (``python3``, from ipykernel), run in this folder; a failing
cell stops with its error and leaves the committed notebook as it was.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    sources = [HERE / f"{n}.py" for n in names] if names else sorted(HERE.glob("[!_]*.py"))
    for source in sources:
        start = time.perf_counter()
        nb = jupytext.read(source)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}  # fmt: skip
        NotebookClient(
            nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
        ).execute()
        target = source.with_suffix(".ipynb")
        tmp = target.with_suffix(".ipynb.tmp")
        nbformat.write(nb, tmp)
        tmp.replace(target)
        print(f"{target.name}: {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
