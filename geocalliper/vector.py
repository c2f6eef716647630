"""Deprecated path: this module moved to :mod:`geocalliper.io.vector`.

``import geocalliper.vector`` still works for one release and gives the very module
``geocalliper.io.vector`` (so attributes and patches reach the real thing); a
:class:`DeprecationWarning` says where to import from instead.
"""

import sys
import warnings

from .io import vector as _moved

warnings.warn(
    "geocalliper.vector moved to geocalliper.io.vector; import it from there "
    "(the old path goes in the next release).",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
