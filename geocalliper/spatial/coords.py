"""From geometries in any CRS to validated metric coordinates.

Everything that turns user geometries into the ``(N, 2)`` float64 arrays the
encoders take lives here: type, emptiness, CRS and geometry checks, the choice
of a projected metric CRS, reprojection, and the reduction of lines and polygons
to one point inside them.
"""

from __future__ import annotations

import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ..exceptions import (
    CRSError,
    DuplicateIndexError,
    EmptyDataError,
    InvalidGeometryError,
    MissingCRSError,
)

GeoLike = gpd.GeoDataFrame | gpd.GeoSeries


def _labels(index: pd.Index, mask: np.ndarray, limit: int = 5) -> str:
    bad = list(index[mask][:limit])
    more = int(mask.sum()) - len(bad)
    return ", ".join(map(repr, bad)) + (f" and {more} more" if more > 0 else "")


def as_geoseries(data: Any, *, name: str = "points", unique_index: bool = True) -> gpd.GeoSeries:
    """Validate ``data`` and return its active geometry as a GeoSeries.

    Checks, in order: a GeoDataFrame or GeoSeries was given; it has rows; it has a
    CRS; its index is unique (when ``unique_index``); no geometry is missing or empty.

    Parameters
    ----------
    data
        GeoDataFrame or GeoSeries.
    name
        What the data is, for error messages.
    unique_index
        Refuse duplicate index labels, because results are aligned to the index.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> as_geoseries(gpd.GeoSeries([Point(0, 0)], crs=4326)).size
    1
    """
    if isinstance(data, gpd.GeoDataFrame):
        if data._geometry_column_name not in data.columns:
            raise InvalidGeometryError(
                f"The {name} GeoDataFrame has no active geometry column; "
                "set one with gdf.set_geometry('column')."
            )
        geoms = data.geometry
    elif isinstance(data, gpd.GeoSeries):
        geoms = data
    else:
        raise TypeError(
            f"{name} must be a GeoDataFrame or GeoSeries, got {type(data).__name__}. "
            "Build one with geopandas.GeoDataFrame(df, geometry=geopandas.points_from_xy"
            "(df.lon, df.lat), crs='EPSG:4326')."
        )
    if len(geoms) == 0:
        raise EmptyDataError(f"The {name} frame is empty: there is nothing to embed.")
    if geoms.crs is None:
        raise MissingCRSError(
            f"The {name} have no CRS, so their coordinates cannot be placed. Set it with "
            "gdf.set_crs('EPSG:4326') (longitude/latitude) or the CRS they are in."
        )
    if unique_index and not geoms.index.is_unique:
        dup = geoms.index.duplicated(keep=False)
        raise DuplicateIndexError(
            f"The {name} index has duplicate labels ({_labels(geoms.index, dup)}), so "
            "results could not be aligned to it. Use gdf.reset_index(drop=True) first."
        )
    missing = np.asarray(geoms.isna() | geoms.is_empty)
    if missing.any():
        raise InvalidGeometryError(
            f"{int(missing.sum())} of the {name} have a missing or empty geometry "
            f"(index {_labels(geoms.index, missing)}). Drop them first, e.g. "
            "gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]."
        )
    return geoms


def metric_crs(crs: Any) -> CRS:
    """Return ``crs`` as a ``pyproj.CRS`` after checking it is projected, in metres.

    Raises
    ------
    CRSError
        If the CRS is geographic or its axes are not in metres.

    Examples
    --------
    >>> metric_crs("EPSG:32618").to_epsg()
    32618
    """
    try:
        out = CRS.from_user_input(crs)
    except Exception as exc:
        raise CRSError(f"Cannot read the CRS {crs!r}: {exc}") from exc
    if not out.is_projected:
        raise CRSError(
            f"The CRS {out.name!r} is not projected; the encoder needs coordinates in "
            "metres. Pass a projected CRS such as gdf.estimate_utm_crs(), or leave crs=None "
            "to let geocalliper choose one."
        )
    units = {(ax.unit_name or "").lower() for ax in out.axis_info}
    if not units <= {"metre", "meter", "m"}:
        raise CRSError(
            f"The CRS {out.name!r} has axes in {sorted(units)}, not metres. Pass a projected "
            "CRS in metres, e.g. gdf.estimate_utm_crs()."
        )
    return out


