"""The vector writer and the study-area reader (geocalliper.io.vector)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geocalliper.exceptions import EmptyDataError
from geocalliper.io.vector import read_area, write_vector


@pytest.fixture
def frame(helsinki_pois: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return helsinki_pois.iloc[:25][["name", "key", "value", "tags", "geometry"]].copy()


@pytest.mark.parametrize("suffix", [".parquet", ".gpkg", ".csv"])
def test_round_trip(frame: gpd.GeoDataFrame, tmp_path: Path, suffix: str) -> None:
    path = write_vector(frame, tmp_path / "sub" / f"pois{suffix}")
    assert path == tmp_path / "sub" / f"pois{suffix}"
    if suffix == ".csv":
        back = pd.read_csv(path)
        assert back["geometry"].iloc[0].startswith("POINT")
    else:
        back = read_area(path)
        assert back.crs.to_epsg() == 4326
        assert shapely.equals_exact(back.geometry.values, frame.geometry.values, 1e-9).all()
    assert len(back) == len(frame)
    # OSM tags (dicts) come back as JSON text; the frame given is left as it was
    at = next(i for i, tags in enumerate(frame["tags"]) if isinstance(tags, dict) and tags)
    assert json.loads(back["tags"].iloc[at]) == frame["tags"].iloc[at]
    assert isinstance(frame["tags"].iloc[at], dict)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_failed_write_keeps_the_old_file(frame, tmp_path: Path, monkeypatch) -> None:
    target = write_vector(frame, tmp_path / "pois.gpkg")
    before = target.read_bytes()

    def broken(self, filename, *args, **kwargs):
        Path(filename).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", broken)
    with pytest.raises(OSError, match="disk full"):
        write_vector(frame.iloc[:3], target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["pois.gpkg"]


def test_errors(frame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"use one of .*\.gpkg"):
        write_vector(frame, tmp_path / "pois.shp")
    assert not list(tmp_path.iterdir())
    with pytest.raises(FileNotFoundError, match="No study-area file"):
        read_area(tmp_path / "nowhere.gpkg")
    gpd.GeoDataFrame(geometry=[], crs=4326).to_file(tmp_path / "empty.gpkg")
    with pytest.raises(EmptyDataError, match="holds no feature"):
        read_area(tmp_path / "empty.gpkg")
