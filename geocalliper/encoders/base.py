"""The interface every positional encoding implements, and the registry of them by name."""

from __future__ import annotations

import inspect
import math
from typing import Any, ClassVar

import torch
from torch import nn

TWO_PI = 2.0 * math.pi


def geometric_scales(num_scales: int, lambda_min: float, lambda_max: float) -> torch.Tensor:
    r"""``S`` scales (wavelengths / 2π, in CRS units) spaced geometrically from min to max.

    Scale ``s`` is :math:`\lambda_{min} (\lambda_{max}/\lambda_{min})^{s/(S-1)}`; with
    ``S = 1`` only ``lambda_min``. Returned as float64.

    Examples
    --------
    >>> geometric_scales(3, 100.0, 10_000.0)
    tensor([  100.,  1000., 10000.], dtype=torch.float64)
    """
    if isinstance(num_scales, bool) or int(num_scales) != num_scales or num_scales < 1:
        raise ValueError(f"num_scales must be a positive integer, got {num_scales!r}.")
    if not (0 < lambda_min <= lambda_max) or not math.isfinite(lambda_max):
        raise ValueError(
            f"Need 0 < lambda_min <= lambda_max (metres), got {lambda_min} and {lambda_max}."
        )
    s = torch.arange(int(num_scales), dtype=torch.float64)
    exponent = s / (num_scales - 1) if num_scales > 1 else s
    return lambda_min * (lambda_max / lambda_min) ** exponent


def sin_cos(phase: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``[sin, cos]`` of float64 phases ``(N, …)``, reduced modulo 2π first, as ``(N, 2·…)``.

    Projected coordinates are large (a UTM northing is ~4.5e6 m); forming and reducing
    the phase in float64 keeps float32 features accurate to ~1e-7.
    """
    phase = torch.remainder(phase, TWO_PI).to(dtype)
    feats = torch.stack((torch.sin(phase), torch.cos(phase)), dim=-1)
    return feats.reshape(phase.shape[0], -1)


class PositionalEncoding(nn.Module):
    """Base of the positional encodings: ``(N, 2)`` float64 coordinates → ``(N, F)`` features.

    Subclasses set :attr:`name` (the key saved in a model's config), implement
    ``forward`` and :attr:`out_features`, and return the keyword arguments that rebuild
    them from :meth:`config`. Any random frequencies are drawn from ``seed`` in
    ``__init__`` and also kept as a buffer, so a saved model reproduces exactly.
    """

    #: key of the encoding in :data:`ENCODINGS` and in saved configs
    name: ClassVar[str] = ""
    #: a CRS every input must be in (the estimator then encodes in it), or ``None`` for
    #: any projected CRS in metres
    required_crs: ClassVar[str | None] = None

    @property
    def out_features(self) -> int:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def config(self) -> dict[str, Any]:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    @staticmethod
    def check_coords(coords: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``coords`` has shape ``(N, 2)``."""
        if coords.ndim != 2 or coords.shape[-1] != 2:
            raise ValueError(f"coords must have shape (N, 2), got {tuple(coords.shape)}.")

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config().items())


#: name → class of every positional encoding; filled by :func:`register_encoding`
ENCODINGS: dict[str, type[PositionalEncoding]] = {}


def register_encoding(cls: type[PositionalEncoding]) -> type[PositionalEncoding]:
    """Class decorator: make ``cls`` buildable by name with :func:`make_encoding`."""
    ENCODINGS[cls.name] = cls
    return cls


def encoding_class(name: str) -> type[PositionalEncoding]:
    """The positional-encoding class registered as ``name``; ``ValueError`` if none is."""
    try:
        return ENCODINGS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown positional encoding {name!r}; choose one of {sorted(ENCODINGS)}."
        ) from None


def make_encoding(name: str, **kwargs: Any) -> PositionalEncoding:
    """Build the positional encoding called ``name`` (a key of :data:`ENCODINGS`).

    Keyword arguments the encoding does not take (e.g. ``seed`` for the deterministic
    ones) are ignored, so every encoding can be built from one set of options.

    Examples
    --------
    >>> make_encoding("grid", num_scales=4).out_features
    16
    """
    cls = encoding_class(name)
    accepted = inspect.signature(cls.__init__).parameters
    return cls(**{k: v for k, v in kwargs.items() if k in accepted})
