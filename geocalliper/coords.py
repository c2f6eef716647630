"""Deprecated path: this module moved to :mod:`geocalliper.spatial.coords`.

``import geocalliper.coords`` still works for one release and gives the very module
``geocalliper.spatial.coords`` (so attributes and patches reach the real thing); a
:class:`DeprecationWarning` says where to import from instead.
"""

import sys
import warnings

from .spatial import coords as _moved

warnings.warn(
    "geocalliper.coords moved to geocalliper.spatial.coords; import it from there "
    "(the old path goes in the next release).",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
