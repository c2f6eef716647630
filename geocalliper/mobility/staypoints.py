"""Raw GPS to visits: position fixes -> staypoints -> locations -> visits.

The trackintel / MHSA pipeline, written here so that it runs one user at a time (peak
memory: one user's fixes, however many users there are) and fast. On the same fixes
it gives trackintel 1.4.2's staypoints and, with ``haversine_order="trackintel"``,
its location partition (a test checks both against trackintel itself).

Length: about 650 lines, one pipeline whose steps share their per-user arrays and rules
(reading, staypoints, merging, the user filter, locations); split, each step would need
the others' private helpers.

1. **Duplicates**: a fix that repeats an earlier fix of the same user exactly (time,
   position, and altitude where there is one) is dropped, counted and warned about,
   as trackintel does; fixes that merely share a time are kept, in their input order.
2. **Staypoints** (sliding window of Li et al. 2008, as trackintel does it): with an
   anchor fix ``s``, each following fix ``c`` is checked in turn. If the step into
   ``c`` is a data gap (longer than ``gap_threshold``), the stretch is dropped and
   ``c`` becomes the anchor. If ``c`` lies ``dist_threshold`` metres or more from
   ``s`` (haversine), the fixes ``s .. c-1`` are a staypoint from the time of ``s``
   to the time of ``c``, when that is at least ``time_threshold`` minutes (a single
   fix can be one); either way ``c`` becomes the anchor. With ``include_last`` (as
   the MHSA pipeline runs it) the stretch left at the end of a track is a staypoint
   too when long enough. A staypoint's position is the mean of its *distinct* fix
   positions (longitude averaged as an angle), as trackintel computes it.
3. **Activity**: a staypoint longer than ``activity_threshold`` minutes is an activity.
4. **User quality** (optional, MHSA): users tracked for at most ``min_tracked_days``
   days (their first to last fix) are left out.
5. **Locations**: DBSCAN over all users' activity staypoints (haversine, ``eps``
   metres, ``min_samples``), fed in (user, start) order as trackintel does; staypoints
   labelled noise get no location. trackintel passes ``[lon, lat]`` to scikit-learn's
   haversine metric, which expects ``[lat, lon]``; here the order is right by default
   and ``haversine_order="trackintel"`` reproduces trackintel's.
6. **Merging** (optional, MHSA): consecutive located activity staypoints of a user at
   one location less than ``merge_gap`` minutes apart become one visit.
7. **Visits**: the located activity staypoints (merged where asked).

Defaults are the MHSA paper's: 200 m / 30 min, gaps up to 24 h, the last stretch kept,
activity > 25 min, DBSCAN eps 20 m, min 2. ``min_tracked_days=50`` and ``merge_gap=1``
add MHSA's user filter and merging.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

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
from .readers import TRACKED_COLUMN, UserFixes, iter_geolife_plt, warn_duplicates
from .visits import _column, _parse_times

EARTH_RADIUS_M = 6_371_000.0
#: Column of the staypoints that flags activities.
ACTIVITY_COLUMN = "is_activity"
HaversineOrder = Literal["lat_lon", "trackintel"]
_NS_PER_MIN = 60 * 10**9
_NS_PER_DAY = 86_400 * 10**9
#: Altitude columns that take part in the exact-duplicate test of a fixes frame.
_ALTITUDE_COLUMNS = ("altitude_m", "elevation")


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


# ---------------------------------------------------------------- staypoints of one user
def _li2008(
    t: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    dist: float,
    dur_ns: int,
    gap_ns: int,
    include_last: bool,
) -> list[tuple[int, int, int]]:
    """``(first fix, stop, end fix)`` of each staypoint of one user, fixes time-sorted.

    The staypoint holds fixes ``first .. stop-1`` and ends at the time of ``end fix``.
    Each fix is compared with the anchor once: a short pure-Python scan first (moving
    stretches leave the radius within a few fixes), then numpy blocks that grow
    fourfold (long stays).
    """
    n = len(t)
    out: list[tuple[int, int, int]] = []
    if n == 0:
        return out
    latr, lonr = np.radians(lat), np.radians(lon)
    coslat = np.cos(latr)
    gap = np.zeros(n, dtype=bool)
    gap[1:] = np.diff(t) > gap_ns
    # d >= dist  <=>  a >= sin^2(dist / 2R), a the haversine term
    far = math.sin(min(dist / (2 * EARTH_RADIUS_M), math.pi / 2)) ** 2
    tl, la, lo, cl, gl = t.tolist(), latr.tolist(), lonr.tolist(), coslat.tolist(), gap.tolist()
    sin = math.sin
    start, curr = 0, 1
    while curr < n:
        la0, lo0, c0 = la[start], lo[start], cl[start]
        found = -1
        for k in range(curr, min(n, curr + 16)):
            if gl[k]:
                found = k
                break
            s1, s2 = sin((la[k] - la0) * 0.5), sin((lo[k] - lo0) * 0.5)
            if s1 * s1 + c0 * cl[k] * s2 * s2 >= far:
                found = k
                break
        else:
            k, block = min(n, curr + 16), 64
            while k < n:
                e = min(n, k + block)
                s1, s2 = np.sin((latr[k:e] - la0) * 0.5), np.sin((lonr[k:e] - lo0) * 0.5)
                hit = (s1 * s1 + c0 * coslat[k:e] * s2 * s2 >= far) | gap[k:e]
                if hit.any():
                    found = k + int(hit.argmax())
                    break
                k, block = e, block * 4
        if found < 0:
            break
        if not gl[found] and tl[found] - tl[start] >= dur_ns:
            out.append((start, found, found))
        start, curr = found, found + 1
    if include_last:
        last = n - 1
        if tl[last] - tl[start] >= dur_ns:
            out.append((start, n, last))
    return out


def _centres(
    lon: np.ndarray, lat: np.ndarray, first: np.ndarray, stop: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the distinct positions of each staypoint; longitude as an angle."""
    lengths = stop - first
    sp = np.repeat(np.arange(len(first)), lengths)
    pos = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    pos += np.repeat(first, lengths)
    x, y = lon[pos], lat[pos]
    order = np.lexsort((y, x, sp))
    sp, x, y = sp[order], x[order], y[order]
    new = np.ones(len(sp), dtype=bool)
    new[1:] = (sp[1:] != sp[:-1]) | (x[1:] != x[:-1]) | (y[1:] != y[:-1])
    sp, x, y = sp[new], x[new], y[new]
    count = np.bincount(sp, minlength=len(first))
    y_mean = np.bincount(sp, weights=y, minlength=len(first)) / count
    xr = np.deg2rad(x)
    sin_m = np.bincount(sp, weights=np.sin(xr), minlength=len(first)) / count
    cos_m = np.bincount(sp, weights=np.cos(xr), minlength=len(first)) / count
    return np.rad2deg(np.arctan2(sin_m, cos_m)), y_mean


