"""Points of interest: readers (OSM PBF, CSV, GeoParquet, GeoPackage) and text templates.

Readers return a GeoDataFrame with one point per POI; templates turn POI attributes
into the texts CaLLiPer is trained against, in the reference style
``"A place of cafe, a type of amenity"``.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .._constants import (
    KEY_COLUMN,
    NAME_COLUMN,
    OSM_ID_COLUMN,
    OSM_POI_KEYS,
    TAGS_COLUMN,
    VALUE_COLUMN,
    WGS84,
)
from ..exceptions import EmptyDataError, MissingColumnError

_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
#: columns of GDAL's OSM layers that are not tags
_NOT_TAGS = {"osm_id", "osm_way_id", "other_tags", "geometry", "type"}


def parse_other_tags(value: Any) -> dict[str, str]:
    """Parse GDAL's ``other_tags`` hstore text into a dict.

    Examples
    --------
    >>> parse_other_tags('"amenity"=>"cafe","cuisine"=>"coffee_shop"')
    {'amenity': 'cafe', 'cuisine': 'coffee_shop'}
    """
    if not isinstance(value, str):
        return {}
    return {k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in _HSTORE.findall(value)}


def _osm_layer(path: str, layer: str, keys: Sequence[str]) -> gpd.GeoDataFrame:
    import pyogrio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL notes on broken rings
        frame = pyogrio.read_dataframe(path, layer=layer, on_invalid="ignore")
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    tag_cols = [c for c in frame.columns if c not in _NOT_TAGS and c != frame.geometry.name]
    records = []
    other_tags = frame.get("other_tags", pd.Series(None, index=frame.index))
    for row_tags, other in zip(frame[tag_cols].to_dict("records"), other_tags, strict=True):
        tags = {k: str(v) for k, v in row_tags.items() if isinstance(v, str) and v}
        tags.update(parse_other_tags(other))
        records.append(tags)
    key_of = []
    for tags in records:
        key_of.append(next((k for k in keys if k in tags), None))
    if layer == "multipolygons" and "osm_way_id" in frame.columns:
        ids = frame["osm_id"].fillna(frame["osm_way_id"])
    else:
        ids = frame["osm_id"]
    out = gpd.GeoDataFrame(
        {
            OSM_ID_COLUMN: ids.to_numpy(),
            NAME_COLUMN: [t.get("name") for t in records],
            KEY_COLUMN: key_of,
            VALUE_COLUMN: [t.get(k) if k else None for t, k in zip(records, key_of, strict=True)],
            TAGS_COLUMN: records,
        },
        geometry=frame.geometry.to_numpy(),
        crs=frame.crs or WGS84,
    )
    return out[out[KEY_COLUMN].notna()]


def read_osm_pbf(
    path: str | os.PathLike,
    *,
    keys: Sequence[str] = OSM_POI_KEYS,
    polygons: bool = True,
    named_only: bool = False,
) -> gpd.GeoDataFrame:
    """Read the POIs of an OpenStreetMap ``.osm.pbf`` extract.

    Nodes come from GDAL's ``points`` layer and areas from its ``multipolygons``
    layer; each area is reduced to its representative point (a point inside it).
    An object is a POI when it has one of ``keys``; the first of them it has gives
    its ``key`` and ``value`` (e.g. ``amenity`` / ``cafe``).

    Parameters
    ----------
    path
        The ``.osm.pbf`` file.
    keys
        OSM keys that make a POI, in order of priority.
    polygons
        Also read areas (buildings, parks … tagged with a POI key).
    named_only
        Keep only POIs with a ``name`` tag.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``osm_id, name, key, value, tags`` (a dict of all tags) and point
        geometry in EPSG:4326, one row per POI.

    Examples
    --------
    >>> from geocalliper.datasets import helsinki_osm_path
    >>> pois = read_osm_pbf(helsinki_osm_path())
    >>> pois[["key", "value"]].head(2)  # doctest: +SKIP
    """
    path = str(path)
    if not Path(path).exists():
        raise FileNotFoundError(f"No OSM file at {path!r}.")
    parts = [_osm_layer(path, "points", keys)]
    if polygons:
        areas = _osm_layer(path, "multipolygons", keys)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid polygons still give a point
            areas = areas.set_geometry(areas.geometry.make_valid().representative_point())
        parts.append(areas)
    pois = pd.concat(parts, ignore_index=True)
    pois = gpd.GeoDataFrame(pois, geometry="geometry", crs=parts[0].crs)
    if named_only:
        pois = pois[pois[NAME_COLUMN].notna()].reset_index(drop=True)
    if pois.empty:
        raise EmptyDataError(f"No POIs with any of the keys {list(keys)} in {path!r}.")
    return pois


_WKT_COLUMNS = ("geometry", "the_geom", "wkt", "WKT", "geom")
_XY_COLUMNS = (("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"), ("x", "y"), ("X", "Y"))


def read_pois(
    path: str | os.PathLike,
    *,
    x: str | None = None,
    y: str | None = None,
    geometry: str | None = None,
    crs: Any = WGS84,
    layer: str | None = None,
    **kwargs: Any,
) -> gpd.GeoDataFrame:
    """Read POIs from a CSV, GeoParquet, GeoPackage (or any GDAL vector) or OSM PBF file.

    For CSV files (``.csv``, ``.csv.gz``, ``.tsv``) the points come from the
    ``x``/``y`` columns, or from a WKT ``geometry`` column; both are found
    automatically when they have common names (``lon``/``lat``, ``longitude``/
    ``latitude``, ``x``/``y``; ``geometry``, ``the_geom``, ``wkt``). ``crs`` is the
    CRS of CSV coordinates (default EPSG:4326). Other formats carry their own CRS.

    Examples
    --------
    >>> pois = read_pois("pois.csv", x="lon", y="lat")  # doctest: +SKIP
    >>> pois = read_pois("pois.parquet")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No POI file at {str(path)!r}.")
    name = path.name.lower()
    if name.endswith(".osm.pbf") or name.endswith(".pbf"):
        return read_osm_pbf(path, **kwargs)
    if name.endswith((".parquet", ".geoparquet")):
        return gpd.read_parquet(path, **kwargs)
    if name.endswith((".csv", ".csv.gz", ".tsv", ".txt", ".tsv.gz")):
        sep = "\t" if ".tsv" in name else ","
        frame = pd.read_csv(path, sep=sep, **kwargs)
        return _frame_to_points(frame, x=x, y=y, geometry=geometry, crs=crs, source=str(path))
    if layer is None:  # not the layer_styles table of a styled GeoPackage
        from .vector import data_layer

        layer = data_layer(path)
    return gpd.read_file(path, layer=layer, **kwargs)


