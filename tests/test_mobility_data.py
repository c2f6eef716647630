"""Visits, readers, the GPS pipeline, the split, sequences and metrics, on real data."""

from __future__ import annotations

import itertools
import math
import warnings
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import torch
from shapely.geometry import LineString, Point

from geocalliper.exceptions import (
    EmptyDataError,
    InvalidGeometryError,
    MissingColumnError,
    MissingCRSError,
    VisitsError,
)
from geocalliper.mobility import (
    gps_to_visits,
    mask_locations,
    next_location_scores,
    prepare_visits,
    read_fsq_nyc,
    read_geolife_plt,
    read_geolife_staypoints,
    split_by_day,
)
from geocalliper.mobility.metrics import accuracy_at_k, mean_reciprocal_rank, ndcg_at_k
from geocalliper.mobility.module import window_mask
from geocalliper.mobility.sequences import (
    Sequences,
    build_sequences,
    iter_budget_batches,
    iter_chunk_batches,
)
from geocalliper.mobility.staypoints import haversine_m


@pytest.fixture(scope="module")
def fsq(shared_data) -> gpd.GeoDataFrame:
    return read_fsq_nyc(shared_data / "fsq-nyc" / "checkins.csv.gz")


def _frame(times, users=None, xs=None) -> gpd.GeoDataFrame:
    n = len(times)
    return gpd.GeoDataFrame(
        {"user_id": users or [1] * n, "started_at": times},
        geometry=gpd.points_from_xy(xs or [-73.98 + 0.001 * i for i in range(n)], [40.75] * n),
        crs=4326,
    )


# ---------------------------------------------------------------- readers
def test_read_fsq_nyc_keeps_published_split_and_ids(fsq):
    assert len(fsq) == 95_372
    assert fsq.crs.to_epsg() == 4326
    assert set(fsq["split"].unique()) == {"train", "valid", "test"}
    # id 1 ("never seen in train") becomes missing; train rows all have an id
    assert fsq.loc[fsq["split"] == "train", "location_id"].notna().all()
    assert fsq["location_id"].dropna().nunique() == 3_816
    assert not (fsq["location_id"] == 1).any()


def test_read_geolife_staypoints_relative_calendar(shared_data):
    visits = read_geolife_staypoints(shared_data / "geolife-staypoints")
    raw = pd.read_csv(shared_data / "geolife-staypoints" / "staypoints.csv.gz")
    assert len(visits) == len(raw) == 16_600
    # every weekday of the published data is kept
    assert (visits["started_at"].dt.day_of_week.to_numpy() == raw["weekday"].to_numpy()).all()
    minute = visits["started_at"].dt.hour * 60 + visits["started_at"].dt.minute
    assert np.array_equal(minute.to_numpy(), raw["start_min"].to_numpy())
    # geometry is the location centre: most are in Beijing (a few users travelled)
    assert visits.geometry.x.between(115, 118).mean() > 0.9


def test_split_by_day_reproduces_the_published_split(fsq):
    ours = split_by_day(fsq)
    agree = float((ours == fsq["split"]).mean())
    assert agree > 0.99, agree


def test_split_by_day_formula():
    v = _frame(list(pd.date_range("2024-01-01", periods=21)))
    s = split_by_day(v)
    # D = 20: train d < 12, valid d < 16, test otherwise
    assert (s.iloc[:12] == "train").all() and (s.iloc[12:16] == "valid").all()
    assert (s.iloc[16:] == "test").all()
    with pytest.raises(ValueError, match="fractions"):
        split_by_day(v, fractions=(0.5, 0.1, 0.1))


def test_mask_locations_is_seeded_and_from_train(fsq):
    a = mask_locations(fsq, 0.1, seed=0)
    assert a == mask_locations(fsq, 0.1, seed=0)
    assert a != mask_locations(fsq, 0.1, seed=1)
    assert len(a) == round(0.1 * 3_816)
    train_ids = set(fsq.loc[fsq["split"] == "train", "location_id"].dropna())
    assert set(a) <= train_ids


# ---------------------------------------------------------------- GPS pipeline
def test_haversine_reference_value():
    # one degree of latitude on a 6371 km sphere
    d = haversine_m(0.0, 0.0, np.array([0.0]), np.array([1.0]))[0]
    assert d == pytest.approx(2 * math.pi * 6_371_000 / 360, rel=1e-9)


def test_gps_to_visits_on_geolife_10mb(shared_data):
    pfs = read_geolife_plt(shared_data / "geolife-gps" / "geolife_long_10_MB")
    visits, locs = gps_to_visits(pfs, progress=False)
    assert len(visits) > 50 and len(locs) > 5
    assert (visits["duration"] > 25).all()
    assert set(visits["location_id"]) <= set(locs.index)
    # DBSCAN eps 20 m: every member staypoint lies near its location centre
    centre = locs.loc[visits["location_id"].to_numpy()]
    d = [
        haversine_m(c.x, c.y, np.array([v.x]), np.array([v.y]))[0]
        for c, v in zip(centre.geometry, visits.geometry, strict=True)
    ]
    assert max(d) < 500
    table = prepare_visits(visits)
    assert len(table) == len(visits)


