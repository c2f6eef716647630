"""Readers of published mobility data sets into visits / position-fix GeoDataFrames.

The library never ships these data sets: each reader takes the path of your copy.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .._constants import (
    DURATION_COLUMN,
    END_COLUMN,
    LOCATION_COLUMN,
    START_COLUMN,
    USER_COLUMN,
    WGS84,
)
from ..exceptions import EmptyDataError

#: Column of a position-fix frame holding the time of each fix.
TRACKED_COLUMN = "tracked_at"
#: Location id that the published FSQ-NYC split uses for "never seen in train".
FSQ_UNSEEN_ID = 1
#: Day 0 of the relative GeoLife calendar: a Monday (the weekday of day 0 is added).
_GEOLIFE_EPOCH = pd.Timestamp("2000-01-03")


def _exists(path: str | os.PathLike, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"No {what} at {str(p)!r}.")
    return p


def read_fsq_nyc(path: str | os.PathLike) -> gpd.GeoDataFrame:
    """Read Foursquare NYC check-ins in the MHSA layout as a visits frame.

    Expects the columns ``user_id, venue_id, category_id, category, lat, lon,
    started_at, split, location_id`` (``checkins.csv.gz``). Times are local, naive.
    The published ``split`` and ``location_id`` are kept as they are, except that
    id ``1`` (a place never seen in train, shared by many venues) becomes missing, so
    such a visit matches no known location.

    Examples
    --------
    >>> visits = read_fsq_nyc("shared/data/fsq-nyc/checkins.csv.gz")   # doctest: +SKIP
    >>> visits[["user_id", "started_at", "split", "location_id"]].head(2)  # doctest: +SKIP
    """
    df = pd.read_csv(_exists(path, "check-in file"), parse_dates=[START_COLUMN])
    if df.empty:
        raise EmptyDataError(f"{path} has no check-ins.")
    loc = df[LOCATION_COLUMN].astype("Int64")
    df[LOCATION_COLUMN] = loc.mask(loc == FSQ_UNSEEN_ID)
    geometry = gpd.points_from_xy(df.pop("lon"), df.pop("lat"), crs=WGS84)
    return gpd.GeoDataFrame(df, geometry=geometry)


def read_geolife_staypoints(folder: str | os.PathLike) -> gpd.GeoDataFrame:
    """Read GeoLife staypoints after the MHSA pipeline as a visits frame.

    Expects ``staypoints.csv.gz`` (``user_id, location_id, duration, start_day,
    end_day, start_min, end_min, weekday``) and ``locations.csv.gz`` (``id`` and the
    WKT ``center``) in ``folder``. The published data keeps only day numbers, so
    times are placed on a relative calendar: day 0 of each user is set so that every
    weekday is right (the years are not real). Each visit's geometry is its
    location's centre.

    Examples
    --------
    >>> visits = read_geolife_staypoints("shared/data/geolife-staypoints")  # doctest: +SKIP
    """
    folder = _exists(folder, "GeoLife staypoints folder")
    sp = pd.read_csv(_exists(folder / "staypoints.csv.gz", "staypoints file"))
    locs = pd.read_csv(_exists(folder / "locations.csv.gz", "locations file"))
    if sp.empty:
        raise EmptyDataError(f"{folder} has no staypoints.")
    centres = gpd.GeoSeries.from_wkt(locs["center"], crs=WGS84)
    centres.index = locs["id"].to_numpy()
    offset = (sp["weekday"] - sp["start_day"]) % 7  # weekday of the user's day 0
    base = _GEOLIFE_EPOCH + pd.to_timedelta(offset, unit="D")
    start = base + pd.to_timedelta(sp["start_day"] * 1440 + sp["start_min"], unit="min")
    end = base + pd.to_timedelta(sp["end_day"] * 1440 + sp["end_min"], unit="min")
    out = pd.DataFrame(
        {
            USER_COLUMN: sp["user_id"].to_numpy(),
            START_COLUMN: start.to_numpy(),
            END_COLUMN: end.to_numpy(),
            DURATION_COLUMN: sp["duration"].to_numpy(dtype=np.float64),
            LOCATION_COLUMN: sp["location_id"].to_numpy(),
        },
        index=pd.Index(sp["id"].to_numpy(), name="staypoint_id"),
    )
    missing = ~out[LOCATION_COLUMN].isin(centres.index)
    if missing.any():
        raise EmptyDataError(
            f"{int(missing.sum())} staypoints name a location missing from locations.csv.gz."
        )
    geometry = centres.loc[out[LOCATION_COLUMN].to_numpy()].to_numpy()
    return gpd.GeoDataFrame(out, geometry=geometry, crs=WGS84)


def read_geolife_plt(folder: str | os.PathLike) -> gpd.GeoDataFrame:
    """Read raw GeoLife GPS trajectories (``NNN/Trajectory/*.plt``) as position fixes.

    Each PLT file has six header lines, then ``lat,lon,0,altitude_ft,days,date,time``
    rows. The user id is the ``NNN`` folder name. Times are GeoLife's GMT, returned
    tz-aware in UTC.

    Returns
    -------
    geopandas.GeoDataFrame
        ``user_id``, ``tracked_at``, ``altitude_m`` and point geometry (EPSG:4326),
        sorted by user and time.

    Examples
    --------
    >>> pfs = read_geolife_plt("shared/data/geolife-gps/geolife_long")  # doctest: +SKIP
    """
    folder = _exists(folder, "GeoLife folder")
    files = sorted(folder.glob("*/Trajectory/*.plt"))
    if not files:
        raise EmptyDataError(
            f"No PLT files under {str(folder)!r}; expected NNN/Trajectory/*.plt (the "
            "'Data' folder of the GeoLife download)."
        )
    frames = []
    for f in files:
        df = pd.read_csv(
            f,
            skiprows=6,
            header=None,
            names=["lat", "lon", "zero", "altitude_ft", "days", "date", "time"],
            usecols=["lat", "lon", "altitude_ft", "date", "time"],
        )
        df[USER_COLUMN] = f.parent.parent.name
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    tracked = pd.to_datetime(df["date"] + " " + df["time"], utc=True)
    out = pd.DataFrame(
        {
            USER_COLUMN: df[USER_COLUMN].to_numpy(),
            TRACKED_COLUMN: tracked,
            "altitude_m": df["altitude_ft"].to_numpy(dtype=np.float64) * 0.3048,
        }
    )
    gdf = gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=WGS84)
    gdf = gdf.sort_values([USER_COLUMN, TRACKED_COLUMN], kind="stable", ignore_index=True)
    return gdf.drop_duplicates([USER_COLUMN, TRACKED_COLUMN], ignore_index=True)


__all__ = [
    "FSQ_UNSEEN_ID",
    "TRACKED_COLUMN",
    "read_fsq_nyc",
    "read_geolife_plt",
    "read_geolife_staypoints",
]
