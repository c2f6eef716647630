"""Study-area embedding on a regular raster grid, as an xarray ``DataArray``.

:func:`embed_grid` lays a north-up grid over a study area, embeds the centre of every
cell inside the area with a fitted :class:`~geocalliper.CaLLiPer` and returns a
``(band, y, x)`` DataArray with its CRS, transform and nodata set for rioxarray (NaN
outside the area). With ``chunks`` the array is dask-backed and lazy: each block embeds
only its own cells when it is computed, so a study area of any size streams through
bounded memory (:func:`geocalliper.io.geotiff.to_geotiff` writes it block by block).

:func:`to_rgb` reduces an embedding raster to a false-colour ``red, green, blue`` preview
(PCA, robust stretch, ``uint8``).

Every cell costs one forward pass of the encoder; the grid work around it (cell centres
from ``numpy`` ranges, the in-area test, an optional vectorised reprojection) is small,
and blocks wholly inside or outside the area skip the per-cell test.
"""

from __future__ import annotations

import math
import os
import threading
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer
from tqdm.auto import tqdm

from .._constants import embedding_columns
from .._optional import import_optional
from ..exceptions import (
    CRSError,
    EmptyDataError,
    GridTooLargeError,
    InvalidGeometryError,
    NotFittedError,
)
from .area import AreaLike, as_area

if TYPE_CHECKING:
    import xarray as xr

    from ..calliper import CaLLiPer

#: Side, in cells, of the blocks an eager grid is embedded in (one progress step each).
EAGER_BLOCK = 512
#: Cells embedded at a time within a block (at most this many embeddings are held outside
#: the block's array: 32 MiB at 128 float32 bands).
FILL_CELLS = 65_536
#: Used as the memory limit when the available memory cannot be read.
FALLBACK_MAX_MEMORY = 4 * 1024**3
#: Default ceiling on the cells of a grid, eager or lazy (10⁹ cells of 128 float32 bands
#: are 512 GB): larger requests are refused before any work unless ``max_cells`` is raised.
DEFAULT_MAX_GRID_CELLS = 1_000_000_000
#: Grids of at most this many cells are checked for a cell centre inside the area.
CHECK_CENTRES_BELOW = 65_536
#: Band names of :func:`to_rgb`.
RGB_BANDS = ("red", "green", "blue")

ChunksLike = int | tuple[int, int]


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


# ---------------------------------------------------------------------------- one block
_local = threading.local()


def _transformer(src: str, dst: str) -> Transformer:
    """A per-thread cached Transformer (pyproj transformers are not thread-safe)."""
    cache = getattr(_local, "transformers", None)
    if cache is None:
        cache = _local.transformers = {}
    key = (src, dst)
    if key not in cache:
        cache[key] = Transformer.from_crs(CRS(src), CRS(dst), always_xy=True)
    return cache[key]


_prepare_lock = threading.Lock()


def _prepared(area: Any) -> Any:
    """``area``, prepared for fast repeated tests (once, even with threads racing)."""
    if not shapely.is_prepared(area):
        with _prepare_lock:
            if not shapely.is_prepared(area):
                shapely.prepare(area)
    return area


