"""Training-free and count-based next-location baselines, scored like the predictor.

Each baseline ranks candidate places for exactly the targets that
:meth:`~geocalliper.mobility.NextLocationPredictor.rank_targets` scores (the same
:func:`~geocalliper.mobility.sequences.build_sequences` rule: a target needs
``min_history`` visits in the ``history_days`` days before it, after a first
``history_days`` days per user), and returns ranks in the same format, so
:func:`~geocalliper.mobility.next_location_scores` scores them and a learned model
can be compared with them target for target.

- :class:`WindowFrequencyBaseline`: the places of the target's window (the user's
  visits in the ``history_days`` days before it), most frequent first, then every
  other place by distance from the last visit;
- :class:`DistanceBaseline`: nearest to the last visit first;
- :class:`MarkovBaseline`: first-order transitions from the last visit's place,
  counted on the training visits, most frequent first; then distance;
- :class:`PopularityBaseline`: training visit counts, then distance.

Ties on the first key are broken by distance from the last visit (haversine,
metres), and remaining ties (places at the very same point) by candidate order;
the rank of the true place counts every candidate ordered before it, so ties never
flatter a baseline.

Examples
--------
>>> from geocalliper.mobility import read_fsq_nyc, next_location_scores
>>> from geocalliper.mobility.baselines import WindowFrequencyBaseline
>>> visits = read_fsq_nyc("shared/data/fsq-nyc/checkins.csv.gz")     # doctest: +SKIP
>>> rule = WindowFrequencyBaseline().fit(visits)                    # doctest: +SKIP
>>> ranks = rule.rank_targets(visits[visits.split == "test"])       # doctest: +SKIP
>>> next_location_scores(ranks["rank"], ranks["location"], ranks["predicted"])  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse

from .._constants import (
    DURATION_COLUMN,
    END_COLUMN,
    LOCATION_COLUMN,
    SPLIT_COLUMN,
    SPLITS,
    START_COLUMN,
    USER_COLUMN,
    WGS84,
)
from .._params import ParamsMixin
from ..exceptions import EmptyDataError, NotFittedError
from .metrics import next_location_scores
from .sequences import build_sequences
from .visits import candidate_points, location_table, prepare_visits

#: larger than any distance on Earth in metres: ``count * _SCALE - distance`` orders by
#: count first, then by distance
_SCALE = 1e8
_EARTH_RADIUS_M = 6_371_008.8
#: targets scored per block (a block holds a dense ``targets × candidates`` float64 map)
_BLOCK = 512


def haversine_m(
    lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in metres, broadcast over the inputs (degrees).

    Examples
    --------
    >>> round(float(haversine_m(0.0, 0.0, 0.0, 1.0)))
    111195
    """
    lon1, lat1, lon2, lat2 = (
        np.radians(np.asarray(a, np.float64)) for a in (lon1, lat1, lon2, lat2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def ranks_from_scores(scores: np.ndarray, true_pos: np.ndarray) -> np.ndarray:
    """Rank (1 = top) of each row's true column; ties go to the lower column index.

    ``true_pos`` < 0 (the true place is not a candidate) gives ``inf``.

    Examples
    --------
    >>> ranks_from_scores(np.array([[3.0, 1.0, 3.0], [0.0, 2.0, 1.0]]), np.array([2, -1]))
    array([ 2., inf])
    """
    scores = np.asarray(scores, np.float64)
    tp = np.asarray(true_pos, np.int64)
    safe = np.maximum(tp, 0)
    true_score = scores[np.arange(len(scores)), safe][:, None]
    before = np.arange(scores.shape[1])[None, :] < safe[:, None]
    rank = 1.0 + (scores > true_score).sum(1) + ((scores == true_score) & before).sum(1)
    return np.where(tp >= 0, rank, np.inf)


class _Baseline(ParamsMixin):
    """What every baseline shares: fit on training visits, rank test targets."""

    def __init__(
        self,
        *,
        history_days: int = 7,
        min_history: int = 3,
        user_col: str = USER_COLUMN,
        start_col: str = START_COLUMN,
        end_col: str | None = END_COLUMN,
        duration_col: str | None = DURATION_COLUMN,
        location_col: str = LOCATION_COLUMN,
        split_col: str = SPLIT_COLUMN,
    ) -> None:
        self.history_days = history_days
        self.min_history = min_history
        self.user_col = user_col
        self.start_col = start_col
        self.end_col = end_col
        self.duration_col = duration_col
        self.location_col = location_col
        self.split_col = split_col

    def __repr__(self) -> str:
        return f"{type(self).__name__}(history_days={self.history_days})"

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "locations_")

    def _prepare(self, visits: gpd.GeoDataFrame, name: str) -> pd.DataFrame:
        if self.history_days < 1 or self.min_history < 0:
            raise ValueError(
                f"history_days must be at least 1 and min_history at least 0, got "
                f"{self.history_days} and {self.min_history}."
            )
        return prepare_visits(
            visits,
            user_col=self.user_col,
            start_col=self.start_col,
            end_col=self.end_col,
            duration_col=self.duration_col,
            location_col=self.location_col,
            extra=(self.split_col,),
            name=name,
        )

    # ------------------------------------------------------------------ fit
    def fit(self, visits: gpd.GeoDataFrame, *, exclude_locations: Any = None) -> _Baseline:
        """Count on the training visits.

        Parameters
        ----------
        visits
            Visits GeoDataFrame; with a ``split`` column only its ``"train"`` rows
            count, else all rows.
        exclude_locations
            Location ids treated as never seen (the inductive protocol): left out of
            the known places and of every count.

        Returns
        -------
        self
        """
        table = self._prepare(visits, "visits")
        if self.split_col in table.columns:
            table = table[table[self.split_col] == SPLITS[0]].reset_index(drop=True)
        if table.empty:
            raise EmptyDataError(
                f"No training visits: the {self.split_col!r} column has no 'train' rows."
            )
        excluded = set() if exclude_locations is None else set(exclude_locations)
        hidden = table["location"].isin(excluded).to_numpy()
        locations = location_table(table[~hidden])
        if locations.empty:
            raise EmptyDataError("The training visits name no location.")
        self.locations_ = locations
        self._fit_counts(table, hidden)
        return self

    def _fit_counts(self, table: pd.DataFrame, hidden: np.ndarray) -> None:
        """Learn what the baseline counts (nothing by default)."""

    # ------------------------------------------------------------------ rank
    def _candidates(
        self, candidates: gpd.GeoDataFrame | None, table: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, lon, lat) of the candidates (default: known + the visits' places)."""
        if candidates is None:
            extra = location_table(table)
            locs = pd.concat([self.locations_, extra[~extra.index.isin(self.locations_.index)]])
            return (
                locs.index.to_numpy(dtype=object),
                locs["lon"].to_numpy(np.float64),
                locs["lat"].to_numpy(np.float64),
            )
        ids, geoms = candidate_points(candidates, self.location_col)
        if pd.Index(ids).has_duplicates:
            raise ValueError(f"Candidate ids ({self.location_col!r} or the index) must be unique.")
        ll = geoms.to_crs(WGS84)
        return ids, ll.x.to_numpy(np.float64), ll.y.to_numpy(np.float64)

    def _context(self, ids: np.ndarray, table: pd.DataFrame) -> Any:
        """What :meth:`_first_key` needs about these candidates (computed once a call)."""
        return None

    def _first_key(
        self,
        ctx: Any,
        table: pd.DataFrame,
        cand_of_visit: np.ndarray,
        targets: np.ndarray,
        window_start: np.ndarray,
    ) -> np.ndarray | None:
        """``(targets, candidates)`` primary score (higher first); ``None``: distance only."""
        raise NotImplementedError

    def rank_targets(
        self, visits: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame | None = None
    ) -> pd.DataFrame:
        """Rank the true next place of every scored target among the candidates.

        Parameters
        ----------
        visits
            Visits of one period (e.g. the test split); windows are taken within it.
        candidates
            Places to rank (points in any CRS; ids from the location column, else the
            index); default: the places seen in :meth:`fit` plus every place the
            visits name.

        Returns
        -------
        pandas.DataFrame
            As :meth:`NextLocationPredictor.rank_targets`: one row per scored target
            with ``row``, ``user``, ``location``, ``rank`` (1 = top, ``inf`` when the
            true place is not a candidate) and ``predicted`` (the top-1 id).
        """
        if not self.is_fitted:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet: call fit(train_visits) first."
            )
        table = self._prepare(visits, "visits")
        ids, lon, lat = self._candidates(candidates, table)
        zeros = np.zeros(len(table), np.int64)
        seqs = build_sequences(
            table,
            zeros,
            zeros,
            history_days=self.history_days,
            min_history=self.min_history,
            chunk_targets=1,
        )
        targets = np.flatnonzero(seqs.valid)
        if not len(targets):
            raise EmptyDataError(
                f"No target in these visits has {self.min_history} visits in the "
                f"{self.history_days} days before it (after a first {self.history_days} "
                "days of history per user)."
            )
        where = pd.Series(np.arange(len(ids)), index=pd.Index(ids, dtype=object))
        where = where[~where.index.duplicated()]
        cand_of_visit = where.reindex(table["location"].to_numpy()).fillna(-1).to_numpy()
        cand_of_visit = cand_of_visit.astype(np.int64)
        v_lon, v_lat = table["lon"].to_numpy(), table["lat"].to_numpy()
        ctx = self._context(ids, table)
        ranks, predicted = [], []
        for i in range(0, len(targets), _BLOCK):
            tg = targets[i : i + _BLOCK]
            last = tg - 1
            dist = haversine_m(v_lon[last, None], v_lat[last, None], lon[None], lat[None])
            first = self._first_key(ctx, table, cand_of_visit, tg, seqs.window_start)
            scores = -dist if first is None else first * _SCALE - dist
            ranks.append(ranks_from_scores(scores, cand_of_visit[tg]))
            predicted.append(ids[scores.argmax(1)])
        return pd.DataFrame(
            {
                "row": table["row"].to_numpy()[targets],
                "user": table["user"].to_numpy()[targets],
                "location": table["location"].to_numpy()[targets],
                "rank": np.concatenate(ranks),
                "predicted": np.concatenate(predicted),
            }
        )

    def evaluate(
        self, visits: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame | None = None
    ) -> dict[str, float]:
        """Acc@1/5/10, MRR, NDCG@10, weighted F1 (×100) and ``n`` (see :meth:`rank_targets`)."""
        r = self.rank_targets(visits, candidates)
        return next_location_scores(
            r["rank"].to_numpy(), r["location"].tolist(), r["predicted"].tolist()
        )


class DistanceBaseline(_Baseline):
    """Nearest to the last visit first.

    Examples
    --------
    >>> DistanceBaseline().fit(train).rank_targets(test)   # doctest: +SKIP
    """

    def _first_key(self, ctx, table, cand_of_visit, targets, window_start):
        return None


class WindowFrequencyBaseline(_Baseline):
    """Places of the target's window, most visited there first; then the rest, and
    ties, by distance from the last visit.

    The window is the user's visits in the ``history_days`` days before the target's
    day (the history the predictor attends to).

    Examples
    --------
    >>> WindowFrequencyBaseline().fit(train).rank_targets(test)   # doctest: +SKIP
    """

    def _context(self, ids, table):
        return len(ids)

    def _first_key(self, ctx, table, cand_of_visit, targets, window_start):
        starts = window_start[targets]
        lengths = targets - starts
        owner = np.repeat(np.arange(len(targets)), lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        rows = np.repeat(starts, lengths) + offsets
        pos = cand_of_visit[rows]
        keep = pos >= 0
        counts = np.zeros((len(targets), ctx))
        np.add.at(counts, (owner[keep], pos[keep]), 1.0)
        return counts


class PopularityBaseline(_Baseline):
    """Most visited in training first (all users); then distance from the last visit.

    Attributes
    ----------
    locations_ : pandas.DataFrame
        Known places with ``lon``, ``lat`` and training ``count``.

    Examples
    --------
    >>> PopularityBaseline().fit(train).rank_targets(test)   # doctest: +SKIP
    """

    def _context(self, ids, table):
        counts = self.locations_["count"].reindex(pd.Index(ids, dtype=object))
        return counts.fillna(0).to_numpy(np.float64)

    def _first_key(self, ctx, table, cand_of_visit, targets, window_start):
        return np.broadcast_to(ctx, (len(targets), len(ctx)))


class MarkovBaseline(_Baseline):
    """First-order transitions: where people went next from the last visit's place in
    training (counted over all users' consecutive visits), most often first; then
    distance from the last visit (all of it when the place has no transition).

    Attributes
    ----------
    transitions_ : pandas.Series
        Counts indexed by (``from``, ``to``) location id.

    Examples
    --------
    >>> MarkovBaseline().fit(train).rank_targets(test)   # doctest: +SKIP
    """

    def _fit_counts(self, table: pd.DataFrame, hidden: np.ndarray) -> None:
        user = table["user"].to_numpy()
        loc = table["location"].to_numpy(dtype=object)
        ok = ~hidden & table["location"].notna().to_numpy()
        pair = (user[1:] == user[:-1]) & ok[1:] & ok[:-1]
        frame = pd.DataFrame({"from": loc[:-1][pair], "to": loc[1:][pair]})
        self.transitions_ = frame.groupby(["from", "to"], sort=True).size().rename("count")

    def _context(self, ids, table):
        where = pd.Series(np.arange(len(ids)), index=pd.Index(ids, dtype=object))
        where = where[~where.index.duplicated()]
        t = self.transitions_.reset_index()
        sources = pd.Index(t["from"].unique(), dtype=object)
        src = sources.get_indexer(t["from"].to_numpy())
        dst = where.reindex(t["to"].to_numpy()).to_numpy()
        ok = ~np.isnan(dst)
        matrix = sparse.csr_matrix(
            (t["count"].to_numpy(np.float64)[ok], (src[ok], dst[ok].astype(np.int64))),
            shape=(len(sources), len(ids)),
        )
        # row of each visit's place among the sources (-1: no transition from it)
        row_of_visit = sources.get_indexer(table["location"].to_numpy(dtype=object))
        return matrix, row_of_visit

    def _first_key(self, ctx, table, cand_of_visit, targets, window_start):
        matrix, row_of_visit = ctx
        src = row_of_visit[targets - 1]
        if matrix.shape[0] == 0:
            return np.zeros((len(targets), matrix.shape[1]))
        out = matrix[np.maximum(src, 0)].toarray()
        out[src < 0] = 0.0
        return out


#: the baselines by the names the benchmark reports
BASELINES: dict[str, type[_Baseline]] = {
    "window_frequency": WindowFrequencyBaseline,
    "distance": DistanceBaseline,
    "markov": MarkovBaseline,
    "popularity": PopularityBaseline,
}

__all__ = [
    "BASELINES",
    "DistanceBaseline",
    "MarkovBaseline",
    "PopularityBaseline",
    "WindowFrequencyBaseline",
    "haversine_m",
    "ranks_from_scores",
]
