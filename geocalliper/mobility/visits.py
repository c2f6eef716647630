"""Visits frames: validation and the normalised table every mobility function works on.

A *visits* frame is a GeoDataFrame with one row per stay or check-in: a user column,
a start time, optionally an end time or a duration, a point geometry in any CRS and
optionally a location id. :func:`prepare_visits` checks it and returns a plain
DataFrame with fixed internal columns (see :data:`VISIT_FIELDS`), sorted by user and
time, that the sequence builder and the predictor consume.

Times
-----
Time features (hour, quarter-hour, weekday, day) are read from the *local wall-clock*
time of each visit: naive times are taken as they are, tz-aware times in their own
zone. Order within a user follows the actual instant (UTC for tz-aware times). A
column that mixes tz-aware and naive times is refused, since no single reading of it
is right.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

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
from ..exceptions import InvalidGeometryError, MissingColumnError, VisitsError
from ..spatial.coords import as_geoseries, check_geographic_range

#: Columns of the table returned by :func:`prepare_visits`.
VISIT_FIELDS = (
    "row",  # label of the visit in the input frame
    "user",  # user id as given
    "instant",  # int64 ns: the order of visits (UTC for tz-aware times)
    "day",  # int: local calendar day number (days since 1970-01-01)
    "minute",  # int: local minute of the day, 0..1439
    "weekday",  # int: Monday = 0
    "duration",  # float minutes; NaN when unknown
    "location",  # location key: the given id, or the rounded coordinates
    "lon",
    "lat",
)

_NS_PER_DAY = 86_400 * 10**9
_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")


def _column(frame: pd.DataFrame, col: str, role: str, hint: str) -> pd.Series:
    if col not in frame.columns:
        raise MissingColumnError(
            f"The visits have no {role} column {col!r} (columns: {list(frame.columns)}). {hint}"
        )
    return frame[col]


def _parse_times(values: pd.Series, col: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (instant ns, local wall-clock ns) of a time column, both int64."""
    if values.isna().any():
        bad = values.index[values.isna().to_numpy()][:5].tolist()
        raise VisitsError(
            f"{int(values.isna().sum())} visits have no {col!r} time (index {bad}). "
            "Drop them first, e.g. visits.dropna(subset=[...])."
        )
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        instant = values.dt.tz_convert("UTC").dt.tz_localize(None)
        wall = values.dt.tz_localize(None)
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        instant = wall = values
    else:
        stamps = [pd.Timestamp(v) for v in values]  # parses strings and datetimes alike
        aware = np.array([s.tzinfo is not None for s in stamps])
        if aware.any() and not aware.all():
            i_aware = values.index[aware][0]
            i_naive = values.index[~aware][0]
            raise VisitsError(
                f"The {col!r} column mixes tz-aware and naive times (e.g. index "
                f"{i_aware!r} is aware, {i_naive!r} is naive), so their order and "
                "local hours are ambiguous. Make them consistent first: localize the "
                "naive ones, e.g. pd.to_datetime(s).dt.tz_localize('America/New_York'), "
                "or drop the zones of all."
            )
        if aware.all():
            instant = pd.Series([s.tz_convert("UTC").tz_localize(None) for s in stamps])
            wall = pd.Series([s.tz_localize(None) for s in stamps])
        else:
            instant = wall = pd.Series(stamps)
    _check_ns_range(pd.Series(instant.to_numpy()), values.index, col)
    _check_ns_range(pd.Series(wall.to_numpy()), values.index, col)
    instant_ns = instant.to_numpy().astype("datetime64[ns]").astype(np.int64)
    wall_ns = wall.to_numpy().astype("datetime64[ns]").astype(np.int64)
    return instant_ns, wall_ns


