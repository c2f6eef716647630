"""Study areas and sample points: the shared input side of rasters, H3 cells and the accessor.

:func:`as_area` turns whatever describes a study area (a GeoDataFrame, a GeoSeries, a
shapely geometry with a CRS, or bounds with a CRS) into one validated GeoSeries of
polygons; :func:`sample_in_geometry` draws random points inside a geometry, for
``how="mean"`` reductions.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from ..exceptions import EmptyDataError, InvalidGeometryError, MissingCRSError

AreaLike = gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | tuple[float, float, float, float]


def as_area(area: AreaLike, crs: Any = None) -> gpd.GeoSeries:
    """Return the study area as a GeoSeries of its (non-empty) geometries.

    Parameters
    ----------
    area
        A GeoDataFrame or GeoSeries (their CRS is used; ``crs`` must then be ``None``
        or the same), a shapely geometry, or bounds ``(minx, miny, maxx, maxy)``; the
        last two need ``crs``.
    crs
        CRS of a bare geometry or bounds.

    Examples
    --------
    >>> as_area((24.9, 60.15, 25.0, 60.2), crs="EPSG:4326").total_bounds.tolist()
    [24.9, 60.15, 25.0, 60.2]
    """
    if isinstance(area, gpd.GeoDataFrame):
        area = area.geometry
    if isinstance(area, gpd.GeoSeries):
        if area.crs is None:
            if crs is None:
                raise MissingCRSError(
                    "The study area has no CRS. Set it with area.set_crs('EPSG:4326') "
                    "(or the CRS its coordinates are in)."
                )
            area = area.set_crs(crs)
        elif crs is not None and CRS.from_user_input(crs) != area.crs:
            area = area.to_crs(crs)
        geoms = area
    else:
        if isinstance(area, BaseGeometry):
            geom = area
        elif isinstance(area, tuple | list | np.ndarray) and len(area) == 4:
            minx, miny, maxx, maxy = map(float, area)
            if not (minx < maxx and miny < maxy) or not np.isfinite([minx, miny, maxx, maxy]).all():
                raise InvalidGeometryError(
                    f"Bounds must be finite (minx, miny, maxx, maxy) with minx < maxx and "
                    f"miny < maxy, got {tuple(area)}."
                )
            geom = box(minx, miny, maxx, maxy)
        else:
            raise TypeError(
                "area must be a GeoDataFrame, GeoSeries, shapely geometry or "
                f"(minx, miny, maxx, maxy) bounds, got {type(area).__name__}."
            )
        if crs is None:
            raise MissingCRSError("A bare geometry or bounds needs crs=..., e.g. crs='EPSG:4326'.")
        geoms = gpd.GeoSeries([geom], crs=crs)
    geoms = geoms[geoms.notna() & ~geoms.is_empty]
    if geoms.empty:
        raise EmptyDataError("The study area is empty: give at least one non-empty geometry.")
    return geoms


def sample_in_geometry(
    geom: BaseGeometry, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` random points inside one geometry; return their x and y arrays.

    Polygons are sampled uniformly by area (rejection sampling in the bounding box),
    lines uniformly by length, points are repeated.

    Examples
    --------
    >>> x, y = sample_in_geometry(box(10, 10, 12, 11), 4, np.random.default_rng(0))
    >>> bool(((x >= 10) & (x <= 12) & (y >= 10) & (y <= 11)).all())
    True
    """
    if geom is None or geom.is_empty:
        raise InvalidGeometryError("Cannot sample points in a missing or empty geometry.")
    kind = geom.geom_type
    if kind in ("Point", "MultiPoint"):
        coords = shapely.get_coordinates(geom)
        pick = rng.integers(0, len(coords), n)
        return coords[pick, 0], coords[pick, 1]
    if kind in ("LineString", "MultiLineString", "LinearRing"):
        dist = rng.uniform(0.0, geom.length, n)
        pts = shapely.line_interpolate_point(geom, dist)
        coords = shapely.get_coordinates(pts)
        return coords[:, 0], coords[:, 1]
    if geom.area <= 0:
        pt = geom.representative_point()
        return np.full(n, pt.x), np.full(n, pt.y)
    minx, miny, maxx, maxy = geom.bounds
    shapely.prepare(geom)
    out_x: list[np.ndarray] = []
    out_y: list[np.ndarray] = []
    found = 0
    fill = max(geom.area / ((maxx - minx) * (maxy - miny)), 1e-3)
    for _ in range(100):
        m = int(np.ceil((n - found) / fill * 1.2)) + 8
        x = rng.uniform(minx, maxx, m)
        y = rng.uniform(miny, maxy, m)
        inside = shapely.contains_xy(geom, x, y)
        out_x.append(x[inside])
        out_y.append(y[inside])
        found += int(inside.sum())
        if found >= n:
            break
    else:  # pragma: no cover - a sliver that rejection sampling cannot hit
        pt = geom.representative_point()
        out_x.append(np.full(n, pt.x))
        out_y.append(np.full(n, pt.y))
    return np.concatenate(out_x)[:n], np.concatenate(out_y)[:n]
