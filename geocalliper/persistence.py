"""Deprecated path: this module moved to :mod:`geocalliper.io.persistence`.

``import geocalliper.persistence`` still works for one release and gives the very module
``geocalliper.io.persistence`` (so attributes and patches reach the real thing); a
:class:`DeprecationWarning` says where to import from instead.
"""

import sys
import warnings

from .io import persistence as _moved

warnings.warn(
    "geocalliper.persistence moved to geocalliper.io.persistence; import it from there "
    "(the old path goes in the next release).",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
