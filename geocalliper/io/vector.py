"""Vector files in and out: the GeoParquet/GeoPackage/CSV writer and the study-area reader.

:func:`write_vector` writes a GeoDataFrame atomically (a failed write leaves no
half-written file and keeps an older file of the same name; see
:mod:`geocalliper.tempfiles` for the temporaries and a full disk); :func:`read_area` reads a
study-area file. Kept apart from the accessor and the estimators, as the GeoTIFF
writer is (:mod:`geocalliper.io.geotiff`).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import geopandas as gpd

from ..exceptions import EmptyDataError
from ..tempfiles import atomic_output

#: suffix -> what :func:`write_vector` writes
FORMATS = {
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
    ".gpkg": "GeoPackage",
    ".csv": "CSV with the geometry as WKT",
}


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


def write_vector(frame: gpd.GeoDataFrame, path: str | os.PathLike) -> Path:
    """Write a GeoDataFrame to GeoParquet, GeoPackage or CSV, atomically.

    The format follows the suffix (see :data:`FORMATS`). Columns holding dicts or
    lists (such as the OSM ``tags``) are written as JSON text. The file appears only
    once it is complete; on any error nothing is left behind. A GeoPackage gets one
    layer, named after the file.

    Parameters
    ----------
    frame
        The frame to write.
    path
        ``.parquet``/``.geoparquet``, ``.gpkg`` or ``.csv``. Missing folders are made.

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
        raise ValueError(f"Cannot write {target.name!r}: use one of {', '.join(sorted(FORMATS))}.")
    frame = _flat(frame)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as tmp:  # .<name>.geocalliper-tmp-…, never *.gpkg
        if FORMATS[suffix] == "GeoParquet":
            frame.to_parquet(tmp)
        elif suffix == ".gpkg":
            with warnings.catch_warnings():  # GDAL: "extension should be 'gpkg'"
                warnings.filterwarnings("ignore", "The filename extension should be")
                frame.to_file(tmp, driver="GPKG", layer=target.stem.replace(".", "_"))
        else:
            frame.to_wkt().to_csv(tmp, index=True)
    return target


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
        frame = gpd.read_file(file)
    if frame.empty:
        raise EmptyDataError(f"The study-area file {str(path)!r} holds no feature.")
    return frame
