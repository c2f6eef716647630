"""New York City POIs for CaLLiPer benchmarks: OSM 2013, NYC Open Data facilities, Foursquare.

:func:`load_nyc_pois` reads the three real NYC POI sources kept in the shared data folder
(``../shared/data``, never copied into the repository) and returns one GeoDataFrame of
points in EPSG:4326 with a class label (``category``) and a reference-style text per POI.

Texts
-----
* ``osm``: ``"A place of {fclass}, a type of {top}"`` (``fclass`` humanised, ``top`` from
  ``osm_tag_to_foursquare_top.json``) when the fclass is in that mapping, else
  ``"A place of {fclass}"``.
* ``nyc_open_data``: ``"A place of {facility type}"`` from the ``FACILITY TYPE`` code (see
  :data:`FACILITY_TYPES`).
* ``foursquare``: ``"A place of {category}, a type of {top}"`` via
  :func:`geocalliper.category_text` with ``foursquare_taxonomy.json``.

Names are kept in a ``name`` column but never put into the texts.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geocalliper.io.poi import category_text, humanize, make_text, read_pois

WGS84 = "EPSG:4326"
SOURCES = ("osm", "nyc_open_data", "foursquare")
COLUMNS = ["source", "source_id", "name", "category", "text", "geometry"]

#: ``FACILITY TYPE`` codes of NYC Open Data "Points of Interest" (Common Place), as
#: documented for the published dataset's FACILITY_TYPE / FACI_DOM field. The codebook is
#: not shipped with the data, so every code was checked against the ``FEATURE NAME`` s
#: filed under it (keyword counts over all 20,598 rows, plus random samples per code):
#: 1 "... HOUSES BUILDING n" (1,925 of 1,931 "HOUSES" names; NYCHA), 2 "PS/IS n", high
#: schools, colleges (all 737 "PS n" outside 4 = school playgrounds), 3 museums and
#: libraries (77/80 "MUSEUM", 220/249 "LIBRARY"), 4 playgrounds, parks, pools, courts,
#: 5 day-care, senior and nursing centres (188/194 "SENIOR CENTER"), 6 bridges,
#: overpasses, ferry landings and all 465 buoys / navigation lights (transport aids, not
#: water), 7 hotels (313/323 "HOTEL"), markets, companies, 8 post offices (all 173),
#: consulates, UN missions, courts, DSNY garages, 9 churches, temples, congregations
#: (1,221/1,259 "CHURCH"), 10 hospitals and medical centres (81/90 "HOSPITAL"), 11 fire
#: engines/ladders, all 78 police precincts, EMS stations, correctional facilities,
#: 12 creeks, bays, basins, channels, marshes, lakes, islands, 13 cemeteries (107/112
#: "CEMETERY"), triangles, squares, memorials, office buildings, power plants.
#: All thirteen codes matched, so all are used. Code 8's documented name is "Government
#: Facility (non public safety)"; the parenthesis is left out of the text.
FACILITY_TYPES: dict[int, str] = {
    1: "Residential",
    2: "Education Facility",
    3: "Cultural Facility",
    4: "Recreational Facility",
    5: "Social Services",
    6: "Transportation Facility",
    7: "Commercial",
    8: "Government Facility",
    9: "Religious Institution",
    10: "Health Services",
    11: "Public Safety",
    12: "Water",
    13: "Miscellaneous",
}


def _blank(values: pd.Series) -> pd.Series:
    """Rows whose value is missing or only whitespace."""
    return values.isna() | (values.astype("string").str.strip() == "")


def _finish(frame: pd.DataFrame, source: str) -> gpd.GeoDataFrame:
    """Drop blank labels/texts and give the frame the common columns and CRS."""
    frame = frame[~_blank(frame["category"]) & ~_blank(frame["text"])]
    frame = frame.assign(source=source)
    if "name" not in frame.columns:
        frame = frame.assign(name=None)
    names = frame["name"].astype("string").str.strip()
    frame = frame.assign(name=names.where(names != "", None), source_id=frame["source_id"])
    out = gpd.GeoDataFrame(frame, geometry="geometry", crs=frame.crs)
    return out[COLUMNS].to_crs(WGS84)


def load_osm(data_dir: Path) -> gpd.GeoDataFrame:
    """OSM NYC 2013 POIs; label ``fclass``, text with its Foursquare top category.

    ``fclass`` values are kept as they are in the file (a few are odd, e.g. ``"caf"``,
    ``"Toilet"``, ``"fast food"``); only blank ones are dropped.
    """
    folder = Path(data_dir) / "nyc-pois"
    pois = read_pois(folder / "osm_nyc_2013.csv.gz", x="lon", y="lat")
    pois = pois[~_blank(pois["fclass"])].copy()
    pois["fclass"] = pois["fclass"].astype(str).str.strip()
    with open(folder / "osm_tag_to_foursquare_top.json", encoding="utf-8") as fh:
        tag_top: dict[str, str] = json.load(fh)
    # Build the text once per distinct fclass (72 of them), then map: vectorised.
    classes = pd.DataFrame({"fclass": pd.unique(pois["fclass"])})
    classes["top"] = classes["fclass"].map(tag_top)
    known = classes["top"].notna()
    texts = pd.Series(index=classes.index, dtype=object)
    texts[known] = make_text(classes[known], "A place of {fclass}, a type of {top}")
    texts[~known] = make_text(classes[~known], "A place of {fclass}")
    pois["text"] = pois["fclass"].map(dict(zip(classes["fclass"], texts, strict=True)))
    pois["category"] = pois["fclass"].map(humanize)
    pois["source_id"] = pois["osm_id"].astype(str)
    return _finish(pois, "osm")


def load_open_data(data_dir: Path) -> gpd.GeoDataFrame:
    """NYC Open Data facilities; label from the ``FACILITY TYPE`` code (:data:`FACILITY_TYPES`).

    Rows with a code outside the verified codebook are dropped.
    """
    path = Path(data_dir) / "nyc-pois" / "nyc_open_data_facilities.csv.gz"
    pois = read_pois(path, geometry="the_geom")
    pois = pois[pois.geometry.notna() & ~pois.geometry.is_empty]
    codes = pd.to_numeric(pois["FACILITY TYPE"], errors="coerce")
    pois = pois.assign(category=codes.map(FACILITY_TYPES))
    pois = pois[pois["category"].notna()]
    pois = pois.assign(
        text=category_text(pois, "category"),
        name=pois["FEATURE NAME"],
        source_id=pois["OBJECTID"].astype(str),
    )
    return _finish(pois, "nyc_open_data")


def load_foursquare(data_dir: Path) -> gpd.GeoDataFrame:
    """Foursquare NYC venues (one row per ``venue_id`` with a category).

    A venue's check-ins carry slightly different coordinates (up to 20 distinct per
    venue); the venue is placed at their median.
    """
    data_dir = Path(data_dir)
    checkins = pd.read_csv(
        data_dir / "fsq-nyc" / "checkins.csv.gz",
        usecols=["venue_id", "category", "lat", "lon"],
    )
    checkins = checkins[~_blank(checkins["category"])]
    venues = checkins.groupby("venue_id", sort=True).agg(
        category=("category", "first"), lat=("lat", "median"), lon=("lon", "median")
    )
    venues = venues.reset_index()
    venues["text"] = category_text(
        venues, "category", taxonomy=data_dir / "nyc-pois" / "foursquare_taxonomy.json"
    )
    venues["source_id"] = venues["venue_id"]
    frame = gpd.GeoDataFrame(
        venues, geometry=gpd.points_from_xy(venues["lon"], venues["lat"]), crs=WGS84
    )
    return _finish(frame, "foursquare")


def load_nyc_pois(data_dir: Path) -> gpd.GeoDataFrame:
    """All NYC POIs of the three sources, in EPSG:4326.

    Parameters
    ----------
    data_dir
        The shared data folder (holding ``nyc-pois/`` and ``fsq-nyc/``).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``source`` (``"osm"``, ``"nyc_open_data"``, ``"foursquare"``),
        ``source_id``, ``name`` (may be missing; never in the text), ``category`` (the
        class label), ``text`` and point ``geometry``, with a fresh ``RangeIndex``.
        Rows with a missing or blank label or text are dropped.
    """
    parts = [load_osm(data_dir), load_open_data(data_dir), load_foursquare(data_dir)]
    pois = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(pois, geometry="geometry", crs=WGS84)


if __name__ == "__main__":
    import os
    import sys

    # python -m benchmarks.nyc_pois [DATA_DIR], from the repository root
    here = Path(__file__).resolve().parents[2] / "shared" / "data"
    default = Path(os.environ.get("GEOCALLIPER_DATA") or here)
    data = load_nyc_pois(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
    print(data.groupby("source").agg(pois=("text", "size"), texts=("text", "nunique")))
    print(data.groupby("source").head(2).to_string())
