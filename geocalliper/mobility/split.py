"""Evaluation protocol helpers: the per-user chronological split and location masking."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._constants import LOCATION_COLUMN, SPLIT_COLUMN, SPLITS, START_COLUMN, USER_COLUMN
from ..exceptions import EmptyDataError
from .visits import _column, _parse_times

_NS_PER_DAY = 86_400 * 10**9


def split_by_day(
    visits: pd.DataFrame,
    *,
    user_col: str = USER_COLUMN,
    start_col: str = START_COLUMN,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
) -> pd.Series:
    """Per-user chronological split by day into ``"train"``, ``"valid"``, ``"test"``.

    For each user, day numbers are counted from the user's first (local) day; with
    ``D`` the user's last day number, a visit on day ``d`` goes to train when
    ``d < 0.6 D``, to valid when ``d < 0.8 D``, else to test (the protocol of the
    MHSA next-location papers, with the default ``fractions``).

    Returns
    -------
    pandas.Series
        Aligned to ``visits.index``, named ``"split"``.

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({"user_id": 1, "started_at": pd.date_range("2024-01-01", periods=11)})
    >>> split_by_day(v).value_counts().sort_index().to_dict()
    {'test': 3, 'train': 6, 'valid': 2}
    """
    if len(visits) == 0:
        raise EmptyDataError("The visits frame is empty: there is nothing to split.")
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be three shares summing to 1, got {fractions}.")
    users = _column(visits, user_col, "user", "Pass user_col= with the right name.")
    starts = _column(visits, start_col, "start-time", "Pass start_col= with the right name.")
    _, wall = _parse_times(starts.reset_index(drop=True), start_col)
    day = pd.Series(np.floor_divide(wall, _NS_PER_DAY), index=visits.index)
    rel = day - day.groupby(users).transform("min")
    last = rel.groupby(users).transform("max")
    cut_train = fractions[0] * last
    cut_valid = (fractions[0] + fractions[1]) * last
    out = np.where(rel < cut_train, SPLITS[0], np.where(rel < cut_valid, SPLITS[1], SPLITS[2]))
    return pd.Series(out, index=visits.index, name=SPLIT_COLUMN)


def mask_locations(
    visits: pd.DataFrame,
    fraction: float = 0.1,
    *,
    seed: int = 0,
    location_col: str = LOCATION_COLUMN,
    split_col: str | None = SPLIT_COLUMN,
) -> list:
    """Choose ``fraction`` of the training locations to hide (the inductive protocol).

    The chosen locations are passed to ``NextLocationPredictor.fit(...,
    exclude_locations=...)`` and left out of CaLLiPer pre-training, so they are new
    places for the model at test time.

    Parameters
    ----------
    visits
        Frame with a location column (and a split column, whose ``"train"`` rows
        define the training locations; without one, all rows do).
    fraction
        Share of training locations to mask (rounded, at least one).
    seed
        Seeds the choice.

    Returns
    -------
    list
        The masked location ids, sorted.

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({"location_id": range(20), "split": "train"})
    >>> len(mask_locations(v, 0.1, seed=1))
    2
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}.")
    locs = _column(visits, location_col, "location", "Pass location_col= with the right name.")
    if split_col is not None and split_col in visits.columns:
        locs = locs[visits[split_col] == SPLITS[0]]
    ids = np.array(sorted(locs.dropna().unique().tolist()), dtype=object)
    if len(ids) == 0:
        raise EmptyDataError("There are no training locations to mask.")
    n = max(1, round(fraction * len(ids)))
    rng = np.random.default_rng(seed)
    return sorted(ids[rng.choice(len(ids), size=n, replace=False)].tolist())