def _fill_block(
    model: CaLLiPer, spec: GridSpec, out: np.ndarray, r0: int, c0: int, *, filled: bool
) -> None:
    """Embed the in-area cells of the block whose top-left cell is (r0, c0) into ``out``.

    ``out`` is a ``(bands, h, w)`` view; cells outside the area are set to NaN unless
    ``filled`` says ``out`` already holds NaN.
    """
    _, h, w = out.shape
    xs = spec.x0 + (np.arange(c0, c0 + w) + 0.5) * spec.xres
    ys = spec.y0 - (np.arange(r0, r0 + h) + 0.5) * spec.yres
    area = _prepared(spec.area)
    mask: np.ndarray | None = None  # None: every cell is inside
    if h > 1 and w > 1:
        centres_box = shapely.box(xs[0], ys[-1], xs[-1], ys[0])
        if not shapely.intersects(area, centres_box):
            if not filled:
                out[...] = np.nan
            return
        if not shapely.covers(area, centres_box):
            mask = shapely.intersects_xy(area, *np.meshgrid(xs, ys))
    else:
        mask = shapely.intersects_xy(area, *np.meshgrid(xs, ys))
    if mask is None:
        gx, gy = np.meshgrid(xs, ys)
        px, py = gx.ravel(), gy.ravel()
    else:
        rows, cols = np.nonzero(mask)
        px, py = xs[cols], ys[rows]
    if not spec.same_crs and px.size:
        px, py = _transformer(spec.grid_crs, spec.model_crs).transform(px, py)
        ok = np.isfinite(px) & np.isfinite(py)
        if not ok.all():  # outside the model CRS' area of use: nodata
            if mask is None:
                mask = np.ones((h, w), dtype=bool)
            mask[mask] = ok
            px, py = px[ok], py[ok]
    if mask is not None and not filled:
        out[...] = np.nan
    if px.size == 0:
        return
    xy = np.column_stack((px, py))

    def embed(part: slice) -> np.ndarray:
        return model.embed_coords(
            xy[part], batch_size=spec.batch_size, normalize=spec.normalize, progress=False
        )

    # at most ``step`` cells at a time, written straight into ``out``: no (cells, bands)
    # copy of the whole block beside it, and no transposed one either
    step = max(FILL_CELLS, spec.batch_size or 0)
    if mask is None:
        rows = max(1, step // w)  # whole rows at a time
        for r0 in range(0, h, rows):
            r1 = min(r0 + rows, h)
            emb = embed(slice(r0 * w, r1 * w))
            out[:, r0:r1, :] = emb.reshape(r1 - r0, w, -1).transpose(2, 0, 1)
    else:
        rows, cols = np.nonzero(mask)
        for start in range(0, len(xy), step):
            part = slice(start, start + step)
            out[:, rows[part], cols[part]] = embed(part).T


def _dask_block(
    model: CaLLiPer,
    spec: GridSpec,
    offsets: tuple[tuple[int, ...], tuple[int, ...]],
    block_id: tuple[int, int, int] | None = None,
) -> np.ndarray:
    _, i, j = block_id
    r0, r1 = offsets[0][i], offsets[0][i + 1]
    c0, c1 = offsets[1][j], offsets[1][j + 1]
    out = np.empty((spec.bands, r1 - r0, c1 - c0), dtype=spec.dtype)
    _fill_block(model, spec, out, r0, c0, filled=False)
    return out


def _blocks(ny: int, nx: int, size: int) -> Iterator[tuple[int, int, int, int]]:
    for r0 in range(0, ny, size):
        for c0 in range(0, nx, size):
            yield r0, min(r0 + size, ny), c0, min(c0 + size, nx)


# ---------------------------------------------------------------------------- public API
def embed_grid(
    model: CaLLiPer,
    area: AreaLike,
    resolution: float | tuple[float, float],
    crs: Any = None,
    chunks: ChunksLike | None = None,
    *,
    area_crs: Any = None,
    normalize: bool = False,
    batch_size: int | None = None,
    max_memory: float | None = None,
    max_cells: int | None = DEFAULT_MAX_GRID_CELLS,
    progress: bool | None = None,
) -> xr.DataArray:
    """Embed the centre of every grid cell of a study area: a ``(band, y, x)`` raster.

    The grid is north-up, laid out in ``crs`` (default: the model's CRS) with square
    (or ``(x, y)``) cells of ``resolution`` in that CRS' units (metres for a projected
    CRS, degrees for a geographic one). Its edges snap to multiples of the resolution,
    so grids of neighbouring areas at the same resolution line up cell for cell. Cell
    centres are reprojected to the model's CRS for embedding when ``crs`` differs.

    Parameters
    ----------
    model
        A fitted :class:`~geocalliper.CaLLiPer`.
    area
        The study area: a GeoDataFrame or GeoSeries (any CRS; reprojected to the grid
        CRS), a shapely geometry or bounds ``(minx, miny, maxx, maxy)`` in ``area_crs``.
        Cells whose centre lies outside it are nodata (NaN) and are not embedded; a
        centre on its edge counts as inside.
    resolution
        Cell size, in the units of the grid CRS; one number or ``(x, y)``.
    crs
        CRS of the grid. ``None``: the model's CRS.
    chunks
        ``None`` (default): compute now, into memory. An int or ``(y, x)`` pair of
        cells: return a lazy dask-backed array of blocks of that size (the band
        dimension is one chunk); nothing is embedded until it is computed or written.
        Multiples of 512 line up with the tiles :func:`~geocalliper.io.geotiff.to_geotiff`
        writes.
    area_crs
        CRS of a bare geometry or bounds; default: ``crs`` (the grid CRS) when given.
        A GeoDataFrame/GeoSeries without a CRS takes it, else it is refused.
    normalize
        L2-normalise every embedding.
    batch_size
        Points per forward pass of the encoder; default: 4,096 on a CPU (cache-sized
        batches run fastest there), 65,536 on a GPU.
    max_memory
        Bytes an in-memory (``chunks=None``) array, or one block, may take. Default:
        half of the memory available now (4 GiB when that cannot be read). A bigger
        request raises ``GridTooLargeError`` (a ``MemoryError``) saying how much it
        needs and to pass ``chunks``.
    max_cells
        Refuse grids of more cells than this (default 10⁹), eager or lazy, before any
        work; ``None`` lifts the limit for a deliberate big job (with ``chunks``).
    progress
        Show a progress bar over blocks of eager work (default: ``model.progress``).

    Returns
    -------
    xarray.DataArray
        Dims ``("band", "y", "x")``, float32 (the model's dtype); ``band`` holds
        ``calliper_0 …``, ``x``/``y`` the cell centres (``y`` descending). The ``rio``
        accessor knows the CRS, transform and nodata (NaN); ``attrs["long_name"]``
        holds the band names (written as band descriptions by rioxarray).

    Raises
    ------
    NotFittedError
        The model is not fitted.
    MissingCRSError
        The area has no CRS (and ``area_crs``/``crs`` give none).
    GridTooLargeError
        The eager array (or one block) would take more than ``max_memory``, or the
        grid has more than ``max_cells`` cells.
    CRSError
        The grid CRS is in degrees and the cells are larger than the whole area (a
        resolution meant in metres).
    EmptyDataError
        No cell centre falls inside the area (the cells are too coarse).

    Examples
    --------
    >>> import geocalliper as gc
    >>> from geocalliper.spatial.raster import embed_grid
    >>> model = gc.CaLLiPer.load("helsinki-calliper")                  # doctest: +SKIP
    >>> grid = embed_grid(model, (24.90, 60.15, 24.98, 60.19), 100,
    ...                   area_crs="EPSG:4326")                          # doctest: +SKIP
    >>> grid.dims, grid.rio.crs.to_epsg()                                # doctest: +SKIP
    (('band', 'y', 'x'), 32635)
    >>> from geocalliper.io.geotiff import to_geotiff
    >>> big = embed_grid(model, city, 10, crs="EPSG:3067", chunks=1024)  # doctest: +SKIP
    >>> to_geotiff(big, "city.tif")                                     # doctest: +SKIP
    """
    xr = import_optional("xarray", "embedding rasters")
    import_optional("rioxarray", "embedding rasters")
    spec = grid_spec(
        model,
        area,
        resolution,
        crs,
        area_crs=area_crs,
        normalize=normalize,
        batch_size=batch_size,
        max_cells=max_cells,
    )
    limit = default_max_memory() if max_memory is None else float(max_memory)
    itemsize = np.dtype(spec.dtype).itemsize
    size = f"{spec.bands} bands × {spec.ny} × {spec.nx} cells × {itemsize} bytes"
    if chunks is None:
        if spec.nbytes > limit:
            raise GridTooLargeError(
                f"This grid needs about {_size(spec.nbytes)} in memory ({size}), more than "
                f"max_memory={_size(limit)}. Pass chunks=1024 (cells per block side) to get a "
                "lazy dask-backed array and write it with geocalliper.io.geotiff.to_geotiff(...), "
                "or use a coarser resolution or a smaller area (or raise max_memory=)."
            )
        data = _embed_eager(model, spec, progress)
    else:
        ychunks, xchunks = _chunks(chunks, spec.ny, spec.nx)
        block = spec.bands * ychunks[0] * xchunks[0] * itemsize
        if block > limit:
            raise GridTooLargeError(
                f"One block of chunks={chunks!r} needs about {_size(block)}, more than "
                f"max_memory={_size(limit)}; pass smaller chunks."
            )
        dask_array = import_optional("dask.array", "chunked rasters")
        offsets = (
            tuple(np.concatenate([[0], np.cumsum(ychunks)]).tolist()),
            tuple(np.concatenate([[0], np.cumsum(xchunks)]).tolist()),
        )
        data = dask_array.map_blocks(
            _dask_block,
            model=model,
            spec=spec,
            offsets=offsets,
            chunks=((spec.bands,), ychunks, xchunks),
            dtype=spec.dtype,
            meta=np.empty((0, 0, 0), dtype=spec.dtype),
            name=f"embed-grid-{uuid.uuid4().hex}",
        )
    return _as_dataarray(xr, data, spec, embedding_columns(spec.bands), np.nan)


def _embed_eager(model: CaLLiPer, spec: GridSpec, progress: bool | None) -> np.ndarray:
    out = np.empty((spec.bands, spec.ny, spec.nx), dtype=spec.dtype)
    blocks = list(_blocks(spec.ny, spec.nx, EAGER_BLOCK))
    show = bool(getattr(model, "progress", True) if progress is None else progress)
    with tqdm(
        total=spec.ny * spec.nx,
        desc="embed grid",
        unit="cell",
        unit_scale=True,
        disable=not show or len(blocks) < 4,
    ) as bar:
        for r0, r1, c0, c1 in blocks:
            _fill_block(model, spec, out[:, r0:r1, c0:c1], r0, c0, filled=False)
            bar.update((r1 - r0) * (c1 - c0))
    return out


def _as_dataarray(
    xr: Any, data: Any, spec: GridSpec, bands: list[str] | tuple[str, ...], nodata: float
) -> xr.DataArray:
    da = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={"band": list(bands), "y": spec.y, "x": spec.x},
        name="calliper",
    )
    da.rio.write_crs(spec.grid_crs, inplace=True)
    da.rio.write_transform(spec.transform, inplace=True)
    da.rio.write_nodata(nodata, encoded=False, inplace=True)
    da.attrs["long_name"] = tuple(bands)
    return da


