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
    ``location_noise`` is the standard deviation, in metres, of the Gaussian noise
    added to each training coordinate at every step (0: none).
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
    seed: int = 0
    progress: bool = True
    location_noise: float = 0.0


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimiser steps in one pass over ``n_train`` pairs (full batches; at least one)."""
    return max(1, n_train // batch_size) if n_train > batch_size else 1


def auto_eval_every(per_epoch: int) -> int:
    """Steps between validations: about once an epoch, but every 25 to 250 steps."""
    return int(min(250, max(25, per_epoch)))


def auto_location_noise(xy: np.ndarray, factor: float = 2.0) -> float:
    """Location noise for ``location_noise="auto"``: ``factor`` times the mean spacing
    of the points, ``sqrt(area / n)``, the area being that of their convex hull.

    Sparse POIs say little about what lies between them; moving each one by Gaussian
    noise of about their spacing at every step makes the encoder learn a field that is
    smooth at that scale instead of memorising the points.

    Examples
    --------
    >>> xy = np.array([[x, y] for x in range(0, 1001, 100) for y in range(0, 1001, 100)])
    >>> round(auto_location_noise(xy), 1)  # 121 points on 1 km²: spacing 90.9 m
    181.8
    """
    xy = np.asarray(xy, dtype=np.float64)
    if len(xy) < 3:
        return 0.0
    from scipy.spatial import ConvexHull, QhullError

    try:
        area = float(ConvexHull(xy).volume)  # in 2-D, ``volume`` is the area
    except QhullError:  # collinear or repeated points: no hull; use the bounding box
        span = xy.max(axis=0) - xy.min(axis=0)
        area = float(span[0] * span[1])
    return factor * math.sqrt(area / len(xy)) if area > 0 else 0.0


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
def evaluate_retrieval(
    module: CaLLiPerModule,
    data: ContrastiveDataset,
    idx: torch.Tensor,
    batch_size: int,
) -> float:
    """Mean reciprocal rank of each POI's own text among all distinct texts (eval mode).

    Free of the temperature, unlike the loss: it says whether the location embedding
    points at its text more than at the others.
    """
    module.eval()
    total = 0.0
    for start in range(0, len(idx), batch_size):  # every POI, even a last one alone
        batch = idx[start : start + batch_size]
        loc, txt = module(data.coords[batch], data.text_table)  # all distinct texts
        scores = loc @ txt.T
        own = scores.gather(1, data.codes[batch][:, None])
        rank = (scores > own).sum(dim=1) + 1
        total += float((1.0 / rank.to(torch.float64)).sum())
    return total / max(len(idx), 1)


@torch.no_grad()
def evaluate_loss(
    module: CaLLiPerModule,
    data: ContrastiveDataset,
    idx: torch.Tensor,
    batch_size: int,
) -> float:
    """Mean contrastive loss over ``idx`` in fixed batches (eval mode, no dropout)."""
    module.eval()
    total, count = 0.0, 0
    for batch in iter_batches(idx, batch_size):
        loc, txt = module(*data.batch(batch))
        total += float(contrastive_loss(loc, txt, module.logit_scale)) * len(batch)
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
        One row per validation: ``step, epoch, train_loss, val_loss, val_mrr, temperature,
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
            coords, texts = data.batch(batch)
            if config.location_noise > 0:  # each step sees every POI somewhere near
                noise = torch.randn(coords.shape, generator=generator, dtype=coords.dtype)
                coords = coords + config.location_noise * noise.to(coords.device)
            loc, txt = module(coords, texts)
            loss = contrastive_loss(loc, txt, module.logit_scale)
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
            val_loss = evaluate_loss(module, data, val, batch_size)
            if not math.isfinite(val_loss):
                bar.close()
                raise _diverged("validation loss", step, config)
            val_mrr = evaluate_retrieval(module, data, val, batch_size)
            rows.append(
                {
                    "step": step,
                    "epoch": step / per_epoch,
                    "train_loss": running / max(count, 1),
                    "val_loss": val_loss,
                    "val_mrr": val_mrr,
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
