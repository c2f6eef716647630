"""Controls every embedding benchmark measures beside a pre-trained CaLLiPer.

* :func:`untrained_copy`: the same architecture and seed, randomly initialised, never
  trained: what the architecture alone gives;
* :func:`encoding_features`: the positional-encoding features alone, without the MLP.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

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


def fit_or_load(
    train: Any,
    seed: int,
    params: dict[str, Any],
    models_dir: Path | None = None,
    name: str = "default",
    progress: bool = False,
) -> tuple[CaLLiPer, float, bool]:
    """A CaLLiPer fitted on ``train`` (column ``text``), or the same one saved before.

    The benchmarks on NYC POIs draw the same seeded split, so the land-use probe, the
    zero-shot benchmark and the semantic probe can share their pre-trained models: with
    ``models_dir``, the model of ``name`` and ``seed`` is loaded from
    ``models_dir/{name}-seed{seed}`` when it is there *and* was fitted with the same
    parameters on as many POIs; otherwise it is fitted and saved there.

    Returns the model, the seconds its fit took (when loaded: the training seconds its
    history recorded) and whether it was loaded.
    """
    wanted = CaLLiPer(seed=seed, progress=progress, **params).get_params()
    folder = None if models_dir is None else Path(models_dir) / f"{name}-seed{seed}"
    if folder is not None and (folder / "config.json").is_file():
        model = CaLLiPer.load(folder)
        got = model.get_params()
        same = all(got.get(k) == v for k, v in wanted.items() if k not in _RUNTIME)
        if same and model.n_pois_ == len(train):
            model.progress = progress
            return model, float(model.history_["seconds"].iloc[-1]), True
        print(f"[{folder}] was fitted otherwise: fitting again", flush=True)
    model = CaLLiPer(seed=seed, progress=progress, **params)
    t0 = time.perf_counter()
    model.fit(train, text="text")
    seconds = time.perf_counter() - t0
    if folder is not None:
        model.save(folder)
    return model, seconds, False


#: parameters that do not change what is learned
_RUNTIME = ("progress", "cache_dir", "device")
