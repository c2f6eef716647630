"""Next-location baselines on a real slice of FSQ-NYC: the rules recomputed by hand on
chosen targets, the same targets as the predictor, and bad input."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString

import geocalliper as gc
from geocalliper.exceptions import EmptyDataError, InvalidGeometryError, NotFittedError
from geocalliper.mobility import NextLocationPredictor, read_fsq_nyc
from geocalliper.mobility.baselines import (
    BASELINES,
    DistanceBaseline,
    MarkovBaseline,
    PopularityBaseline,
    WindowFrequencyBaseline,
    haversine_m,
    ranks_from_scores,
)

pytestmark = pytest.mark.filterwarnings("ignore:Dropped .* visits that repeat:UserWarning")


@pytest.fixture(scope="module")
def visits(shared_data) -> gpd.GeoDataFrame:
    v = read_fsq_nyc(shared_data / "fsq-nyc" / "checkins.csv.gz")
    return v[v["user_id"] <= 40].copy()


@pytest.fixture(scope="module")
def places(visits) -> gpd.GeoDataFrame:
    """Every location id of the slice at the mean position of its visits."""
    v = visits.dropna(subset=["location_id"])
    g = pd.DataFrame({"id": v["location_id"], "x": v.geometry.x, "y": v.geometry.y})
    g = g.groupby("id").mean()
    return gpd.GeoDataFrame(
        {"location_id": g.index.to_numpy(dtype=object)},
        geometry=gpd.points_from_xy(g["x"], g["y"]),
        crs=4326,
    )


@pytest.fixture(scope="module")
def test_visits(visits) -> gpd.GeoDataFrame:
    return visits[visits["split"] == "test"]


def _table(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """The test visits in the library's order (user, time, location), plainly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gc.mobility.prepare_visits(frame)


def _rank_by_hand(first: np.ndarray, dist: np.ndarray, true: int) -> int:
    """1-based position of ``true`` when candidates sort by first key (descending),
    then distance (ascending), then candidate order."""
    order = sorted(range(len(dist)), key=lambda c: (-first[c], dist[c], c))
    return order.index(true) + 1


def _check_by_hand(baseline, visits, places, test_visits, first_key, n: int = 6) -> None:
    """Recompute ``n`` spread-out targets' ranks from the rule's definition."""
    ranks = baseline.rank_targets(test_visits, candidates=places)
    table = _table(test_visits)
    ids = places["location_id"].to_numpy(dtype=object)
    lon, lat = places.geometry.x.to_numpy(), places.geometry.y.to_numpy()
    picks = np.linspace(0, len(ranks) - 1, n).astype(int)
    checked = 0
    for i in picks:
        target = ranks.iloc[i]
        t = int(np.flatnonzero(table["row"].to_numpy() == target["row"])[0])
        last = table.iloc[t - 1]
        assert last["user"] == table.iloc[t]["user"]
        dist = np.array(
            [haversine_m(last["lon"], last["lat"], x, y) for x, y in zip(lon, lat, strict=True)]
        )
        first = first_key(table, t, ids)
        true = int(np.flatnonzero(ids == target["location"])[0])
        assert target["rank"] == _rank_by_hand(first, dist, true)
        order = sorted(range(len(ids)), key=lambda c: (-first[c], dist[c], c))
        assert target["predicted"] == ids[order[0]]
        checked += 1
    assert checked == n


def test_window_frequency_rule_by_hand(visits, places, test_visits):
    rule = WindowFrequencyBaseline().fit(visits)

    def window_counts(table, t, ids):
        day = table["day"].to_numpy()
        same = (table["user"] == table.iloc[t]["user"]).to_numpy()
        window = same & (np.arange(len(table)) < t) & (day >= day[t] - 7)
        assert window.sum() >= 3  # a scored target has at least 3 visits in its window
        counts = table.loc[window, "location"].value_counts()
        return np.array([counts.get(i, 0) for i in ids], dtype=float)

    _check_by_hand(rule, visits, places, test_visits, window_counts)


def test_markov_rule_by_hand(visits, places, test_visits):
    train = _table(visits[visits["split"] == "train"])
    rule = MarkovBaseline().fit(visits)

    def transitions(table, t, ids):
        frm = table.iloc[t - 1]["location"]
        nxt = train["location"].shift(-1)
        same = train["user"].eq(train["user"].shift(-1))
        counts = nxt[same & (train["location"] == frm)].value_counts()
        return np.array([counts.get(i, 0) for i in ids], dtype=float)

    _check_by_hand(rule, visits, places, test_visits, transitions)


