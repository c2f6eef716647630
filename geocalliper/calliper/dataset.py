"""POI pairs (coordinates, text) held as tensors, with the split and batching of training."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class ContrastiveDataset:
    """(coordinate, text) pairs for contrastive pre-training.

    Texts are stored once each: ``text_table[codes[i]]`` is the text embedding of
    POI ``i``, so a city of 100 k POIs with 300 distinct texts holds 300 vectors.

    Attributes
    ----------
    coords
        ``(N, 2)`` float64 projected coordinates.
    text_table
        ``(U, T)`` float32 frozen text embeddings of the unique texts.
    codes
        ``(N,)`` int64 index into ``text_table``.
    """

    coords: torch.Tensor
    text_table: torch.Tensor
    codes: torch.Tensor

    @classmethod
    def from_numpy(
        cls,
        coords: np.ndarray,
        text_table: np.ndarray,
        codes: np.ndarray,
        device: torch.device | str = "cpu",
    ) -> ContrastiveDataset:
        if len(coords) != len(codes):
            raise ValueError(f"{len(coords)} coordinates but {len(codes)} texts.")
        return cls(
            torch.as_tensor(coords, dtype=torch.float64, device=device),
            torch.as_tensor(text_table, dtype=torch.float32, device=device),
            torch.as_tensor(codes, dtype=torch.int64, device=device),
        )

    def __len__(self) -> int:
        return int(self.coords.shape[0])

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Coordinates and text embeddings of the POIs at ``idx``."""
        return self.coords[idx], self.text_table[self.codes[idx]]

    def text_ids(self, idx: torch.Tensor) -> torch.Tensor:
        """Which distinct text each POI at ``idx`` has (equal ids: the same text)."""
        return self.codes[idx]


def train_val_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random split of ``range(n)`` into train and validation indices (seeded).

    Examples
    --------
    >>> tr, va = train_val_split(10, 0.2, seed=0)
    >>> len(tr), len(va), sorted([*tr, *va]) == list(range(10))
    (8, 2, True)
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}.")
    perm = np.random.default_rng(seed).permutation(n)
    n_val = max(2, round(n * val_fraction))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def iter_batches(
    idx: torch.Tensor,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[torch.Tensor]:
    """Yield batches of ``idx``; shuffled when a ``generator`` is given.

    A contrastive batch needs at least two pairs, so a last batch of one is dropped.
    """
    if generator is not None:
        idx = idx[torch.randperm(len(idx), generator=generator).to(idx.device)]
    n = len(idx)
    stop = n - n % batch_size if drop_last and n > batch_size else n
    for start in range(0, stop, batch_size):
        chunk = idx[start : start + batch_size]
        if len(chunk) >= 2:
            yield chunk
