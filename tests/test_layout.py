"""The package's layout: imports point one way, down a declared order of layers.

The import graph is read from the source with :mod:`ast` (nothing is imported): an edge
``a -> b`` for every ``import``/``from … import`` in module ``a`` that names module ``b``
of the package, at module level or inside a function. Two kinds of import are not edges:

* imports under ``if TYPE_CHECKING:`` never run, so they cannot close a circle at run
  time; they let a lower layer *name* the estimator in annotations (``model: CaLLiPer``)
  while taking any object with ``embed_coords``/``crs_``. They are allowed.
* the parent packages Python runs before a module (``geocalliper/__init__.py`` before
  ``geocalliper.spatial.raster``) are not edges: the package root is the public face,
  at the top, and nothing below it imports it.

The graph must have no circle at module level, and every edge must go to the same
layer or a lower one of :data:`LAYERS`. The deprecated one-release shims at the old
paths (``geocalliper.raster`` …) must not be used inside the package.
"""

from __future__ import annotations

import ast
import importlib
import sys
import warnings
from pathlib import Path

import pytest

import geocalliper as gc

PACKAGE = Path(gc.__file__).resolve().parent

#: Layers, lowest first. A module belongs to the layer of the longest prefix that names
#: it; it may import modules of its own layer or of a lower one.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "shared leaves",
        (
            "geocalliper.exceptions",
            "geocalliper._constants",
            "geocalliper._optional",
            "geocalliper._params",
            "geocalliper._version",
            "geocalliper.tempfiles",
            "geocalliper.text",
            "geocalliper.datasets",
        ),
    ),
    ("encoders: tensors in, tensors out", ("geocalliper.encoders",)),
    ("spatial: geometry <-> coordinates, for any fitted encoder", ("geocalliper.spatial",)),
    ("io: files in and out, map styles", ("geocalliper.io",)),
    ("zeroshot: texts scored against places", ("geocalliper.zeroshot",)),
    ("calliper: the estimator and its training", ("geocalliper.calliper",)),
    # embed_dask loads a saved model by path on each worker, so it needs the estimator
    ("users of the estimator", ("geocalliper.mobility", "geocalliper.spatial.dask")),
    (
        "faces: the accessor, the command line, the demo, the package root",
        ("geocalliper", "geocalliper.accessor", "geocalliper.cli", "geocalliper.demo"),
    ),
]

#: Old module paths kept for one release: each hands back the module that moved.
SHIMS = {
    "geocalliper.area": "geocalliper.spatial.area",
    "geocalliper.coords": "geocalliper.spatial.coords",
    "geocalliper.dask": "geocalliper.spatial.dask",
    "geocalliper.h3cells": "geocalliper.spatial.h3cells",
    "geocalliper.raster": "geocalliper.spatial.raster",
    "geocalliper.reduce": "geocalliper.spatial.reduce",
    "geocalliper.geotiff": "geocalliper.io.geotiff",
    "geocalliper.persistence": "geocalliper.io.persistence",
    "geocalliper.poi": "geocalliper.io.poi",
    "geocalliper.vector": "geocalliper.io.vector",
}

#: A module longer than this many lines says why in a ``Length:`` paragraph of its
#: docstring.
MAX_LINES = 500


# ------------------------------------------------------------------------ the graph
def module_files(root: Path = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package ``__init__``) for every ``.py`` under ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for stmt in node.body:
                    skip.update(id(n) for n in ast.walk(stmt))
    return skip


def imports_of(
    name: str, source: str, is_pkg: bool, modules: set[str]
) -> tuple[set[str], set[str]]:
    """The package modules ``name`` imports: (run-time edges, ``TYPE_CHECKING``-only)."""
    tree = ast.parse(source)
    typing_only = _type_checking_nodes(tree)
    run, typed = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # ``from pkg import sub`` names the module pkg.sub; ``from mod import f``, mod
            subs = [f"{prefix}.{a.name}" for a in node.names if f"{prefix}.{a.name}" in modules]
            targets = subs if len(subs) == len(node.names) else [*subs, prefix]
        else:
            continue
        for target in targets:
            while target not in modules and "." in target:  # geocalliper.x.f -> geocalliper.x
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name:
                (typed if id(node) in typing_only else run).add(target)
    return run, typed - run