def test_popularity_and_distance_rules_by_hand(visits, places, test_visits):
    counts = _table(visits[visits["split"] == "train"])["location"].value_counts()
    _check_by_hand(
        PopularityBaseline().fit(visits),
        visits,
        places,
        test_visits,
        lambda table, t, ids: np.array([counts.get(i, 0) for i in ids], dtype=float),
    )
    _check_by_hand(
        DistanceBaseline().fit(visits),
        visits,
        places,
        test_visits,
        lambda table, t, ids: np.zeros(len(ids)),
    )


def test_same_targets_as_the_predictor(visits, test_visits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = NextLocationPredictor(
            d_model=16,
            n_heads=2,
            n_layers=1,
            ff_dim=32,
            max_epochs=1,
            progress=False,
            device="cpu",
        ).fit(visits)
    expected = model.rank_targets(test_visits)
    for name, cls in BASELINES.items():
        got = cls().fit(visits).rank_targets(test_visits)
        assert list(got.columns) == list(expected.columns), name
        assert got["row"].tolist() == expected["row"].tolist(), name
        assert got["location"].equals(expected["location"]), name
        scores = cls().fit(visits).evaluate(test_visits)
        assert scores["n"] == len(expected)
        assert 0 <= scores["acc@1"] <= scores["acc@10"] <= 100


def test_excluded_places_are_never_counted(visits, places, test_visits):
    masked = gc.mobility.mask_locations(visits, 0.1, seed=0)
    pop = PopularityBaseline().fit(visits, exclude_locations=masked)
    assert not pop.locations_.index.isin(masked).any()
    markov = MarkovBaseline().fit(visits, exclude_locations=masked)
    pairs = markov.transitions_.index
    assert not pairs.get_level_values(0).isin(masked).any()
    assert not pairs.get_level_values(1).isin(masked).any()
    # a masked place has no training count, so every counted place ranks before it
    ranks = pop.rank_targets(test_visits, candidates=places)
    sub = ranks[ranks["location"].isin(set(masked))]
    assert len(sub) and (sub["rank"] > len(pop.locations_)).all()
    # the window rule needs no training: masking changes nothing
    a = WindowFrequencyBaseline().fit(visits).rank_targets(test_visits, candidates=places)
    b = (
        WindowFrequencyBaseline()
        .fit(visits, exclude_locations=masked)
        .rank_targets(test_visits, candidates=places)
    )
    assert a["rank"].equals(b["rank"])


def test_ranks_count_ties_against_the_baseline():
    scores = np.array([[1.0, 1.0, 1.0], [5.0, 1.0, 5.0]])
    assert ranks_from_scores(scores, np.array([2, 0])).tolist() == [3.0, 1.0]
    assert np.isinf(ranks_from_scores(scores, np.array([-1, 1]))[0])


def test_a_true_place_that_is_not_a_candidate_is_a_miss(visits, places, test_visits):
    few = places.iloc[:50]
    ranks = WindowFrequencyBaseline().fit(visits).rank_targets(test_visits, candidates=few)
    outside = ~ranks["location"].isin(set(few["location_id"]))
    assert outside.any() and np.isinf(ranks.loc[outside, "rank"]).all()
    assert ranks["predicted"].isin(set(few["location_id"])).all()


def test_bad_input(visits, places, test_visits):
    with pytest.raises(NotFittedError, match="fit"):
        WindowFrequencyBaseline().rank_targets(test_visits)
    rule = MarkovBaseline().fit(visits)
    lines = gpd.GeoDataFrame(
        {"location_id": [1]}, geometry=[LineString([(-74, 40.7), (-73.9, 40.8)])], crs=4326
    )
    with pytest.raises(InvalidGeometryError, match="points"):
        rule.rank_targets(test_visits, candidates=lines)
    dup = pd.concat([places.iloc[:3], places.iloc[:1]])
    with pytest.raises(ValueError, match="unique"):
        rule.rank_targets(test_visits, candidates=dup)
    short = test_visits[test_visits["user_id"] == test_visits["user_id"].iloc[0]].head(3)
    with pytest.raises(EmptyDataError, match="days before it"):
        rule.rank_targets(short)
    with pytest.raises(EmptyDataError, match="train"):
        PopularityBaseline().fit(visits[visits["split"] == "test"])
    with pytest.raises(ValueError, match="history_days"):
        DistanceBaseline(history_days=0).fit(visits)
    with pytest.raises(TypeError):
        WindowFrequencyBaseline().fit(pd.DataFrame({"user_id": [1]}))
