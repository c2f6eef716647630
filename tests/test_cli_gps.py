"""The GPS commands from the shell: raw GeoLife PLT files to a scored predictor."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from geocalliper.exceptions import DuplicateFixesWarning
from geocalliper.mobility import gps_to_visits, read_geolife_plt


@pytest.fixture(scope="module")
def plt_folder(shared_data):
    return shared_data / "geolife-gps" / "geolife_long_10_MB"


def test_raw_geolife_to_evaluate_from_the_shell(plt_folder, cli, tmp_path):
    # the docs' recipe, on the shared slice (small model, one epoch; a 1-day window, as
    # these users were tracked for days, not months)
    run = cli(
        "gps-to-visits",
        str(plt_folder),
        "--out",
        "geolife.gpkg",
        "--eps",
        "100",
        "--min-samples",
        "1",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "Dropped 8 of 164,531" in run.stderr  # the duplicates, counted
    assert [name for name, _ in pyogrio.list_layers(tmp_path / "geolife.gpkg")] == [
        "visits",
        "staypoints",
        "locations",
    ]
    visits = gpd.read_file(tmp_path / "geolife.gpkg", layer="visits")
    report = json.loads(run.stdout[: run.stdout.rindex("}") + 1])
    assert report["visits"] == len(visits) == 250 and report["fixes_read"] == 164_531
    run = cli("split", "geolife.gpkg", "--out", "visits.csv", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    split = pd.read_csv(tmp_path / "visits.csv")
    assert set(split["split"]) == {"train", "valid", "test"} and len(split) == 250
    run = cli(
        "fit-predictor",
        "visits.csv",
        "--out",
        "next",
        "--max-epochs",
        "1",
        "--d-model",
        "16",
        "--n-heads",
        "2",
        "--ff-dim",
        "32",
        "--patience",
        "1",
        "--history-days",
        "1",
        "--min-history",
        "1",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    config = json.loads((tmp_path / "next" / "config.json").read_text())
    assert "ff_dim" in json.dumps(config) and '"ff_dim": 32' in json.dumps(config)
    run = cli("evaluate", "next", "visits.csv", "--split", "test", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    scores = json.loads(run.stdout)
    assert scores["n"] > 0 and 0 <= scores["acc@10"] <= 100


def test_gps_to_visits_from_a_csv_of_fixes(plt_folder, cli, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateFixesWarning)
        fixes = read_geolife_plt(plt_folder, users=["002", "003"], progress=False)
        expected, _ = gps_to_visits(fixes, progress=False)
    table = pd.DataFrame(
        {
            "user_id": fixes["user_id"].astype(int),
            "tracked_at": fixes["tracked_at"],
            "lon": fixes.geometry.x,
            "lat": fixes.geometry.y,
        }
    )
    table.to_csv(tmp_path / "fixes.csv", index=False)
    run = cli(
        "gps-to-visits", "fixes.csv", "--out", "out.gpkg", "--tz", "Asia/Shanghai", cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    visits = gpd.read_file(tmp_path / "out.gpkg", layer="visits")
    assert len(visits) == len(expected) > 0
    # written as Beijing wall-clock times, 8 hours ahead of GMT
    local = pd.to_datetime(visits["started_at"]).sort_values().reset_index(drop=True)
    gmt = expected["started_at"].dt.tz_localize(None).sort_values().reset_index(drop=True)
    assert ((local - gmt) == pd.Timedelta(hours=8)).all()


def test_gps_commands_refuse_bad_input(cli, tmp_path):
    run = cli("gps-to-visits", "absent", "--out", "x.gpkg", cwd=tmp_path)
    assert run.returncode == 2 and "No 'absent'" in run.stderr
    run = cli("gps-to-visits", ".", "--out", "x.csv", cwd=tmp_path)
    assert run.returncode == 2 and "writes a .gpkg" in run.stderr
    (tmp_path / "fixes.csv").write_text("user_id,tracked_at\n1,2008-10-23 02:00:00\n")
    run = cli("gps-to-visits", "fixes.csv", "--out", "x.gpkg", cwd=tmp_path)
    assert run.returncode == 2 and "no coordinates" in run.stderr
    run = cli("split", "absent.csv", "--out", "y.csv", cwd=tmp_path)
    assert run.returncode == 2 and "No visits file" in run.stderr
    assert not list(tmp_path.glob("*.gpkg")) and not (tmp_path / "y.csv").exists()
