"""MkDocs hook: turn the Sphinx roles of the docstrings into links.

The docstrings are numpy style and refer to other objects with Sphinx roles
(:func:`~geocalliper.spatial.raster.embed_grid`, :meth:`fit`, :math:`\\omega_s` ...), which
Markdown renders as the role name followed by inline code. Once every page is
rendered (``on_env``, before mkdocs-autorefs resolves cross-references), each role is
replaced by its inline code, linked where the name is an object documented in the
API reference: a qualified name as it is, a short one looked up from the object
whose documentation holds it outwards (as Python scoping would), then by its last
component. Names that resolve to nothing stay plain code, without a warning.
"""

from __future__ import annotations

import re
from typing import Any

from mkdocs.plugins import event_priority

ROLE = re.compile(
    r":(?:py:)?(?P<role>func|class|meth|mod|attr|data|exc|obj|const|math):"
    r"<code>(?P<name>[^<]*)</code>"
)
ANCHOR = re.compile(r'id="(geocalliper(?:\.[A-Za-z_]\w*)*)"')
CODE = "<code>{}</code>"


def _known(pages: list[Any]) -> set[str]:
    ids: set[str] = set()
    for page in pages:
        ids.update(ANCHOR.findall(page.content or ""))
    return ids


def _resolve(name: str, scope: str | None, known: set[str]) -> str | None:
    name = name.lstrip(".")
    if name in known:
        return name
    if scope:
        parts = scope.split(".")
        for i in range(len(parts), 0, -1):
            candidate = ".".join([*parts[:i], name])
            if candidate in known:
                return candidate
    # re-exports (geocalliper.embed_grid) and names from elsewhere: by their tail,
    # module-level objects first, then the shortest
    tail = "." + name.rsplit(".", 1)[-1]
    matches = sorted((k for k in known if k.endswith(tail)), key=lambda k: (k.count("."), k))
    return matches[0] if matches else None


def _rewrite(html: str, known: set[str]) -> str:
    anchors = [(m.start(), m.group(1)) for m in ANCHOR.finditer(html)]

    def scope_at(pos: int) -> str | None:
        scope = None
        for start, ident in anchors:
            if start > pos:
                break
            scope = ident
        return scope

    def replace(match: re.Match) -> str:
        raw = match["name"]
        if match["role"] == "math":
            return CODE.format(raw)
        short = raw.startswith("~")
        name = raw.lstrip("~")
        shown = name.rsplit(".", 1)[-1] if short else name.lstrip(".")
        if match["role"] in ("func", "meth"):
            shown += "()"
        target = _resolve(name, scope_at(match.start()), known)
        if target is None:
            return CODE.format(shown)
        return f'<autoref identifier="{target}" optional>{CODE.format(shown)}</autoref>'

    return ROLE.sub(replace, html)


@event_priority(0)  # before mkdocs-autorefs (-50) resolves the <autoref> tags
def on_env(env: Any, config: Any, files: Any) -> Any:
    pages = [f.page for f in files if f.page is not None and f.page.content]
    known = _known(pages)
    for page in pages:
        if ":<code>" in page.content:
            page.content = _rewrite(page.content, known)
    return env
