"""Random Fourier features with Gaussian frequencies: isotropic on the plane and on the sphere."""

from __future__ import annotations

from typing import Any

import torch

from .base import PositionalEncoding, geometric_scales, register_encoding, sin_cos

#: radius (m) of WGS 84 / World Equidistant Cylindrical (EPSG:4087): x = R·lon, y = R·lat
EQC_RADIUS = 6_378_137.0
#: the CRS the spherical encoding reads: metres that invert exactly to longitude/latitude
EQC_CRS = "EPSG:4087"


def gaussian_frequencies(
    num_scales: int,
    lambda_min: float,
    lambda_max: float,
    per_scale: int,
    dims: int,
    seed: int,
) -> torch.Tensor:
    r"""``(dims, S·per_scale)`` frequencies, ``per_scale`` of them drawn from
    :math:`N(0, I/λ_s^2)` for each of ``S`` geometric scales :math:`λ_s` (float64, seeded).

    A Gaussian has no preferred direction, so the features are isotropic.

    Examples
    --------
    >>> gaussian_frequencies(3, 100.0, 1_000.0, per_scale=2, dims=2, seed=0).shape
    torch.Size([2, 6])
    """
    scales = geometric_scales(num_scales, lambda_min, lambda_max)
    generator = torch.Generator().manual_seed(int(seed))
    draws = torch.randn(dims, len(scales), per_scale, generator=generator, dtype=torch.float64)
    return (draws / scales[None, :, None]).reshape(dims, -1)


class _FourierFeatures(PositionalEncoding):
    """Shared body: ``sin``/``cos`` of ``points(coords) @ frequencies``."""

    dims = 2

    def __init__(
        self,
        num_scales: int = 32,
        lambda_min: float = 100.0,
        lambda_max: float = 10_000.0,
        frequencies_per_scale: int = 2,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if int(frequencies_per_scale) < 1:
            raise ValueError(f"frequencies_per_scale must be >= 1, got {frequencies_per_scale!r}.")
        self.num_scales = int(num_scales)
        self.lambda_min = float(lambda_min)
        self.lambda_max = float(lambda_max)
        self.frequencies_per_scale = int(frequencies_per_scale)
        self.seed = int(seed)
        self.dtype = dtype
        # saved with the weights: a model reloads with exactly the frequencies it learned on
        self.register_buffer(
            "frequencies",
            gaussian_frequencies(
                num_scales, lambda_min, lambda_max, self.frequencies_per_scale, self.dims, seed
            ),
        )

    @property
    def out_features(self) -> int:
        """Number of output features: ``2 · S · frequencies_per_scale``."""
        return 2 * self.frequencies.shape[1]

    def config(self) -> dict[str, Any]:
        return {
            "num_scales": self.num_scales,
            "lambda_min": self.lambda_min,
            "lambda_max": self.lambda_max,
            "frequencies_per_scale": self.frequencies_per_scale,
            "seed": self.seed,
        }

    def points(self, coords: torch.Tensor) -> torch.Tensor:
        """The points whose phases are taken, float64 ``(N, dims)``."""
        return coords.to(torch.float64)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        self.check_coords(coords)
        phase = self.points(coords) @ self.frequencies.to(coords.device, torch.float64)
        return sin_cos(phase, self.dtype)


@register_encoding
class RandomFourierEncoding(_FourierFeatures):
    r"""Random Fourier features of planar coordinates with Gaussian frequencies.

    For each of ``S`` scales :math:`λ_s` (geometric from ``lambda_min`` to ``lambda_max``)
    ``frequencies_per_scale`` frequency vectors are drawn from :math:`N(0, I/λ_s^2)`; the
    features are :math:`\sin(ω·x)` and :math:`\cos(ω·x)`. Unlike the Grid encoding, whose
    features are separable in x and y, the directions are random, so a model built on
    it has no preferred axis (no "plaid" on its maps). Frequencies are drawn from
    ``seed`` and saved with the model.

    Examples
    --------
    >>> enc = RandomFourierEncoding(num_scales=4, frequencies_per_scale=2)
    >>> enc(torch.zeros(3, 2, dtype=torch.float64)).shape
    torch.Size([3, 16])
    """

    name = "rff"


@register_encoding
class SphericalFourierEncoding(_FourierFeatures):
    r"""Random Fourier features on the sphere, for study areas wider than a UTM zone.

    Reads coordinates in WGS 84 / World Equidistant Cylindrical (EPSG:4087), whose
    metres invert exactly to longitude and latitude, places them on a sphere of radius
    6,378,137 m (3-D, in metres) and takes ``sin``/``cos`` of their projections on
    3-D Gaussian frequencies :math:`N(0, I/λ_s^2)`. Distances are chordal, so there is
    no seam at the antimeridian and no singularity at the poles; the scales keep
    their meaning in metres anywhere on Earth.

    Examples
    --------
    >>> enc = SphericalFourierEncoding(num_scales=4, lambda_min=1e3, lambda_max=1e6)
    >>> enc(torch.zeros(3, 2, dtype=torch.float64)).shape
    torch.Size([3, 16])
    """

    name = "sphere"
    dims = 3
    #: the CRS every input is reprojected to (the estimator uses it as ``crs_``)
    required_crs = EQC_CRS

    def points(self, coords: torch.Tensor) -> torch.Tensor:
        lon_lat = coords.to(torch.float64) / EQC_RADIUS  # radians
        lon, lat = lon_lat[:, 0], lon_lat[:, 1]
        cos_lat = torch.cos(lat)
        return EQC_RADIUS * torch.stack(
            (cos_lat * torch.cos(lon), cos_lat * torch.sin(lon), torch.sin(lat)), dim=-1
        )
