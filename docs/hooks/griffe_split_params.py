"""Griffe extension: document parameters named together one by one.

numpy docstrings may describe several parameters in one entry
(``lambda_min, lambda_max`` followed by one description). Griffe then gives every
name the type and default of the first one found in the signature, so the API
reference would show, say, ``lambda_max`` with the default of ``lambda_min``. This
extension rewrites such an entry, in the text of the docstring before it is parsed,
as one entry per name with the same description (and type, when one is written);
the types and defaults then come from each parameter's own place in the signature.
The docstrings in the code are left as they are.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

SECTIONS = ("Parameters", "Other Parameters")
UNDERLINE = re.compile(r"-{3,}")


def split_combined(text: str) -> str:
    """Split ``a, b[ : type]`` entries of the parameter sections of a numpy docstring."""
    lines = text.split("\n")
    out: list[str] = []
    in_params = False
    i = 0
    while i < len(lines):
        line = lines[i]
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and not line[0].isspace() and UNDERLINE.fullmatch(following.strip()):
            in_params = line.strip() in SECTIONS
            out += [line, following]
            i += 2
            continue
        names, sep, kind = line.partition(" : ")
        if in_params and line and not line[0].isspace() and "," in names:
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or lines[j][0].isspace()):
                j += 1
            body = lines[i + 1 : j]
            while body and not body[-1].strip():  # keep blank lines between entries
                body.pop()
            for name in (n.strip() for n in names.split(",")):
                out.append(f"{name}{sep}{kind}")
                out += body
            out += [""] * (j - i - 1 - len(body))
            i = j
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class SplitCombinedParameters(griffe.Extension):
    """Rewrite combined parameter entries of every loaded docstring."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        docstring = getattr(obj, "docstring", None)
        if docstring is not None and ", " in docstring.value:
            docstring.value = split_combined(docstring.value)