def _frame_to_points(
    frame: pd.DataFrame,
    *,
    x: str | None,
    y: str | None,
    geometry: str | None,
    crs: Any,
    source: str,
) -> gpd.GeoDataFrame:
    if x is None and y is None and geometry is None:
        geometry = next((c for c in _WKT_COLUMNS if c in frame.columns), None)
        if geometry is None:
            pair = next(((a, b) for a, b in _XY_COLUMNS if a in frame and b in frame), None)
            if pair is None:
                raise MissingColumnError(
                    f"Cannot find coordinates in {source!r} (columns: {list(frame.columns)}). "
                    "Pass x='lon_column', y='lat_column' or geometry='wkt_column'."
                )
            x, y = pair
    if geometry is not None:
        if geometry not in frame.columns:
            raise MissingColumnError(f"No column {geometry!r} in {source!r}.")
        geoms = gpd.GeoSeries.from_wkt(frame[geometry], crs=crs)
        return gpd.GeoDataFrame(frame.drop(columns=geometry), geometry=geoms.values, crs=crs)
    for col in (x, y):
        if col not in frame.columns:
            raise MissingColumnError(
                f"No column {col!r} in {source!r} (columns: {list(frame.columns)})."
            )
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame[x], frame[y]), crs=crs)


# --------------------------------------------------------------------------- texts


def humanize(value: Any) -> str:
    """OSM-style tag value to words: ``"fast_food"`` → ``"fast food"``.

    Examples
    --------
    >>> humanize("place_of_worship")
    'place of worship'
    """
    return str(value).replace("_", " ").replace(";", ", ").strip()


def _named(texts: pd.Series, names: pd.Series | None) -> pd.Series:
    if names is None:
        return texts
    names = names.astype("string").str.strip()
    has = names.notna() & (names != "")
    out = texts.copy()
    out[has] = names[has] + ", " + texts[has].str.replace("A place", "a place", n=1)
    return out