# ---------------------------------------------------------------------------- false colour
def rio_transform(da: Any) -> Any:
    """``da.rio.transform()``, without rioxarray's warning about affine's ``*`` operator."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Use `@` matmul", PendingDeprecationWarning)
        return da.rio.transform()


def _is_dask(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "dask"


def _sample_valid(block: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Up to ``k`` random cells of ``block`` (bands, h, w) with every band finite: (n, bands)."""
    valid = np.ones(block.shape[1:], dtype=bool)
    for band in block:
        valid &= np.isfinite(band)
    idx = np.flatnonzero(valid)
    if idx.size > k:
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=k, replace=False))
    rows, cols = np.unravel_index(idx, block.shape[1:])
    return np.asarray(block[:, rows, cols].T, dtype=np.float64)


def _rgb_block(
    block: np.ndarray,
    components: np.ndarray,
    shift: np.ndarray,
    span: np.ndarray,
) -> np.ndarray:
    """Project (bands, h, w) onto the components, stretch to 1..255; 0 where nodata."""
    bands, h, w = block.shape
    flat = block.reshape(bands, h * w)
    proj = components.astype(block.dtype, copy=False) @ flat  # NaN propagates to its cell
    proj = (proj - shift[:, None]) / span[:, None]
    valid = np.isfinite(proj).all(axis=0)
    out = np.rint(np.clip(np.nan_to_num(proj), 0.0, 1.0) * 254.0) + 1.0
    out[:, ~valid] = 0
    return out.astype(np.uint8).reshape(3, h, w)


