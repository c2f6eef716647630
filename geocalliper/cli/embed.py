"""``geocalliper embed``, ``grid`` and ``h3``: embeddings of places, grids and H3 cells."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io.vector import read_area, write_vector
from ._common import AREA_HELP, MODEL_HELP, add_command

#: worked examples, the epilog of each subcommand's --help
EXAMPLES = {
    "embed": "example: geocalliper embed city-model places.gpkg --out places-embedded.gpkg",
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
}


#: grids bigger than this (bytes) are embedded block by block and streamed to disk
STREAM_ABOVE = 1 << 30
#: grids bigger than this (bytes, before compression) need --yes
CONFIRM_ABOVE = 10 * 1000**3
#: the PNG preview: at most this many pixels a side (thinned), at least this many (enlarged)
PREVIEW_MAX = 4096
PREVIEW_MIN = 600


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


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``embed``, ``grid``, ``h3`` to the ``geocalliper`` command (``sub``: its subparsers)."""

    def command(name: str, summary: str, func) -> argparse.ArgumentParser:
        return add_command(sub, name, summary, func, EXAMPLES[name])

    emb = command("embed", "points file -> file with embedding columns", _cmd_embed)
    emb.add_argument("model", help=MODEL_HELP)
    emb.add_argument("points", help="points file (CSV, GeoParquet, GeoPackage …)")
    emb.add_argument(
        "--out", required=True, help=".gpkg (styled for QGIS), .parquet or .csv to write"
    )
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
    h3.add_argument("--out", required=True, help=".gpkg (styled for QGIS) or .parquet to write")
