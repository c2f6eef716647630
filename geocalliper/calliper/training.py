"""The contrastive training loop: AdamW, warm-up + cosine schedule, validation every
``eval_every`` steps, the best checkpoint kept, early stopping, divergence refused."""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..exceptions import TrainingDivergedError, UndertrainedWarning
from .dataset import ContrastiveDataset, iter_batches
from .module import CaLLiPerModule, contrastive_loss

#: ``schedule`` values: learning-rate factor of step ``t`` after warm-up, as a function
#: of the fraction of the run done
SCHEDULES = ("cosine", "constant")


@dataclass
class TrainingConfig:
    """Hyper-parameters of :func:`train_contrastive`.

    Training is counted in optimiser steps, not epochs, so that it means the same at
    any data size: an epoch of 900 POIs at batch 1,024 is a single step.
    """

    batch_size: int = 256
    max_steps: int = 3000
    max_epochs: int | None = None
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    schedule: str = "cosine"
    eval_every: int | None = None
    patience: int = 10
    min_steps: int = 300
    same_text_positive: bool = True
    seed: int = 0
    progress: bool = True


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimiser steps in one pass over ``n_train`` pairs (full batches; at least one)."""
    return max(1, n_train // batch_size) if n_train > batch_size else 1


def auto_eval_every(per_epoch: int) -> int:
    """Steps between validations: about once an epoch, but every 25 to 250 steps."""
    return int(min(250, max(25, per_epoch)))


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """Learning-rate multiplier at ``step`` (1-based): linear warm-up, then the schedule.

    Examples
    --------
    >>> [round(lr_factor(s, 100, 10, "cosine"), 3) for s in (1, 10, 55, 100)]
    [0.1, 1.0, 0.5, 0.0]
    """
    if warmup > 0 and step <= warmup:
        return step / warmup
    if schedule == "constant":
        return 1.0
    done = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, done)))


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
    module: CaLLiPerModule,
    data: ContrastiveDataset,
    idx: torch.Tensor,
    batch_size: int,
    same_text_positive: bool = False,
) -> float:
    """Mean contrastive loss over ``idx`` in fixed batches (eval mode, no dropout)."""
    module.eval()
    total, count = 0.0, 0
    for batch in iter_batches(idx, batch_size):
        loc, txt = module(*data.batch(batch))
        ids = data.text_ids(batch) if same_text_positive else None
        total += float(contrastive_loss(loc, txt, module.logit_scale, ids)) * len(batch)
        count += len(batch)
    return total / max(count, 1)


def _diverged(what: str, step: int, config: TrainingConfig) -> TrainingDivergedError:
    return TrainingDivergedError(
        f"CaLLiPer training diverged: the {what} became NaN or infinite at step {step} "
        f"(learning rate {config.learning_rate:g}). Lower learning_rate (the default is "
        "1e-3); if it persists, check the text embeddings (clear the text cache, see "
        "geocalliper.text) and the coordinates."
    )


def train_contrastive(
    module: CaLLiPerModule,
    data: ContrastiveDataset,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    config: TrainingConfig,
) -> tuple[pd.DataFrame, int]:
    """Train ``module`` in place and restore its best state by validation loss.

    Validation runs every ``eval_every`` steps (default: about once an epoch, every
    25–250 steps); training stops after ``max_steps`` (or ``max_epochs``), or when
    ``patience`` validations in a row did not improve, once ``min_steps`` are done.

    Raises
    ------
    TrainingDivergedError
        A training or validation loss became NaN or infinite.

    Warns
    -----
    UndertrainedWarning
        The batch is larger than the training set, or the best validation loss came
        before ``min_steps``: the kept model has barely trained.

    Returns
    -------
    history
        One row per validation: ``step, epoch, train_loss, val_loss, temperature,
        learning_rate, seconds``.
    best_step
        The step whose weights were kept.
    """
    if config.schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {config.schedule!r}.")
    device = data.coords.device
    train = torch.as_tensor(train_idx, dtype=torch.int64, device=device)
    val = torch.as_tensor(val_idx, dtype=torch.int64, device=device)
    batch_size = config.batch_size
    if batch_size > len(train):
        warnings.warn(
            f"batch_size {batch_size} is larger than the {len(train)} training POIs; "
            f"using batches of {len(train)} (every step sees the whole set).",
            UndertrainedWarning,
            stacklevel=3,
        )
        batch_size = len(train)
    per_epoch = steps_per_epoch(len(train), batch_size)
    total = config.max_steps
    if config.max_epochs is not None:
        total = min(total, config.max_epochs * per_epoch)
    eval_every = config.eval_every or auto_eval_every(per_epoch)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(
        _param_groups(module, config.weight_decay), lr=config.learning_rate
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: lr_factor(i + 1, total, config.warmup_steps, config.schedule)
    )
    best_loss, best_step, best_state = float("inf"), 0, copy.deepcopy(module.state_dict())
    rows: list[dict] = []
    bar = tqdm(total=total, desc="CaLLiPer", unit="step", disable=not config.progress)
    step, since, running, count, start = 0, 0, 0.0, 0, time.perf_counter()
    stop = False
    while not stop:
        module.train()
        for batch in iter_batches(train, batch_size, generator=generator, drop_last=True):
            loc, txt = module(*data.batch(batch))
            ids = data.text_ids(batch) if config.same_text_positive else None
            loss = contrastive_loss(loc, txt, module.logit_scale, ids)
            if not torch.isfinite(loss):
                bar.close()
                raise _diverged("training loss", step + 1, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            module.clamp_logit_scale_()
            step += 1
            running += float(loss.detach()) * len(batch)
            count += len(batch)
            bar.update(1)
            if step % eval_every and step < total:
                continue
            val_loss = evaluate_loss(module, data, val, batch_size, config.same_text_positive)
            if not math.isfinite(val_loss):
                bar.close()
                raise _diverged("validation loss", step, config)
            rows.append(
                {
                    "step": step,
                    "epoch": step / per_epoch,
                    "train_loss": running / max(count, 1),
                    "val_loss": val_loss,
                    "temperature": float(torch.exp(-module.logit_scale.detach())),
                    "learning_rate": optimizer.param_groups[0]["lr"],
                    "seconds": time.perf_counter() - start,
                }
            )
            running, count = 0.0, 0
            bar.set_postfix(train=f"{rows[-1]['train_loss']:.3f}", val=f"{val_loss:.3f}")
            if val_loss < best_loss:
                best_loss, best_step, since = val_loss, step, 0
                best_state = copy.deepcopy(module.state_dict())
            else:
                since += 1
            if step >= total or (since >= config.patience and step >= config.min_steps):
                stop = True
                break
            module.train()
    bar.close()
    if best_step < config.min_steps:
        warnings.warn(
            f"The best validation loss came at step {best_step} of {step}: the kept "
            "CaLLiPer model has barely trained. With few POIs the validation loss is "
            "noisy; consider more POIs, a smaller batch_size, or patience=.",
            UndertrainedWarning,
            stacklevel=3,
        )
    module.load_state_dict(best_state)
    module.eval()
    return pd.DataFrame(rows), best_step
