"""The layout of a raster grid over a study area: its cells, CRS, limits and blocks.

:func:`grid_spec` lays a north-up grid of ``resolution``-sized cells over a study area
(snapped to multiples of the resolution, in the grid CRS) and returns a small, picklable
:class:`GridSpec`; nothing is embedded here. The checks that refuse a request before any
work (units that do not fit the CRS, too many cells, no cell centre inside the area) and
the memory arithmetic (:func:`default_max_memory`, block sizes) live here too, so that
:mod:`geocalliper.spatial.raster` (embedding the grid) and
:mod:`geocalliper.spatial.h3cells` share them.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from ..exceptions import (
    CRSError,
    EmptyDataError,
    GridTooLargeError,
    InvalidGeometryError,
    NotFittedError,
)
from .area import AreaLike, as_area

if TYPE_CHECKING:
    from ..calliper import CaLLiPer

#: Used as the memory limit when the available memory cannot be read.
FALLBACK_MAX_MEMORY = 4 * 1024**3
#: Default ceiling on the cells of a grid, eager or lazy (10⁹ cells of 128 float32 bands
#: are 512 GB): larger requests are refused before any work unless ``max_cells`` is raised.
DEFAULT_MAX_GRID_CELLS = 1_000_000_000
#: Grids of at most this many cells are checked for a cell centre inside the area.
CHECK_CENTRES_BELOW = 65_536


# ---------------------------------------------------------------------------- grid layout
@dataclass(frozen=True)
class GridSpec:
    """Everything a block needs to embed its cells; small and picklable (for dask workers).

    ``x0``/``y0`` are the outer edges of the top-left cell (west and north); cells are
    ``xres`` wide and ``yres`` high, rows run north to south.
    """

    x0: float
    y0: float
    xres: float
    yres: float
    ny: int
    nx: int
    grid_crs: str
    model_crs: str
    same_crs: bool
    area: Any  # shapely geometry in the grid CRS (the union of the study area)
    bands: int
    dtype: str
    normalize: bool
    batch_size: int | None

    @property
    def x(self) -> np.ndarray:
        """Cell-centre x coordinates, west to east."""
        return self.x0 + (np.arange(self.nx) + 0.5) * self.xres

    @property
    def y(self) -> np.ndarray:
        """Cell-centre y coordinates, north to south."""
        return self.y0 - (np.arange(self.ny) + 0.5) * self.yres

    @property
    def transform(self):
        """The affine transform of the grid (north-up)."""
        from affine import Affine

        return Affine(self.xres, 0.0, self.x0, 0.0, -self.yres, self.y0)

    @property
    def nbytes(self) -> int:
        """Bytes of the full ``(band, y, x)`` array."""
        return self.bands * self.ny * self.nx * np.dtype(self.dtype).itemsize


def _resolution(resolution: Any) -> tuple[float, float]:
    if isinstance(resolution, tuple | list | np.ndarray):
        if len(resolution) != 2:
            raise ValueError(f"resolution must be one number or (x, y), got {resolution!r}.")
        xres, yres = (float(r) for r in resolution)
    else:
        try:
            xres = yres = float(resolution)
        except (TypeError, ValueError):
            raise TypeError(
                f"resolution must be a number (cell size in the grid CRS' units), got "
                f"{type(resolution).__name__}."
            ) from None
    if not (math.isfinite(xres) and math.isfinite(yres) and xres > 0 and yres > 0):
        raise ValueError(
            f"resolution must be positive and finite (the cell size in the units of the grid "
            f"CRS), got {resolution!r}."
        )
    return xres, yres


def _check_units(
    grid_crs: CRS, geoms: Any, span: tuple[float, float], xres: float, yres: float, given: Any
) -> None:
    """Refuse a grid in degrees whose cells are larger than the whole area (in both
    directions): a resolution meant in metres (``25``) on a geographic CRS."""
    if not grid_crs.is_geographic or not (xres > span[0] and yres > span[1]):
        return
    try:
        utm = geoms.estimate_utm_crs()
        suggestion = f"EPSG:{utm.to_epsg()} (the area's UTM zone, in metres)"
    except Exception:  # outside every UTM zone
        suggestion = "a UTM zone"
    raise CRSError(
        f"The grid CRS {grid_crs.name!r} is in degrees, so resolution={given!r} means cells "
        f"{xres:g}° × {yres:g}° (about {xres * 111:,.0f} km wide), larger than the whole "
        f"study area ({span[0]:.3g}° × {span[1]:.3g}°): the grid would be one empty cell. "
        f"For cells in metres use a projected CRS, e.g. {suggestion} (crs= in Python, "
        "--crs on the command line), or leave it unset to use the model's; for a grid in "
        "degrees give the resolution in degrees (0.0005° is about 50 m)."
    )


def _check_cell_count(
    width: float, height: float, xres: float, yres: float, bands: int, max_cells: int | None
) -> None:
    """Refuse grids of more than ``max_cells`` cells, from floats: before any int or array
    is made (a resolution of 1e-300 would overflow them)."""
    if max_cells is None:
        cols, rows = width / xres + 1, height / yres + 1
        if math.isfinite(cols * rows) and cols < 2**62 and rows < 2**62:
            return
        max_cells = 2**62
    if isinstance(max_cells, bool) or not isinstance(max_cells, int | np.integer):
        raise TypeError(f"max_cells must be a positive integer or None, got {max_cells!r}.")
    if max_cells < 1:
        raise ValueError(f"max_cells must be a positive integer or None, got {max_cells!r}.")
    cols, rows = width / xres + 1, height / yres + 1  # at most; snapping adds up to one
    cells = cols * rows
    if not math.isfinite(cells) or cells > max_cells:
        size = "an unbounded number of" if not math.isfinite(cells) else f"about {cells:.3g}"
        raise GridTooLargeError(
            f"This grid would have {size} cells ({rows:.3g} rows × {cols:.3g} columns of "
            f"{xres:g} × {yres:g}; {_size(cells * bands * 4)} at {bands} float32 bands), more "
            f"than max_cells={max_cells:,}. Use a coarser resolution (doubling it makes 4x "
            "fewer cells) or a smaller area; for a deliberate big job pass max_cells= a "
            "larger number (or None) with chunks= to stream it."
        )


def _chunks(chunks: Any, ny: int, nx: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if isinstance(chunks, int | np.integer) and not isinstance(chunks, bool):
        cy = cx = int(chunks)
    elif isinstance(chunks, tuple | list) and len(chunks) == 2:
        cy, cx = (int(c) for c in chunks)
    else:
        raise TypeError(f"chunks must be an int or a (y, x) pair of ints, got {chunks!r}.")
    if cy < 1 or cx < 1:
        raise ValueError(f"chunks must be positive numbers of cells, got {chunks!r}.")

    def split(n: int, c: int) -> tuple[int, ...]:
        return (c,) * (n // c) + ((n % c,) if n % c else ())

    return split(ny, min(cy, ny)), split(nx, min(cx, nx))


def default_max_memory() -> int:
    """Half of the memory available now (``psutil``, else ``os.sysconf``), else 4 GiB.

    Examples
    --------
    >>> default_max_memory() > 0
    True
    """
    try:
        import psutil

        return int(psutil.virtual_memory().available) // 2
    except Exception:  # psutil missing or unusable
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")) // 2
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not Linux
        return FALLBACK_MAX_MEMORY


def _size(n: float) -> str:
    """Bytes in words: ``_size(51_200) == "51.2 kB"``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} bytes"