def import_graph(root: Path = PACKAGE) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Run-time and ``TYPE_CHECKING``-only import edges of every module of the package."""
    files = module_files(root)
    names = set(files)
    run, typed = {}, {}
    for name, (path, is_pkg) in files.items():
        run[name], typed[name] = imports_of(name, path.read_text("utf-8"), is_pkg, names)
    return run, typed


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of ``graph`` as ``[a, b, …, a]``, or ``None`` (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def layer_of(module: str, layers: list[tuple[str, tuple[str, ...]]] = LAYERS) -> int:
    """Index in ``layers`` of the longest prefix naming ``module``."""
    best, depth = None, -1
    for i, (_, prefixes) in enumerate(layers):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > depth:
                best, depth = i, len(prefix)
    if best is None:
        raise KeyError(f"{module} is in no layer: add it to LAYERS in tests/test_layout.py")
    return best


def upward_edges(
    graph: dict[str, set[str]], layers: list[tuple[str, tuple[str, ...]]] = LAYERS
) -> list[str]:
    """Every edge that goes to a higher layer, as ``"a (layer) -> b (layer)"``."""
    bad = []
    for a, targets in sorted(graph.items()):
        for b in sorted(targets):
            la, lb = layer_of(a, layers), layer_of(b, layers)
            if lb > la:
                bad.append(f"{a} ({layers[la][0]}) -> {b} ({layers[lb][0]})")
    return bad


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    run, _ = import_graph()
    return {name: targets for name, targets in run.items() if name not in SHIMS}


# ------------------------------------------------------------------------ self-checks
def test_the_checks_catch_a_circle_and_an_upward_import() -> None:
    layers = [("low", ("p.low",)), ("high", ("p.high",))]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert upward_edges({"p.low.x": {"p.high.y"}, "p.high.y": set()}, layers) == [
        "p.low.x (low) -> p.high.y (high)"
    ]
    assert upward_edges({"p.high.y": {"p.low.x"}, "p.low.x": set()}, layers) == []
    with pytest.raises(KeyError, match="no layer"):
        layer_of("q.elsewhere", layers)


def test_the_parser_sees_function_level_imports_and_sets_type_only_ones_apart() -> None:
    modules = {"pkg", "pkg.low", "pkg.high", "pkg.high.sub"}
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import high\n"
        "if TYPE_CHECKING:\n"
        "    from .high.sub import Thing\n"
        "def f():\n"
        "    from .high import sub\n"
    )
    run, typed = imports_of("pkg.low", source, False, modules)
    assert run == {"pkg.high", "pkg.high.sub"}
    assert typed == set()  # also imported at run time
    source = "if TYPE_CHECKING:\n    from .high import x\n"
    run, typed = imports_of("pkg.low", source, False, modules)
    assert run == set() and typed == {"pkg.high"}


def test_the_real_graph_has_the_edges_the_code_makes(graph) -> None:
    """The parser reads this package: known edges (one inside a method) are there."""
    assert "geocalliper.spatial.reduce" in graph["geocalliper.calliper.estimator"]
    assert "geocalliper.zeroshot.scoring" in graph["geocalliper.calliper.estimator"]
    assert "geocalliper.spatial.raster" in graph["geocalliper.zeroshot.maps"]
    _, typed = import_graph()
    assert "geocalliper.calliper" in typed["geocalliper.spatial.raster"]  # annotation only
    assert "geocalliper.calliper" not in graph["geocalliper.spatial.raster"]


# ------------------------------------------------------------------------ the rules
def test_no_import_circle(graph) -> None:
    assert find_cycle(graph) is None, f"import circle: {' -> '.join(find_cycle(graph))}"


def test_imports_only_go_down_the_layers(graph) -> None:
    bad = upward_edges(graph)
    assert not bad, "imports from a lower layer to a higher one:\n" + "\n".join(bad)


def test_every_module_has_a_layer(graph) -> None:
    for name in graph:
        layer_of(name)


def test_the_package_does_not_use_its_deprecated_paths(graph) -> None:
    used = sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets if b in SHIMS)
    assert not used, "import the new paths inside the package:\n" + "\n".join(used)


def test_long_modules_say_why() -> None:
    silent = []
    for name, (path, _) in module_files().items():
        text = path.read_text("utf-8")
        n = text.count("\n")
        doc = ast.get_docstring(ast.parse(text)) or ""
        if n > MAX_LINES and "Length:" not in doc:
            silent.append(f"{name} ({n} lines)")
    assert not silent, (
        f"modules over {MAX_LINES} lines without a 'Length:' reason in their docstring: "
        + ", ".join(silent)
    )


# ------------------------------------------------------------------------ old paths
@pytest.mark.parametrize("old, new", sorted(SHIMS.items()))
def test_old_paths_give_the_moved_module_with_a_warning(old, new, monkeypatch) -> None:
    moved = importlib.import_module(new)
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert module is moved


def test_old_names_still_import_the_same_objects() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from geocalliper.geotiff import to_geotiff, write_png
        from geocalliper.raster import _size, embed_grid, grid_spec, to_rgb
        from geocalliper.reduce import embed_geometries
    from geocalliper.cli import build_parser, main
    from geocalliper.io.geotiff import to_geotiff as new_to_geotiff
    from geocalliper.spatial.grid import _size as new_size
    from geocalliper.spatial.grid import grid_spec as new_grid_spec
    from geocalliper.zeroshot import label_colors, preview_rgb, similarity, text_vectors

    assert to_geotiff is new_to_geotiff is gc.to_geotiff
    assert write_png is gc.write_png
    assert embed_grid is gc.embed_grid and to_rgb is gc.to_rgb
    assert grid_spec is new_grid_spec and _size is new_size
    assert embed_geometries is gc.embed_geometries
    assert similarity is gc.similarity
    assert label_colors is importlib.import_module("geocalliper.io.style").label_colors
    assert preview_rgb is importlib.import_module("geocalliper.io.style").preview_rgb
    assert text_vectors is importlib.import_module("geocalliper.zeroshot.texts").text_vectors
    assert callable(main) and build_parser().prog == "geocalliper"


def test_public_names_are_importable_from_the_package() -> None:
    for name in gc.__all__:
        assert getattr(gc, name) is not None, name


def test_every_public_name_resolves_and_the_gps_pipeline_loads_no_torch() -> None:
    import subprocess
    import sys

    import geocalliper
    import geocalliper.mobility

    for package in (geocalliper, geocalliper.mobility):
        for name in package.__all__:
            assert getattr(package, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute"):
        geocalliper.not_a_name  # noqa: B018
    # a fresh interpreter: the GPS pipeline and the accessor without torch (lazy imports)
    code = (
        "import sys, geocalliper, geocalliper.mobility.staypoints, geocalliper.mobility.gpsio;"
        "import geopandas as gpd; assert hasattr(gpd.GeoDataFrame, 'calliper');"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
