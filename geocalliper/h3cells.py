"""Deprecated path: this module moved to :mod:`geocalliper.spatial.h3cells`.

``import geocalliper.h3cells`` still works for one release and gives the very module
``geocalliper.spatial.h3cells`` (so attributes and patches reach the real thing); a
:class:`DeprecationWarning` says where to import from instead.
"""

import sys
import warnings

from .spatial import h3cells as _moved

warnings.warn(
    "geocalliper.h3cells moved to geocalliper.spatial.h3cells; import it from there "
    "(the old path goes in the next release).",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