def to_rgb(
    da: xr.DataArray,
    *,
    sample_size: int = 100_000,
    sample_blocks: int | None = 16,
    percentiles: tuple[float, float] = (2.0, 98.0),
    seed: int = 0,
) -> xr.DataArray:
    """Reduce an embedding raster to a false-colour RGB preview (PCA to 3 bands, uint8).

    The first three principal components of the valid cells (every band finite) are
    fitted on a seeded sample of at most ``sample_size`` cells (SVD in float64), their
    signs fixed so the largest loading is positive, and each is stretched linearly
    between its ``percentiles`` over the sample to 1–255. Nodata cells are 0 in all
    three bands (and nodata is 0).

    Parameters
    ----------
    da
        A ``(band, y, x)`` raster with at least 3 bands, e.g. from :func:`embed_grid`;
        numpy- or dask-backed.
    sample_size
        Cells the PCA and the stretch are fitted on.
    sample_blocks
        For dask-backed input: the sample comes from at most this many randomly chosen
        blocks (each is computed once for it); ``None`` samples every block, which
        computes the whole input once more. Persist the input first
        (``da = da.persist()``) when it fits in memory, to embed it only once.
    percentiles
        Lower and upper percentiles of the linear stretch.
    seed
        Seeds the sample.

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)`` uint8 with bands ``red, green, blue``, the input's coordinates,
        CRS and transform, nodata 0; lazy when the input is dask-backed.
        ``attrs["explained_variance_ratio"]`` gives each component's share of the
        sample's variance.

    Examples
    --------
    >>> rgb = to_rgb(embed_grid(model, area, 100))                      # doctest: +SKIP
    >>> geocalliper.io.geotiff.write_png(rgb, "preview.png")             # doctest: +SKIP
    """
    xr = import_optional("xarray", "embedding rasters")
    import_optional("rioxarray", "embedding rasters")
    if not isinstance(da, xr.DataArray):
        raise TypeError(f"da must be an xarray.DataArray, got {type(da).__name__}.")
    if da.ndim != 3:
        raise ValueError(f"da must have dims (band, y, x), got {da.dims}.")
    y_dim, x_dim = da.rio.y_dim, da.rio.x_dim
    band_dim = next(d for d in da.dims if d not in (y_dim, x_dim))
    da = da.transpose(band_dim, y_dim, x_dim)
    if da.sizes[band_dim] < 3:
        raise ValueError(f"to_rgb needs at least 3 bands, got {da.sizes[band_dim]}.")
    lo_pct, hi_pct = percentiles
    if not 0 <= lo_pct < hi_pct <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}.")
    if sample_size < 3:
        raise ValueError(f"sample_size must be at least 3, got {sample_size}.")

    data = da.data
    if _is_dask(data):
        import dask

        data = data.rechunk({0: -1})
        blocks = data.to_delayed().ravel()
        order = np.random.default_rng(seed).permutation(len(blocks))
        if sample_blocks is not None:
            order = order[: max(1, int(sample_blocks))]
        k = math.ceil(sample_size / len(order))
        parts = dask.compute(
            *[dask.delayed(_sample_valid)(blocks[b], k, seed + int(b)) for b in order]
        )
        sample = np.concatenate(parts, axis=0)
        if len(sample) > sample_size:
            keep = np.random.default_rng(seed).choice(len(sample), sample_size, replace=False)
            sample = sample[np.sort(keep)]
    else:
        data = np.asarray(data)
        sample = _sample_valid(data, sample_size, seed)
    if len(sample) < 3:
        raise EmptyDataError(
            f"The raster has {len(sample)} valid cells in its sample; a PCA needs at least 3."
        )

    mean = sample.mean(axis=0)
    _, s, vt = np.linalg.svd(sample - mean, full_matrices=False)
    components = vt[:3].copy()
    if components.shape[0] < 3:  # fewer samples or bands than 3 components
        components = np.vstack([components, np.zeros((3 - len(components), vt.shape[1]))])
    signs = np.sign(components[np.arange(3), np.abs(components).argmax(axis=1)])
    components *= np.where(signs == 0, 1.0, signs)[:, None]
    proj = (sample - mean) @ components.T
    lo, hi = np.percentile(proj, [lo_pct, hi_pct], axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    shift = components @ mean + lo
    var = s**2
    ratio = (var[:3] / var.sum()) if var.sum() > 0 else np.zeros(min(3, len(var)))

    kwargs = {
        "components": components,
        "shift": shift.astype(da.dtype),
        "span": span.astype(da.dtype),
    }
    if _is_dask(data):
        rgb = data.map_blocks(
            _rgb_block,
            chunks=((3,), *data.chunks[1:]),
            dtype=np.uint8,
            meta=np.empty((0, 0, 0), dtype=np.uint8),
            **kwargs,
        )
    else:
        rgb = _rgb_block(data, **kwargs)
    out = xr.DataArray(
        rgb,
        dims=("band", y_dim, x_dim),
        coords={"band": list(RGB_BANDS), y_dim: da[y_dim].values, x_dim: da[x_dim].values},
        name="rgb",
    )
    if da.rio.crs is not None:
        out.rio.write_crs(da.rio.crs, inplace=True)
    out.rio.write_transform(rio_transform(da), inplace=True)
    out.rio.write_nodata(0, encoded=False, inplace=True)
    out.attrs["long_name"] = RGB_BANDS
    out.attrs["explained_variance_ratio"] = tuple(float(r) for r in ratio)
    return out
