"""Deprecated path: this module moved to :mod:`geocalliper.spatial.dask`.

``import geocalliper.dask`` still works for one release and gives the very module
``geocalliper.spatial.dask`` (so attributes and patches reach the real thing); a
:class:`DeprecationWarning` says where to import from instead.
"""

import sys
import warnings

from .spatial import dask as _moved

warnings.warn(
    "geocalliper.dask moved to geocalliper.spatial.dask; import it from there "
    "(the old path goes in the next release).",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