def _check_ns_range(times: pd.Series, labels: pd.Index, col: str) -> None:
    """Refuse times outside pandas' nanosecond range (1677-09-21 .. 2262-04-11).

    Visits are ordered and binned by their int64 nanosecond stamps: a later or earlier
    date (a 2300 typo, a 9999-12-31 "open end" sentinel) would silently wrap around to
    a wrong day, weekday and order.
    """
    values = np.asarray(times.to_numpy())
    if values.dtype.kind != "M":  # not datetime64 (e.g. object): pandas parses to ns
        return
    unit = np.datetime_data(values.dtype)[0]
    ns = int(np.timedelta64(1, unit).astype("timedelta64[ns]").astype(np.int64))
    ticks = values.view(np.int64)  # counts of ``unit``; integer bounds (numpy's casts wrap)
    lo, hi = -(-pd.Timestamp.min.value // ns), pd.Timestamp.max.value // ns
    bad = (ticks < lo) | (ticks > hi)
    if bad.any():
        rows = labels[bad][:5].tolist()
        examples = [str(v) for v in values[bad][:3]]
        raise VisitsError(
            f"{int(bad.sum())} visits have a {col!r} time outside the range geocalliper can "
            f"order and bin ({pd.Timestamp.min:%Y-%m-%d} to {pd.Timestamp.max:%Y-%m-%d}): "
            f"index {rows}, e.g. {', '.join(examples)}. Fix or drop them (a far-future "
            "date such as 9999-12-31 used as 'no end' should be NaT, or the column left out)."
        )


def _durations(
    frame: pd.DataFrame,
    start_instant: np.ndarray,
    end_col: str | None,
    duration_col: str | None,
) -> np.ndarray:
    """Minutes spent at each visit, NaN where unknown."""
    if end_col is not None and end_col in frame.columns:
        end_instant, _ = _parse_times(frame[end_col], end_col)
        minutes = (end_instant - start_instant) / 6e10
    elif duration_col is not None and duration_col in frame.columns:
        dur = frame[duration_col]
        if pd.api.types.is_timedelta64_dtype(dur.dtype):
            minutes = dur.dt.total_seconds().to_numpy() / 60.0
        else:
            minutes = pd.to_numeric(dur, errors="coerce").to_numpy(dtype=np.float64)
    else:
        return np.full(len(frame), np.nan)
    if (minutes < 0).any():
        bad = frame.index[np.asarray(minutes < 0)][:5].tolist()
        raise VisitsError(
            f"{int((minutes < 0).sum())} visits end before they start (index {bad}); "
            "check the end-time or duration column."
        )
    return np.asarray(minutes, dtype=np.float64)


def _id_kinds(values: Any) -> np.ndarray:
    """Per id: ``"int"``, ``"int-text"`` (text such as ``"14"``), ``"text"`` or ``"other"``."""

    def kind(v: Any) -> str:
        if isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_):
            return "int"
        if isinstance(v, str):
            return "int-text" if _INTEGER_TEXT.match(v.strip()) else "text"
        return "other"

    # fast paths for one-type columns (a predictor matches thousands of ids per call)
    inferred = pd.api.types.infer_dtype(values, skipna=False)
    n = len(values)
    if inferred == "integer":
        return np.full(n, "int", dtype=object)
    if inferred == "string":
        texts = pd.Series(np.asarray(values, dtype=object), dtype=object).str.strip()
        is_int = texts.str.match(_INTEGER_TEXT.pattern).to_numpy(dtype=bool)
        return np.where(is_int, "int-text", "text").astype(object)
    return np.array([kind(v) for v in values], dtype=object)


