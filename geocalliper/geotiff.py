"""Deprecated path: this module moved to :mod:`geocalliper.io.geotiff`.

``import geocalliper.geotiff`` still works for one release and gives the very module
``geocalliper.io.geotiff`` (so attributes and patches reach the real thing); a
:class:`DeprecationWarning` says where to import from instead.
"""

import sys
import warnings

from .io import geotiff as _moved

warnings.warn(
    "geocalliper.geotiff moved to geocalliper.io.geotiff; import it from there "
    "(the old path goes in the next release).",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
