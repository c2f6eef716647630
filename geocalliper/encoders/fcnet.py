"""Residual fully connected network (FCNet) of the CaLLiPer location encoder."""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """``x + ReLU(Linear(Dropout(ReLU(Linear(x)))))``, width preserved."""

    def __init__(self, width: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.linear1 = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.linear1(x))
        h = torch.relu(self.linear2(self.dropout(h)))
        return x + h


class FCNet(nn.Module):
    """Linear(in→hidden)+ReLU, ``num_blocks`` residual blocks, Linear(hidden→out, no bias).

    Parameters
    ----------
    in_features
        Input width (``4 S`` for the Grid encoding).
    out_features
        Embedding size. Reference: 128.
    hidden_features
        Width of the hidden layers. Reference: 256.
    num_blocks
        Number of residual blocks. Reference: 4.
    dropout
        Dropout inside each block (active in training only). Reference: 0.5.

    Examples
    --------
    >>> net = FCNet(128)
    >>> net(torch.zeros(5, 128)).shape
    torch.Size([5, 128])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int = 128,
        hidden_features: int = 256,
        num_blocks: int = 4,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.input = nn.Linear(in_features, hidden_features)
        self.blocks = nn.Sequential(
            *(ResidualBlock(hidden_features, dropout) for _ in range(num_blocks))
        )
        self.output = nn.Linear(hidden_features, out_features, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.blocks(torch.relu(self.input(x))))
