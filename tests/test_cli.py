"""The command line, run as a subprocess like a user would."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np

import geocalliper as gc


def test_demo_writes_model_and_embedding_table(tmp_path: Path, cli) -> None:
    res = cli("demo", "--out", "out", "--max-epochs", "3", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "real OSM POIs of Helsinki" in res.stdout
    model = gc.CaLLiPer.load(tmp_path / "out" / "model")
    table = gpd.read_file(
        tmp_path / "out" / "helsinki_poi_embeddings.gpkg", layer="helsinki_poi_embeddings"
    )
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
    for png in ("helsinki_rgb.png", "query_cafe_preview.png", "labels_preview.png"):
        assert max(_png_size(out / png)) >= 600  # enlarged to stay legible in the report
        assert png.replace(".png", ".pgw") in os.listdir(out)  # georeferenced
    for tif in ("helsinki_embedding", "helsinki_rgb", "query_cafe", "labels"):
        assert (out / f"{tif}.qml").is_file()  # styled for QGIS
    cells = gpd.read_file(out / "helsinki_h3_res9.gpkg", layer="helsinki_h3_res9")
    assert len(cells) > 10 and "calliper_0" in cells.columns
    nxt = gpd.read_file(out / "simulated_next_places.gpkg", layer="simulated_next_places")
    assert nxt["simulated"].all() and len(nxt) == 30
    report = (out / "report.md").read_text()
    assert "simulated" in report and "query_cafe_preview.png" in report
    assert "labels_preview.png" in report
    assert "QGIS" in res.stdout and "SIMULATED" in res.stdout
    assert not list(out.rglob("*.tmp")) and not list(out.rglob("*.part*"))


def test_pretrain_then_embed(tmp_path: Path, helsinki_pois: gpd.GeoDataFrame, cli) -> None:
    helsinki_pois.drop(columns="tags").to_parquet(tmp_path / "pois.parquet")
    res = cli(
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
    res = cli("embed", "m", "pois.parquet", "--out", "emb.gpkg", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = gpd.read_file(tmp_path / "emb.gpkg")
    assert len(out) == len(helsinki_pois) and "calliper_127" in out.columns


def test_errors_are_one_line_and_non_zero(tmp_path: Path, cli) -> None:
    res = cli("embed", "no-model", "x.csv", "--out", "y.parquet", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("geocalliper: error: No model directory")
    assert len(res.stderr.strip().splitlines()) == 1
    res = cli("pretrain", "--help", cwd=tmp_path)
    assert res.returncode == 0 and "example" in res.stdout


def test_next_location_commands(tmp_path: Path, shared_data: Path, cli) -> None:
    import json

    import pandas as pd

    checkins = pd.read_csv(shared_data / "fsq-nyc" / "checkins.csv.gz")
    checkins[checkins["user_id"] <= 12].to_csv(tmp_path / "visits.csv", index=False)
    tiny = ["--d-model", "16", "--n-heads", "2", "--n-layers", "1", "--max-epochs", "2"]
    res = cli("fit-predictor", "visits.csv", "--out", "next", *tiny, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Trained a next-location predictor" in res.stdout
    assert (tmp_path / "next" / "config.json").is_file()

    recent = checkins[checkins["user_id"].isin([1, 2])].groupby("user_id").tail(5)
    recent.to_csv(tmp_path / "recent.csv", index=False)
    res = cli("predict", "next", "recent.csv", "--k", "3", "--out", "top.gpkg", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    top = gpd.read_file(tmp_path / "top.gpkg")
    assert len(top) == 6 and sorted(top["rank"].unique()) == [1, 2, 3]

    res = cli("evaluate", "next", "visits.csv", "--split", "test", "--out", "m.json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert 0 <= metrics["acc@1"] <= metrics["acc@10"] <= 100 and metrics["n"] > 0

    res = cli("fit-predictor", "visits.csv", "--user-col", "who", "--out", "x", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "user_col" in res.stderr
    assert not (tmp_path / "x").exists()


HELSINKI_3067 = (385_000.0, 6_671_000.0, 387_000.0, 6_673_000.0)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_grid_writes_embedding_geotiff_and_rgb_preview(
    tmp_path: Path, fitted: gc.CaLLiPer, cli
) -> None:
    import rasterio
    from shapely.geometry import box

    model = str(fitted.save(tmp_path / "m"))
    gpd.GeoDataFrame(geometry=[box(*HELSINKI_3067)], crs=3067).to_file(tmp_path / "area.gpkg")
    res = cli("grid", model, "area.gpkg", "--resolution", "100", "--crs", "EPSG:3067",
              "--out", "g/city.tif", cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "20 x 20 grid (100 m cells" in res.stdout
    with rasterio.open(tmp_path / "g" / "city.tif") as src:
        assert src.count == fitted.embedding_dim and src.crs.to_epsg() == 3067
        values = src.read()
        rows, cols = np.array([0, 7, src.height - 1]), np.array([src.width - 1, 3, 0])
        xs, ys = rasterio.transform.xy(src.transform, rows, cols)
    # the pixels are the model's embeddings of the cell centres
    centres = gpd.GeoSeries(gpd.points_from_xy(xs, ys), crs=3067)
    expected = fitted.embed(centres).to_numpy()
    inside = np.isfinite(values[0, rows, cols])
    assert inside.sum() >= 2
    np.testing.assert_allclose(
        values[:, rows, cols].T[inside], expected[inside], rtol=1e-4, atol=1e-5
    )
    with rasterio.open(tmp_path / "g" / "city-rgb.tif") as src:
        assert src.count == 3 and src.dtypes[0] == "uint8" and src.read().max() > 0
    width, height = _png_size(tmp_path / "g" / "city-rgb.png")
    assert max(width, height) >= 600

    # an area of points: their convex hull, on a grid in the model's CRS
    pois = gc.read_osm_pbf(gc.datasets.helsinki_osm_path()).iloc[:300]
    pois.drop(columns="tags").to_parquet(tmp_path / "pois.parquet")
    res = cli("grid", model, "pois.parquet", "--resolution", "200", "--buffer", "50",
              "--out", "hull.tif", cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "convex hull with 50 m around it" in res.stderr
    with rasterio.open(tmp_path / "hull.tif") as src:
        assert src.crs.to_epsg() == fitted.crs_.to_epsg() and np.isfinite(src.read(1)).any()


def test_h3_writes_cell_embeddings(tmp_path: Path, fitted: gc.CaLLiPer, cli) -> None:
    from shapely.geometry import box

    from geocalliper.spatial.h3cells import h3_centers

    model = str(fitted.save(tmp_path / "m"))
    gpd.GeoDataFrame(geometry=[box(*HELSINKI_3067)], crs=3067).to_file(tmp_path / "area.gpkg")
    res = cli("h3", model, "area.gpkg", "--res", "9", "--out", "cells.gpkg", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    cells = gpd.read_file(tmp_path / "cells.gpkg")
    assert len(cells) > 20 and cells.crs.to_epsg() == 4326
    assert (cells.geom_type == "Polygon").all()
    cols = [f"calliper_{i}" for i in range(fitted.embedding_dim)]
    centres = h3_centers(cells["h3"], crs=fitted.crs_)
    expected = fitted.embed(gpd.GeoSeries(gpd.points_from_xy(*centres.T), crs=fitted.crs_))
    np.testing.assert_allclose(cells[cols].to_numpy(), expected.to_numpy(), rtol=1e-4, atol=1e-5)

    res = cli("h3", model, "area.gpkg", "--resolution", "8", "--how", "mean", "--samples", "4",
              "--out", "cells.parquet", cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    coarse = gpd.read_parquet(tmp_path / "cells.parquet")
    assert 0 < len(coarse) < len(cells) and np.isfinite(coarse[cols].to_numpy()).all()


def test_grid_and_h3_errors(tmp_path: Path, fitted: gc.CaLLiPer, cli) -> None:
    from shapely.geometry import Point

    model = str(fitted.save(tmp_path / "m"))
    gpd.GeoDataFrame(geometry=[Point(24.95, 60.17)], crs=4326).to_file(tmp_path / "one.gpkg")
    gpd.GeoDataFrame(geometry=[], crs=4326).to_file(tmp_path / "empty.gpkg")
    cases = [
        (["grid", model, "one.gpkg", "--resolution", "50", "--out", "g.png"], "use .tif"),
        (["grid", model, "one.gpkg", "--resolution", "-5", "--out", "g.tif"], "positive"),
        (["grid", model, "one.gpkg", "--resolution", "50", "--out", "g.tif"], "--buffer"),
        (["grid", model, "nowhere.gpkg", "--resolution", "50", "--out", "g.tif"], "No study"),
        (["grid", model, "empty.gpkg", "--resolution", "50", "--out", "g.tif"], "no feature"),
        (["grid", "no-model", "one.gpkg", "--resolution", "50", "--out", "g.tif"], "No model"),
        (["h3", model, "one.gpkg", "--res", "16", "--points", "--out", "c.gpkg"], "0 (coarsest"),
        (["h3", model, "one.gpkg", "--res", "9", "--out", "c.tif"], "use .gpkg or .parquet"),
    ]
    for args, message in cases:
        res = cli(*args, cwd=tmp_path)
        assert res.returncode == 2, (args, res.stderr)
        assert res.stderr.startswith("geocalliper: error:") and message in res.stderr, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("g*")) and not list(tmp_path.glob("c.*"))
    # a single point with --points: the one cell holding it
    res = cli("h3", model, "one.gpkg", "--res", "9", "--points", "--out", "c.gpkg", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert len(gpd.read_file(tmp_path / "c.gpkg")) == 1
    for command in ("grid", "h3"):
        res = cli(command, "--help", cwd=tmp_path)
        assert res.returncode == 0 and "example" in res.stdout


def test_every_subcommand_has_help_with_an_example() -> None:
    import argparse

    from geocalliper.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    expected = {"demo", "pretrain", "embed", "grid", "h3", "query", "label"}
    expected |= {"fit-predictor", "predict", "evaluate"}
    assert expected <= set(sub.choices)
    assert "geocalliper demo" in parser.format_help()
    for name, command in sub.choices.items():
        text = command.format_help()
        assert "example" in text and f"geocalliper {name}" in text, name