def _crs_text(crs: CRS) -> str:
    """``"EPSG:n"`` when the CRS is exactly an EPSG one (rasterio then names it so), else WKT."""
    epsg = crs.to_epsg(min_confidence=100)
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def grid_spec(
    model: CaLLiPer,
    area: AreaLike,
    resolution: float | tuple[float, float],
    crs: Any = None,
    *,
    area_crs: Any = None,
    normalize: bool = False,
    batch_size: int | None = None,
    max_cells: int | None = DEFAULT_MAX_GRID_CELLS,
) -> GridSpec:
    """Lay out the grid :func:`embed_grid` fills (no embedding); see there for parameters.

    Examples
    --------
    >>> spec = grid_spec(model, (385_000, 6_671_000, 387_000, 6_673_000), 100,
    ...                  crs="EPSG:3067")                             # doctest: +SKIP
    >>> spec.ny, spec.nx                                              # doctest: +SKIP
    (20, 20)
    """
    if not getattr(model, "is_fitted", False):
        raise NotFittedError(
            "This CaLLiPer model is not fitted yet. Call model.fit(pois) or "
            "CaLLiPer.load(path) before embedding a grid."
        )
    xres, yres = _resolution(resolution)
    if batch_size is not None and (not isinstance(batch_size, int | np.integer) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    try:
        grid_crs = CRS.from_user_input(crs) if crs is not None else CRS(model.crs_)
    except Exception as exc:
        raise CRSError(f"Cannot read the grid CRS {crs!r}: {exc}") from exc
    model_crs = CRS(model.crs_)
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):  # they carry their own CRS
        geoms = as_area(area, crs=area_crs)
    else:  # a bare geometry or bounds: in area_crs, else in the grid CRS
        geoms = as_area(area, crs=area_crs if area_crs is not None else crs)
    if CRS(geoms.crs) != grid_crs:
        # densify first: an edge straight in the area's CRS is curved in the grid's
        minx, miny, maxx, maxy = geoms.total_bounds
        step = max(maxx - minx, maxy - miny) / 256
        if np.isfinite(step) and step > 0:
            geoms = geoms.segmentize(step)
        geoms = geoms.to_crs(grid_crs)
    try:
        geom = shapely.union_all(np.asarray(geoms.values))
    except shapely.errors.GEOSException as exc:  # e.g. TopologyException
        raise InvalidGeometryError(
            f"The study area's geometries cannot be combined in the grid CRS {grid_crs.name!r} "
            f"({exc}). This happens when an area crosses the antimeridian (±180°) or leaves "
            "the CRS' area of use: split it at 180°, or pass crs= with a projected CRS that "
            "covers it (e.g. the UTM zone of the area)."
        ) from exc
    if geom is None or geom.is_empty:
        raise EmptyDataError("The study area is empty in the grid CRS.")
    bounds = np.asarray(geom.bounds, dtype=float)
    if not np.isfinite(bounds).all():
        raise InvalidGeometryError(
            f"The study area cannot be projected to the grid CRS {grid_crs.name!r} (it lies "
            "outside the CRS' area of use). Pass crs= with a CRS that covers it."
        )
    if geom.area <= 0:
        raise InvalidGeometryError(
            "The study area has no area (points or lines); give polygons, a box or bounds, "
            "e.g. points.buffer(500) or tuple(points.total_bounds)."
        )
    minx, miny, maxx, maxy = bounds
    _check_units(grid_crs, geoms, (maxx - minx, maxy - miny), xres, yres, resolution)
    _check_cell_count(maxx - minx, maxy - miny, xres, yres, int(model.embedding_dim), max_cells)
    tol = 1e-6  # of a cell: reprojection noise does not add a row or column
    cx0 = math.floor(minx / xres + tol)
    cx1 = math.ceil(maxx / xres - tol)
    cy0 = math.floor(miny / yres + tol)
    cy1 = math.ceil(maxy / yres - tol)
    nx, ny = max(1, cx1 - cx0), max(1, cy1 - cy0)
    if ny * nx <= CHECK_CENTRES_BELOW:
        xs = (cx0 + np.arange(nx) + 0.5) * xres
        ys = (cy0 + np.arange(ny) + 0.5) * yres
        if not shapely.intersects_xy(_prepared(geom), *np.meshgrid(xs, ys)).any():
            raise EmptyDataError(
                f"No cell centre of this {ny} × {nx} grid falls inside the study area: its "
                f"cells ({xres:g} × {yres:g} in the grid CRS' units) are too coarse for it. "
                "Use a finer resolution."
            )
    return GridSpec(
        x0=cx0 * xres,
        y0=(cy0 + ny) * yres,
        xres=xres,
        yres=yres,
        ny=int(ny),
        nx=int(nx),
        grid_crs=_crs_text(grid_crs),
        model_crs=_crs_text(model_crs),
        same_crs=grid_crs == model_crs,
        area=geom,
        bands=int(model.embedding_dim),
        dtype=str(np.dtype(getattr(model, "dtype", "float32"))),
        normalize=bool(normalize),
        batch_size=None if batch_size is None else int(batch_size),
    )


_prepare_lock = threading.Lock()


def _prepared(area: Any) -> Any:
    """``area``, prepared for fast repeated tests (once, even with threads racing)."""
    if not shapely.is_prepared(area):
        with _prepare_lock:
            if not shapely.is_prepared(area):
                shapely.prepare(area)
    return area
