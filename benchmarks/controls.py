"""Controls every embedding benchmark measures beside a pre-trained CaLLiPer.

* :func:`untrained_copy`: the same architecture and seed, randomly initialised, never
  trained: what the architecture alone gives;
* :func:`encoding_features`: the positional-encoding features alone, without the MLP.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from geocalliper import CaLLiPer


def untrained_copy(model: CaLLiPer) -> CaLLiPer:
    """The fitted ``model`` with its module replaced by a fresh, untrained one (same seed)."""
    twin = copy.copy(model)
    torch.manual_seed(model.seed)
    twin.module_ = model._new_module(model.text_dim_).to(model.device_).eval()
    return twin


def encoding_features(model: CaLLiPer, xy: np.ndarray) -> np.ndarray:
    """The model's positional-encoding features of ``xy`` (in ``model.crs_``), float64."""
    with torch.no_grad():
        coords = torch.from_numpy(np.ascontiguousarray(xy, dtype=np.float64))
        return model.module_.location.encoding(coords).double().numpy()
