"""Files of GPS fixes in, the GPS pipeline's tables out (one GeoPackage, three layers)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd

from .._constants import USER_COLUMN, WGS84
from ..exceptions import MissingColumnError
from ..tempfiles import atomic_output
from .readers import TRACKED_COLUMN

#: Coordinate column pairs a CSV of fixes may use, (lon, lat).
COORDINATE_COLUMNS = (("lon", "lat"), ("longitude", "latitude"), ("x", "y"))
#: Layers of the GeoPackage written by :func:`write_gps_layers`, in order.
GPS_LAYERS = ("visits", "staypoints", "locations")


def read_fixes(
    path: str | os.PathLike,
    *,
    user_col: str = USER_COLUMN,
    time_col: str = TRACKED_COLUMN,
) -> gpd.GeoDataFrame:
    """Read position fixes from a CSV or a GeoParquet file.

    A CSV needs the user and time columns and either ``lon``/``lat`` (or
    ``longitude``/``latitude``, ``x``/``y``, in EPSG:4326) or a WKT ``geometry``
    column (EPSG:4326). Times are parsed as written: with an offset or ``Z`` they are
    tz-aware, without one they are naive local times.

    Examples
    --------
    >>> fixes = read_fixes("fixes.csv")   # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No file of position fixes at {str(path)!r}.")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".geoparquet"):
        fixes = gpd.read_parquet(path)
    elif suffix in (".csv", ".gz", ".txt"):
        df = pd.read_csv(path)
        pair = next((p for p in COORDINATE_COLUMNS if set(p) <= set(df.columns)), None)
        if pair is not None:
            geometry = gpd.points_from_xy(df.pop(pair[0]), df.pop(pair[1]), crs=WGS84)
        elif "geometry" in df.columns:
            geometry = gpd.GeoSeries.from_wkt(df.pop("geometry"), crs=WGS84)
        else:
            raise MissingColumnError(
                f"{path.name} has no coordinates: give it lon and lat columns (degrees, "
                f"EPSG:4326) or a WKT geometry column (columns: {list(df.columns)})."
            )
        fixes = gpd.GeoDataFrame(df, geometry=geometry)
    else:
        raise ValueError(
            f"Cannot read fixes from {path.name!r}: use a .csv or .parquet file, or a "
            "GeoLife Data folder (NNN/Trajectory/*.plt)."
        )
    for col, role in ((user_col, "user"), (time_col, "time")):
        if col not in fixes.columns:
            raise MissingColumnError(
                f"{path.name} has no {role} column {col!r} (columns: "
                f"{list(fixes.columns)}); pass the right name."
            )
    if not pd.api.types.is_datetime64_any_dtype(fixes[time_col]):
        fixes[time_col] = pd.to_datetime(fixes[time_col], format="ISO8601")
    return fixes


def _layer(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = frame.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        if isinstance(out[col].dtype, pd.DatetimeTZDtype) and str(out[col].dt.tz) != "UTC":
            out[col] = out[col].dt.tz_localize(None)  # the wall clock of the chosen zone
        elif out[col].dtype == object:
            out[col] = out[col].astype(str)
    return out


def write_gps_layers(
    path: str | os.PathLike,
    visits: gpd.GeoDataFrame,
    staypoints: gpd.GeoDataFrame,
    locations: gpd.GeoDataFrame,
) -> Path:
    """Write visits, staypoints and locations as the three layers of one GeoPackage.

    The file appears only once all three layers are written. UTC times stay tz-aware;
    times in another zone are written as that zone's wall clock, without the zone
    (GeoPackage keeps no zone names), so hour features read local hours.

    Examples
    --------
    >>> write_gps_layers("geolife.gpkg", visits, sp, locations)   # doctest: +SKIP
    """
    target = Path(path)
    if target.suffix.lower() != ".gpkg":
        raise ValueError(f"Cannot write {target.name!r}: the GPS layers go to a .gpkg file.")
    target.parent.mkdir(parents=True, exist_ok=True)
    layers = {
        "visits": _layer(visits),
        "staypoints": _layer(staypoints),
        "locations": _layer(locations.reset_index()),
    }
    with atomic_output(target) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The filename extension should be")
        warnings.filterwarnings("ignore", ".*non conformant file extension")
        for i, (name, frame) in enumerate(layers.items()):
            frame.to_file(tmp, driver="GPKG", layer=name, mode="w" if i == 0 else "a")
    return target


__all__ = ["GPS_LAYERS", "read_fixes", "write_gps_layers"]
