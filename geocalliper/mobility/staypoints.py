"""Raw GPS to visits: position fixes -> staypoints -> locations -> visits.

The published trackintel / MHSA pipeline, written here because trackintel's pins do
not match this project's pandas and GeoPandas:

1. **Staypoints** (sliding window, Li et al. 2008, as trackintel does it): from a fix ``i``,
   extend to the following fixes while they stay within ``dist_threshold`` metres
   (haversine) of fix ``i`` and no gap between fixes exceeds ``gap_threshold``
   minutes; when the time from fix ``i`` to the fix that leaves is at least
   ``time_threshold`` minutes, the stretch is a staypoint at the mean position of
   its fixes (a stretch at the end of a track, or before a gap, ends at its last fix).
2. **Activity**: a staypoint longer than ``activity_threshold`` minutes is an activity.
3. **Locations**: DBSCAN over all users' activity staypoints (haversine, ``eps``
   metres, ``min_samples``); staypoints labelled noise get no location.
4. **Visits**: activity staypoints with a location.

Defaults are the MHSA paper's: 200 m / 30 min, gaps up to 24 h, activity > 25 min,
DBSCAN eps 20 m, min 2.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._constants import (
    DURATION_COLUMN,
    END_COLUMN,
    LOCATION_COLUMN,
    START_COLUMN,
    USER_COLUMN,
    WGS84,
)
from ..exceptions import EmptyDataError
from ..spatial.coords import as_geoseries
from .readers import TRACKED_COLUMN
from .visits import _column, _parse_times

EARTH_RADIUS_M = 6_371_000.0


def haversine_m(lon0: float, lat0: float, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres from one point to many (degrees in).

    Examples
    --------
    >>> round(float(haversine_m(0.0, 0.0, np.array([0.0]), np.array([1.0]))[0]))
    111195
    """
    p0, p = np.radians(lat0), np.radians(lat)
    dphi = p - p0
    dlmb = np.radians(lon - lon0)
    a = np.sin(dphi / 2) ** 2 + np.cos(p0) * np.cos(p) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _user_staypoints(
    t: np.ndarray, lon: np.ndarray, lat: np.ndarray, dist: float, dur_ns: int, gap_ns: int
) -> list[tuple[int, int, int]]:
    """(first fix, last fix, fix that ends it) of each staypoint of one user.

    A staypoint ends at the first fix that leaves the radius (its time is the
    staypoint's end), or at its own last fix where a data gap or the end of the
    track follows.
    """
    out: list[tuple[int, int, int]] = []
    n, i = len(t), 0
    gaps = np.diff(t) > gap_ns  # gaps[k]: the step from fix k to k + 1 is a data gap
    while i < n - 1:
        # last index j such that fixes i..j are all within `dist` of i, with no gap
        j, block = i, 64
        while True:
            stop = min(n, j + 1 + block)
            d = haversine_m(lon[i], lat[i], lon[j + 1 : stop], lat[j + 1 : stop])
            far = (d > dist) | gaps[j : stop - 1]
            if far.any():
                j += int(np.argmax(far))
                break
            j = stop - 1
            if stop == n:
                break
            block *= 2
        end = j + 1 if j + 1 < n and not gaps[j] else j
        if j > i and t[end] - t[i] >= dur_ns:
            out.append((i, j, end))
            i = j + 1
        else:
            i += 1
    return out


def generate_staypoints(
    positionfixes: gpd.GeoDataFrame,
    *,
    dist_threshold: float = 200.0,
    time_threshold: float = 30.0,
    gap_threshold: float = 1440.0,
    user_col: str = USER_COLUMN,
    time_col: str = TRACKED_COLUMN,
    progress: bool = True,
) -> gpd.GeoDataFrame:
    """Detect staypoints in GPS position fixes (sliding window; see the module notes).

    Parameters
    ----------
    positionfixes
        Point GeoDataFrame with a user and a time column, any CRS.
    dist_threshold
        Metres a staypoint's fixes may lie from its first fix (default 200).
    time_threshold
        Minimum minutes of a staypoint (default 30).
    gap_threshold
        A step between fixes longer than this many minutes ends a staypoint
        (default 24 h, as in the MHSA pipeline), so no staypoint spans a longer
        data gap.

    Returns
    -------
    geopandas.GeoDataFrame
        ``user_id``, ``started_at``, ``finished_at``, ``duration`` (minutes),
        ``n_fixes`` and the mean position, in EPSG:4326.
    """
    geoms = as_geoseries(positionfixes, name="position fixes", unique_index=False)
    users = _column(positionfixes, user_col, "user", "Pass user_col= with the right name.")
    times = _column(positionfixes, time_col, "time", "Pass time_col= with the right name.")
    instant, _ = _parse_times(times.reset_index(drop=True), time_col)
    ll = geoms.to_crs(WGS84)
    frame = pd.DataFrame(
        {"user": users.to_numpy(), "t": instant, "lon": ll.x.to_numpy(), "lat": ll.y.to_numpy()}
    ).sort_values(["user", "t"], kind="stable", ignore_index=True)
    rows = []
    groups = frame.groupby("user", sort=True)
    for user, g in tqdm(groups, desc="staypoints", unit="user", disable=not progress):
        t, lon, lat = g["t"].to_numpy(), g["lon"].to_numpy(), g["lat"].to_numpy()
        spans = _user_staypoints(
            t, lon, lat, dist_threshold, int(time_threshold * 6e10), int(gap_threshold * 6e10)
        )
        for a, b, end in spans:
            rows.append(
                (user, t[a], t[end], lon[a : b + 1].mean(), lat[a : b + 1].mean(), b - a + 1)
            )
    sp = pd.DataFrame(rows, columns=["user", "start", "end", "lon", "lat", "n_fixes"])
    tz = getattr(times.dtype, "tz", None)
    start = pd.to_datetime(sp["start"].astype("int64"), unit="ns", utc=tz is not None)
    end = pd.to_datetime(sp["end"].astype("int64"), unit="ns", utc=tz is not None)
    if tz is not None:
        start, end = start.dt.tz_convert(tz), end.dt.tz_convert(tz)
    out = pd.DataFrame(
        {
            user_col: sp["user"].to_numpy(),
            START_COLUMN: start,
            END_COLUMN: end,
            DURATION_COLUMN: (sp["end"] - sp["start"]).to_numpy() / 6e10,
            "n_fixes": sp["n_fixes"].to_numpy(),
        }
    )
    return gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(sp["lon"], sp["lat"]), crs=WGS84)


