"""The scripts in ``examples/`` run top to bottom (quick mode) and write what they say.

Each example runs as a subprocess, as a user would run it, with this checkout's package
first on the path. The NYC and FSQ examples need the real data in ``../shared/data`` (or
``GEOCALLIPER_DATA``) and skip without it; the Helsinki one uses the bundled extract.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DATA = Path(os.environ.get("GEOCALLIPER_DATA") or ROOT.parent / "shared" / "data")
OSM_NYC = DATA / "nyc-pois" / "osm_nyc_2013.csv.gz"
FSQ_NYC = DATA / "fsq-nyc" / "checkins.csv.gz"

pytestmark = pytest.mark.slow


def _need(*paths: Path) -> None:
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        pytest.skip(f"real data not found: {', '.join(missing)}")


def _run(script: str, *args: str) -> str:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        MPLBACKEND="Agg",
        GEOCALLIPER_EXAMPLES_QUICK="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _check_png(path: Path, min_side: int) -> tuple[int, int]:
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        width, height = im.size
        pixels = np.asarray(im.convert("RGB"))
    assert min(width, height) >= min_side
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 8  # a picture, not a blank
    return width, height


def test_helsinki_example_runs_on_the_bundled_extract():
    out = _run("pretrain_and_embed_helsinki.py", "2")
    assert "best step" in out and "Senate Square" in out


def test_nyc_rgb_map_example(tmp_path):
    import rasterio

    _need(OSM_NYC)
    out = _run("nyc_pois_rgb_map.py", "--out", str(tmp_path), "--data", str(DATA))
    summary = json.loads((tmp_path / "nyc_pois_rgb_map.json").read_text())
    assert summary["quick"] is True and summary["valid_cells"] > 100
    for path in summary["files"].values():
        assert Path(path).exists() and path in out  # written and said so

    with rasterio.open(summary["files"]["embedding_tif"]) as src:
        assert src.crs.to_epsg() == 32618 and src.count == 128
        band = src.read(1, masked=True)
        assert band.count() == summary["valid_cells"]
        assert np.isfinite(band.compressed()).all() and band.compressed().std() > 0
    with rasterio.open(summary["files"]["rgb_tif"]) as src:
        assert src.crs.to_epsg() == 32618 and src.count == 3 and src.dtypes[0] == "uint8"
        rgb = src.read()
        assert (rgb.max(axis=0) > 0).sum() == summary["valid_cells"]
    _, ny, nx = summary["grid_shape"]
    assert _check_png(Path(summary["files"]["rgb_png"]), min(ny, nx)) == (nx, ny)
    _check_png(Path(summary["files"]["map_png"]), 400)

    pois = gpd.read_parquet(summary["files"]["pois"])
    emb = pois.filter(like="calliper_")
    assert len(pois) == summary["n_pois"] and emb.shape[1] == 128
    assert np.isfinite(emb.to_numpy()).all()


def test_h3_kmeans_example(tmp_path):
    _need(OSM_NYC)
    out = _run("h3_kmeans_clusters.py", "--out", str(tmp_path), "--data", str(DATA))
    summary = json.loads((tmp_path / "h3_kmeans_clusters.json").read_text())
    gpkg = Path(summary["files"]["gpkg"])
    assert str(gpkg) in out

    cells = gpd.read_file(gpkg, layer="clusters")
    assert len(cells) == summary["n_hexagons"] > 50
    assert cells.crs.to_epsg() == 4326 and (cells.geom_type == "Polygon").all()
    assert cells["h3"].is_unique and cells["h3"].str.len().eq(15).all()
    assert cells["cluster"].nunique() >= 2
    assert cells["zero_shot"].notna().all() and cells["n_pois"].sum() == summary["n_pois"]
    assert set(cells["cluster_name"]) == set(summary["clusters"])
    _check_png(Path(summary["files"]["png"]), 400)


def test_fsq_next_location_example(tmp_path):
    _need(FSQ_NYC, OSM_NYC, DATA / "nyc-pois" / "foursquare_taxonomy.json")
    out = _run("fsq_next_location.py", "--out", str(tmp_path), "--data", str(DATA))
    summary = json.loads((tmp_path / "fsq_next_location.json").read_text())

    for part in ("all", "new_places"):
        m = summary["metrics"][part]
        assert m["n"] > 0
        assert 0 <= m["acc@1"] <= m["acc@5"] <= m["acc@10"] <= 100
    new = summary["new_place"]
    assert new["in_training_vocabulary"] is False
    assert 1 <= new["rank"] <= new["n_candidates"] == summary["n_places"]
    assert new["rank"] == new["rank_in_evaluation"]  # predict agrees with rank_targets
    assert f"the new place ranks {new['rank']} of {new['n_candidates']}" in out

    ranked = pd.read_csv(summary["files"]["ranked_csv"])
    row = ranked[ranked["location_id"] == new["location_id"]]
    assert len(row) == 1 and row["new"].item() and row["rank"].item() == new["rank"]
    assert math.isfinite(row["score"].item())
    assert ranked["rank"].min() == 1 and ranked["probability"].between(0, 1).all()
    layer = gpd.read_file(summary["files"]["gpkg"], layer="ranked")
    assert new["location_id"] in set(layer["location_id"]) and layer.crs.to_epsg() == 4326
