"""Vector files in and out: the GeoPackage/GeoParquet/CSV writer and the study-area reader.

:func:`write_vector` writes a GeoDataFrame atomically (a failed write leaves no
half-written file and keeps an older file of the same name; see
:mod:`geocalliper.tempfiles` for the temporaries and a full disk); :func:`read_area` reads a
study-area file. Kept apart from the accessor and the estimators, as the GeoTIFF
writer is (:mod:`geocalliper.io.geotiff`).

GeoPackage is the format to hand to a GIS: every QGIS opens it (GeoParquet needs a GDAL
built with Parquet, which QGIS 3.22 on Debian 12, for one, lacks). A GeoPackage gets its
QGIS style inside (:func:`store_style`): a ``layer_styles`` table, registered as an
attribute table, with one default style per layer, the way QGIS saves a style "in the
database", so the layer opens styled (:func:`geocalliper.io.style.vector_qml` chooses it).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import warnings
from pathlib import Path

import geopandas as gpd

from ..exceptions import EmptyDataError
from ..tempfiles import atomic_output
from .style import vector_qml

#: suffix -> what :func:`write_vector` writes
FORMATS = {
    ".gpkg": "GeoPackage",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
    ".csv": "CSV with the geometry as WKT",
}
#: the table QGIS keeps styles in, inside a GeoPackage
STYLES_TABLE = "layer_styles"
_STYLES_DDL = (
    f"CREATE TABLE IF NOT EXISTS {STYLES_TABLE} ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), "
    "f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256), "
    "styleName TEXT(30), styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, "
    "description TEXT, owner TEXT(30), ui TEXT(30), "
    "update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
)
_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


def store_style(
    gpkg: str | os.PathLike,
    layer: str,
    qml: str,
    *,
    name: str = "geocalliper",
    description: str = "written by geocalliper",
) -> None:
    """Store ``qml`` in a GeoPackage as the default QGIS style of ``layer``.

    The style goes into the ``layer_styles`` table (made and registered in
    ``gpkg_contents`` as an attribute table if missing), where QGIS looks for a layer's
    default style when it opens it; earlier default styles of the layer are demoted.
    The file is changed in place: call it on a file being written (as
    :func:`write_vector` does), or on a copy.

    Parameters
    ----------
    gpkg
        The GeoPackage.
    layer
        The layer (table) the style is for.
    qml
        The QML document (e.g. from :func:`geocalliper.io.style.vector_qml`).
    name, description
        The style's name and description, shown in QGIS' style manager.

    Examples
    --------
    >>> store_style("cells.gpkg", "cells", vector_qml(cells))          # doctest: +SKIP
    """
    with contextlib.closing(sqlite3.connect(gpkg)) as db, db:
        row = db.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)
        ).fetchone()
        if row is None:
            raise ValueError(f"{str(gpkg)!r} has no layer {layer!r} with a geometry.")
        db.execute(_STYLES_DDL)
        db.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
            f"description, last_change) VALUES (?, 'attributes', ?, ?, {_NOW})",
            (STYLES_TABLE, STYLES_TABLE, "QGIS layer styles"),
        )
        db.execute(f"UPDATE {STYLES_TABLE} SET useAsDefault = 0 WHERE f_table_name = ?", (layer,))
        db.execute(
            f"INSERT INTO {STYLES_TABLE} (f_table_catalog, f_table_schema, f_table_name, "
            "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
            f"owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', '', {_NOW})",
            (layer, row[0], name, qml, description),
        )


def _flat(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Serialise columns of dicts or lists (e.g. OSM ``tags``) as JSON text."""
    for name in frame.columns:
        if name == frame.geometry.name or frame[name].dtype != object:
            continue
        sample = frame[name].dropna().head(100)
        if len(sample) and sample.map(lambda v: isinstance(v, dict | list)).any():
            frame = frame.assign(
                **{name: frame[name].map(lambda v: v if v is None else json.dumps(v))}
            )
    return frame


