"""GPS fixes -> staypoints -> locations -> visits, against trackintel itself on GeoLife."""

from __future__ import annotations

import glob
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geocalliper.exceptions import DuplicateFixesWarning, EmptyDataError, PLTFormatError
from geocalliper.mobility import gps_to_visits, read_geolife_plt
from geocalliper.mobility.readers import iter_geolife_plt
from geocalliper.mobility.staypoints import (
    generate_locations,
    generate_staypoints,
    haversine_m,
    merge_staypoints,
)

PLT_HEADER = (
    "Geolife trajectory\nWGS 84\nAltitude is in Feet\nReserved 3\n"
    "0,2,255,My Track,0,0,2,8421376\n0\n"
)


@pytest.fixture(scope="module")
def geolife_10mb(shared_data) -> Path:
    return shared_data / "geolife-gps" / "geolife_long_10_MB"


def _trackintel(folder: Path, include_last: bool):
    """trackintel 1.4.2 as MHSA runs it, its file listing sorted (its own is the disk's)."""
    ti_reader = pytest.importorskip("trackintel.io.dataset_reader")
    unsorted = glob.glob
    ti_reader.glob.glob = lambda p: sorted(unsorted(p))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pfs, _ = ti_reader.read_geolife(str(folder))
            pfs, sp = pfs.generate_staypoints(
                gap_threshold=24 * 60,
                include_last=include_last,
                dist_threshold=200,
                time_threshold=30,
            )
    finally:
        ti_reader.glob.glob = unsorted
    sp = sp.create_activity_flag(method="time_threshold", time_threshold=25)
    act = sp[sp["is_activity"]]
    act, _ = act.generate_locations(
        epsilon=20, num_samples=2, distance_metric="haversine", agg_level="dataset"
    )
    dropped = [w for w in caught if "duplicates were dropped" in str(w.message)]
    return sp, act, dropped


def _keys(sp: pd.DataFrame) -> set:
    return set(zip(sp["user_id"].astype(int), sp["started_at"], sp["finished_at"], strict=True))


def _partition(sp: pd.DataFrame) -> set:
    located = sp[sp["location_id"].notna()]
    groups: dict = {}
    for u, s, loc in zip(
        located["user_id"].astype(int), located["started_at"], located["location_id"], strict=True
    ):
        groups.setdefault(loc, set()).add((u, s))
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("include_last", [True, False])
def test_staypoints_and_locations_equal_trackintel(geolife_10mb, include_last):
    ti_sp, ti_act, ti_dropped = _trackintel(geolife_10mb, include_last)
    with pytest.warns(DuplicateFixesWarning, match="Dropped 8 of 164,531"):
        visits, _, sp = gps_to_visits(
            geolife_10mb,
            include_last=include_last,
            haversine_order="trackintel",
            return_staypoints=True,
            progress=False,
        )
    # the same exact duplicates dropped
    assert ti_dropped and "8 duplicates" in str(ti_dropped[0].message)
    assert sp.attrs["gps_report"]["exact_duplicates_dropped"] == 8
    # the same staypoints (user, start, end), positions to the last bit
    assert len(sp) == len(ti_sp) > 200
    assert _keys(sp) == _keys(ti_sp)
    ours = sp.assign(u=sp["user_id"].astype(int)).set_index(["u", "started_at"]).geometry
    theirs = ti_sp.assign(u=ti_sp["user_id"].astype(int)).set_index(["u", "started_at"]).geometry
    theirs = theirs.loc[ours.index]
    assert (ours.x.to_numpy() == theirs.x.to_numpy()).all()
    assert (ours.y.to_numpy() == theirs.y.to_numpy()).all()
    # the same activity flags and the same location partition
    assert _keys(sp[sp["is_activity"]]) == _keys(ti_act)
    assert len(_partition(ti_act)) > 20
    assert _partition(sp) == _partition(ti_act)
    assert set(zip(visits["user_id"].astype(int), visits["started_at"], strict=True)) == {
        (u, s) for g in _partition(ti_act) for u, s in g
    }