def _antimeridian_utm(geoms: gpd.GeoSeries) -> CRS | None:
    """The UTM zone of geographic ``geoms`` that straddle the antimeridian (±180°), by
    the circular mean of their longitudes; ``None`` for data that do not, or that
    spread over more than half the globe."""
    if geoms.crs is None or not CRS(geoms.crs).is_geographic or geoms.empty:
        return None
    xy = shapely.get_coordinates(np.asarray(geoms.values))
    if not len(xy) or np.ptp(xy[:, 0]) <= 180.0:
        return None
    angle = np.deg2rad(xy[:, 0])
    mean = np.arctan2(np.sin(angle).mean(), np.cos(angle).mean())
    gap = np.abs(np.angle(np.exp(1j * (angle - mean))))  # each point's distance to the mean
    if gap.max() > np.pi / 2:
        return None
    zone = int((np.rad2deg(mean) + 180.0) // 6.0) % 60 + 1
    return CRS.from_epsg((32600 if np.mean(xy[:, 1]) >= 0 else 32700) + zone)


def estimate_metric_crs(geoms: gpd.GeoSeries) -> CRS:
    """Choose a UTM CRS in metres that suits ``geoms`` (``estimate_utm_crs``).

    Data that straddle the antimeridian (e.g. Fiji, longitudes 179° and -179°) get the
    zone around their circular mean longitude, not one around longitude 0.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> fiji = gpd.GeoSeries([Point(179.5, -17.0), Point(-179.8, -16.5)], crs=4326)
    >>> estimate_metric_crs(fiji).to_epsg()
    32760
    """
    try:
        return _antimeridian_utm(geoms) or geoms.estimate_utm_crs()
    except Exception as exc:  # e.g. bounds outside any UTM zone
        raise CRSError(
            f"Could not choose a UTM CRS for these data ({exc}). Pass crs= with a projected "
            "CRS in metres."
        ) from exc


def check_geographic_range(geoms: gpd.GeoSeries, name: str = "points") -> None:
    """Refuse geometries reaching beyond longitude ±180 / latitude ±90 in a geographic CRS.

    Such coordinates are almost always metres labelled with the wrong CRS.
    """
    if geoms.crs is None or not CRS(geoms.crs).is_geographic or geoms.empty:
        return
    b = geoms.bounds.to_numpy()
    bad = (np.abs(b[:, [0, 2]]) > 180.0).any(axis=1) | (np.abs(b[:, [1, 3]]) > 90.0).any(axis=1)
    if bad.any():
        raise InvalidGeometryError(
            f"{int(bad.sum())} of the {name} lie outside longitude ±180 / latitude ±90 "
            f"(index {_labels(geoms.index, bad)}) although their CRS is "
            f"{CRS(geoms.crs).name!r}. If the coordinates are metres, set their real CRS with "
            "gdf.set_crs(..., allow_override=True); if longitude and latitude are swapped, "
            "rebuild the points as points_from_xy(lon, lat)."
        )


def check_projected(xy: np.ndarray, index: pd.Index, crs: CRS, name: str = "points") -> None:
    """Refuse rows of ``xy`` that did not survive projection to ``crs`` (inf or NaN)."""
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        raise InvalidGeometryError(
            f"{int(bad.sum())} of the {name} cannot be projected to {crs.name!r} "
            f"(index {_labels(index, bad)}); they lie outside its area of use."
        )


def inner_points(geoms: np.ndarray | gpd.GeoSeries) -> np.ndarray:
    """One point inside each geometry, as ``(N, 2)`` float64 x, y.

    Polygons: the centroid when it lies inside, else the representative point.
    Lines: the midpoint by length. Points: themselves. Anything else (multi-points,
    collections): the representative point. Unlike the representative point alone,
    the centroid and the midpoint move continuously with the vertices, so the same
    shape given in another CRS (vertices that differ by rounding) gives the same point.

    Examples
    --------
    >>> from shapely.geometry import LineString, box
    >>> crescent = box(0, 0, 4, 4).difference(box(1, 1, 4, 3))
    >>> inner_points(np.array([box(0, 0, 2, 2), LineString([(0, 0), (4, 0)]), crescent])).tolist()
    [[1.0, 1.0], [2.0, 0.0], [0.5, 2.0]]
    """
    geoms = np.asarray(geoms, dtype=object)
    types = shapely.get_type_id(geoms)
    out = shapely.get_coordinates(shapely.point_on_surface(geoms)).reshape(-1, 2)
    polygonal = np.isin(types, [3, 6])
    if polygonal.any():
        cent = shapely.get_coordinates(shapely.centroid(geoms[polygonal])).reshape(-1, 2)
        inside = shapely.contains_xy(geoms[polygonal], cent[:, 0], cent[:, 1])
        out[np.flatnonzero(polygonal)[inside]] = cent[inside]
    lineal = np.isin(types, [1, 2, 5])
    if lineal.any():
        mid = shapely.line_interpolate_point(geoms[lineal], 0.5, normalized=True)
        out[lineal] = shapely.get_coordinates(mid).reshape(-1, 2)
    return out


def project_points(geoms: gpd.GeoSeries, crs: CRS, *, name: str = "points") -> np.ndarray:
    """Reproject point geometries to ``crs`` and return ``(N, 2)`` float64 x, y.

    Raises ``InvalidGeometryError`` for non-finite coordinates, longitudes or
    latitudes out of range, or points that cannot be projected to ``crs``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> xy = project_points(gpd.GeoSeries([Point(-74.0, 40.7)], crs=4326), metric_crs(32618))
    >>> xy.round(0).tolist()
    [[584482.0, 4505936.0]]
    """
    xy_in = shapely.get_coordinates(geoms.values)
    if xy_in.shape[0] != len(geoms):
        raise InvalidGeometryError(f"The {name} must be single points; reduce them first.")
    finite = np.isfinite(xy_in).all(axis=1)
    if not finite.all():
        raise InvalidGeometryError(
            f"{int((~finite).sum())} of the {name} have NaN or infinite coordinates "
            f"(index {_labels(geoms.index, ~finite)}). Drop or fix them first."
        )
    check_geographic_range(geoms, name)
    projected = geoms if CRS(geoms.crs) == crs else geoms.to_crs(crs)
    xy = shapely.get_coordinates(projected.values).astype(np.float64, copy=False)
    check_projected(xy, geoms.index, crs, name)
    return xy


def geometries_to_xy(
    geoms: gpd.GeoSeries, crs: CRS, *, name: str = "points", warn: bool = True
) -> np.ndarray:
    """Coordinates in ``crs`` of validated geometries: points as they are, anything else
    reduced to :func:`inner_points` after projection (so the choice does not depend on
    the input CRS). With ``warn``, a ``UserWarning`` says how many were reduced.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> g = gpd.GeoSeries([box(0, 0, 200, 200)], crs=32635)
    >>> geometries_to_xy(g, metric_crs(32635), warn=False).tolist()
    [[100.0, 100.0]]
    """
    types = np.asarray(geoms.geom_type)
    is_point = types == "Point"
    if is_point.all():
        return project_points(geoms, crs, name=name)
    xy = np.empty((len(geoms), 2), dtype=np.float64)
    if is_point.any():
        xy[is_point] = project_points(geoms[is_point], crs, name=name)
    other = geoms[~is_point]
    check_geographic_range(other, name)
    local = other if CRS(other.crs) == crs else other.to_crs(crs)
    xy[~is_point] = inner_points(local.values)
    check_projected(xy[~is_point], other.index, crs, name)
    if warn:
        counts = pd.Series(types[~is_point]).value_counts()
        kinds = ", ".join(f"{n} {t}" for t, n in counts.items())
        warnings.warn(
            f"{int((~is_point).sum())} of the {name} are not points ({kinds}); each was "
            "embedded at its centroid (or, where that falls outside, another point inside "
            "it). Use gdf.calliper.embed(model, how='centroid') to keep this without the "
            "warning, or how='mean' for the mean embedding of points sampled inside.",
            UserWarning,
            stacklevel=3,
        )
    return xy


def points_to_xy(
    data: Any, crs: CRS, *, name: str = "points", unique_index: bool = True
) -> tuple[np.ndarray, pd.Index]:
    """Validate ``data`` and return its coordinates in ``crs`` and its index.

    Non-point geometries are reduced with :func:`geometries_to_xy`, with a warning.
    """
    geoms = as_geoseries(data, name=name, unique_index=unique_index)
    return geometries_to_xy(geoms, crs, name=name), geoms.index
