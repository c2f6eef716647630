"""The command line, run as a subprocess like a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np

import geocalliper as gc


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "geocalliper", "--quiet", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_demo_writes_model_and_embedding_table(tmp_path: Path) -> None:
    res = run("demo", "--out", "out", "--max-epochs", "3", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "real OSM POIs of Helsinki" in res.stdout
    model = gc.CaLLiPer.load(tmp_path / "out" / "model")
    table = gpd.read_parquet(tmp_path / "out" / "helsinki_poi_embeddings.parquet")
    assert len(table) > 1500 and table.crs.to_epsg() == 4326
    cols = [f"calliper_{i}" for i in range(128)]
    again = model.embed(table.geometry)
    np.testing.assert_allclose(table[cols].to_numpy(), again.to_numpy(), rtol=1e-5, atol=1e-6)

    import rasterio

    out = tmp_path / "out"
    with rasterio.open(out / "helsinki_embedding.tif") as src:
        assert src.count == 128 and src.crs.to_epsg() == model.crs_.to_epsg()
    with rasterio.open(out / "helsinki_rgb.tif") as src:
        assert src.count == 3 and src.dtypes[0] == "uint8"
    with rasterio.open(out / "labels.tif") as src:
        assert len(src.colormap(1)) > 0
    for png in ("helsinki_rgb.png", "query_cafe.png", "labels.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cells = gpd.read_file(out / "helsinki_h3_res9.gpkg")
    assert len(cells) > 10 and "calliper_0" in cells.columns
    nxt = gpd.read_file(out / "simulated_next_places.gpkg")
    assert nxt["simulated"].all() and len(nxt) == 30
    report = (out / "report.md").read_text()
    assert "simulated" in report and "query_cafe.png" in report and "labels.png" in report
    assert "QGIS" in res.stdout and "SIMULATED" in res.stdout
    assert not list(out.rglob("*.tmp")) and not list(out.rglob("*.part*"))


def test_pretrain_then_embed(tmp_path: Path, helsinki_pois: gpd.GeoDataFrame) -> None:
    helsinki_pois.drop(columns="tags").to_parquet(tmp_path / "pois.parquet")
    res = run(
        "pretrain",
        "pois.parquet",
        "--out",
        "m",
        "--max-epochs",
        "2",
        "--batch-size",
        "256",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    res = run("embed", "m", "pois.parquet", "--out", "emb.gpkg", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = gpd.read_file(tmp_path / "emb.gpkg")
    assert len(out) == len(helsinki_pois) and "calliper_127" in out.columns


def test_errors_are_one_line_and_non_zero(tmp_path: Path) -> None:
    res = run("embed", "no-model", "x.csv", "--out", "y.parquet", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("geocalliper: error: No model directory")
    assert len(res.stderr.strip().splitlines()) == 1
    res = run("pretrain", "--help", cwd=tmp_path)
    assert res.returncode == 0 and "example" in res.stdout


def test_next_location_commands(tmp_path: Path, shared_data: Path) -> None:
    import json

    import pandas as pd

    checkins = pd.read_csv(shared_data / "fsq-nyc" / "checkins.csv.gz")
    checkins[checkins["user_id"] <= 12].to_csv(tmp_path / "visits.csv", index=False)
    tiny = ["--d-model", "16", "--n-heads", "2", "--n-layers", "1", "--max-epochs", "2"]
    res = run("fit-predictor", "visits.csv", "--out", "next", *tiny, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Trained a next-location predictor" in res.stdout
    assert (tmp_path / "next" / "config.json").is_file()

    recent = checkins[checkins["user_id"].isin([1, 2])].groupby("user_id").tail(5)
    recent.to_csv(tmp_path / "recent.csv", index=False)
    res = run("predict", "next", "recent.csv", "--k", "3", "--out", "top.gpkg", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    top = gpd.read_file(tmp_path / "top.gpkg")
    assert len(top) == 6 and sorted(top["rank"].unique()) == [1, 2, 3]

    res = run("evaluate", "next", "visits.csv", "--split", "test", "--out", "m.json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert 0 <= metrics["acc@1"] <= metrics["acc@10"] <= 100 and metrics["n"] > 0

    res = run("fit-predictor", "visits.csv", "--user-col", "who", "--out", "x", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "user_col" in res.stderr
    assert not (tmp_path / "x").exists()