def write_vector(
    frame: gpd.GeoDataFrame, path: str | os.PathLike, *, style: str | None = "auto"
) -> Path:
    """Write a GeoDataFrame to GeoPackage, GeoParquet or CSV, atomically.

    The format follows the suffix (see :data:`FORMATS`); prefer ``.gpkg`` for a GIS.
    Columns holding dicts or lists (such as the OSM ``tags``) are written as JSON text.
    The file appears only once it is complete; on any error nothing is left behind. A
    GeoPackage gets one layer, named after the file, and its QGIS style inside.

    Parameters
    ----------
    frame
        The frame to write.
    path
        ``.gpkg``, ``.parquet``/``.geoparquet`` or ``.csv``. Missing folders are made.
    style
        The QGIS style stored in a GeoPackage (:func:`store_style`): ``"auto"``
        (default) chooses it from the columns (:func:`geocalliper.io.style.vector_qml`:
        next places by rank, labels by label, scores on a ramp …), a QML document
        (a string starting with ``<``) is stored as it is, ``None`` stores none.
        Ignored for GeoParquet and CSV, which hold no style.

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> cells = gpd.GeoDataFrame({"v": [1]}, geometry=[shapely.Point(0, 0)], crs=4326)
    >>> write_vector(cells, "cells.gpkg")                          # doctest: +SKIP
    PosixPath('cells.gpkg')
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"Cannot write {target.name!r}: use one of {', '.join(FORMATS)}.")
    if style is not None and style != "auto" and not style.lstrip().startswith("<"):
        raise ValueError(f"style must be 'auto', None or a QML document, got {style!r}.")
    frame = _flat(frame)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as tmp:  # .<name>.geocalliper-tmp-…, never *.gpkg
        if FORMATS[suffix] == "GeoParquet":
            frame.to_parquet(tmp)
        elif suffix == ".gpkg":
            with warnings.catch_warnings():  # GDAL: "extension should be 'gpkg'"
                warnings.filterwarnings("ignore", "The filename extension should be")
                layer = target.stem.replace(".", "_")
                # GeoPackage 1.2: GDAL before 3.7 (QGIS 3.22's, e.g.) warns on newer files
                frame.to_file(tmp, driver="GPKG", layer=layer, VERSION="1.2")
            if style is not None:
                qml = vector_qml(frame, title=layer) if style == "auto" else style
                store_style(tmp, layer, qml)
        else:
            frame.to_wkt().to_csv(tmp, index=True)
    return target


def data_layer(path: str | os.PathLike) -> str | None:
    """The layer to read from a GeoPackage by default: its first layer with geometries.

    A styled GeoPackage also holds the (geometry-less) ``layer_styles`` table, which
    GDAL lists as a layer, so reading without a layer name would warn. ``None`` for
    other files.

    Examples
    --------
    >>> data_layer("next.gpkg")                                      # doctest: +SKIP
    'next'
    """
    if Path(path).suffix.lower() != ".gpkg":
        return None
    import pyogrio

    layers = [(str(name), kind) for name, kind in pyogrio.list_layers(path)]
    spatial = [name for name, kind in layers if kind is not None and name != STYLES_TABLE]
    others = [name for name, _ in layers if name != STYLES_TABLE]
    return (spatial or others or [None])[0]


def read_area(path: str | os.PathLike) -> gpd.GeoDataFrame:
    """Read a study-area file: GeoPackage, GeoJSON, Shapefile … or (Geo)Parquet.

    Parameters
    ----------
    path
        Any vector file GDAL reads, or GeoParquet.

    Returns
    -------
    geopandas.GeoDataFrame
        Its features, in the file's CRS.

    Raises
    ------
    FileNotFoundError
        There is no such file.
    EmptyDataError
        The file holds no feature.

    Examples
    --------
    >>> area = read_area("city.gpkg")                              # doctest: +SKIP
    """
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"No study-area file at {str(path)!r}.")
    if file.suffix.lower() in (".parquet", ".geoparquet"):
        frame = gpd.read_parquet(file)
    else:
        frame = gpd.read_file(file, layer=data_layer(file))
    if frame.empty:
        raise EmptyDataError(f"The study-area file {str(path)!r} holds no feature.")
    return frame
