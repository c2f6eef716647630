"""The CaLLiPer location encoder: a positional encoding followed by FCNet."""

from __future__ import annotations

import torch
from torch import nn

from .base import make_encoding
from .fcnet import FCNet


class LocationEncoder(nn.Module):
    """Map coordinates ``(N, 2)`` to location embeddings ``(N, D)``.

    Pure tensors in and out, no I/O. Output is not normalised; the contrastive loss
    and similarity functions L2-normalise it.

    Parameters
    ----------
    encoding
        Name of the positional encoding (see :data:`geocalliper.encoders.ENCODINGS`):
        ``"grid"`` (the reference), ``"theory"``, ``"rff"`` or ``"sphere"``.
    num_scales, lambda_min, lambda_max
        Scales of the encoding, in metres.
    frequencies_per_scale, seed
        Random frequencies per scale, and their seed (``"rff"`` and ``"sphere"`` only).
    embedding_dim, hidden_dim, num_blocks, dropout
        FCNet shape.
    dtype
        Parameter and output dtype.

    Examples
    --------
    >>> enc = LocationEncoder(num_scales=8, embedding_dim=16).eval()
    >>> enc(torch.zeros(3, 2, dtype=torch.float64)).shape
    torch.Size([3, 16])
    """

    def __init__(
        self,
        num_scales: int = 32,
        lambda_min: float = 100.0,
        lambda_max: float = 10_000.0,
        embedding_dim: int = 128,
        hidden_dim: int = 256,
        num_blocks: int = 4,
        dropout: float = 0.5,
        dtype: torch.dtype = torch.float32,
        encoding: str = "grid",
        frequencies_per_scale: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.encoding = make_encoding(
            encoding,
            num_scales=num_scales,
            lambda_min=lambda_min,
            lambda_max=lambda_max,
            frequencies_per_scale=frequencies_per_scale,
            seed=seed,
            dtype=dtype,
        )
        self.net = FCNet(
            self.encoding.out_features, embedding_dim, hidden_dim, num_blocks, dropout
        ).to(dtype)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return self.net(self.encoding(coords))
