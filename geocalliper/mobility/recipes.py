"""Pre-training recipes for the predictor's CaLLiPer features when no POI set exists.

Where no points of interest of the study area are at hand (GeoLife's Beijing here),
CaLLiPer can be pre-trained on what the visits themselves say about each place: a
text that describes the *activity* of each training visit (time of day, weekday or
weekend, length of stay). :func:`pretrain_activity_calliper` is the recipe the
next-location benchmark uses on GeoLife; the command line runs it as
``geocalliper pretrain-activity visits.csv --out model``.

Examples
--------
>>> from geocalliper.mobility import read_geolife_staypoints, split_by_day
>>> from geocalliper.mobility.recipes import pretrain_activity_calliper
>>> visits = read_geolife_staypoints("geolife-staypoints")          # doctest: +SKIP
>>> visits["split"] = split_by_day(visits)                           # doctest: +SKIP
>>> calliper = pretrain_activity_calliper(visits)                    # doctest: +SKIP
>>> gc.NextLocationPredictor(calliper).fit(visits)                   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .._constants import (
    DURATION_COLUMN,
    LOCATION_COLUMN,
    SPLIT_COLUMN,
    SPLITS,
    START_COLUMN,
    USER_COLUMN,
)
from ..exceptions import EmptyDataError, MissingColumnError
from .visits import prepare_visits

#: parts of the day by starting hour
DAYPARTS = (
    (0, "night"),
    (6, "morning"),
    (11, "midday"),
    (14, "afternoon"),
    (18, "evening"),
    (22, "late evening"),
)


def activity_text(
    visits: pd.DataFrame, *, start_col: str = START_COLUMN, duration_col: str = DURATION_COLUMN
) -> pd.Series:
    """Describe the activity of each visit: time of day, weekday/weekend, length.

    Parameters
    ----------
    visits
        Frame with a start-time column (local wall-clock times; strings or
        datetimes) and a duration column in minutes (missing: "of unknown length").
    start_col, duration_col
        Their names.

    Returns
    -------
    pandas.Series
        One text per visit, aligned to ``visits.index``.

    Examples
    --------
    >>> v = pd.DataFrame({"started_at": ["2024-05-04 07:10", "2024-05-06 23:30"],
    ...                   "duration": [45.0, 600.0]})
    >>> activity_text(v).tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['A place of weekend morning activity, a stay under an hour',
     'A place of weekday late evening activity, a stay of over 8 hours']
    """
    for col in (start_col, duration_col):
        if col not in visits.columns:
            raise MissingColumnError(
                f"activity_text needs a {col!r} column (start time, duration in minutes); "
                "pass start_col= / duration_col= with the right names."
            )
    start = pd.to_datetime(visits[start_col])
    if getattr(start.dt, "tz", None) is not None:
        start = start.dt.tz_localize(None)  # the wall-clock time in the visit's own zone
    hour = start.dt.hour.to_numpy()
    part = np.empty(len(visits), dtype=object)
    for h0, name in DAYPARTS:
        part[hour >= h0] = name
    week = np.where(start.dt.day_of_week.to_numpy() >= 5, "weekend", "weekday")
    dur = pd.to_numeric(visits[duration_col], errors="coerce").to_numpy(dtype=np.float64)
    length = np.select(
        [np.isnan(dur), dur < 60, dur < 180, dur < 480],
        ["of unknown length", "under an hour", "of 1 to 3 hours", "of 3 to 8 hours"],
        "of over 8 hours",
    )
    return pd.Series(
        [
            f"A place of {w} {p} activity, a stay {n}"
            for w, p, n in zip(week, part, length, strict=True)
        ],
        index=visits.index,
    )


def activity_pois(
    visits: gpd.GeoDataFrame,
    *,
    exclude_locations: Any = None,
    start_col: str = START_COLUMN,
    duration_col: str = DURATION_COLUMN,
    location_col: str = LOCATION_COLUMN,
    split_col: str = SPLIT_COLUMN,
) -> gpd.GeoDataFrame:
    """Pre-training pairs: each training visit's point with its :func:`activity_text`.

    Parameters
    ----------
    visits
        Visits GeoDataFrame; with a ``split`` column only its ``"train"`` rows are
        used (no valid or test visit leaks into pre-training).
    exclude_locations
        Location ids whose visits are left out (the inductive protocol: masked places
        must not be seen in pre-training either).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``text`` and ``geometry`` (WGS84), fresh index.
    """
    if not isinstance(visits, gpd.GeoDataFrame):
        raise TypeError("visits must be a GeoDataFrame of points with start times.")
    rows = visits
    if split_col in rows.columns:
        rows = rows[rows[split_col] == SPLITS[0]]
    if exclude_locations is not None and location_col in rows.columns:
        rows = rows[~rows[location_col].isin(set(exclude_locations))]
    if rows.empty:
        raise EmptyDataError(
            "No visits left to pre-train on: need training visits (split == 'train' where "
            "a split column exists) outside the excluded locations."
        )
    geometry = rows.geometry.to_crs(4326) if rows.crs is not None else rows.geometry
    text = activity_text(rows, start_col=start_col, duration_col=duration_col)
    return gpd.GeoDataFrame(
        {"text": text.to_numpy()}, geometry=geometry.to_numpy(), crs=geometry.crs
    ).reset_index(drop=True)


def pretrain_activity_calliper(
    visits: gpd.GeoDataFrame,
    *,
    exclude_locations: Any = None,
    user_col: str = USER_COLUMN,
    start_col: str = START_COLUMN,
    duration_col: str = DURATION_COLUMN,
    location_col: str = LOCATION_COLUMN,
    split_col: str = SPLIT_COLUMN,
    **calliper_params: Any,
):
    """Fit a :class:`~geocalliper.CaLLiPer` on :func:`activity_pois` of ``visits``.

    ``calliper_params`` go to ``CaLLiPer(...)`` (e.g. ``seed``, ``progress``); the
    library's defaults otherwise.

    Returns
    -------
    CaLLiPer
        Fitted; pass it to :class:`~geocalliper.NextLocationPredictor`.
    """
    from ..calliper.estimator import CaLLiPer

    prepare_visits(  # the same checks (points, CRS, times) as the predictor's
        visits,
        start_col=start_col,
        duration_col=duration_col if duration_col in visits.columns else None,
        location_col=location_col if location_col in visits.columns else None,
        user_col=user_col,
        end_col=None,
    )
    pois = activity_pois(
        visits,
        exclude_locations=exclude_locations,
        start_col=start_col,
        duration_col=duration_col,
        location_col=location_col,
        split_col=split_col,
    )
    return CaLLiPer(**calliper_params).fit(pois)


__all__ = ["DAYPARTS", "activity_pois", "activity_text", "pretrain_activity_calliper"]