# ---------------------------------------------------------------- sources of fixes
def _frame_users(
    positionfixes: gpd.GeoDataFrame, user_col: str, time_col: str
) -> tuple[list[UserFixes], Any]:
    """A fixes frame as per-user arrays (sorted, exact duplicates dropped); its zone."""
    geoms = as_geoseries(positionfixes, name="position fixes", unique_index=False)
    users = _column(positionfixes, user_col, "user", "Pass user_col= with the right name.")
    times = _column(positionfixes, time_col, "time", "Pass time_col= with the right name.")
    if users.isna().any():
        raise EmptyDataError(
            f"{int(users.isna().sum())} position fixes have no {user_col!r}; drop or fill them."
        )
    instant, _ = _parse_times(times.reset_index(drop=True), time_col)
    ll = geoms if geoms.crs is not None and geoms.crs.equals(WGS84) else geoms.to_crs(WGS84)
    frame = pd.DataFrame(
        {"user": users.to_numpy(), "t": instant, "lon": ll.x.to_numpy(), "lat": ll.y.to_numpy()}
    )
    alt = next((c for c in _ALTITUDE_COLUMNS if c in positionfixes.columns), None)
    frame["alt"] = positionfixes[alt].to_numpy(dtype=np.float64) if alt else 0.0
    bad = ~(np.isfinite(frame["lon"]) & np.isfinite(frame["lat"]))
    if bad.any():
        raise EmptyDataError(
            f"{int(bad.sum())} position fixes have empty or non-finite points; drop them."
        )
    read = frame.groupby("user", sort=True).size()
    frame = frame[~frame.duplicated(["user", "t", "lon", "lat", "alt"])]
    frame = frame.sort_values(["user", "t"], kind="stable")
    parts = []
    for user, g in frame.groupby("user", sort=True):
        t = g["t"].to_numpy()
        parts.append(
            UserFixes(
                user=user,
                t=t,
                lon=g["lon"].to_numpy(),
                lat=g["lat"].to_numpy(),
                altitude_m=g["alt"].to_numpy(),
                n_read=int(read[user]),
                n_duplicates=int(read[user]) - len(g),
                n_same_time=int((np.diff(t) == 0).sum()),
            )
        )
    return parts, getattr(times.dtype, "tz", None)