def test_read_geolife_plt_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_geolife_plt(tmp_path / "absent")
    with pytest.raises(EmptyDataError, match="PLT"):
        read_geolife_plt(tmp_path)


# ---------------------------------------------------------------- visits
def test_prepare_visits_sorts_and_reads_wall_time(fsq):
    sample = fsq.iloc[:300]
    shuffled = sample.sample(frac=1.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = prepare_visits(sample)
        b = prepare_visits(shuffled)
    # identical, except which label of an exact duplicate is kept
    pd.testing.assert_frame_equal(a.drop(columns="row"), b.drop(columns="row"))
    first = sample.sort_values(["user_id", "started_at"]).iloc[0]
    assert a["minute"].iloc[0] == first["started_at"].hour * 60 + first["started_at"].minute


def test_prepare_visits_drops_exact_duplicates():
    v = _frame(["2024-01-01 10:00", "2024-01-01 10:00", "2024-01-01 12:00"], xs=[0.1, 0.1, 0.2])
    with pytest.warns(UserWarning, match="Dropped 1"):
        t = prepare_visits(v)
    assert len(t) == 2


def test_tz_aware_times_use_local_wall_clock():
    naive = _frame(["2024-03-04 08:30", "2024-03-04 18:00"])
    aware = naive.copy()
    aware["started_at"] = pd.to_datetime(aware["started_at"]).dt.tz_localize("America/New_York")
    a, b = prepare_visits(naive), prepare_visits(aware)
    assert a["minute"].tolist() == b["minute"].tolist() == [510, 1080]
    assert (b["instant"] - a["instant"]).eq(5 * 3600 * 10**9).all()  # EST = UTC-5


def test_mixed_tz_aware_and_naive_times_are_refused():
    v = _frame(["2024-03-04 08:30", "2024-03-04 18:00"])
    v["started_at"] = [pd.Timestamp("2024-03-04 08:30", tz="UTC"), pd.Timestamp("2024-03-04 18:00")]
    with pytest.raises(VisitsError, match="mixes tz-aware and naive"):
        prepare_visits(v)


def test_visits_bad_input():
    v = _frame(["2024-03-04 08:30", "2024-03-04 18:00"])
    with pytest.raises(MissingColumnError, match="user_col"):
        prepare_visits(v.drop(columns="user_id"))
    with pytest.raises(EmptyDataError):
        prepare_visits(v.iloc[:0])
    with pytest.raises(MissingCRSError):
        prepare_visits(v.set_crs(None, allow_override=True))
    line = v.copy()
    line.geometry = [LineString([(0, 0), (1, 1)]), Point(0, 0)]
    with pytest.raises(InvalidGeometryError, match="not points"):
        prepare_visits(line)
    nat = v.copy()
    nat.loc[0, "started_at"] = None
    with pytest.raises(VisitsError, match="no 'started_at'"):
        prepare_visits(nat)


# ---------------------------------------------------------------- sequences
def _reference_valid(day: np.ndarray, history_days: int = 7, min_history: int = 3) -> np.ndarray:
    """The reference sample rule, written out per target."""
    ok = np.zeros(len(day), bool)
    for t in range(len(day)):
        if day[t] - day[0] < history_days:
            continue
        hist = [j for j in range(t) if day[j] >= day[t] - history_days]
        ok[t] = len(hist) >= min_history
    return ok


def test_valid_targets_follow_the_reference_rule(fsq):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = prepare_visits(fsq[fsq["user_id"].isin([1, 2, 3])])
    n = len(table)
    seqs = build_sequences(table, np.full(n, 2), np.ones(n, np.int64))
    for user in table["user"].unique():
        rows = np.flatnonzero(table["user"].to_numpy() == user)
        expected = _reference_valid(table["day"].to_numpy()[rows])
        assert np.array_equal(seqs.valid[rows], expected)
    assert seqs.n_targets > 50
    # every valid target is scored by exactly one chunk, whose tokens hold its window
    covered = np.zeros(n, int)
    for start, first, stop in seqs.chunks:
        covered[first:stop] += 1
        assert start <= seqs.window_start[first]
    assert (covered[seqs.valid] == 1).all()


def test_hidden_locations_drop_every_touching_target():
    day = np.array([0, 1, 8, 9, 10, 11, 12, 30])
    table = pd.DataFrame({"user": 1, "day": day, "minute": 0, "weekday": 0, "duration": np.nan})
    hidden = np.zeros(len(day), bool)
    hidden[3] = True  # day 9
    seqs = build_sequences(table, np.full(len(day), 2), np.ones(len(day)), hidden=hidden)
    ref = _reference_valid(day)
    # targets whose window [day - 7, day] reaches day 9 are dropped, day 30 has no history
    assert ref.tolist() == [False, False, False, False, False, True, True, False]
    assert seqs.valid.tolist() == [False] * 8


def test_window_mask_matches_brute_force():
    day = torch.tensor([[0, 2, 5, 9, 12, 20]])
    query_day = torch.tensor([[2, 5, 9, 12, 20, 20]])
    key_ok = torch.tensor([[True, True, False, True, True, True]])
    m = window_mask(day, query_day, key_ok, 7)[0]
    for q in range(6):
        for k in range(6):
            expected = (
                k <= q and day[0, k] >= query_day[0, q] - 7 and bool(key_ok[0, k])
            ) or k == q
            assert bool(m[q, k]) == expected


# ---------------------------------------------------------------- metrics
def test_metrics_reference_formulas():
    ranks = np.array([1, 2, 3, 10, 11, np.inf])
    assert accuracy_at_k(ranks, 1) == pytest.approx(100 / 6)
    assert accuracy_at_k(ranks, 10) == pytest.approx(400 / 6)
    mrr = (1 + 1 / 2 + 1 / 3 + 1 / 10 + 1 / 11) / 6 * 100
    assert mean_reciprocal_rank(ranks) == pytest.approx(mrr)
    ndcg = (1 + 1 / math.log2(3) + 1 / math.log2(4) + 1 / math.log2(11)) / 6 * 100
    assert ndcg_at_k(ranks, 10) == pytest.approx(ndcg)
    scores = next_location_scores(ranks, list("abcdef"), list("axxxxx"))
    # F1 weighted by support: only "a" is right (precision 1, recall 1), support 1 of 6
    assert scores["f1"] == pytest.approx(100 / 6)
    assert scores["n"] == 6


def test_simulated_agents_follow_the_model(helsinki_pois):
    from geocalliper.mobility.simulate import _jump, simulate_epr

    a = simulate_epr(helsinki_pois, n_agents=4, days=20, seed=3)
    b = simulate_epr(helsinki_pois, n_agents=4, days=20, seed=3)
    pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
    assert a["simulated"].all() and a.crs == helsinki_pois.crs
    # every night is spent at the first place of the day-0 morning (home)
    for _, g in a.groupby("user_id"):
        home = g["location_id"].iloc[0]
        hour = g["started_at"].dt.hour
        night = g[(hour >= 22) | (hour < 7)]
        assert (night["location_id"] == home).all() and len(night) >= 19
    # exploration slows down as the set of visited places grows (rho * S^-gamma)
    seen = a.groupby("user_id")["location_id"].nunique()
    assert (seen < a.groupby("user_id").size()).all()
    # the jump distribution stays within its bounds
    rng = np.random.default_rng(0)
    jumps = np.array([_jump(rng, 0.55, 100.0, 10_000.0) for _ in range(2000)])
    assert jumps.min() >= 0 and jumps.max() <= 10_000.0 and np.median(jumps) < 2_000


def test_budget_batches_cover_every_chunk_once_within_the_budget() -> None:
    rng = np.random.default_rng(0)
    starts = np.cumsum(rng.integers(1, 5, 300))
    lengths = rng.integers(1, 60, 300)
    chunks = np.column_stack([starts, starts + lengths, starts + lengths + 1])
    seqs = Sequences(*([np.zeros(0)] * 7), chunks=chunks, window_start=np.zeros(0))
    batches = list(iter_budget_batches(seqs, max_cells=20_000, max_chunks=50))
    np.testing.assert_array_equal(np.concatenate(batches), np.arange(300))
    for ids in batches:
        longest = lengths[ids].max()
        assert len(ids) <= 50
        assert len(ids) == 1 or len(ids) * longest**2 <= 20_000
    # a batch closes only when the next chunk would break the budget
    for ids, nxt in itertools.pairwise(batches):
        wider = max(lengths[ids].max(), lengths[nxt[0]])
        assert (len(ids) + 1) * wider**2 > 20_000 or len(ids) == 50


def test_length_batches_cover_every_chunk_once_with_less_padding():
    """Training batches by length: every chunk once per epoch, batches differ between
    epochs (jitter, shuffled order), and far less padding than random batches."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 200, 400)
    seqs = SimpleNamespace(chunks=np.stack([np.zeros(400), np.ones(400), lengths], 1).astype(int))

    def padding(batches):
        return sum(int(lengths[b].max() * len(b) - lengths[b].sum()) for b in batches)

    a = list(iter_chunk_batches(seqs, 8, np.random.default_rng(1), by_length=True))
    b = list(iter_chunk_batches(seqs, 8, np.random.default_rng(2), by_length=True))
    shuffled = list(iter_chunk_batches(seqs, 8, np.random.default_rng(1)))
    for batches in (a, b, shuffled):
        assert sorted(np.concatenate(batches).tolist()) == list(range(400))
        assert max(len(x) for x in batches) == 8
    assert [x.tolist() for x in a] != [x.tolist() for x in b]
    assert padding(a) < 0.2 * padding(shuffled)