@pytest.mark.filterwarnings("ignore::geocalliper.exceptions.DuplicateFixesWarning")
def test_single_fix_staypoints_and_gaps_follow_trackintel(geolife_10mb):
    sp = generate_staypoints(geolife_10mb, progress=False)
    # a staypoint can hold one fix: it ends at the next fix, >= 30 min later, 200 m off
    single = sp[sp["n_fixes"] == 1]
    assert len(single) > 0 and (single["duration"] >= 30).all()
    # no staypoint spans a data gap of more than 24 h
    assert (sp["duration"] <= 24 * 60 * sp["n_fixes"]).all()
    fixes = read_geolife_plt(geolife_10mb, progress=False)
    for _, row in single.head(20).iterrows():
        mine = fixes[fixes["user_id"] == row["user_id"]]
        after = mine[mine["tracked_at"] >= row["finished_at"]].iloc[0]
        start = mine[mine["tracked_at"] == row["started_at"]].iloc[0]
        d = haversine_m(
            start.geometry.x,
            start.geometry.y,
            np.array([after.geometry.x]),
            np.array([after.geometry.y]),
        )[0]
        assert d >= 200


def test_haversine_order_matters_east_west():
    # two stays 17 m apart east-west at 40 N: one place; trackintel's [lon, lat] order
    # reads the 17 m as 17 / cos(40 deg) = 22 m and makes them noise
    dlon = 17 / (111_195 * np.cos(np.radians(40.0)))
    sp = gpd.GeoDataFrame(
        {"user_id": [1, 1], "started_at": pd.to_datetime(["2024-01-01", "2024-01-02"])},
        geometry=gpd.points_from_xy([116.0, 116.0 + dlon], [40.0, 40.0]),
        crs=4326,
    )
    right, _ = generate_locations(sp)
    wrong, _ = generate_locations(sp, haversine_order="trackintel")
    assert right.notna().all() and right.nunique() == 1
    assert wrong.isna().all()
    with pytest.raises(ValueError, match="haversine_order"):
        generate_locations(sp, haversine_order="lon_lat")


def test_streamed_folder_equals_frame(geolife_10mb):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateFixesWarning)
        fixes = read_geolife_plt(geolife_10mb, progress=False)
        from_frame = generate_staypoints(fixes, progress=False)
        streamed = generate_staypoints(geolife_10mb, progress=False)
    pd.testing.assert_frame_equal(
        pd.DataFrame(from_frame.drop(columns="geometry")),
        pd.DataFrame(streamed.drop(columns="geometry")),
    )
    assert from_frame.geometry.geom_equals_exact(streamed.geometry, 0).all()
    report = fixes.attrs["gps_report"]
    assert report["fixes_read"] - report["exact_duplicates_dropped"] == len(fixes) == 164_523
    assert report["files"] == 111 and report["users"] == 11


def test_plt_duplicates_tz_users_and_errors(tmp_path):
    traj = tmp_path / "007" / "Trajectory"
    traj.mkdir(parents=True)
    rows = [
        "39.9,116.3,0,100,39744.1,2008-10-23,02:00:00",
        "39.9,116.3,0,100,39744.1,2008-10-23,02:00:00",  # exact duplicate: dropped
        "39.901,116.3,0,100,39744.1,2008-10-23,02:00:00",  # same time elsewhere: kept
        "39.9,116.3,0,-777,39744.1,2008-10-23,02:30:05",
    ]
    (traj / "a.plt").write_text(PLT_HEADER + "\r\n".join(rows) + "\r\n")
    with pytest.warns(DuplicateFixesWarning, match=r"Dropped 1 of 4 .* kept 1 fixes"):
        fixes = read_geolife_plt(tmp_path, progress=False)
    assert len(fixes) == 3 and fixes["user_id"].tolist() == ["007"] * 3
    assert str(fixes["tracked_at"].dt.tz) == "UTC"
    assert fixes["tracked_at"].dt.hour.tolist() == [2, 2, 2]
    assert fixes["altitude_m"].iloc[-1] == pytest.approx(-777 * 0.3048)
    with pytest.warns(DuplicateFixesWarning):
        local = read_geolife_plt(tmp_path, tz="Asia/Shanghai", progress=False)
    assert local["tracked_at"].dt.hour.tolist() == [10, 10, 10]  # GMT+8
    assert (local["tracked_at"] == fixes["tracked_at"]).all()  # the same instants
    with pytest.raises(EmptyDataError, match=r"users \['008'\]"):
        read_geolife_plt(tmp_path, users=["008"], progress=False)
    (traj / "b.plt").write_text(PLT_HEADER + "39.9,116.3,0,1,2,not-a-date,02:00:00\n")
    with pytest.raises(PLTFormatError, match=r"b\.plt"):
        read_geolife_plt(tmp_path, progress=False)


