"""Space2Vec "theory" positional encoding: three directions 120° apart, in pure torch."""

from __future__ import annotations

import math
from typing import Any

import torch

from .base import PositionalEncoding, geometric_scales, register_encoding, sin_cos


@register_encoding
class TheoryEncoding(PositionalEncoding):
    r"""Space2Vec "theory" encoding (Mai et al. 2020): projections on three unit vectors.

    The coordinates are projected on :math:`a_j = (\cos θ_j, \sin θ_j)` with
    :math:`θ_j = 0°, 120°, 240°`, and each projection is encoded with ``sin``/``cos`` at
    ``S`` geometric scales: ``6 S`` features, laid out direction by direction. The three
    directions form a hexagonal pattern, much less tied to the x/y axes than
    :class:`~geocalliper.encoders.GridEncoding`.

    Parameters
    ----------
    num_scales
        Number of scales ``S``.
    lambda_min, lambda_max
        Smallest and largest scale in metres.
    dtype
        Output dtype.

    Examples
    --------
    >>> TheoryEncoding(num_scales=4)(torch.zeros(3, 2, dtype=torch.float64)).shape
    torch.Size([3, 24])
    """

    name = "theory"

    def __init__(
        self,
        num_scales: int = 32,
        lambda_min: float = 100.0,
        lambda_max: float = 10_000.0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.num_scales = int(num_scales)
        self.lambda_min = float(lambda_min)
        self.lambda_max = float(lambda_max)
        self.dtype = dtype
        angles = torch.tensor([0.0, 2.0 * math.pi / 3.0, 4.0 * math.pi / 3.0], dtype=torch.float64)
        directions = torch.stack((torch.cos(angles), torch.sin(angles)), dim=0)  # (2, 3)
        omega = 1.0 / geometric_scales(num_scales, lambda_min, lambda_max)  # (S,)
        # (2, 3 S): column (j, s) projects on direction j at frequency omega_s
        self.register_buffer(
            "matrix",
            (directions[:, :, None] * omega[None, None, :]).reshape(2, -1),
            persistent=False,
        )

    @property
    def out_features(self) -> int:
        """Number of output features, ``6 S``."""
        return 6 * self.num_scales

    def config(self) -> dict[str, Any]:
        return {
            "num_scales": self.num_scales,
            "lambda_min": self.lambda_min,
            "lambda_max": self.lambda_max,
        }

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """Encode ``coords`` of shape ``(N, 2)`` (x, y in metres) to ``(N, 6 S)``."""
        self.check_coords(coords)
        phase = coords.to(torch.float64) @ self.matrix.to(coords.device)
        return sin_cos(phase, self.dtype)
