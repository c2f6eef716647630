"""POI readers and text templates, on the real Helsinki extract and slices of NYC data."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

import geocalliper as gc
from geocalliper.exceptions import MissingColumnError
from geocalliper.io.poi import parse_other_tags


def test_osm_pbf_gives_one_point_per_poi(helsinki_pois: gpd.GeoDataFrame) -> None:
    pois = helsinki_pois
    assert pois.crs.to_epsg() == 4326
    assert set(pois.geom_type) == {"Point"}
    assert {"osm_id", "name", "key", "value", "tags"} <= set(pois.columns)
    # a real city centre: restaurants and shops, within central Helsinki's bounds
    assert (pois["value"] == "restaurant").sum() > 100
    assert (pois["key"] == "shop").sum() > 100
    minx, miny, maxx, maxy = pois.total_bounds
    assert 24.8 < minx < maxx < 25.1 and 60.1 < miny < maxy < 60.25
    assert pois["key"].notna().all() and pois["value"].notna().all()


def test_osm_polygons_are_reduced_to_points_inside_them() -> None:
    path = gc.datasets.helsinki_osm_path()
    with_areas = gc.read_osm_pbf(path)
    nodes_only = gc.read_osm_pbf(path, polygons=False)
    assert len(with_areas) > len(nodes_only)
    named = gc.read_osm_pbf(path, named_only=True)
    assert named["name"].notna().all() and len(named) < len(with_areas)


def test_hstore_parsing_handles_escapes() -> None:
    assert parse_other_tags('"a"=>"x","b\\"c"=>"say \\"hi\\""') == {"a": "x", 'b"c': 'say "hi"'}
    assert parse_other_tags(None) == {}


def test_osm_text_reference_style(helsinki_pois: gpd.GeoDataFrame) -> None:
    texts = gc.osm_text(helsinki_pois)
    assert "A place of restaurant, a type of amenity" in set(texts)
    named = gc.osm_text(helsinki_pois, name=True)
    has_name = helsinki_pois["name"].notna()
    assert named[has_name].str.contains(", a place of ").all()
    assert named[~has_name].equals(texts[~has_name])


def test_category_text_with_the_foursquare_taxonomy(shared_data: Path) -> None:
    taxonomy = shared_data / "nyc-pois" / "foursquare_taxonomy.json"
    venues = pd.read_csv(shared_data / "fsq-nyc" / "checkins.csv.gz", nrows=500)
    venues = venues.dropna(subset=["category"]).drop_duplicates("venue_id")
    texts = gc.category_text(venues, taxonomy=taxonomy)
    top = json.loads(taxonomy.read_text())
    for cat, text in zip(venues["category"], texts, strict=True):
        assert text == f"A place of {cat}, a type of {top[cat]}"


def test_read_pois_csv_with_lon_lat(shared_data: Path) -> None:
    pois = gc.read_pois(shared_data / "nyc-pois" / "osm_nyc_2013.csv.gz", nrows=300)
    assert len(pois) == 300 and pois.crs.to_epsg() == 4326
    assert pois.geometry.x.between(-74.3, -73.6).all()
    texts = gc.make_text(pois, "A place of {fclass}")
    assert texts.str.startswith("A place of ").all() and not texts.str.contains("_").any()


def test_read_pois_csv_with_wkt(shared_data: Path) -> None:
    pois = gc.read_pois(shared_data / "nyc-pois" / "nyc_open_data_facilities.csv.gz", nrows=200)
    assert len(pois) == 200 and set(pois.geom_type) == {"Point"}
    assert "the_geom" not in pois.columns
    assert pois.geometry.y.between(40.4, 41.0).all()


def test_read_pois_geoparquet_and_geopackage_round_trip(
    helsinki_pois: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    frame = helsinki_pois.drop(columns="tags").head(50)
    frame.to_parquet(tmp_path / "pois.parquet")
    frame.to_file(tmp_path / "pois.gpkg")
    for name in ("pois.parquet", "pois.gpkg"):
        back = gc.read_pois(tmp_path / name)
        assert len(back) == 50 and back.crs.to_epsg() == 4326
        assert back["text"].tolist() == frame["text"].tolist()


def test_read_pois_errors(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("a,b\n1,2\n")
    with pytest.raises(MissingColumnError, match="x='lon_column'"):
        gc.read_pois(tmp_path / "p.csv")
    with pytest.raises(FileNotFoundError):
        gc.read_pois(tmp_path / "missing.csv")
    with pytest.raises(MissingColumnError, match="nope"):
        gc.make_text(pd.DataFrame({"a": [1]}), "A place of {nope}")


def test_make_text_templates_columns_and_callables() -> None:
    df = pd.DataFrame({"a": ["fast_food", "bar", None, "fast_food"], "b": ["x", "y", "z", None]})
    assert gc.make_text(df, "A {a} of {b}").tolist() == [
        "A fast food of x",
        "A bar of y",
        None,
        None,  # a missing value gives no text
    ]
    column = gc.make_text(df, "b")
    assert column.tolist()[:3] == ["x", "y", "z"] and pd.isna(column.iloc[3])
    assert gc.make_text(df, lambda f: "id " + f["b"].fillna("?")).tolist()[-1] == "id ?"