def test_plt_progress_bar_counts_files(geolife_10mb, capsys):
    parts = list(iter_geolife_plt(geolife_10mb, users=["000", "004"], progress=True))
    assert [p.user for p in parts] == ["000", "004"]
    assert [p.n_files for p in parts] == [8, 10]
    assert "18/18" in capsys.readouterr().err


def test_mhsa_user_filter_and_merging(geolife_10mb):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateFixesWarning)
        fixes = read_geolife_plt(geolife_10mb, progress=False)
        plain, _, sp = gps_to_visits(fixes, return_staypoints=True, progress=False)
        span = fixes.groupby("user_id")["tracked_at"].agg(lambda t: (t.max() - t.min()).days)
        cut = int(span.median())
        kept, _, sp_kept = gps_to_visits(
            fixes, min_tracked_days=cut, return_staypoints=True, progress=False
        )
        merged, _ = gps_to_visits(fixes, merge_gap=60, progress=False)
    # the user filter: only users tracked for more than `cut` days are clustered
    good = set(span.index[span > cut])
    assert 0 < len(good) < len(span)
    assert set(kept["user_id"]) <= good and len(set(kept["user_id"])) >= 2
    assert set(sp_kept.loc[sp_kept["location_id"].notna(), "user_id"]) <= good
    assert kept.attrs["gps_report"]["users_dropped_min_tracked_days"] == len(span) - len(good)
    # merging: brute force over consecutive visits of a user at one location
    v = plain.sort_values(["user_id", "started_at"]).reset_index(drop=True)
    same = (
        (v["user_id"].to_numpy()[1:] == v["user_id"].to_numpy()[:-1])
        & (v["location_id"].to_numpy()[1:] == v["location_id"].to_numpy()[:-1])
        & (
            (v["started_at"].to_numpy()[1:] - v["finished_at"].to_numpy()[:-1])
            <= np.timedelta64(60, "m")
        )
    )
    assert same.sum() > 0
    assert len(merged) == len(plain) - int(same.sum())
    assert merged.attrs["gps_report"]["visits_merged_away"] == int(same.sum())
    assert merged["n_merged"].sum() == len(plain)
    assert (merged["duration"] >= 0).all()
    # every staypoint is returned, flagged; the visits are its located activities
    assert len(sp) > len(plain) and sp["is_activity"].sum() > len(plain)
    assert sp["location_id"].notna().sum() == len(plain)


def test_merge_staypoints_rules():
    t = pd.to_datetime(
        [
            "2024-01-01 08:00",
            "2024-01-01 09:00",
            "2024-01-01 09:31",
            "2024-01-01 10:05",
            "2024-01-01 11:00",
        ]
    )
    sp = gpd.GeoDataFrame(
        {
            "user_id": [1, 1, 1, 1, 2],
            "location_id": pd.array([4, 4, 4, 5, 5], dtype="Int64"),
            "started_at": t,
            "finished_at": t + pd.Timedelta("30min"),
            "n_fixes": [1, 2, 3, 4, 5],
        },
        geometry=gpd.points_from_xy([0, 1, 2, 3, 4], [0] * 5),
        crs=4326,
    )
    out = merge_staypoints(sp, max_gap=1.0)
    # 08:00-08:30 | 09:00-09:30 + 09:31-10:01 | 10:05 other place | user 2
    assert out["n_merged"].tolist() == [1, 2, 1, 1]
    assert out["n_fixes"].tolist() == [1, 5, 4, 5]
    assert out["finished_at"].iloc[1] == pd.Timestamp("2024-01-01 10:01")
    assert out["duration"].iloc[1] == 61.0 and out.geometry.x.iloc[1] == 1.0
    with pytest.raises(ValueError, match="max_gap"):
        merge_staypoints(sp, max_gap=-1)


@pytest.mark.filterwarnings("ignore::geocalliper.exceptions.DuplicateFixesWarning")
def test_staypoint_rule_errors(geolife_10mb):
    with pytest.raises(ValueError, match="dist_threshold"):
        generate_staypoints(geolife_10mb, dist_threshold=0, progress=False)
    with pytest.raises(EmptyDataError, match="No activity staypoints"):
        gps_to_visits(geolife_10mb, users=["000"], time_threshold=10_000, progress=False)