def generate_locations(
    staypoints: gpd.GeoDataFrame, *, eps: float = 20.0, min_samples: int = 2
) -> tuple[pd.Series, gpd.GeoDataFrame]:
    """Cluster staypoints into locations with DBSCAN (haversine, over all users).

    Returns
    -------
    (pandas.Series, geopandas.GeoDataFrame)
        The location id of each staypoint (``<NA>`` for DBSCAN noise), aligned to
        ``staypoints.index``; and the locations: id index, ``n_staypoints`` and the
        mean position of their staypoints (EPSG:4326).
    """
    from sklearn.cluster import DBSCAN

    geoms = as_geoseries(staypoints, name="staypoints", unique_index=False).to_crs(WGS84)
    lonlat = np.column_stack([geoms.x.to_numpy(), geoms.y.to_numpy()])
    labels = DBSCAN(
        eps=eps / EARTH_RADIUS_M,
        min_samples=min_samples,
        metric="haversine",
        algorithm="ball_tree",
    ).fit_predict(np.radians(lonlat[:, ::-1]))
    ids = pd.Series(labels, index=staypoints.index, name=LOCATION_COLUMN).astype("Int64")
    ids = ids.mask(ids < 0)
    member = ids.notna().to_numpy()
    stats = (
        pd.DataFrame(
            {"id": ids[member].to_numpy(), "lon": lonlat[member, 0], "lat": lonlat[member, 1]}
        )
        .groupby("id")
        .agg(lon=("lon", "mean"), lat=("lat", "mean"), n_staypoints=("lon", "size"))
    )
    stats.index = stats.index.rename(LOCATION_COLUMN)
    locs = gpd.GeoDataFrame(
        stats[["n_staypoints"]], geometry=gpd.points_from_xy(stats["lon"], stats["lat"]), crs=WGS84
    )
    return ids, locs


def gps_to_visits(
    positionfixes: gpd.GeoDataFrame,
    *,
    dist_threshold: float = 200.0,
    time_threshold: float = 30.0,
    gap_threshold: float = 1440.0,
    activity_threshold: float = 25.0,
    eps: float = 20.0,
    min_samples: int = 2,
    user_col: str = USER_COLUMN,
    time_col: str = TRACKED_COLUMN,
    progress: bool = True,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Raw GPS fixes to visits, with the MHSA defaults (see the module notes).

    Returns
    -------
    (visits, locations)
        Visits: activity staypoints that belong to a location, with ``user_id``,
        ``started_at``, ``finished_at``, ``duration`` and ``location_id``; each
        visit's geometry is its staypoint position. Locations: as
        :func:`generate_locations`.

    Examples
    --------
    >>> from geocalliper.mobility import read_geolife_plt, gps_to_visits
    >>> pfs = read_geolife_plt("shared/data/geolife-gps/geolife_long")   # doctest: +SKIP
    >>> visits, locations = gps_to_visits(pfs)                           # doctest: +SKIP
    """
    sp = generate_staypoints(
        positionfixes,
        dist_threshold=dist_threshold,
        time_threshold=time_threshold,
        gap_threshold=gap_threshold,
        user_col=user_col,
        time_col=time_col,
        progress=progress,
    )
    sp = sp[sp[DURATION_COLUMN] > activity_threshold].reset_index(drop=True)
    if sp.empty:
        raise EmptyDataError(
            "No activity staypoints were found; lower time_threshold or dist_threshold, "
            "or check the fixes' time column."
        )
    ids, locs = generate_locations(sp, eps=eps, min_samples=min_samples)
    sp[LOCATION_COLUMN] = ids
    visits = sp[sp[LOCATION_COLUMN].notna()].reset_index(drop=True)
    return visits, locs
