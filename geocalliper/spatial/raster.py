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
and blocks wholly inside or outside the area skip the per-cell test. The grid's layout
(:func:`~geocalliper.spatial.grid.grid_spec`, limits, memory) is in
:mod:`geocalliper.spatial.grid`; its names are re-exported here for the old
``geocalliper.raster`` path.

Length: just over 500 lines: the eager and the dask-backed embedding of one grid share
their block filler, and :func:`to_rgb` (about 130 lines) stays beside the rasters it
reads so that the old ``geocalliper.raster.to_rgb`` keeps working without an upward
import.
"""

from __future__ import annotations

import math
import threading
import uuid
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from tqdm.auto import tqdm

from .._constants import embedding_columns
from .._optional import import_optional
from ..exceptions import EmptyDataError, GridTooLargeError
from .area import AreaLike
from .grid import (  # the grid's layout; re-exported for the old geocalliper.spatial.raster path
    DEFAULT_MAX_GRID_CELLS,
    GridSpec,
    _chunks,
    _prepared,
    _size,
    default_max_memory,
    grid_spec,
)

if TYPE_CHECKING:
    import xarray as xr

    from ..calliper import CaLLiPer

#: Side, in cells, of the blocks an eager grid is embedded in (one progress step each).
EAGER_BLOCK = 512
#: Cells embedded at a time within a block (at most this many embeddings are held outside
#: the block's array: 32 MiB at 128 float32 bands).
FILL_CELLS = 65_536
#: Band names of :func:`to_rgb`.
RGB_BANDS = ("red", "green", "blue")

ChunksLike = int | tuple[int, int]


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
