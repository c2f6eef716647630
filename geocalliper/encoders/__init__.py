"""Location encoders: pure torch modules, tensors in and tensors out, no I/O.

Positional encodings share one interface (:class:`PositionalEncoding`) and are
registered by name in :data:`ENCODINGS`: ``"grid"`` (the CaLLiPer reference),
``"theory"`` (Space2Vec), ``"rff"`` (random Fourier features, isotropic) and
``"sphere"`` (random Fourier features on the sphere).
"""

from .base import ENCODINGS, PositionalEncoding, encoding_class, make_encoding
from .fcnet import FCNet, ResidualBlock
from .fourier import RandomFourierEncoding, SphericalFourierEncoding
from .grid import GridEncoding, grid_frequencies
from .location import LocationEncoder
from .theory import TheoryEncoding

__all__ = [
    "ENCODINGS",
    "FCNet",
    "GridEncoding",
    "LocationEncoder",
    "PositionalEncoding",
    "RandomFourierEncoding",
    "ResidualBlock",
    "SphericalFourierEncoding",
    "TheoryEncoding",
    "encoding_class",
    "grid_frequencies",
    "make_encoding",
]
