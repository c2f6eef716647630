"""Readers of published mobility data sets into visits / position-fix GeoDataFrames.

The library never ships these data sets: each reader takes the path of your copy.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

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
from ..exceptions import DuplicateFixesWarning, EmptyDataError, PLTFormatError

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


#: Columns of a GeoLife PLT row, in file order.
_PLT_COLUMNS = ("lat", "lon", "zero", "altitude_ft", "days", "date", "time")
_FEET = 0.3048


@dataclass
class UserFixes:
    """One user's position fixes as read from the files, in time order.

    Attributes
    ----------
    user
        The user id (the ``NNN`` folder name for GeoLife).
    t
        int64 nanoseconds since the epoch, UTC, sorted (stable: ties keep file order).
    lon, lat, altitude_m
        float64 arrays aligned with ``t``.
    n_files, n_read, n_duplicates, n_same_time
        Files read, rows read, exact duplicates dropped (same time, position and
        altitude as an earlier row), and fixes kept that share their time with an
        earlier fix at another position.
    """

    user: object
    t: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    altitude_m: np.ndarray
    n_files: int = 0
    n_read: int = 0
    n_duplicates: int = 0
    n_same_time: int = 0


def _after_header(data: bytes, lines: int = 6) -> bytes:
    pos = 0
    for _ in range(lines):
        nl = data.find(b"\n", pos)
        if nl < 0:
            return b""
        pos = nl + 1
    body = data[pos:]
    return body if not body or body.endswith(b"\n") else body + b"\n"


def _parse_plt(body: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(t ns UTC, lon, lat, altitude ft) of PLT rows (header removed)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(
        io.BytesIO(body),
        read_options=pacsv.ReadOptions(column_names=list(_PLT_COLUMNS)),
        convert_options=pacsv.ConvertOptions(
            column_types={
                "lat": pa.float64(),
                "lon": pa.float64(),
                "altitude_ft": pa.float64(),
                "date": pa.date32(),
                "time": pa.time32("s"),
            },
            include_columns=["lat", "lon", "altitude_ft", "date", "time"],
        ),
    )
    if table.num_rows == 0:
        empty = np.empty(0)
        return empty.astype(np.int64), empty, empty, empty
    for name in ("lat", "lon", "date", "time"):
        if table.column(name).null_count:
            raise ValueError(f"{table.column(name).null_count} rows have no {name}")
    day = table.column("date").to_numpy().astype("datetime64[ns]").astype(np.int64)
    sec = table.column("time").cast(pa.int32()).to_numpy().astype(np.int64)
    alt = table.column("altitude_ft").to_numpy(zero_copy_only=False).astype(np.float64)
    return (
        day + sec * 10**9,
        table.column("lon").to_numpy(),
        table.column("lat").to_numpy(),
        alt,
    )


def _read_user_plt(user: str, files: list[Path]) -> UserFixes:
    """All PLT files of one user, parsed in one go; exact duplicates dropped."""
    bodies = [_after_header(f.read_bytes()) for f in files]
    try:
        t, lon, lat, alt = _parse_plt(b"".join(bodies))
    except (ValueError, ArithmeticError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        for f, body in zip(files, bodies, strict=True):  # name the file at fault
            try:
                _parse_plt(body)
            except (ValueError, ArithmeticError) as inner:
                raise PLTFormatError(
                    f"Cannot read {str(f)!r} as a GeoLife PLT file ({inner}). Each file "
                    "needs 6 header lines, then rows lat,lon,0,altitude_ft,days,"
                    "YYYY-MM-DD,HH:MM:SS; fix or remove the file."
                ) from inner
        raise PLTFormatError(f"Cannot read the PLT files of user {user!r}: {exc}") from exc
    n_read = len(t)
    # exact duplicates: the same time, position and altitude as an earlier row (the
    # rows trackintel's drop_duplicates removes); fixes that only share a time stay
    key = pd.DataFrame({"t": t, "lon": lon, "lat": lat, "alt": alt})
    dup = key.duplicated().to_numpy()
    order = np.argsort(t[~dup], kind="stable")
    keep = np.flatnonzero(~dup)[order]
    t = t[keep]
    same_time = int((np.diff(t) == 0).sum()) if len(t) > 1 else 0
    return UserFixes(
        user=user,
        t=t,
        lon=lon[keep],
        lat=lat[keep],
        altitude_m=alt[keep] * _FEET,
        n_files=len(files),
        n_read=n_read,
        n_duplicates=int(dup.sum()),
        n_same_time=same_time,
    )


def _plt_users(folder: str | os.PathLike, users: Iterable[object] | None) -> dict[str, list[Path]]:
    folder = _exists(folder, "GeoLife folder")
    files: dict[str, list[Path]] = {}
    for f in sorted(folder.glob("*/Trajectory/*.plt")):
        files.setdefault(f.parent.parent.name, []).append(f)
    if not files:
        raise EmptyDataError(
            f"No PLT files under {str(folder)!r}; expected NNN/Trajectory/*.plt (the "
            "'Data' folder of the GeoLife download)."
        )
    if users is not None:
        wanted = {str(u) for u in users}
        missing = sorted(wanted - set(files))
        if missing:
            raise EmptyDataError(
                f"No PLT files for users {missing[:10]} under {str(folder)!r}; the users "
                f"there are {sorted(files)[:10]}{' ...' if len(files) > 10 else ''}."
            )
        files = {u: f for u, f in files.items() if u in wanted}
    return files


def iter_geolife_plt(
    folder: str | os.PathLike,
    *,
    users: Iterable[object] | None = None,
    progress: bool = True,
) -> Iterator[UserFixes]:
    """Read raw GeoLife PLT files one user at a time (memory: one user's fixes).

    Users come in the order of their folder names; each user's files are read in
    name order and their rows sorted by time (ties keep the file order). Exact
    duplicate rows are dropped and counted (see :class:`UserFixes`).

    Parameters
    ----------
    folder
        The GeoLife ``Data`` folder: ``NNN/Trajectory/*.plt``.
    users
        Only these user folders (names such as ``"003"``); default all.
    progress
        Show a progress bar over the files.

    Yields
    ------
    UserFixes
        Times are int64 nanoseconds, UTC (GeoLife records GMT).

    Examples
    --------
    >>> for fixes in iter_geolife_plt("shared/data/geolife-gps/geolife_long"):  # doctest: +SKIP
    ...     print(fixes.user, len(fixes.t), fixes.n_duplicates)
    """
    files = _plt_users(folder, users)
    with tqdm(
        total=sum(len(f) for f in files.values()),
        desc="PLT files",
        unit="file",
        disable=not progress,
    ) as bar:
        for user, paths in files.items():
            fixes = _read_user_plt(user, paths)
            bar.update(len(paths))
            bar.set_postfix(user=user, refresh=False)
            yield fixes


def warn_duplicates(n_duplicates: int, n_same_time: int, n_read: int) -> None:
    """Warn that exact duplicate fixes were dropped (and how many share a time)."""
    if n_duplicates:
        warnings.warn(
            f"Dropped {n_duplicates:,} of {n_read:,} position fixes that repeat an earlier "
            "fix of the same user exactly (time, position and altitude), as trackintel "
            f"does; kept {n_same_time:,} fixes that share a time with another fix at "
            "another position.",
            DuplicateFixesWarning,
            stacklevel=3,
        )


def read_geolife_plt(
    folder: str | os.PathLike,
    *,
    tz: str = "UTC",
    users: Iterable[object] | None = None,
    progress: bool = True,
) -> gpd.GeoDataFrame:
    """Read raw GeoLife GPS trajectories (``NNN/Trajectory/*.plt``) as position fixes.

    Each PLT file has six header lines, then ``lat,lon,0,altitude_ft,days,date,time``
    rows. The user id is the ``NNN`` folder name. GeoLife records GMT; the times are
    returned tz-aware in ``tz``. Hour and weekday features read the wall clock of
    the column's zone (see :mod:`geocalliper.mobility.visits`), so with the default
    ``"UTC"`` a model sees GMT hours (Beijing, where most GeoLife users live, is
    8 hours ahead): pass ``tz="Asia/Shanghai"`` for local hours.

    Only exact duplicates (same user, time, position and altitude, as trackintel
    drops them) are removed, with a :class:`~geocalliper.exceptions.DuplicateFixesWarning`
    giving the counts; fixes that share a time at another position are kept. The
    counts are in ``attrs["gps_report"]``. For data too large to hold at once, pass the
    folder itself to :func:`~geocalliper.mobility.gps_to_visits`, which reads one user
    at a time.

    Parameters
    ----------
    folder
        The GeoLife ``Data`` folder.
    tz
        Time zone of the returned times (default ``"UTC"``, which is GeoLife's GMT).
    users
        Only these user folders (e.g. ``["000", "003"]``); default all.
    progress
        Show a progress bar over the files.

    Returns
    -------
    geopandas.GeoDataFrame
        ``user_id``, ``tracked_at``, ``altitude_m`` and point geometry (EPSG:4326),
        sorted by user and time.

    Examples
    --------
    >>> pfs = read_geolife_plt("shared/data/geolife-gps/geolife_long")  # doctest: +SKIP
    >>> pfs = read_geolife_plt("Data", tz="Asia/Shanghai", users=["000"])  # doctest: +SKIP
    """
    parts = list(iter_geolife_plt(folder, users=users, progress=progress))
    report = {
        "users": len(parts),
        "files": sum(p.n_files for p in parts),
        "fixes_read": sum(p.n_read for p in parts),
        "exact_duplicates_dropped": sum(p.n_duplicates for p in parts),
        "same_time_fixes_kept": sum(p.n_same_time for p in parts),
    }
    warn_duplicates(
        report["exact_duplicates_dropped"], report["same_time_fixes_kept"], report["fixes_read"]
    )
    t = np.concatenate([p.t for p in parts])
    tracked = pd.to_datetime(t, unit="ns", utc=True)
    out = pd.DataFrame(
        {
            USER_COLUMN: np.repeat(
                np.array([p.user for p in parts], dtype=object), [len(p.t) for p in parts]
            ),
            TRACKED_COLUMN: pd.Series(tracked).dt.tz_convert(tz),
            "altitude_m": np.concatenate([p.altitude_m for p in parts]),
        }
    )
    geometry = gpd.points_from_xy(
        np.concatenate([p.lon for p in parts]), np.concatenate([p.lat for p in parts])
    )
    gdf = gpd.GeoDataFrame(out, geometry=geometry, crs=WGS84)
    gdf.attrs["gps_report"] = report
    return gdf


__all__ = [
    "FSQ_UNSEEN_ID",
    "TRACKED_COLUMN",
    "UserFixes",
    "iter_geolife_plt",
    "read_fsq_nyc",
    "read_geolife_plt",
    "read_geolife_staypoints",
]
