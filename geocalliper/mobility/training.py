"""The next-location training loop: Adam, warm-up + linear decay, early stopping."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from .module import MHSA
from .sequences import UNKNOWN, Sequences, iter_chunk_batches, make_batch


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`train_next_location`."""

    batch_size: int = 8
    max_epochs: int = 50
    learning_rate: float = 1e-3
    weight_decay: float = 1e-6
    warmup_epochs: int = 2
    patience: int = 3
    lr_drops: int = 0
    unknown_rate: float = 0.0
    user_dropout: float = 0.0
    seed: int = 0
    progress: bool = True


def batch_loss(
    module: MHSA,
    seqs: Sequences,
    emb: torch.Tensor | None,
    vocab_emb: torch.Tensor | None,
    chunk_ids: np.ndarray,
    device: torch.device,
    *,
    rng: np.random.Generator | None = None,
    unknown_rate: float = 0.0,
    user_dropout: float = 0.0,
) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy over a batch's scored targets that are in the vocabulary.

    ``emb`` (per visit) and ``vocab_emb`` (per known location) hold the CaLLiPer
    embedding followed by the centred projected ``x, y`` (metres); ``None`` for a
    lookup-only, closed-head model.

    With ``rng``, ``unknown_rate`` of the vocabulary is treated as unknown in this
    batch (lookup row and id bias hidden) and ``user_dropout`` of the chunks get the
    unknown-user embedding.
    """
    batch = make_batch(seqs, chunk_ids).to(device)
    # each token's place among the candidates (the vocabulary), whatever is hidden below
    token_cand = torch.where(batch.loc_idx >= 2, batch.loc_idx - 2, -1)
    n_vocab = len(vocab_emb) if vocab_emb is not None else module.head.out_features
    loc_idx, user_idx = batch.loc_idx, batch.user_idx
    bias_idx = torch.arange(1, n_vocab + 1, device=device)
    if rng is not None and unknown_rate > 0:
        drop = torch.from_numpy(rng.random(n_vocab) < unknown_rate).to(device)
        bias_idx = torch.where(drop, torch.zeros_like(bias_idx), bias_idx)
        dropped_tok = (loc_idx >= 2) & drop[(loc_idx - 2).clamp(min=0)]
        loc_idx = torch.where(dropped_tok, torch.full_like(loc_idx, UNKNOWN), loc_idx)
    if rng is not None and user_dropout > 0:
        keep = torch.from_numpy(rng.random(len(user_idx)) >= user_dropout).to(device)
        user_idx = torch.where(keep, user_idx, torch.zeros_like(user_idx))
    visit = emb[batch.rows.clamp(min=0).cpu()].to(device) if emb is not None else None
    loc_emb = visit[..., :-2] if module.location_proj is not None else None
    hidden = module(
        loc_idx, loc_emb, batch.feats, user_idx, batch.day, batch.query_day, batch.key_ok
    )[batch.scored]
    target = torch.from_numpy(seqs.loc_idx[batch.target_rows.cpu().numpy()] - 2).to(device)
    known = target >= 0
    hidden, target = hidden[known], target[known]
    if len(target) == 0:
        return hidden.sum() * 0.0, 0
    if module.inductive:
        vocab = vocab_emb.to(device)
        rows, cols = batch.scored.nonzero(as_tuple=True)
        rows, cols = rows[known], cols[known]
        revisits = module.revisits(
            batch.day, batch.query_day, batch.key_ok, visit[..., -2:], vocab[:, -2:], rows, cols
        )
        place = None
        if module.place_in is not None:
            place = module.place_features(
                batch.day,
                batch.feats,
                batch.query_day,
                batch.key_ok,
                token_cand,
                visit[..., -2:],
                vocab[:, -2:],
                rows,
                cols,
            )
        logits = module.inductive_logits(
            hidden, module.candidate_vectors(vocab[:, :-2]), bias_idx, revisits, place
        )
    else:
        logits = module.closed_logits(hidden)
    return F.cross_entropy(logits, target), len(target)


def _schedule(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def train_next_location(
    module: MHSA,
    train: tuple[Sequences, torch.Tensor | None],
    valid: tuple[Sequences, torch.Tensor | None],
    vocab_emb: torch.Tensor | None,
    config: TrainConfig,
) -> tuple[pd.DataFrame, int]:
    """Train ``module`` in place; keep the weights of the best validation epoch.

    Each epoch visits every training chunk once, in batches of ``config.batch_size``
    chunks of similar length (:func:`iter_chunk_batches` with ``by_length``; less
    padding, about 1.6× faster on FSQ-NYC than batches drawn at random) in random order.

    After ``patience`` epochs without improvement, training stops, unless
    ``lr_drops`` remain: then the best weights are restored, the learning rate is
    multiplied by 0.1 and training goes on (the reference MHSA schedule uses 2).

    Returns the per-epoch history and the best epoch (1-based).
    """
    device = next(module.parameters()).device
    rng = np.random.default_rng(config.seed)
    train_seqs, train_emb = train
    valid_seqs, valid_emb = valid
    optimizer = torch.optim.Adam(
        module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    steps = -(-len(train_seqs.chunks) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _schedule(config.warmup_epochs * steps, config.max_epochs * steps)
    )
    best_loss, best_epoch, best_state, bad = float("inf"), 0, None, 0
    drops_left, lr_factor = config.lr_drops, 1.0
    rows = []
    bar = tqdm(
        range(1, config.max_epochs + 1), desc="fit", unit="epoch", disable=not config.progress
    )
    for epoch in bar:
        t0 = time.perf_counter()
        module.train()
        total, count = 0.0, 0
        for ids in iter_chunk_batches(train_seqs, config.batch_size, rng, by_length=True):
            loss, n = batch_loss(
                module,
                train_seqs,
                train_emb,
                vocab_emb,
                ids,
                device,
                rng=rng,
                unknown_rate=config.unknown_rate,
                user_dropout=config.user_dropout,
            )
            if n == 0:
                continue
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            if lr_factor != 1.0:
                for group in optimizer.param_groups:
                    group["lr"] *= lr_factor
            total += float(loss.detach()) * n
            count += n
        train_loss = total / max(count, 1)
        train_seconds = time.perf_counter() - t0
        val_loss = evaluate_loss(module, valid_seqs, valid_emb, vocab_emb, config.batch_size)
        seconds = time.perf_counter() - t0
        rows.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": seconds,
                "train_seconds": train_seconds,
            }
        )
        bar.set_postfix(train=f"{train_loss:.3f}", val=f"{val_loss:.3f}")
        if val_loss < best_loss - 1e-4:
            best_loss, best_epoch, bad = val_loss, epoch, 0
            best_state = copy.deepcopy(module.state_dict())
        else:
            bad += 1
            if bad >= config.patience:
                if drops_left <= 0:
                    break
                drops_left, bad = drops_left - 1, 0
                lr_factor *= 0.1
                if best_state is not None:
                    module.load_state_dict(best_state)
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return pd.DataFrame(rows), best_epoch


@torch.no_grad()
def evaluate_loss(
    module: MHSA,
    seqs: Sequences,
    emb: torch.Tensor | None,
    vocab_emb: torch.Tensor | None,
    batch_size: int,
) -> float:
    """Mean cross-entropy over the in-vocabulary targets of ``seqs`` (eval mode)."""
    module.eval()
    device = next(module.parameters()).device
    total, count = 0.0, 0
    for ids in iter_chunk_batches(seqs, batch_size * 4, by_length=True):
        loss, n = batch_loss(module, seqs, emb, vocab_emb, ids, device)
        total += float(loss) * n
        count += n
    return total / max(count, 1)
