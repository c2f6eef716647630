"""Deprecated path: this module moved to :mod:`geocalliper.spatial.reduce`.

``import geocalliper.reduce`` still works for one release and gives the very module
``geocalliper.spatial.reduce`` (so attributes and patches reach the real thing); a
:class:`DeprecationWarning` says where to import from instead.
"""

import sys
import warnings

from .spatial import reduce as _moved

warnings.warn(
    "geocalliper.reduce moved to geocalliper.spatial.reduce; import it from there "
    "(the old path goes in the next release).",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
