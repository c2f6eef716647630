"""The contrastive training loop: AdamW, validation, best checkpoint, early stopping."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .dataset import ContrastiveDataset, iter_batches
from .module import CaLLiPerModule, contrastive_loss


@dataclass
class TrainingConfig:
    """Hyper-parameters of :func:`train_contrastive` (reference values by default)."""

    batch_size: int = 1024
    max_epochs: int = 50
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    patience: int = 5
    seed: int = 0
    progress: bool = True


def _param_groups(module: CaLLiPerModule, weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices only: none on biases and the logit scale."""
    decay, no_decay = [], []
    for p in module.parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


@torch.no_grad()
def evaluate_loss(
    module: CaLLiPerModule, data: ContrastiveDataset, idx: torch.Tensor, batch_size: int
) -> float:
    """Mean contrastive loss over ``idx`` in fixed batches (eval mode, no dropout)."""
    module.eval()
    total, count = 0.0, 0
    for batch in iter_batches(idx, batch_size):
        loc, txt = module(*data.batch(batch))
        total += float(contrastive_loss(loc, txt, module.logit_scale)) * len(batch)
        count += len(batch)
    return total / max(count, 1)


def train_contrastive(
    module: CaLLiPerModule,
    data: ContrastiveDataset,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    config: TrainingConfig,
) -> tuple[pd.DataFrame, int]:
    """Train ``module`` in place and restore its best state by validation loss.

    Returns
    -------
    history
        One row per epoch: ``epoch, train_loss, val_loss, temperature, seconds``.
    best_epoch
        The epoch whose weights were kept.
    """
    device = data.coords.device
    train = torch.as_tensor(train_idx, dtype=torch.int64, device=device)
    val = torch.as_tensor(val_idx, dtype=torch.int64, device=device)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(
        _param_groups(module, config.weight_decay), lr=config.learning_rate
    )
    best_loss, best_epoch, best_state = float("inf"), 0, copy.deepcopy(module.state_dict())
    rows = []
    bar = tqdm(
        range(1, config.max_epochs + 1), desc="CaLLiPer", unit="epoch", disable=not config.progress
    )
    for epoch in bar:
        start = time.perf_counter()
        module.train()
        total, count = 0.0, 0
        for batch in iter_batches(train, config.batch_size, generator=generator, drop_last=True):
            loc, txt = module(*data.batch(batch))
            loss = contrastive_loss(loc, txt, module.logit_scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            module.clamp_logit_scale_()
            total += float(loss.detach()) * len(batch)
            count += len(batch)
        val_loss = evaluate_loss(module, data, val, config.batch_size)
        rows.append(
            {
                "epoch": epoch,
                "train_loss": total / max(count, 1),
                "val_loss": val_loss,
                "temperature": float(torch.exp(-module.logit_scale.detach())),
                "seconds": time.perf_counter() - start,
            }
        )
        bar.set_postfix(train=f"{rows[-1]['train_loss']:.3f}", val=f"{val_loss:.3f}")
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = copy.deepcopy(module.state_dict())
        elif epoch - best_epoch >= config.patience:
            break
    bar.close()
    module.load_state_dict(best_state)
    module.eval()
    return pd.DataFrame(rows), best_epoch
