"""Deprecated path: this module moved to :mod:`geocalliper.io.poi`.

``import geocalliper.poi`` still works for one release and gives the very module
``geocalliper.io.poi`` (so attributes and patches reach the real thing); a
:class:`DeprecationWarning` says where to import from instead.
"""

import sys
import warnings

from .io import poi as _moved

warnings.warn(
    "geocalliper.poi moved to geocalliper.io.poi; import it from there "
    "(the old path goes in the next release).",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
