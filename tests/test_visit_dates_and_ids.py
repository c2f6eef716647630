"""Visits that used to give silently wrong results: dates outside pandas' nanosecond
range, and ids of the wrong type (issue 13, items 2 and 3), on a real FSQ-NYC slice."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geocalliper.exceptions import VisitsError
from geocalliper.mobility import NextLocationPredictor, prepare_visits, read_fsq_nyc

pytestmark = pytest.mark.filterwarnings("ignore:Dropped .* visits that repeat:UserWarning")

TINY = dict(
    d_model=16, n_heads=2, n_layers=1, ff_dim=32, max_epochs=2, batch_size=8, progress=False
)


def _visits(times, users=(7, 7, 7)) -> gpd.GeoDataFrame:
    n = len(times)
    return gpd.GeoDataFrame(
        {"user_id": list(users)[:n], "started_at": times},
        geometry=gpd.points_from_xy([24.94, 24.95, 24.96][:n], [60.17, 60.16, 60.15][:n]),
        crs=4326,
        index=[10, 11, 12][:n],
    )


# ---------------------------------------------------------------- item 2: dates
@pytest.mark.parametrize(
    "times",
    [
        ["2024-05-01 09:00", "2300-03-01 10:00", "2024-05-02 09:00"],  # strings
        [pd.Timestamp("2024-05-01 09:00"), pd.Timestamp("9999-12-31"), pd.Timestamp("2024-05-02")],
        pd.Series(np.array(["2024-05-01T09", "9999-12-31", "2024-05-02"], dtype="datetime64[s]")),
        pd.Series(
            np.array(["2024-05-01T09", "1500-01-01", "2024-05-02"], dtype="datetime64[s]")
        ).dt.tz_localize("Europe/Helsinki"),
    ],
    ids=["str-2300", "timestamp-9999", "datetime64s-9999", "tz-aware-1500"],
)
def test_dates_outside_the_nanosecond_range_are_refused_with_their_rows(times):
    visits = _visits(list(times))
    with pytest.raises(VisitsError, match=r"1 visits .*'started_at'.* index \[11\]") as info:
        prepare_visits(visits)
    assert "1677" in str(info.value) and "2262" in str(info.value)


def test_out_of_range_end_times_are_refused_too():
    visits = _visits(["2024-05-01 09:00", "2024-05-01 10:00", "2024-05-02 09:00"])
    visits["finished_at"] = ["2024-05-01 09:30", "9999-12-31", "2024-05-02 10:00"]
    with pytest.raises(VisitsError, match=r"'finished_at'.* index \[11\]"):
        prepare_visits(visits)


def test_dates_at_the_edges_of_the_range_still_work():
    visits = _visits(["1677-09-22 00:00", "2262-04-10 00:00", "2024-05-01 09:00"])
    table = prepare_visits(visits)
    # Thursday 1970-01-01 + day offsets: 2262-04-10 is a Thursday, 1677-09-22 a Wednesday
    weekday = dict(zip(table["row"], table["weekday"], strict=True))
    assert weekday == {10: 2, 11: 3, 12: 2}
    assert table["row"].tolist() == [10, 12, 11]


# ---------------------------------------------------------------- item 3: ids, real data
@pytest.fixture(scope="module")
def visits(shared_data) -> gpd.GeoDataFrame:
    v = read_fsq_nyc(shared_data / "fsq-nyc" / "checkins.csv.gz")
    v = v[v["user_id"] <= 20].copy()
    v["location_id"] = v["location_id"].astype(object).where(v["location_id"].notna(), None)
    return v


@pytest.fixture(scope="module")
def vanilla(visits) -> NextLocationPredictor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return NextLocationPredictor(device="cpu", **TINY).fit(visits)


def _history(visits) -> gpd.GeoDataFrame:
    test = visits[visits["split"] == "test"]
    return test[test["user_id"].isin([1, 2, 3])].groupby("user_id").tail(6)


def _as_text(values: pd.Series) -> pd.Series:
    return values.map(lambda v: None if v is None or pd.isna(v) else str(v))


def test_string_location_ids_in_history_match_integer_ids(vanilla, visits):
    history = _history(visits)
    expected = vanilla.predict(history, k=5)
    text = history.assign(location_id=_as_text(history["location_id"]))
    with pytest.warns(UserWarning, match="'location_id'.*integer"):
        got = vanilla.predict(text, k=5)
    assert got["location_id"].tolist() == expected["location_id"].tolist()
    np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-5)


def test_string_user_ids_match_integer_users(vanilla, visits):
    history = _history(visits)
    expected = vanilla.predict(history, k=5)
    text = history.assign(user_id=history["user_id"].astype(str))
    with pytest.warns(UserWarning, match="'user_id'.*integer"):
        got = vanilla.predict(text, k=5)
    np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-5)


def test_string_candidate_ids_match_integer_ids(vanilla, visits):
    history = _history(visits)
    places = visits.drop_duplicates("location_id")[["location_id", "geometry"]].head(50)
    places = places.reset_index(drop=True)
    expected = vanilla.predict(history, k=5, candidates=places)
    assert np.isfinite(expected["score"]).all()
    text = places.assign(location_id=places["location_id"].astype(str))
    with pytest.warns(UserWarning, match="'location_id'.*integer"):
        got = vanilla.predict(history, k=5, candidates=text)
    np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-5)


def test_evaluate_with_string_ids_matches_integer_ids(vanilla, visits):
    test = visits[(visits["split"] == "test") & (visits["user_id"] <= 8)]
    expected = vanilla.evaluate(test)
    text = test.assign(
        location_id=_as_text(test["location_id"]), user_id=test["user_id"].astype(str)
    )
    with pytest.warns(UserWarning, match="integer"):
        got = vanilla.evaluate(text)
    assert got == pytest.approx(expected)


def test_fit_with_mixed_int_and_string_ids_keeps_one_location_per_place(visits):
    train = visits[visits["user_id"] <= 10].copy()
    n_places = train.loc[train["split"] == "train", "location_id"].nunique()
    ids = train["location_id"].to_numpy(dtype=object).copy()
    ids[::2] = [None if v is None else str(v) for v in ids[::2]]
    train["location_id"] = ids
    with pytest.warns(UserWarning, match="'location_id'.*integer"):
        model = NextLocationPredictor(device="cpu", **{**TINY, "max_epochs": 1}).fit(train)
    assert len(model.locations_) == n_places
    assert all(isinstance(v, int | np.integer) for v in model.locations_.index)


def test_mixed_integer_and_text_ids_are_refused(visits):
    v = visits.head(30).copy()
    ids = v["location_id"].to_numpy(dtype=object).copy()
    ids[3] = "cafe-42"
    v["location_id"] = ids
    with pytest.raises(
        VisitsError, match="'location_id' column of the visits mixes integer ids and text ids"
    ):
        prepare_visits(v)