def _as_ints(values: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    out = values.copy()
    out[kinds == "int-text"] = [int(v) for v in values[kinds == "int-text"]]
    return out


def consistent_ids(values: pd.Series, col: str, name: str = "visits") -> pd.Series:
    """Give the ids of one column one type: integer-like texts become ints beside ints.

    An id column that mixes ``14`` and ``"14"`` (e.g. after concatenating a CSV read
    with and one without dtypes) would make two users or places of one. Texts that are
    whole numbers are read as integers, with a warning naming the column; a column that
    mixes integers with other texts (``14`` and ``"cafe-42"``) is refused.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     consistent_ids(pd.Series([14, "14", None], dtype=object), "location_id").tolist()
    [14, 14, None]
    """
    values = values.astype(object)
    kinds = _id_kinds(values)
    present = set(kinds.tolist())
    if "int" not in present or not present & {"int-text", "text"}:
        return values
    if "text" in present:
        i_int, i_text = np.flatnonzero(kinds == "int")[0], np.flatnonzero(kinds == "text")[0]
        raise VisitsError(
            f"The {col!r} column of the {name} mixes integer ids and text ids (e.g. "
            f"{values.iloc[i_int]!r} at index {values.index[i_int]!r} and "
            f"{values.iloc[i_text]!r} at index {values.index[i_text]!r}), which can never "
            f"match each other. Make them one type first, e.g. "
            f"{name.split()[-1]}[{col!r}] = {name.split()[-1]}[{col!r}].astype(str)."
        )
    n = int((kinds == "int-text").sum())
    example = values.iloc[np.flatnonzero(kinds == "int-text")[0]]
    warnings.warn(
        f"The {col!r} column of the {name} mixes integer ids with {n} integer-like text "
        f"ids (e.g. {example!r}); read those as integers, so that 14 and '14' are one id. "
        "Give the column one type to silence this.",
        UserWarning,
        stacklevel=3,
    )
    return pd.Series(_as_ints(values.to_numpy(), kinds), index=values.index, dtype=object)


def match_ids(values: Any, known: pd.Index, col: str, name: str) -> np.ndarray:
    """Ids as the type of a fitted model's ids: ``"14"`` for a model of integer ids is 14.

    Integer-like texts become integers when every known id is an integer, and integers
    become texts when every known id is a text; either way with a warning naming the
    column. Anything else is left as it is (an id the model does not know).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     match_ids(["14", "x", 3], pd.Index([3, 14]), "location_id", "history").tolist()
    [14, 'x', 3]
    """
    values = np.asarray(pd.Series(values, dtype=object).to_numpy(), dtype=object)
    known_kinds = set(_id_kinds(known).tolist())
    if not len(values) or not known_kinds:
        return values
    kinds = _id_kinds(values)
    if known_kinds == {"int"} and (kinds == "int-text").any():
        out, was, now = _as_ints(values, kinds), "text", "integers"
        example = values[kinds == "int-text"][0]
    elif known_kinds <= {"int-text", "text"} and (kinds == "int").any():
        out, was, now = values.copy(), "integers", "text"
        out[kinds == "int"] = [str(v) for v in values[kinds == "int"]]
        example = values[kinds == "int"][0]
    else:
        return values
    warnings.warn(
        f"The {col!r} ids of the {name} are {was} (e.g. {example!r}) but the model's are "
        f"{now}: read them as {now}, so that they match. Pass ids of the model's type to "
        "silence this.",
        UserWarning,
        stacklevel=3,
    )
    return out


def _location_keys(
    frame: pd.DataFrame,
    location_col: str | None,
    lon: np.ndarray,
    lat: np.ndarray,
    name: str = "visits",
) -> pd.Series:
    if location_col is not None and location_col in frame.columns:
        ids = frame[location_col]
        ids = ids.astype(object).where(ids.notna(), None)  # ints stay ints, NA -> None
        return consistent_ids(ids, location_col, name).reset_index(drop=True)
    # no ids: a location is a distinct coordinate (1e-6 degrees, about 0.1 m)
    keys = [f"{x:.6f},{y:.6f}" for x, y in zip(lon, lat, strict=True)]
    return pd.Series(keys, dtype=object)


def prepare_visits(
    visits: gpd.GeoDataFrame,
    *,
    user_col: str = USER_COLUMN,
    start_col: str = START_COLUMN,
    end_col: str | None = END_COLUMN,
    duration_col: str | None = DURATION_COLUMN,
    location_col: str | None = LOCATION_COLUMN,
    extra: tuple[str, ...] = (),
    name: str = "visits",
) -> pd.DataFrame:
    """Check a visits GeoDataFrame and return the normalised visits table.

    Parameters
    ----------
    visits
        One row per stay or check-in, with point geometries in any CRS.
    user_col, start_col
        The user and start-time columns (required). Times may be naive or tz-aware
        (see the module notes), datetime64 or strings.
    end_col, duration_col
        Optional: an end-time column, else a duration column (minutes, or
        timedelta). Missing columns mean "duration unknown".
    location_col
        Optional location ids. Where the column is absent, each distinct coordinate
        is a location. Missing ids (NaN) mark places that match no known location.
    extra
        Further columns to carry into the table under their own names, where present.
    name
        What the frame is, for error messages.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`VISIT_FIELDS`, sorted by user, time, then location (so the
        input order never matters), with a fresh ``RangeIndex``; ``row`` holds each
        visit's label in ``visits``. Rows that repeat an earlier (user, start time,
        location) are dropped with a warning.

    Raises
    ------
    EmptyDataError, MissingColumnError, MissingCRSError, InvalidGeometryError, VisitsError
        With what to change.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> v = gpd.GeoDataFrame(
    ...     {"user_id": [7, 7], "started_at": ["2024-05-02 09:00", "2024-05-01 18:30"]},
    ...     geometry=gpd.points_from_xy([24.94, 24.95], [60.17, 60.16]), crs=4326)
    >>> t = prepare_visits(v)
    >>> t[["row", "minute", "weekday"]].values.tolist()
    [[1, 1110, 2], [0, 540, 3]]
    """
    geoms = as_geoseries(visits, name=name, unique_index=False)
    if not isinstance(visits, gpd.GeoDataFrame):
        raise TypeError(f"{name} must be a GeoDataFrame with user and time columns.")
    types = np.asarray(geoms.geom_type)
    if (types != "Point").any():
        bad = visits.index[types != "Point"][:5].tolist()
        raise InvalidGeometryError(
            f"{int((types != 'Point').sum())} {name} are not points (index {bad}, e.g. "
            f"{types[types != 'Point'][0]}). A visit is a place: reduce them first, e.g. "
            "gdf.geometry = gdf.geometry.representative_point()."
        )
    users = _column(visits, user_col, "user", "Pass user_col= with the right name.")
    starts = _column(visits, start_col, "start-time", "Pass start_col= with the right name.")
    if users.isna().any():
        raise VisitsError(
            f"{int(users.isna().sum())} {name} have no user id; drop or fill them first."
        )
    users = consistent_ids(users, user_col, name)
    instant, wall = _parse_times(starts, start_col)
    check_geographic_range(geoms, name)
    ll = geoms if geoms.crs.equals(WGS84) else geoms.to_crs(WGS84)
    lon, lat = np.asarray(ll.x, dtype=np.float64), np.asarray(ll.y, dtype=np.float64)
    if not (np.isfinite(lon) & np.isfinite(lat)).all():
        raise InvalidGeometryError(f"Some {name} have non-finite coordinates; drop them.")
    day = np.floor_divide(wall, _NS_PER_DAY)
    minute = (wall - day * _NS_PER_DAY) // (60 * 10**9)
    table = pd.DataFrame(
        {
            "row": visits.index.to_numpy(),
            "user": users.to_numpy(),
            "instant": instant,
            "day": day.astype(np.int64),
            "minute": minute.astype(np.int64),
            "weekday": ((day + 3) % 7).astype(np.int64),  # 1970-01-01 was a Thursday
            "duration": _durations(visits, instant, end_col, duration_col),
            "location": _location_keys(visits, location_col, lon, lat, name),
            "lon": lon,
            "lat": lat,
        }
    )
    for col in extra:
        if col in visits.columns and col not in table.columns:
            table[col] = visits[col].to_numpy()
    # ties in time are ordered by location, so the input order does not matter
    table["_tie"] = table["location"].astype(str)
    table = table.sort_values(["user", "instant", "_tie"], kind="stable", ignore_index=True)
    table = table.drop(columns="_tie")
    dup = table.duplicated(["user", "instant", "location"], keep="first").to_numpy()
    if dup.any():
        warnings.warn(
            f"Dropped {int(dup.sum())} {name} that repeat an earlier visit of the same "
            "user to the same location at the same start time (e.g. index "
            f"{table['row'][dup].tolist()[:5]}).",
            UserWarning,
            stacklevel=2,
        )
        table = table[~dup].reset_index(drop=True)
    return table


def location_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per location key of a visits table: mean ``lon``/``lat`` and ``count``.

    Locations with a missing key are left out.
    """
    known = table[table["location"].notna()]
    grouped = known.groupby("location", sort=True)
    out = grouped[["lon", "lat"]].mean()
    out["count"] = grouped.size()
    return out


def candidate_points(
    candidates: gpd.GeoDataFrame | gpd.GeoSeries, location_col: str
) -> tuple[np.ndarray, gpd.GeoSeries]:
    """The ids and point geometries of a candidate frame, checked.

    Ids come from ``location_col`` when the frame has it, else from the index.

    Raises
    ------
    InvalidGeometryError
        A candidate is not a point.
    """
    geoms = as_geoseries(candidates, name="candidates", unique_index=False)
    if (np.asarray(geoms.geom_type) != "Point").any():
        raise InvalidGeometryError(
            "Candidates must be points; reduce them first, e.g. "
            "cands.geometry = cands.geometry.representative_point()."
        )
    if isinstance(candidates, gpd.GeoDataFrame) and location_col in candidates:
        return candidates[location_col].to_numpy(dtype=object), geoms
    return candidates.index.to_numpy(dtype=object), geoms
