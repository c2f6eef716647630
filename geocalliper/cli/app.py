"""The ``geocalliper`` command: ``demo``, ``pretrain``, ``embed``, ``grid``, ``h3``,
``query``, ``label``, ``fit-predictor``, ``predict``, ``evaluate`` and ``clean``.

Each subcommand hands off to the library; errors are one clear line on stderr and a
non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..io.vector import read_area, write_vector

EXAMPLES = {
    "demo": "example: geocalliper demo --out ./geocalliper-demo",
    "pretrain": (
        "examples:\n  geocalliper pretrain city.osm.pbf --out city-model\n"
        "  geocalliper pretrain pois.csv --text 'A place of {fclass}' --out nyc-model"
    ),
    "embed": "example: geocalliper embed city-model places.gpkg --out places-embedded.parquet",
    "grid": (
        "examples:\n"
        "  geocalliper grid city-model city.gpkg --resolution 25 --out city.tif\n"
        "  geocalliper grid city-model pois.parquet --resolution 100 --crs EPSG:3067 "
        "--out city.tif\n"
        "Writes OUT (one band per embedding dimension) and an RGB preview beside it:\n"
        "OUT-rgb.tif (3 principal components) and OUT-rgb.png. An area of points or\n"
        "lines is replaced by their convex hull."
    ),
    "h3": (
        "examples:\n"
        "  geocalliper h3 city-model city.gpkg --res 9 --out city-h3.gpkg\n"
        "  geocalliper h3 city-model city.gpkg --res 10 --how mean --out city-h3.parquet"
    ),
    "query": (
        "examples:\n"
        "  geocalliper query city-model city.gpkg 'A place of cafe' --resolution 50 "
        "--out cafes.tif\n"
        "  geocalliper query city-model city.gpkg 'A place of cafe' --h3 9 --out cafes.gpkg"
    ),
    "label": (
        "examples:\n"
        "  geocalliper label city-model city.gpkg --label 'food=A place of Food' \\\n"
        "      --label 'parks=A place of Outdoors & Recreation' --resolution 100 "
        "--out labels.tif\n"
        "  geocalliper label city-model city.gpkg --labels labels.json --h3 9 "
        "--out labels.gpkg\n"
        "labels.json: a list of texts, or an object name -> text."
    ),
    "fit-predictor": (
        "examples:\n"
        "  geocalliper fit-predictor checkins.csv --out nyc-next\n"
        "  geocalliper fit-predictor checkins.csv --calliper nyc-model --head inductive "
        "--out nyc-next\n"
        "The visits file has user_id, started_at, a point (lon/lat or WKT) and optionally\n"
        "location_id, finished_at or duration, and split (train/valid/test)."
    ),
    "pretrain-activity": (
        "example:\n"
        "  geocalliper pretrain-activity staypoints.csv --out activity-model\n"
        "  geocalliper fit-predictor staypoints.csv --calliper activity-model --out next\n"
        "Pre-trains CaLLiPer on a text describing each training visit's activity (time of\n"
        "day, weekday/weekend, length of stay): for study areas without a POI set."
    ),
    "predict": (
        "examples:\n"
        "  geocalliper predict nyc-next recent.csv --k 10 --out next.gpkg\n"
        "  geocalliper predict nyc-next recent.csv --candidates places.gpkg --out next.parquet"
    ),
    "evaluate": (
        "example: geocalliper evaluate nyc-next checkins.csv --split test --out metrics.json"
    ),
    "clean": (
        "examples:\n"
        "  geocalliper clean maps/\n"
        "  geocalliper clean maps/ --dry-run\n"
        "Removes the hidden temporaries (.NAME.geocalliper-tmp-…) that writes killed\n"
        "midway left behind; outputs and the temporaries of running writes are kept."
    ),
}


#: grids bigger than this (bytes) are embedded block by block and streamed to disk
STREAM_ABOVE = 1 << 30
#: grids bigger than this (bytes, before compression) need --yes
CONFIRM_ABOVE = 10 * 1000**3
#: the PNG preview: at most this many pixels a side (thinned), at least this many (enlarged)
PREVIEW_MAX = 4096
PREVIEW_MIN = 600


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    summary = run_demo(
        Path(args.out), max_epochs=args.max_epochs, seed=args.seed, progress=not args.quiet
    )
    print(
        f"Pre-trained CaLLiPer on {summary['pois']} real OSM POIs of Helsinki "
        f"({summary['distinct_texts']} distinct texts) in {summary['seconds']} s: "
        f"{summary['steps_run']} steps, best step {summary['best_step']} "
        f"(validation loss {summary['best_val_loss']}), CRS {summary['crs']}."
    )
    print(f"  model:      {summary['model']}  (config.json + model.safetensors)")
    print(
        f"  embeddings: {summary['embeddings']}  (GeoParquet; open in QGIS or "
        "geopandas.read_parquet)"
    )
    print(f"  raster:     {summary['grid']}  (128 bands, 25 m; {summary['rgb']} as RGB)")
    print(f"  preview:    {summary['rgb_png']}")
    print(f"  H3 cells:   {summary['h3']}")
    print(f"  query map:  {summary['query']}   label map: {summary['labels']}")
    acc = summary["simulated_scores"]["acc@1"]
    print(
        f"  SIMULATED next-location demo: {summary['next_places']} "
        f"(test Acc@1 {acc} on simulated agents)"
    )
    print(f"  report:     {summary['report']}")
    print(
        "Open the .tif and .gpkg files in QGIS (Layer > Add Layer, or drag them in); "
        f"total {summary['total_seconds']} s."
    )
    return 0


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from .. import CaLLiPer, osm_text, read_pois

    path = Path(args.pois)
    pois = read_pois(path)
    text = args.text
    if text is None:
        if "key" in pois.columns and "value" in pois.columns:
            pois["text"] = osm_text(pois)
        text = "text"
    model = CaLLiPer(
        crs=args.crs,
        max_steps=args.max_steps,
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        encoding=args.encoding,
        seed=args.seed,
        text_model=args.text_model,
        progress=not args.quiet,
    ).fit(pois, text=text)
    out = model.save(args.out)
    print(
        f"Trained on {model.n_pois_} POIs ({int(model.history_['step'].iloc[-1])} steps, "
        f"best step {model.best_step_}); model written to {out}"
    )
    return 0


def _cmd_embed(args: argparse.Namespace) -> int:
    from .. import CaLLiPer, read_pois
    from ..spatial.reduce import embed_geometries

    model = CaLLiPer.load(args.model, progress=not args.quiet)
    points = read_pois(args.points)
    out = Path(args.out)
    write_vector(points.join(embed_geometries(model, points, how=args.how)), out)
    print(f"Embedded {len(points)} places into {model.embedding_dim} dimensions: {out}")
    return 0


def _polygonal_area(area, buffer: float = 0.0):
    """The area as polygons: points or lines become their convex hull (``buffer`` metres
    around it, measured in a local UTM zone); polygons are kept as they are."""
    import geopandas as gpd

    from ..spatial.area import as_area
    from ..spatial.coords import estimate_metric_crs

    geoms = as_area(area)
    kinds = set(geoms.geom_type)
    if kinds <= {"Polygon", "MultiPolygon"}:
        return geoms
    crs = estimate_metric_crs(geoms)
    hull = geoms.to_crs(crs).union_all().convex_hull.buffer(buffer)
    if hull.area <= 0:
        raise ValueError(
            "The area's points or lines span no area (a single point or a straight line): "
            "pass --buffer METRES to grow it, or give a polygon file."
        )
    around = f" with {buffer:g} m around it" if buffer else ""
    print(
        f"The area holds {', '.join(sorted(kinds))} geometries: using their convex hull{around}.",
        file=sys.stderr,
    )
    return gpd.GeoSeries([hull], crs=crs)


def _cmd_grid(args: argparse.Namespace) -> int:
    from .. import CaLLiPer
    from ..exceptions import GridTooLargeError
    from ..io.geotiff import to_geotiff, write_png
    from ..spatial.raster import DEFAULT_MAX_GRID_CELLS, _size, embed_grid, grid_spec, to_rgb

    out = Path(args.out)
    if out.suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(f"Cannot write {out.name!r}: the grid is a GeoTIFF, use .tif.")
    if args.resolution <= 0:
        raise ValueError(f"--resolution must be positive, got {args.resolution}.")
    model = CaLLiPer.load(args.model, progress=not args.quiet)
    area = _polygonal_area(read_area(args.area), buffer=args.buffer)
    max_cells = None if args.yes else DEFAULT_MAX_GRID_CELLS
    spec = grid_spec(model, area, args.resolution, crs=args.crs, max_cells=max_cells)
    size = f"{spec.ny:,} x {spec.nx:,} cells x {spec.bands} bands"
    if spec.nbytes > CONFIRM_ABOVE and not args.yes:
        raise GridTooLargeError(
            f"This grid is {size}: about {_size(spec.nbytes)} before compression, and "
            f"embedding {spec.ny * spec.nx:,} cells takes long. Pass --yes to write it "
            "anyway, or use a coarser --resolution (doubling it makes it 4x smaller) or a "
            "smaller area."
        )
    chunks = args.chunks
    if chunks is None:
        chunks = 1024 if spec.nbytes > STREAM_ABOVE else None
    if chunks is not None:
        print(
            f"Streaming a {size} grid ({_size(spec.nbytes)} before compression) to {out} "
            "block by block.",
            file=sys.stderr,
        )
    grid = embed_grid(
        model,
        area,
        args.resolution,
        crs=args.crs,
        chunks=chunks,
        max_cells=max_cells,
        progress=not args.quiet,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    to_geotiff(grid, out, progress=not args.quiet, max_cells=max_cells)
    rgb = to_rgb(grid)
    rgb_tif = to_geotiff(
        rgb, out.with_name(out.stem + "-rgb.tif"), progress=not args.quiet, max_cells=max_cells
    )
    ny, nx = grid.sizes["y"], grid.sizes["x"]
    step = max(1, -(-max(ny, nx) // PREVIEW_MAX))
    small = rgb if step == 1 else rgb[:, ::step, ::step]
    png = write_png(small, out.with_name(out.stem + "-rgb.png"), min_size=PREVIEW_MIN)
    print(
        f"Embedded a {ny} x {nx} grid ({args.resolution:g} {_unit(grid)} cells, "
        f"{grid.sizes['band']} bands, CRS {grid.rio.crs.to_string()}): {out}"
    )
    print(f"  RGB preview: {rgb_tif} and {png}")
    return 0


def _unit(da) -> str:
    crs = da.rio.crs
    return "degree" if crs is not None and crs.is_geographic else "m"


def _cmd_h3(args: argparse.Namespace) -> int:
    from .. import CaLLiPer
    from ..spatial.h3cells import embed_h3

    out = Path(args.out)
    if out.suffix.lower() not in (".gpkg", ".parquet", ".geoparquet"):
        raise ValueError(f"Cannot write {out.name!r}: use .gpkg or .parquet for H3 cells.")
    model = CaLLiPer.load(args.model, progress=not args.quiet)
    area = read_area(args.area)
    if not args.points:
        area = _polygonal_area(area)
    cells = embed_h3(model, area, args.res, how=args.how, n_samples=args.samples)
    write_vector(cells, out)
    print(
        f"Embedded {len(cells)} H3 cells (resolution {args.res}, how={args.how!r}) into "
        f"{model.embedding_dim} dimensions: {out}"
    )
    return 0


def _visit_columns(args: argparse.Namespace) -> dict:
    """The column flags the user gave (unset ones keep the model's own names)."""
    names = {
        "user_col": args.user_col,
        "start_col": args.start_col,
        "location_col": args.location_col,
    }
    return {key: value for key, value in names.items() if value is not None}


def _read_visits(path: str, args: argparse.Namespace, split: str | None = None):
    """A visits file (CSV with lon/lat or WKT, GeoParquet, GeoPackage …), optionally
    restricted to one value of the split column."""
    from ..exceptions import EmptyDataError, MissingColumnError
    from ..io.poi import read_pois

    visits = read_pois(path)
    if split is not None:
        if args.split_col not in visits.columns:
            raise MissingColumnError(
                f"{path} has no {args.split_col!r} column to pick the {split!r} rows from; "
                "drop --split to use every row."
            )
        visits = visits[visits[args.split_col] == split]
        if visits.empty:
            raise EmptyDataError(f"{path} has no rows with {args.split_col} == {split!r}.")
    return visits


def _cmd_fit_predictor(args: argparse.Namespace) -> int:
    from ..mobility import NextLocationPredictor

    visits = _read_visits(args.visits, args)
    model = NextLocationPredictor(
        args.calliper,
        features=args.features,
        head=args.head,
        d_model=args.d_model,
        n_layers=args.n_layers,
        n_heads=args.n_heads,
        max_epochs=args.max_epochs,
        seed=args.seed,
        split_col=args.split_col,
        progress=not args.quiet,
        **_visit_columns(args),
    ).fit(visits)
    out = model.save(args.out)
    print(
        f"Trained a next-location predictor ({model!r}) on {model.n_train_targets_} targets "
        f"of {len(model.users_)} users and {len(model.locations_)} locations "
        f"({len(model.history_)} epochs, best {model.best_epoch_}); written to {out}"
    )
    return 0


def _cmd_pretrain_activity(args: argparse.Namespace) -> int:
    from ..mobility.recipes import pretrain_activity_calliper

    visits = _read_visits(args.visits, args)
    limits = {} if args.max_steps is None else {"max_steps": args.max_steps}
    model = pretrain_activity_calliper(
        visits,
        **limits,
        seed=args.seed,
        progress=not args.quiet,
        split_col=args.split_col,
        duration_col=args.duration_col,
        **_visit_columns(args),
    )
    out = model.save(args.out)
    print(f"Pre-trained CaLLiPer on {model.n_pois_} training visits' activity texts: {out}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from ..io.poi import read_pois
    from ..mobility import NextLocationPredictor

    model = NextLocationPredictor.load(args.model, progress=not args.quiet)
    model.set_params(**_visit_columns(args))  # the file's names, not the training file's
    history = _read_visits(args.history, args)
    candidates = read_pois(args.candidates) if args.candidates else None
    top = model.predict(history, k=args.k, candidates=candidates)
    out = Path(args.out)
    write_vector(top, out)
    print(f"Predicted the top {args.k} next places of {top.iloc[:, 0].nunique()} users: {out}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ..io.poi import read_pois
    from ..mobility import NextLocationPredictor
    from ..tempfiles import atomic_output

    model = NextLocationPredictor.load(args.model, progress=not args.quiet)
    model.set_params(**_visit_columns(args))  # the file's names, not the training file's
    visits = _read_visits(args.visits, args, split=args.split)
    candidates = read_pois(args.candidates) if args.candidates else None
    scores = model.evaluate(visits, candidates=candidates)
    text = json.dumps({k: round(v, 4) for k, v in scores.items()}, indent=2)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(out) as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
    return 0


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


def _labels(args: argparse.Namespace) -> dict[str, str] | list[str]:
    """Labels from repeated ``--label name=text`` or a JSON file (list or object)."""
    if args.labels and args.label:
        raise ValueError("Give labels either with --label or with --labels FILE, not both.")
    if args.labels:
        try:
            labels = json.loads(Path(args.labels).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"No labels file at {args.labels!r}.") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{args.labels} is not valid JSON ({exc}).") from None
        if not isinstance(labels, list | dict):
            raise ValueError(f"{args.labels} must hold a list of texts or an object name -> text.")
        return labels
    if not args.label:
        raise ValueError("No labels given: pass --label name=text (repeatable) or --labels FILE.")
    out: dict[str, str] = {}
    for item in args.label:
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise ValueError(f"--label {item!r} is not of the form name=text.")
        if name.strip() in out:
            raise ValueError(f"The label name {name.strip()!r} is given twice.")
        out[name.strip()] = text.strip()
    return out


def _map_output(args: argparse.Namespace) -> Path:
    if (args.resolution is None) == (args.h3 is None):
        raise ValueError("Give exactly one of --resolution (a raster) or --h3 RES (H3 cells).")
    out = Path(args.out)
    want = (".gpkg", ".parquet", ".geoparquet") if args.h3 is not None else (".tif", ".tiff")
    if out.suffix.lower() not in want:
        raise ValueError(f"Cannot write {out.name!r} here: use {' or '.join(want)}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _cmd_query(args: argparse.Namespace) -> int:
    from .. import CaLLiPer, to_geotiff
    from ..zeroshot.maps import query_grid, query_h3

    out = _map_output(args)
    model = CaLLiPer.load(args.model, progress=not args.quiet)
    area = read_area(args.area)
    if args.h3 is not None:
        cells = query_h3(model, area, args.text, args.h3)
        write_vector(cells, out)
        print(f"Scored {len(cells)} H3 cells (resolution {args.h3}) for {args.text!r}: {out}")
    else:
        grid = query_grid(model, area, args.text, args.resolution, crs=args.crs)
        to_geotiff(grid, out, progress=not args.quiet)
        ny, nx = grid.sizes["y"], grid.sizes["x"]
        print(f"Scored a {ny} x {nx} grid ({args.resolution} per cell) for {args.text!r}: {out}")
    return 0


def _cmd_label(args: argparse.Namespace) -> int:
    import numpy as np

    from .. import CaLLiPer, to_geotiff
    from ..zeroshot.maps import label_grid, label_h3

    labels = _labels(args)
    out = _map_output(args)
    model = CaLLiPer.load(args.model, progress=not args.quiet)
    area = read_area(args.area)
    if args.h3 is not None:
        cells = label_h3(model, area, labels, args.h3, probabilities=args.probabilities)
        write_vector(cells, out)
        counts = cells["label"].value_counts()
        n = len(cells)
    else:
        result = label_grid(
            model,
            area,
            labels,
            args.resolution,
            crs=args.crs,
            probabilities=args.probabilities,
        )
        label = result["label"] if args.probabilities else result
        to_geotiff(label, out, progress=not args.quiet)
        if args.probabilities:
            prob_out = out.with_name(out.stem + "-probability" + out.suffix)
            to_geotiff(result["probability"], prob_out, progress=not args.quiet)
            print(f"  probabilities: {prob_out}")
        names = label.attrs["category_names"]
        codes = label.values[label.values != label.rio.nodata]
        found, number = np.unique(codes, return_counts=True)
        counts = {names[c]: int(k) for c, k in zip(found, number, strict=True)}
        n = int(codes.size)
    shares = ", ".join(f"{k} {v / max(n, 1):.0%}" for k, v in dict(counts).items())
    print(f"Labelled {n} cells ({shares}): {out}")
    return 0


MODEL_HELP = "model directory written by pretrain"
AREA_HELP = "study-area file (GeoPackage, GeoJSON, GeoParquet …)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``geocalliper`` command."""
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="geocalliper",
        description="CaLLiPer location embeddings for GeoPandas.",
        epilog=(
            "Start with 'geocalliper demo' (real Helsinki OSM data, about 15 s); "
            "'geocalliper COMMAND --help' shows each command's options and examples."
        ),
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--version", action="version", version=f"geocalliper {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, summary: str, func) -> argparse.ArgumentParser:
        """A subcommand with its worked examples (``EXAMPLES[name]``) as epilog."""
        cmd = sub.add_parser(
            name,
            help=summary,
            epilog=EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        cmd.set_defaults(func=func, command_parser=cmd)
        return cmd

    demo = command("demo", "pre-train on the bundled Helsinki OSM extract", _cmd_demo)
    demo.add_argument("--out", default="geocalliper-demo", help="output folder")
    demo.add_argument("--max-epochs", type=int, default=200)
    demo.add_argument("--seed", type=int, default=0)

    pre = command("pretrain", "POI file -> model directory", _cmd_pretrain)
    pre.add_argument("pois", help=".osm.pbf, CSV, GeoParquet or GeoPackage of POIs")
    pre.add_argument("--out", required=True, help="model directory to write")
    pre.add_argument(
        "--text",
        default=None,
        help="text column or template like 'A place of {fclass}' "
        "(default: OSM tags in the reference style, or the 'text' column)",
    )
    pre.add_argument("--crs", default=None, help="projected CRS in metres (default: UTM)")
    pre.add_argument("--text-model", default=None, help="sentence-transformers name or path")
    pre.add_argument(
        "--max-steps", type=int, default=3000, help="optimiser steps at most (default 3000)"
    )
    pre.add_argument(
        "--max-epochs", type=int, default=None, help="passes over the POIs at most (no cap)"
    )
    pre.add_argument("--batch-size", type=int, default=256)
    pre.add_argument(
        "--encoding",
        default="rff",
        help="positional encoding: rff (default, isotropic), grid (the CaLLiPer reference), "
        "theory, or sphere (for areas wider than a UTM zone)",
    )
    pre.add_argument("--seed", type=int, default=0)

    emb = command("embed", "points file -> file with embedding columns", _cmd_embed)
    emb.add_argument("model", help=MODEL_HELP)
    emb.add_argument("points", help="points file (CSV, GeoParquet, GeoPackage …)")
    emb.add_argument("--out", required=True, help=".parquet, .gpkg or .csv to write")
    emb.add_argument(
        "--how",
        choices=["centroid", "mean"],
        default=None,
        help="lines and polygons: embed a point inside each (centroid), or average points "
        "sampled inside (mean); default: centroid, with a warning",
    )

    grid = command(
        "grid", "area file + resolution -> embedding GeoTIFF and an RGB preview", _cmd_grid
    )
    grid.add_argument("model", help=MODEL_HELP)
    grid.add_argument("area", help=AREA_HELP)
    grid.add_argument(
        "--resolution", type=float, required=True, help="cell size in the grid CRS' units"
    )
    grid.add_argument("--crs", default=None, help="grid CRS (default: the model's)")
    grid.add_argument(
        "--buffer",
        type=float,
        default=0.0,
        help="metres around the convex hull when the area holds points or lines",
    )
    grid.add_argument(
        "--chunks",
        type=int,
        default=None,
        help="cells per block side to stream a big grid (default: automatic above 1 GiB)",
    )
    grid.add_argument(
        "--yes",
        action="store_true",
        help="write grids over 10 GB (before compression) or 10^9 cells without asking",
    )
    grid.add_argument("--out", required=True, help="GeoTIFF to write (.tif)")

    h3 = command(
        "h3", "area file + H3 resolution -> GeoPackage/GeoParquet of cell embeddings", _cmd_h3
    )
    h3.add_argument("model", help=MODEL_HELP)
    h3.add_argument("area", help=AREA_HELP)
    h3.add_argument(
        "--res",
        "--resolution",
        dest="res",
        type=int,
        required=True,
        help="H3 resolution, 0-15 (9: ~0.1 km²)",
    )
    h3.add_argument(
        "--how",
        choices=["center", "mean"],
        default="center",
        help="embed each cell's centre, or average points sampled in it",
    )
    h3.add_argument("--samples", type=int, default=16, help="points per cell for --how mean")
    h3.add_argument(
        "--points",
        action="store_true",
        help="an area of points gives only the cells holding them (default: convex hull)",
    )
    h3.add_argument("--out", required=True, help=".gpkg or .parquet to write")

    def map_options(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "--resolution", type=float, default=None, help="raster cell size (CRS units)"
        )
        cmd.add_argument("--crs", default=None, help="raster CRS (default: the model's)")
        cmd.add_argument("--h3", type=int, default=None, metavar="RES", help="H3 cells instead")
        cmd.add_argument(
            "--out", required=True, help=".tif for a raster; .gpkg or .parquet for --h3"
        )

    query = command("query", "map how well each place of an area matches a text", _cmd_query)
    query.add_argument("model", help=MODEL_HELP)
    query.add_argument("area", help=AREA_HELP)
    query.add_argument("text", help="the query, e.g. 'A place of cafe'")
    map_options(query)

    label = command("label", "map the best-matching label of each place of an area", _cmd_label)
    label.add_argument("model", help=MODEL_HELP)
    label.add_argument("area", help=AREA_HELP)
    label.add_argument(
        "--label", action="append", default=[], metavar="NAME=TEXT", help="a label (repeat)"
    )
    label.add_argument("--labels", default=None, metavar="FILE", help="labels as JSON")
    label.add_argument(
        "--probabilities",
        action="store_true",
        help="also write each label's probability (raster: OUT-probability.tif)",
    )
    map_options(label)

    def visit_options(cmd: argparse.ArgumentParser) -> None:
        known = "default: user_id" if cmd is fit else "default: the predictor's"
        cmd.add_argument("--user-col", default=None, help=f"user column ({known})")
        known = known.replace("user_id", "started_at")
        cmd.add_argument("--start-col", default=None, help=f"start-time column ({known})")
        known = known.replace("started_at", "location_id")
        cmd.add_argument("--location-col", default=None, help=f"location-id column ({known})")
        cmd.add_argument("--split-col", default="split", help="split column (default: split)")

    fit = command(
        "fit-predictor", "visits file -> next-location predictor directory", _cmd_fit_predictor
    )
    fit.add_argument("visits", help="visits file (CSV, GeoParquet, GeoPackage …)")
    fit.add_argument("--out", required=True, help="model directory to write")
    fit.add_argument("--calliper", default=None, help="CaLLiPer model directory (optional)")
    fit.add_argument("--features", choices=["lookup", "calliper", "both"], default=None)
    fit.add_argument("--head", choices=["closed", "inductive"], default=None)
    fit.add_argument("--d-model", type=int, default=128)
    fit.add_argument("--n-layers", type=int, default=2)
    fit.add_argument("--n-heads", type=int, default=8)
    fit.add_argument("--max-epochs", type=int, default=50)
    fit.add_argument("--seed", type=int, default=0)
    visit_options(fit)

    act = command(
        "pretrain-activity",
        "visits file -> CaLLiPer pre-trained on the visits' activity texts",
        _cmd_pretrain_activity,
    )
    act.add_argument("visits", help="visits with start times and durations (minutes)")
    act.add_argument("--out", required=True, help="model directory to write")
    act.add_argument("--duration-col", default="duration")
    act.add_argument(
        "--max-steps", type=int, default=None, help="optimiser steps at most (default: CaLLiPer's)"
    )
    act.add_argument("--seed", type=int, default=0)
    visit_options(act)

    pred = command("predict", "recent visits -> the top-k next places of each user", _cmd_predict)
    pred.add_argument("model", help="predictor directory written by fit-predictor")
    pred.add_argument("history", help="recent visits of one or many users")
    pred.add_argument("--k", type=int, default=10)
    pred.add_argument("--candidates", default=None, help="places to rank (default: known)")
    pred.add_argument("--out", required=True, help=".gpkg, .parquet or .csv to write")
    visit_options(pred)

    ev = command(
        "evaluate", "Acc@1/5/10, MRR, NDCG@10, weighted F1 of a predictor on visits", _cmd_evaluate
    )
    ev.add_argument("model", help="predictor directory written by fit-predictor")
    ev.add_argument("visits", help="visits file")
    ev.add_argument("--split", default=None, help="only rows of this split, e.g. test")
    ev.add_argument("--candidates", default=None, help="places to rank")
    ev.add_argument("--out", default=None, help="also write the metrics as JSON")
    visit_options(ev)

    clean = command("clean", "remove temporaries that killed writes left in a folder", _cmd_clean)
    clean.add_argument("folder", help="the folder to clean (not its sub-folders)")
    clean.add_argument("--dry-run", action="store_true", help="only list what would go")
    return parser


#: ``gdf.calliper.embed(model, how='mean')`` in a library hint: the argument alone
_PY_CALL = re.compile(r"gdf\.calliper\.embed\(model, (\w+=[^)]*)\)")
#: ``name='value'`` / ``name=value`` in a library hint
_KWARG = re.compile(r"\b([a-z][a-z_]*)=('[^']*'|\"[^\"]*\"|[\w.\-]+)")


def cli_hint(message: str, flags: frozenset[str] | set[str]) -> str:
    """Rewrite the Python arguments a library message suggests (``how='mean'``) as the
    command's flags (``--how mean``) where the command has that flag.

    Examples
    --------
    >>> cli_hint("Pass how='centroid' or text='A place of {fclass}'.", {"--how", "--text"})
    "Pass --how centroid or --text 'A place of {fclass}'."
    """
    message = _PY_CALL.sub(r"\1", message)

    def flag(m: re.Match) -> str:
        name, value = "--" + m.group(1).replace("_", "-"), m.group(2)
        if name not in flags:
            return m.group(0)
        if value[:1] in "'\"" and re.fullmatch(r"[\w.\-]+", value[1:-1]):
            value = value[1:-1]
        return f"{name} {value}"

    return _KWARG.sub(flag, message)


def _check_out(out: str | None) -> None:
    """Refuse an ``--out`` below a file before any work (not "[Errno 17] File exists")."""
    if not out:
        return
    for parent in Path(out).parents:
        if parent.exists() and not parent.is_dir():
            raise ValueError(
                f"Cannot write --out {out}: {parent} is a file, not a folder. Choose an "
                "--out in an existing folder or a new one."
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``geocalliper`` console script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    sub = getattr(args, "command_parser", None)  # the hints of a library message use its flags
    flags = frozenset(sub._option_string_actions) if sub is not None else frozenset()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = " ".join(str(message).split())
        print(f"geocalliper: warning: {cli_hint(text, flags)}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show  # one line each, with the command's flags
            _check_out(getattr(args, "out", None))
            return int(args.func(args))
    except KeyboardInterrupt:
        print("geocalliper: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, not a traceback
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"geocalliper: error: {cli_hint(message, flags)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
