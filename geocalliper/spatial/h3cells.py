"""Embed a study area onto H3 cells (h3 v4 API).

:func:`embed_h3` finds the H3 cells that cover an area, embeds each cell (at its centre
or as the mean over points sampled inside it) and returns a GeoDataFrame of hexagons in
EPSG:4326 indexed by the cell id, ready for ``to_file("cells.gpkg")`` or
``to_parquet("cells.parquet")``. :func:`h3_cells` and :func:`h3_polygons` are the two
halves without the model.

h3 4.x has no array API for most calls, so the per-cell loops are list comprehensions
over the C functions; everything else (geometry building, reprojection, embedding) is
done once, on arrays, for all cells.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import chain
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod, Transformer

from .._constants import WGS84, embedding_columns
from .._optional import import_optional
from ..exceptions import EmptyDataError, GridTooLargeError, InvalidGeometryError
from .area import AreaLike, as_area
from .coords import check_geographic_range, check_projected
from .reduce import check_reduction, mean_embedding

if TYPE_CHECKING:
    from ..calliper import CaLLiPer

#: name of the index of H3 frames
H3_INDEX = "h3"
#: finest H3 resolution
MAX_RESOLUTION = 15
#: default ceiling on the number of cells :func:`h3_cells` will produce
DEFAULT_MAX_CELLS = 1_000_000
#: memory one listed cell takes at least (h3's array, the id string, the set entry)
BYTES_PER_CELL = 150
#: how a cell must meet a polygon to count (h3 ``contain`` modes)
CONTAINMENT = ("overlap", "center", "full", "bbox_overlap")
Containment = Literal["overlap", "center", "full", "bbox_overlap"]


def _h3() -> Any:
    return import_optional("h3", "H3 cells")


def check_resolution(resolution: Any) -> int:
    """Return ``resolution`` as an int after checking it is an H3 resolution (0–15).

    Examples
    --------
    >>> check_resolution(9)
    9
    >>> check_resolution(16)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: H3 resolution must be an integer from 0 (coarsest, ...) to 15 (...), got 16.
    """
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, int | np.integer)
        or not 0 <= resolution <= MAX_RESOLUTION
    ):
        raise ValueError(
            "H3 resolution must be an integer from 0 (coarsest, ~4.4 million km² cells) to "
            f"{MAX_RESOLUTION} (finest, ~0.9 m² cells), got {resolution!r}."
        )
    return int(resolution)


def _parts(geoms: np.ndarray) -> np.ndarray:
    """Explode multi-part geometries and collections (nested too) into single parts."""
    parts = shapely.get_parts(geoms)
    while len(parts) and np.isin(shapely.get_type_id(parts), [4, 5, 6, 7]).any():
        parts = shapely.get_parts(parts)
    return parts[~shapely.is_empty(parts)]


def estimate_cell_count(
    area: AreaLike, resolution: int, *, contain: Containment = "overlap", area_crs: Any = None
) -> int:
    """Estimate how many H3 cells of ``resolution`` cover ``area``, without listing them.

    Geodesic area over the average hexagon area, plus a band of cells along the
    boundary for ``contain="overlap"``/``"bbox_overlap"``, plus one cell per point.

    Examples
    --------
    >>> n = estimate_cell_count((24.9, 60.15, 25.0, 60.2), 9, area_crs="EPSG:4326")
    >>> 400 < n < 700
    True
    """
    h3 = _h3()
    resolution = check_resolution(resolution)
    parts = _parts(as_area(area, area_crs).to_crs(WGS84).values)
    return _estimate(h3, parts, resolution, contain)


def _estimate(h3: Any, parts: np.ndarray, resolution: int, contain: str) -> int:
    geod = Geod(ellps="WGS84")
    types = shapely.get_type_id(parts)
    total_area = 0.0
    total_perimeter = 0.0
    for poly in parts[types == 3]:
        a, p = geod.geometry_area_perimeter(poly)
        total_area += abs(a)
        total_perimeter += p
    cells = total_area / h3.average_hexagon_area(resolution, "m^2")
    if contain in ("overlap", "bbox_overlap"):
        width = math.sqrt(3.0) * h3.average_hexagon_edge_length(resolution, "m")
        cells += 2.0 * total_perimeter / width
    return math.ceil(cells) + int((types == 0).sum())


def _polyfill(h3: Any, shape: Any, resolution: int, contain: str) -> list[str]:
    if contain == "center":
        return h3.h3shape_to_cells(shape, resolution)
    experimental = getattr(h3, "h3shape_to_cells_experimental", None)
    if experimental is None:  # pragma: no cover - h3 < 4.2
        raise ImportError(
            f"contain={contain!r} needs h3 >= 4.2 (h3shape_to_cells_experimental); "
            f"install it with `pip install -U h3`, or use contain='center'."
        )
    return experimental(shape, resolution, contain)


def h3_cells(
    area: AreaLike,
    resolution: int,
    *,
    contain: Containment = "overlap",
    max_cells: int | None = DEFAULT_MAX_CELLS,
    area_crs: Any = None,
) -> list[str]:
    """The H3 cells (ids as strings, sorted) that cover a study area.

    Parameters
    ----------
    area
        Polygons or multipolygons (a GeoDataFrame, GeoSeries, shapely geometry or
        bounds, see :func:`geocalliper.spatial.area.as_area`) in any CRS; they are reprojected
        to EPSG:4326 first. Points are allowed too and give the cell that contains
        each. Lines are refused: buffer them first.
    resolution
        H3 resolution, 0 (coarsest) to 15 (finest).
    contain
        When a cell counts as covering a polygon: ``"overlap"`` (default; any part of
        the cell meets the polygon, so the cells cover all of it), ``"center"`` (the
        cell centre lies inside, the classic H3 polyfill), ``"full"`` (the whole cell
        lies inside) or ``"bbox_overlap"``.
    max_cells
        Refuse areas estimated (then counted) to hold more cells than this, before any
        memory is spent on them. ``None`` lifts the limit, but areas whose cells could
        not even be listed in the memory available are still refused
        (``GridTooLargeError``, a ``MemoryError``) with their size.
    area_crs
        CRS of a bare geometry or of bounds (as in :func:`~geocalliper.embed_grid`).

    Returns
    -------
    list of str

    Notes
    -----
    Areas that cross the antimeridian (±180° longitude) are not supported: split them
    into an eastern and a western part first.

    Examples
    --------
    >>> cells = h3_cells((24.93, 60.16, 24.95, 60.17), 8, area_crs="EPSG:4326")
    >>> len(cells), cells[0]
    (6, '881126d307fffff')
    """
    h3 = _h3()
    resolution = check_resolution(resolution)
    if contain not in CONTAINMENT:
        raise ValueError(
            f"contain must be one of {', '.join(map(repr, CONTAINMENT))}, got {contain!r}."
        )
    if max_cells is not None and (isinstance(max_cells, bool) or max_cells < 1):
        raise ValueError(f"max_cells must be a positive integer or None, got {max_cells!r}.")

    geoms = as_area(area, area_crs)
    geoms = geoms.to_crs(WGS84)
    check_geographic_range(geoms, "study-area geometries")
    parts = _parts(geoms.values)
    types = shapely.get_type_id(parts)
    lines = np.isin(types, [1, 2])
    if lines.any():
        raise InvalidGeometryError(
            f"{int(lines.sum())} of the study-area geometries are lines; H3 cells cover "
            "polygons (and points). Buffer the lines first, e.g. "
            "gdf.to_crs(gdf.estimate_utm_crs()).buffer(100)."
        )

    estimate = _estimate(h3, parts, resolution, contain)
    if max_cells is not None and estimate > max_cells:
        raise ValueError(_too_many(estimate, resolution, max_cells, "about "))
    if max_cells is None:
        _check_memory(estimate, resolution)

    found: set[str] = set()
    try:
        for poly in parts[types == 3]:
            found.update(_polyfill(h3, h3.geo_to_h3shape(poly), resolution, contain))
    except MemoryError as exc:  # h3 raises it with no message
        raise GridTooLargeError(
            f"Listing the H3 cells at resolution {resolution} of this study area (about "
            f"{estimate:,} cells) ran out of memory. Use a coarser resolution (each step "
            "down has about 7x fewer cells) or split the area into parts."
        ) from exc
    points = parts[types == 0]
    if len(points):
        xy = shapely.get_coordinates(points)
        found.update(h3.latlng_to_cell(lat, lng, resolution) for lng, lat in xy.tolist())

    if not found:
        raise EmptyDataError(
            f"No H3 cell of resolution {resolution} meets the study area with "
            f"contain={contain!r}: the area is smaller than a cell. Use a finer resolution "
            "or contain='overlap'."
        )
    if max_cells is not None and len(found) > max_cells:
        raise ValueError(_too_many(len(found), resolution, max_cells, ""))
    return sorted(found)


def _check_memory(estimate: int, resolution: int) -> None:
    """Refuse, even without a cell limit, a list of cells that cannot fit in memory."""
    from .grid import _size, default_max_memory

    need = estimate * BYTES_PER_CELL
    limit = default_max_memory()
    if need > limit:
        raise GridTooLargeError(
            f"The study area holds about {estimate:,} H3 cells at resolution {resolution}: "
            f"listing them needs about {_size(need)} of memory (before any embedding), more "
            f"than the {_size(limit)} available to it. Use a coarser resolution (each step "
            "down has about 7x fewer cells) or split the area into parts."
        )


def _too_many(n: int, resolution: int, max_cells: int, about: str) -> str:
    gib = n * (128 * 4 + 200) / 2**30
    return (
        f"The study area holds {about}{n:,} H3 cells at resolution {resolution}, more than "
        f"max_cells={max_cells:,}. Use a coarser resolution (each step down has about 7x "
        f"fewer cells), split the area into parts, or pass max_cells={n} or None if you "
        f"have the memory (about {gib:.1f} GiB for 128-d embeddings)."
    )


def h3_polygons(cells: Iterable[str]) -> gpd.GeoSeries:
    """Hexagons (and pentagons) of H3 cells, in EPSG:4326, indexed by cell id.

    ``h3.cell_to_boundary`` gives (lat, lng) pairs; they are swapped to (lng, lat) and
    all rings are built at once with ``shapely.linearrings``.

    Examples
    --------
    >>> hexes = h3_polygons(["881126d307fffff"])
    >>> hexes.crs.to_epsg(), hexes.index.name, round(hexes.iloc[0].centroid.x, 3)
    (4326, 'h3', 24.923)
    """
    h3 = _h3()
    cells = list(cells)
    boundaries = [h3.cell_to_boundary(c) for c in cells]
    counts = np.fromiter(map(len, boundaries), dtype=np.intp, count=len(cells))
    latlng = np.fromiter(
        chain.from_iterable(chain.from_iterable(boundaries)),
        dtype=np.float64,
        count=2 * int(counts.sum()),
    ).reshape(-1, 2)
    rings = shapely.linearrings(latlng[:, ::-1], indices=np.repeat(np.arange(len(cells)), counts))
    return gpd.GeoSeries(shapely.polygons(rings), index=pd.Index(cells, name=H3_INDEX), crs=WGS84)


def h3_centers(cells: Iterable[str], crs: Any = WGS84) -> np.ndarray:
    """Centres of H3 cells as ``(N, 2)`` float64 x, y in ``crs`` (default lng, lat).

    One vectorised pyproj transform for all cells.

    Examples
    --------
    >>> h3_centers(["881126d307fffff"]).round(3).tolist()
    [[24.923, 60.164]]
    """
    h3 = _h3()
    cells = list(cells)
    latlng = np.fromiter(
        chain.from_iterable(h3.cell_to_latlng(c) for c in cells),
        dtype=np.float64,
        count=2 * len(cells),
    ).reshape(-1, 2)
    lng, lat = latlng[:, 1], latlng[:, 0]
    target = CRS.from_user_input(crs)
    if target == CRS.from_user_input(WGS84):
        return np.column_stack([lng, lat])
    x, y = Transformer.from_crs(WGS84, target, always_xy=True).transform(lng, lat)
    return np.column_stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])


def embed_h3(
    model: CaLLiPer,
    area: AreaLike,
    resolution: int,
    how: Literal["center", "mean"] = "center",
    n_samples: int = 16,
    seed: int = 0,
    *,
    contain: Containment = "overlap",
    max_cells: int | None = DEFAULT_MAX_CELLS,
    area_crs: Any = None,
    batch_size: int | None = None,
    normalize: bool = False,
) -> gpd.GeoDataFrame:
    """Embed the H3 cells that cover a study area.

    Parameters
    ----------
    model
        A fitted :class:`~geocalliper.CaLLiPer`.
    area
        The study area in any CRS: polygons or multipolygons as a GeoDataFrame,
        GeoSeries, shapely geometry (with ``area_crs``) or bounds (with ``area_crs``); points give
        the cells that contain them. See :func:`h3_cells`.
    resolution
        H3 resolution, 0–15 (resolution 9: ~0.1 km² cells, 10: ~0.015 km²).
    how
        ``"center"`` embeds each cell's centre; ``"mean"`` averages the embeddings of
        ``n_samples`` points sampled uniformly inside each hexagon (in the model's CRS),
        seeded by ``(seed, cell id)`` so a cell embeds the same in any area.
    n_samples, seed
        Sample points per cell and their seed, for ``how="mean"``.
    contain
        ``"overlap"`` (default: every cell that meets the area, so the hexagons cover it),
        ``"center"``, ``"full"`` or ``"bbox_overlap"``; see :func:`h3_cells`.
    max_cells
        Refuse areas with more cells than this (estimated before any work is done);
        ``None`` lifts the limit.
    area_crs
        CRS of a bare geometry or of bounds (as in :func:`~geocalliper.embed_grid`).
    batch_size
        Points per forward pass of the encoder; default: 4,096 on a CPU (cache-sized
        batches run fastest there), 65,536 on a GPU.
    normalize
        L2-normalise the vectors (after averaging).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cell, indexed by the H3 cell id (string, index name ``"h3"``,
        sorted), columns ``calliper_0 …`` (the model's dtype) and ``geometry`` (the
        hexagon, EPSG:4326).

    Examples
    --------
    >>> cells = embed_h3(model, helsinki_boundary, resolution=9)     # doctest: +SKIP
    >>> cells.to_file("helsinki-h3.gpkg")                               # doctest: +SKIP
    >>> cells.to_parquet("helsinki-h3.parquet")                         # doctest: +SKIP
    """
    how = check_reduction(how, n_samples, seed, allowed=("center", "mean"))
    model._check_fitted()
    cells = h3_cells(area, resolution, contain=contain, max_cells=max_cells, area_crs=area_crs)
    hexes = h3_polygons(cells)
    if how == "center":
        xy = h3_centers(cells, model.crs_)
        check_projected(xy, hexes.index, model.crs_, "H3 cell centres")
        emb = model.embed_coords(xy, batch_size=batch_size)
    else:
        h3 = _h3()
        keys = np.fromiter((h3.str_to_int(c) for c in cells), dtype=np.uint64, count=len(cells))
        emb = mean_embedding(
            model,
            hexes,
            keys,
            n_samples=n_samples,
            seed=seed,
            batch_size=batch_size,
            name="H3 cells",
        )
    if normalize:
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        emb = emb / np.where(norms > 0, norms, 1)
    frame = pd.DataFrame(emb, index=hexes.index, columns=embedding_columns(emb.shape[1]))
    return gpd.GeoDataFrame(frame, geometry=hexes.values, crs=WGS84)


__all__ = [
    "CONTAINMENT",
    "DEFAULT_MAX_CELLS",
    "H3_INDEX",
    "check_resolution",
    "embed_h3",
    "estimate_cell_count",
    "h3_cells",
    "h3_centers",
    "h3_polygons",
]
