"""Multi-scale Grid positional encoding (Space2Vec "grid" cell), in pure torch."""

from __future__ import annotations

from typing import Any

import torch

from .base import PositionalEncoding, geometric_scales, register_encoding, sin_cos


def grid_frequencies(
    num_scales: int, lambda_min: float, lambda_max: float, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    r"""Angular frequencies :math:`\omega_s` of the Grid encoding.

    :math:`\omega_s = 1 / (\lambda_{min} (\lambda_{max}/\lambda_{min})^{s/(S-1)})`
    for :math:`s = 0 … S-1`: the scales :math:`1/\omega_s` run geometrically from
    ``lambda_min`` to ``lambda_max``.

    Parameters
    ----------
    num_scales
        Number of scales ``S`` (≥ 1; with ``S = 1`` only ``lambda_min`` is used).
    lambda_min, lambda_max
        Smallest and largest scale in CRS units (metres), ``0 < lambda_min <= lambda_max``.

    Examples
    --------
    >>> grid_frequencies(3, 100.0, 10_000.0)
    tensor([0.0100, 0.0010, 0.0001], dtype=torch.float64)
    """
    return (1.0 / geometric_scales(num_scales, lambda_min, lambda_max)).to(dtype)


@register_encoding
class GridEncoding(PositionalEncoding):
    r"""Grid positional encoding of 2-D coordinates (the CaLLiPer reference).

    For each coordinate ``c ∈ {x, y}`` and scale ``s`` the features are
    ``sin(ω_s c)`` and ``cos(ω_s c)``; the output is laid out as
    ``[x: (sin ω_0 x, cos ω_0 x, sin ω_1 x, …), y: (sin ω_0 y, cos ω_0 y, …)]``,
    ``4 S`` features in all. The features are separable in x and y, which is why
    maps of models built on it tend to show axis-aligned stripes; see
    :class:`~geocalliper.encoders.RandomFourierEncoding` for an isotropic choice.

    Parameters
    ----------
    num_scales
        Number of scales ``S``. Reference: 32.
    lambda_min, lambda_max
        Smallest and largest scale in metres. Reference: 100 m and 10 km.
    dtype
        Output dtype, ``torch.float32`` (default) or ``torch.float64``.

    Examples
    --------
    >>> enc = GridEncoding(num_scales=4)
    >>> enc(torch.tensor([[0.0, 0.0], [250.0, -40.0]], dtype=torch.float64)).shape
    torch.Size([2, 16])
    """

    name = "grid"

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
        self.register_buffer(
            "omega", grid_frequencies(num_scales, lambda_min, lambda_max), persistent=False
        )

    @property
    def out_features(self) -> int:
        """Number of output features, ``4 S``."""
        return 4 * self.num_scales

    def config(self) -> dict[str, Any]:
        return {
            "num_scales": self.num_scales,
            "lambda_min": self.lambda_min,
            "lambda_max": self.lambda_max,
        }

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """Encode ``coords`` of shape ``(N, 2)`` (x, y in metres) to ``(N, 4 S)``."""
        self.check_coords(coords)
        phase = coords.to(torch.float64).unsqueeze(-1) * self.omega.to(coords.device)
        return sin_cos(phase, self.dtype)  # (N, 2, S) -> (N, 4 S)
