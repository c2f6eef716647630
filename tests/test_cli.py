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