def osm_text(
    pois: pd.DataFrame,
    *,
    name: bool = False,
    key: str = KEY_COLUMN,
    value: str = VALUE_COLUMN,
    name_column: str = NAME_COLUMN,
) -> pd.Series:
    """Reference-style texts of OSM POIs: ``"A place of cafe, a type of amenity"``.

    With ``name=True`` POIs that have a name are described as
    ``"Kappeli, a place of cafe, a type of amenity"``.

    Examples
    --------
    >>> df = pd.DataFrame({"key": ["amenity"], "value": ["fast_food"], "name": ["Grilli"]})
    >>> osm_text(df).tolist()
    ['A place of fast food, a type of amenity']
    >>> osm_text(df, name=True).tolist()
    ['Grilli, a place of fast food, a type of amenity']
    >>> osm_text(pd.DataFrame({"key": ["shop"], "value": ["yes"]})).tolist()
    ['A place of shop']
    """
    _require(pois, [key, value] + ([name_column] if name else []))
    keys = pois[key].map(humanize)
    values = pois[value].map(humanize)
    texts = "A place of " + values + ", a type of " + keys
    generic = values.isin(["yes", ""])  # e.g. shop=yes: the key is all there is
    texts[generic] = "A place of " + keys[generic]
    return _named(texts, pois[name_column] if name else None)


def load_taxonomy(taxonomy: str | os.PathLike | Mapping[str, str]) -> dict[str, str]:
    """A category → top-level category mapping, from a dict or a JSON file."""
    if isinstance(taxonomy, Mapping):
        return dict(taxonomy)
    with open(taxonomy, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{taxonomy!r} must hold a JSON object of category -> top category.")
    return data


def category_text(
    pois: pd.DataFrame,
    category: str = "category",
    *,
    taxonomy: str | os.PathLike | Mapping[str, str] | None = None,
    name: str | None = None,
) -> pd.Series:
    """Texts for categorised POIs (e.g. Foursquare venues).

    With a ``taxonomy`` (category → top-level category, e.g.
    ``foursquare_taxonomy.json``) the text is ``"A place of Church, a type of
    Spiritual Center"``; categories missing from it, or with no taxonomy, give
    ``"A place of Church"``. ``name`` names a column of POI names to prepend.

    Examples
    --------
    >>> df = pd.DataFrame({"category": ["Bakery", "Moon Base"]})
    >>> category_text(df, taxonomy={"Bakery": "Dining"}).tolist()
    ['A place of Bakery, a type of Dining', 'A place of Moon Base']
    """
    _require(pois, [category] + ([name] if name else []))
    cats = pois[category]
    if cats.isna().any():
        raise ValueError(
            f"{int(cats.isna().sum())} POIs have no {category!r}; drop them or fill them "
            "before building texts."
        )
    texts = "A place of " + cats.astype(str)
    if taxonomy is not None:
        top = cats.map(load_taxonomy(taxonomy))
        known = top.notna()
        texts[known] = texts[known] + ", a type of " + top[known].astype(str)
    return _named(texts, pois[name] if name else None)


def make_text(pois: pd.DataFrame, template: str | Callable[[pd.DataFrame], Any]) -> pd.Series:
    """Build one text per POI from a column, a format string or a callable.

    Parameters
    ----------
    template
        * the name of a column holding the texts;
        * a format string with ``{column}`` fields, e.g.
          ``"A place of {fclass}, a type of {domain}"`` (values are humanised:
          underscores become spaces);
        * a callable taking the frame and returning a sequence of texts
          (or taking a row, when it fails on the frame).

    Examples
    --------
    >>> df = pd.DataFrame({"fclass": ["post_office"]})
    >>> make_text(df, "A place of {fclass}").tolist()
    ['A place of post office']
    """
    if callable(template):
        try:
            out = template(pois)
        except Exception:
            out = pois.apply(template, axis=1)
        out = pd.Series(np.asarray(out, dtype=object), index=pois.index)
    elif template in pois.columns:
        out = pois[template]
    elif "{" in template:
        fields = list(dict.fromkeys(re.findall(r"{([^{}:!]+)", template)))
        _require(pois, fields)
        # format each distinct combination of values once, then map back to the rows
        if len(fields) == 1:
            codes, uniques = pd.factorize(pois[fields[0]])
            combos = [(v,) for v in uniques]
        else:
            codes, uniques = pd.MultiIndex.from_frame(pois[fields]).factorize()
            combos = list(uniques)
        texts = [
            template.format(**{f: humanize(v) for f, v in zip(fields, c, strict=True)})
            if all(pd.notna(v) for v in c)
            else None
            for c in combos
        ]
        table = np.asarray([*texts, None], dtype=object)  # code -1 (a missing value) -> None
        out = pd.Series(table[codes], index=pois.index, dtype=object)
    else:
        raise MissingColumnError(
            f"{template!r} is neither a column of the frame ({list(pois.columns)}) nor a "
            "format string with {column} fields."
        )
    return out.rename("text")


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"Missing column(s) {missing}; the frame has {list(frame.columns)}."
        )
