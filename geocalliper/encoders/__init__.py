"""Location encoders: pure torch modules, tensors in and tensors out, no I/O."""

from .fcnet import FCNet, ResidualBlock
from .grid import GridEncoding, grid_frequencies
from .location import LocationEncoder

__all__ = ["FCNet", "GridEncoding", "LocationEncoder", "ResidualBlock", "grid_frequencies"]