def _sources(
    positionfixes: gpd.GeoDataFrame | str | os.PathLike,
    user_col: str,
    time_col: str,
    tz: str | None,
    users: Any,
    progress: bool,
) -> tuple[Iterator[UserFixes], Any]:
    if isinstance(positionfixes, str | os.PathLike):
        path = Path(positionfixes)
        if path.is_dir():
            return iter_geolife_plt(path, users=users, progress=progress), tz or "UTC"
        from .gpsio import read_fixes  # a CSV or GeoParquet file of fixes

        positionfixes = read_fixes(path, user_col=user_col, time_col=time_col)
    if users is not None:
        wanted = set(users)
        positionfixes = positionfixes[positionfixes[user_col].isin(wanted)]
    parts, zone = _frame_users(positionfixes, user_col, time_col)
    it = tqdm(parts, desc="staypoints", unit="user", disable=not progress)
    return iter(it), (tz or zone)


def _times(ns: np.ndarray, tz: Any) -> pd.Series:
    if tz is None:
        return pd.Series(pd.to_datetime(ns, unit="ns"))
    return pd.Series(pd.to_datetime(ns, unit="ns", utc=True)).dt.tz_convert(tz)


def _staypoints(
    positionfixes: gpd.GeoDataFrame | str | os.PathLike,
    *,
    dist_threshold: float,
    time_threshold: float,
    gap_threshold: float,
    include_last: bool,
    user_col: str,
    time_col: str,
    tz: str | None,
    users: Any,
    progress: bool,
) -> tuple[gpd.GeoDataFrame, dict[str, Any], pd.Series]:
    """Staypoints, the fix counts, and each user's tracked days (first to last fix)."""
    if dist_threshold <= 0 or time_threshold < 0 or gap_threshold <= 0:
        raise ValueError(
            "dist_threshold and gap_threshold must be positive and time_threshold not "
            f"negative (got {dist_threshold}, {gap_threshold}, {time_threshold})."
        )
    source, zone = _sources(positionfixes, user_col, time_col, tz, users, progress)
    dur_ns, gap_ns = round(time_threshold * _NS_PER_MIN), round(gap_threshold * _NS_PER_MIN)
    report = dict.fromkeys(
        ("users", "files", "fixes_read", "exact_duplicates_dropped", "same_time_fixes_kept"), 0
    )
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("user", "a", "b", "lon", "lat", "n")}
    tracked: dict[Any, int] = {}
    for fx in source:
        report["users"] += 1
        report["files"] += fx.n_files
        report["fixes_read"] += fx.n_read
        report["exact_duplicates_dropped"] += fx.n_duplicates
        report["same_time_fixes_kept"] += fx.n_same_time
        if len(fx.t) == 0:
            continue
        tracked[fx.user] = int((fx.t[-1] - fx.t[0]) // _NS_PER_DAY)
        spans = _li2008(fx.t, fx.lon, fx.lat, dist_threshold, dur_ns, gap_ns, include_last)
        if not spans:
            continue
        first, stop, end = (np.array(v, dtype=np.int64) for v in zip(*spans, strict=True))
        lon, lat = _centres(fx.lon, fx.lat, first, stop)
        cols["user"].append(np.full(len(first), fx.user, dtype=object))
        cols["a"].append(fx.t[first])
        cols["b"].append(fx.t[end])
        cols["lon"].append(lon)
        cols["lat"].append(lat)
        cols["n"].append(stop - first)
    if report["users"] == 0:
        raise EmptyDataError("There are no position fixes.")
    warn_duplicates(
        report["exact_duplicates_dropped"], report["same_time_fixes_kept"], report["fixes_read"]
    )
    cat = {
        k: (np.concatenate(v) if v else np.empty(0, dtype=object if k == "user" else np.int64))
        for k, v in cols.items()
    }
    a, b = cat["a"].astype(np.int64), cat["b"].astype(np.int64)
    out = pd.DataFrame(
        {
            user_col: cat["user"],
            START_COLUMN: _times(a, zone),
            END_COLUMN: _times(b, zone),
            DURATION_COLUMN: (b - a) / 6e10,
            "n_fixes": cat["n"].astype(np.int64),
        }
    )
    sp = gpd.GeoDataFrame(
        out,
        geometry=gpd.points_from_xy(cat["lon"].astype(float), cat["lat"].astype(float)),
        crs=WGS84,
    )
    report["staypoints"] = len(sp)
    sp.attrs["gps_report"] = dict(report)
    return sp, report, pd.Series(tracked, name="tracked_days", dtype="int64")


def generate_staypoints(
    positionfixes: gpd.GeoDataFrame | str | os.PathLike,
    *,
    dist_threshold: float = 200.0,
    time_threshold: float = 30.0,
    gap_threshold: float = 1440.0,
    include_last: bool = True,
    user_col: str = USER_COLUMN,
    time_col: str = TRACKED_COLUMN,
    tz: str | None = None,
    users: Any = None,
    progress: bool = True,
) -> gpd.GeoDataFrame:
    """Detect staypoints in GPS position fixes (sliding window; see the module notes).

    Parameters
    ----------
    positionfixes
        Point GeoDataFrame with a user and a time column (any CRS); or a GeoLife
        ``Data`` folder (``NNN/Trajectory/*.plt``), read one user at a time; or a
        CSV / GeoParquet file of fixes (see :func:`~geocalliper.mobility.gpsio.read_fixes`).
    dist_threshold
        Metres from the anchor fix at which a fix leaves the staypoint (default 200).
    time_threshold
        Minimum minutes of a staypoint (default 30).
    gap_threshold
        A step between fixes longer than this many minutes is a data gap: the stretch
        before it is no staypoint (default 24 h, as in the MHSA pipeline).
    include_last
        Keep the stretch at the end of each track as a staypoint when long enough
        (default True, as MHSA runs trackintel; trackintel's own default is False).
    tz
        Time zone of the output times. Default: the zone of the time column (for a
        PLT folder, ``"UTC"``, which is GeoLife's GMT).
    users
        Only these users (for a PLT folder, folder names such as ``"003"``).
    progress
        Show a progress bar over the users (over the files for a PLT folder).

    Returns
    -------
    geopandas.GeoDataFrame
        ``user_id``, ``started_at``, ``finished_at``, ``duration`` (minutes),
        ``n_fixes`` and the position, in EPSG:4326, sorted by user and time;
        ``attrs["gps_report"]`` counts the fixes read and dropped.

    Warns
    -----
    DuplicateFixesWarning
        When exact duplicate fixes were dropped (with the counts).

    Examples
    --------
    >>> sp = generate_staypoints("shared/data/geolife-gps/geolife_long")  # doctest: +SKIP
    >>> sp.attrs["gps_report"]["exact_duplicates_dropped"]                # doctest: +SKIP
    0
    """
    sp, _, _ = _staypoints(
        positionfixes,
        dist_threshold=dist_threshold,
        time_threshold=time_threshold,
        gap_threshold=gap_threshold,
        include_last=include_last,
        user_col=user_col,
        time_col=time_col,
        tz=tz,
        users=users,
        progress=progress,
    )
    return sp


# ---------------------------------------------------------------- locations
def generate_locations(
    staypoints: gpd.GeoDataFrame,
    *,
    eps: float = 20.0,
    min_samples: int = 2,
    haversine_order: HaversineOrder = "lat_lon",
    user_col: str = USER_COLUMN,
    start_col: str = START_COLUMN,
) -> tuple[pd.Series, gpd.GeoDataFrame]:
    """Cluster staypoints into locations with DBSCAN (haversine, over all users).

    Staypoints are clustered in (user, start) order, as trackintel does (DBSCAN gives
    a border point to the first cluster that reaches it).

    Parameters
    ----------
    eps, min_samples
        DBSCAN's radius in metres and minimum cluster size.
    haversine_order
        ``"lat_lon"`` (default): scikit-learn's haversine metric gets
        ``[lat, lon]`` as it expects. ``"trackintel"``: ``[lon, lat]``, as trackintel
        1.4.2 passes it, which stretches east-west distances by ``1/cos(lat)`` at
        the equator and shrinks north-south ones elsewhere; use it only to reproduce
        trackintel's locations.

    Returns
    -------
    (pandas.Series, geopandas.GeoDataFrame)
        The location id of each staypoint (``<NA>`` for DBSCAN noise), aligned to
        ``staypoints.index``; and the locations: id index, ``n_staypoints`` and the
        mean position of their staypoints (EPSG:4326).

    Examples
    --------
    >>> import geopandas as gpd
    >>> sp = gpd.GeoDataFrame(
    ...     {"user_id": [1, 1, 1], "started_at": pd.date_range("2024", periods=3)},
    ...     geometry=gpd.points_from_xy([116.3, 116.30001, 116.4], [39.9, 39.9, 39.9]), crs=4326)
    >>> ids, locs = generate_locations(sp)
    >>> ids.tolist(), locs["n_staypoints"].tolist()
    ([0, 0, <NA>], [2])
    """
    from sklearn.cluster import DBSCAN

    if haversine_order not in ("lat_lon", "trackintel"):
        raise ValueError(
            f"haversine_order must be 'lat_lon' or 'trackintel', got {haversine_order!r}."
        )
    geoms = as_geoseries(staypoints, name="staypoints", unique_index=False).to_crs(WGS84)
    lonlat = np.column_stack([geoms.x.to_numpy(), geoms.y.to_numpy()])
    labels = np.full(len(staypoints), -1, dtype=np.int64)
    if len(staypoints):
        order = np.arange(len(staypoints))
        if user_col in staypoints.columns and start_col in staypoints.columns:
            key = pd.DataFrame(
                {"u": staypoints[user_col].to_numpy(), "s": staypoints[start_col].to_numpy()}
            )
            order = key.sort_values(["u", "s"], kind="stable").index.to_numpy()
        coords = lonlat[order] if haversine_order == "trackintel" else lonlat[order, ::-1]
        labels[order] = DBSCAN(
            eps=eps / EARTH_RADIUS_M,
            min_samples=min_samples,
            metric="haversine",
            algorithm="ball_tree",
        ).fit_predict(np.radians(coords))
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


def merge_staypoints(
    staypoints: gpd.GeoDataFrame,
    *,
    max_gap: float = 1.0,
    user_col: str = USER_COLUMN,
    location_col: str = LOCATION_COLUMN,
) -> gpd.GeoDataFrame:
    """Merge consecutive staypoints of a user at one location close in time (MHSA).

    Within each user, in start order, a staypoint that starts at most ``max_gap``
    minutes after the previous one ends, at the same location, joins it (as
    trackintel's ``merge_staypoints`` with no triplegs, which MHSA runs with 1 min).
    A merged staypoint keeps the first one's start, position and location and the
    last one's end; ``n_fixes`` adds up and ``duration`` is recomputed.

    Returns
    -------
    geopandas.GeoDataFrame
        The merged staypoints, sorted by user and start, with ``n_merged``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> t = pd.to_datetime(["2024-01-01 08:00:00", "2024-01-01 09:00:00", "2024-01-01 09:30:30"])
    >>> sp = gpd.GeoDataFrame({"user_id": 1, "location_id": [4, 4, 4], "started_at": t,
    ...     "finished_at": t + pd.Timedelta("30min")}, geometry=gpd.points_from_xy([0, 0, 0],
    ...     [0, 0, 0]), crs=4326)
    >>> merge_staypoints(sp)["n_merged"].tolist()
    [1, 2]
    """
    if max_gap < 0:
        raise ValueError(f"max_gap must not be negative, got {max_gap}.")
    for col in (user_col, location_col, START_COLUMN, END_COLUMN):
        _column(staypoints, col, col, "Run generate_locations first and keep the columns.")
    sp = staypoints.sort_values([user_col, START_COLUMN], kind="stable").reset_index(drop=True)
    if sp.empty:
        return sp.assign(n_merged=pd.Series(dtype=np.int64))
    user, loc = sp[user_col].to_numpy(), sp[location_col].to_numpy()
    gap = (sp[START_COLUMN].to_numpy()[1:] - sp[END_COLUMN].to_numpy()[:-1]) / np.timedelta64(
        1, "m"
    )
    joins = (user[1:] == user[:-1]) & (pd.notna(loc[1:]) & (loc[1:] == loc[:-1])) & (gap <= max_gap)
    group = np.concatenate([[0], np.cumsum(~joins)])
    g = sp.groupby(group, sort=True)
    out = g.first()
    out[END_COLUMN] = g[END_COLUMN].last()
    if "n_fixes" in sp.columns:
        out["n_fixes"] = g["n_fixes"].sum()
    out["n_merged"] = g.size()
    out[DURATION_COLUMN] = (out[END_COLUMN] - out[START_COLUMN]).dt.total_seconds() / 60.0
    out = gpd.GeoDataFrame(out, geometry=sp.geometry.name, crs=sp.crs).reset_index(drop=True)
    return out


# ---------------------------------------------------------------- the pipeline
def gps_to_visits(
    positionfixes: gpd.GeoDataFrame | str | os.PathLike,
    *,
    dist_threshold: float = 200.0,
    time_threshold: float = 30.0,
    gap_threshold: float = 1440.0,
    include_last: bool = True,
    activity_threshold: float = 25.0,
    eps: float = 20.0,
    min_samples: int = 2,
    haversine_order: HaversineOrder = "lat_lon",
    min_tracked_days: float | None = None,
    merge_gap: float | None = None,
    return_staypoints: bool = False,
    user_col: str = USER_COLUMN,
    time_col: str = TRACKED_COLUMN,
    tz: str | None = None,
    users: Any = None,
    progress: bool = True,
) -> tuple[gpd.GeoDataFrame, ...]:
    """Raw GPS fixes to visits, with the MHSA defaults (see the module notes).

    Parameters
    ----------
    positionfixes
        A fixes GeoDataFrame, a GeoLife ``Data`` folder (read one user at a time, so
        memory does not grow with the number of users) or a CSV / GeoParquet file.
    dist_threshold, time_threshold, gap_threshold, include_last
        Staypoint rules, see :func:`generate_staypoints`.
    activity_threshold
        A staypoint longer than this many minutes is an activity (default 25).
    eps, min_samples, haversine_order
        DBSCAN over the activity staypoints, see :func:`generate_locations`.
    min_tracked_days
        MHSA's user filter: keep only users whose first and last fix are more than
        this many whole days apart (MHSA: 50). Default: keep everyone.
    merge_gap
        MHSA's merging: join consecutive visits of a user at one location at most
        this many minutes apart (MHSA: 1). Default: no merging.
    return_staypoints
        Also return every staypoint, with ``is_activity`` and ``location_id``.
    tz
        Time zone of the output times (default: the input's; ``"UTC"`` for PLT).
    users
        Only these users.
    progress
        Show a progress bar over users (files for a PLT folder).

    Returns
    -------
    (visits, locations) or (visits, locations, staypoints)
        Visits: activity staypoints that belong to a location, with ``user_id``,
        ``started_at``, ``finished_at``, ``duration`` and ``location_id``; each
        visit's geometry is its staypoint position. Locations: as
        :func:`generate_locations`. ``visits.attrs["gps_report"]`` counts every fix,
        user and staypoint read and left out, step by step.

    Examples
    --------
    >>> from geocalliper.mobility import gps_to_visits
    >>> visits, locations = gps_to_visits("shared/data/geolife-gps/geolife_long")  # doctest: +SKIP
    >>> visits, locations, sp = gps_to_visits(fixes, min_tracked_days=50, merge_gap=1,
    ...                                       return_staypoints=True)  # doctest: +SKIP
    """
    sp, report, tracked = _staypoints(
        positionfixes,
        dist_threshold=dist_threshold,
        time_threshold=time_threshold,
        gap_threshold=gap_threshold,
        include_last=include_last,
        user_col=user_col,
        time_col=time_col,
        tz=tz,
        users=users,
        progress=progress,
    )
    sp[ACTIVITY_COLUMN] = sp[DURATION_COLUMN].to_numpy() > activity_threshold
    sp[LOCATION_COLUMN] = pd.Series(pd.NA, index=sp.index, dtype="Int64")
    report["activity_staypoints"] = int(sp[ACTIVITY_COLUMN].sum())
    keep = sp[ACTIVITY_COLUMN].to_numpy().copy()
    if min_tracked_days is not None:
        good = set(tracked.index[tracked.to_numpy() > min_tracked_days])
        dropped_users = sorted(set(tracked.index) - good, key=str)
        in_good = sp[user_col].isin(good).to_numpy()
        report["users_dropped_min_tracked_days"] = len(dropped_users)
        report["activity_staypoints_of_dropped_users"] = int((keep & ~in_good).sum())
        keep &= in_good
    act = sp[keep]
    if act.empty:
        raise EmptyDataError(
            "No activity staypoints were found; lower time_threshold, dist_threshold or "
            "min_tracked_days, or check the fixes' time column."
        )
    ids, locs = generate_locations(
        act, eps=eps, min_samples=min_samples, haversine_order=haversine_order, user_col=user_col
    )
    sp.loc[act.index, LOCATION_COLUMN] = ids
    report["activity_staypoints_noise"] = int(ids.isna().sum())
    visits = sp[keep & sp[LOCATION_COLUMN].notna().to_numpy()]
    visits = visits.drop(columns=[ACTIVITY_COLUMN]).reset_index(drop=True)
    if merge_gap is not None:
        before = len(visits)
        visits = merge_staypoints(visits, max_gap=merge_gap, user_col=user_col)
        report["visits_merged_away"] = before - len(visits)
    report["visits"] = len(visits)
    report["locations"] = len(locs)
    visits.attrs["gps_report"] = dict(report)
    sp.attrs["gps_report"] = dict(report)
    if return_staypoints:
        return visits, locs, sp
    return visits, locs
