"""Deprecated path: this module moved to :mod:`geocalliper.spatial.area`.

``import geocalliper.area`` still works for one release and gives the very module
``geocalliper.spatial.area`` (so attributes and patches reach the real thing); a
:class:`DeprecationWarning` says where to import from instead.
"""

import sys
import warnings

from .spatial import area as _moved

warnings.warn(
    "geocalliper.area moved to geocalliper.spatial.area; import it from there "
    "(the old path goes in the next release).",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
