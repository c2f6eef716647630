"""The command line on inputs that used to be ignored or to escape the guards (issue 13,
items 6, 9, 10 and 11), run as a subprocess like a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

import geocalliper as gc
from geocalliper.tempfiles import TEMP_TAG


# ---------------------------------------------------------------- item 6: column flags
def test_predict_and_evaluate_honour_the_column_flags(tmp_path: Path, shared_data: Path, cli):
    checkins = pd.read_csv(shared_data / "fsq-nyc" / "checkins.csv.gz")
    checkins = checkins[checkins["user_id"] <= 10]
    checkins.to_csv(tmp_path / "visits.csv", index=False)
    tiny = ["--d-model", "16", "--n-heads", "2", "--n-layers", "1", "--max-epochs", "1"]
    res = cli("fit-predictor", "visits.csv", "--out", "next", *tiny, cwd=tmp_path)
    assert res.returncode == 0, res.stderr

    renamed = checkins.rename(
        columns={"user_id": "who", "started_at": "when", "location_id": "place"}
    )
    renamed.to_csv(tmp_path / "renamed.csv", index=False)
    recent = renamed[renamed["who"].isin([1, 2])].groupby("who").tail(5)
    recent.to_csv(tmp_path / "recent.csv", index=False)
    flags = ["--user-col", "who", "--start-col", "when", "--location-col", "place"]

    res = cli("predict", "next", "recent.csv", "--k", "3", "--out", "top.csv", *flags,
              cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    top = pd.read_csv(tmp_path / "top.csv")
    assert {"who", "place", "rank"} <= set(top.columns) and len(top) == 6

    res = cli("evaluate", "next", "renamed.csv", "--split", "test", "--out", "m.json", *flags,
              cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    renamed_metrics = json.loads((tmp_path / "m.json").read_text())
    res = cli("evaluate", "next", "visits.csv", "--split", "test", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == renamed_metrics and renamed_metrics["n"] > 0

    # a flag naming a column the file lacks is reported with that name
    res = cli("predict", "next", "recent.csv", "--user-col", "nobody", "--start-col", "when",
              "--location-col", "place", "--out", "x.csv", cwd=tmp_path)  # fmt: skip
    assert res.returncode == 2 and "'nobody'" in res.stderr
    assert not (tmp_path / "x.csv").exists()


# ---------------------------------------------------------------- items 9 and 11: grids
HELSINKI_3067 = (385_000.0, 6_671_000.0, 387_000.0, 6_673_000.0)


@pytest.fixture(scope="module")
def model_and_area(tmp_path_factory, fitted: gc.CaLLiPer) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("grid-guards")
    model = str(fitted.save(folder / "m"))
    area = folder / "area.gpkg"
    gpd.GeoDataFrame(geometry=[box(*HELSINKI_3067)], crs=3067).to_file(area)
    return model, area


def test_grid_refuses_a_huge_grid_before_any_work(tmp_path: Path, model_and_area, cli):
    model, area = model_and_area
    start = time.perf_counter()
    res = cli("grid", model, str(area), "--resolution", "0.2", "--crs", "EPSG:3067",
              "--out", "big.tif", cwd=tmp_path)  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert "10,000 x 10,000 cells x 32 bands" in res.stderr and "GB" in res.stderr
    assert "--yes" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert time.perf_counter() - start < 120
    assert list(tmp_path.iterdir()) == []


def test_grid_yes_is_the_override_and_big_grids_are_announced(
    tmp_path: Path, model_and_area, monkeypatch, capsys
):
    from geocalliper import cli as cli_module
    from geocalliper.cli import embed as cli_embed

    model, area = model_and_area
    monkeypatch.setattr(cli_embed, "CONFIRM_ABOVE", 10_000, raising=False)  # 20x20x32x4 B
    monkeypatch.setattr(cli_embed, "STREAM_ABOVE", 10_000)
    args = ["--quiet", "grid", model, str(area), "--resolution", "100", "--crs", "EPSG:3067"]
    assert cli_module.main([*args, "--out", str(tmp_path / "a.tif")]) == 2
    assert "--yes" in capsys.readouterr().err
    assert not (tmp_path / "a.tif").exists()
    assert cli_module.main([*args, "--yes", "--out", str(tmp_path / "a.tif")]) == 0
    assert "Streaming a 20 x 20 cells x 32 bands grid" in capsys.readouterr().err
    assert (tmp_path / "a.tif").is_file()


@pytest.mark.parametrize("command", ["grid", "query"])
def test_a_metre_resolution_on_a_degree_grid_is_refused_before_writing(
    tmp_path: Path, model_and_area, cli, command
):
    model, area = model_and_area
    text = ["A place of cafe"] if command == "query" else []
    res = cli(command, model, str(area), *text, "--resolution", "50", "--crs", "EPSG:4326",
              "--out", "g.tif", cwd=tmp_path)  # fmt: skip
    assert res.returncode == 2, res.stdout
    assert "in degrees" in res.stderr and "EPSG:32635" in res.stderr
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- item 10: clean
def test_clean_removes_the_temporaries_of_killed_writes(tmp_path: Path, cli):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is now free: a write of that process can only be stale
    stale = tmp_path / f".city.tif{TEMP_TAG}{dead.pid}-0123abcd.part"
    stale.write_bytes(b"x" * 1000)
    journal = tmp_path / f".cells.gpkg{TEMP_TAG}{dead.pid}-4567abcd-journal"
    journal.write_bytes(b"j")
    old = tmp_path / ".big.tif.k3j_x9q2.part.tif"  # mkstemp name of an older version
    old.write_bytes(b"old")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    running = tmp_path / f".city.tif{TEMP_TAG}{os.getpid()}-89abcdef"
    running.write_bytes(b"in progress")
    (tmp_path / "city.tif").write_bytes(b"output")
    (tmp_path / ".notes").write_text("mine")

    res = cli("clean", ".", "--dry-run", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "3 stale temporaries" in res.stdout and stale.name in res.stdout
    assert stale.exists()
    res = cli("clean", ".", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Removed 3 stale temporaries" in res.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".notes", "city.tif", running.name]
    )
    res = cli("clean", "city.tif", cwd=tmp_path)
    assert res.returncode == 2 and "not a folder" in res.stderr
