"""Deprecated path: this module moved to :mod:`geocalliper.spatial.raster`.

``import geocalliper.raster`` still works for one release and gives the very module
``geocalliper.spatial.raster`` (so attributes and patches reach the real thing); a
:class:`DeprecationWarning` says where to import from instead.
"""

import sys
import warnings

from .spatial import raster as _moved

warnings.warn(
    "geocalliper.raster moved to geocalliper.spatial.raster; import it from there "
    "(the old path goes in the next release).",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
