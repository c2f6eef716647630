"""Visits as model input: integer features, per-user segments, scored targets, chunks.

The reference builds one sample per target: the user's visits in the 7 days before
it. Those samples overlap heavily, so here each user's visit sequence is cut into
*chunks* of consecutive targets, and one causal pass over a chunk scores all of its
targets: the query token before each target attends only to the visits of that
target's window (the ``history_days`` days before the target's day), as the
reference sample would. A chunk starts at the window of its first target. In lower
layers a token sees its own window, so information can reach a query from up to a
window earlier, and positions count from the chunk start. Training uses such chunks;
evaluation and prediction use one-target chunks (``chunk_targets=1``), which are
exactly the reference samples.

A target is *valid* (scored) as in the reference protocol: it lies at least
``history_days`` days after the first visit of its segment, has at least
``min_history`` visits in its window, and neither it nor its window touches an
excluded (hidden) location.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

#: vocabulary index of padding and of a location not in the vocabulary
PAD, UNKNOWN = 0, 1
#: duration bins: 0 = unknown, then 30-minute bins up to two days
DURATION_BIN_MINUTES = 30
N_DURATION_BINS = 2 + 2 * 24 * 60 // DURATION_BIN_MINUTES  # 0, 1..96, 97 = longer


def time_features(table: pd.DataFrame) -> np.ndarray:
    """``(N, 4)`` int64: hour, quarter of the hour, weekday, duration bin."""
    minute = table["minute"].to_numpy()
    dur = table["duration"].to_numpy(dtype=np.float64)
    dur_bin = np.where(
        np.isnan(dur),
        0,
        1 + np.minimum(np.nan_to_num(dur) // DURATION_BIN_MINUTES, N_DURATION_BINS - 2),
    )
    return np.column_stack(
        [minute // 60, (minute % 60) // 15, table["weekday"].to_numpy(), dur_bin]
    ).astype(np.int64)


@dataclass
class Sequences:
    """One split's visits, encoded. Arrays are aligned to the visits table's rows.

    Attributes
    ----------
    loc_idx
        Vocabulary index of each visit's location (``UNKNOWN`` if not known).
    user_idx
        Index of each visit's user (0 = unknown user).
    feats
        :func:`time_features`.
    day
        Local day number.
    query_day
        Day of the visit that follows in the same segment (its own day for the last).
    hidden
        Visits at excluded locations: never attended to by other visits.
    valid
        Visits that are scored targets.
    window_start
        First visit of each visit's window (as a target).
    chunks
        ``(K, 3)`` int64: ``start`` (first token), ``first`` (first target) and
        ``stop`` (one past the last target) of each chunk; its tokens are
        ``start .. stop - 2``, its queries ``first - 1 .. stop - 2``.
    """

    loc_idx: np.ndarray
    user_idx: np.ndarray
    feats: np.ndarray
    day: np.ndarray
    query_day: np.ndarray
    hidden: np.ndarray
    valid: np.ndarray
    chunks: np.ndarray
    window_start: np.ndarray

    @property
    def n_targets(self) -> int:
        return int(self.valid.sum())


def build_sequences(
    table: pd.DataFrame,
    loc_idx: np.ndarray,
    user_idx: np.ndarray,
    *,
    hidden: np.ndarray | None = None,
    history_days: int = 7,
    min_history: int = 3,
    skip_first_days: bool = True,
    chunk_targets: int = 32,
    segment: np.ndarray | None = None,
) -> Sequences:
    """Encode a sorted visits table (see :func:`~.visits.prepare_visits`).

    ``segment`` labels the rows that form one sequence (default: the user); history
    never crosses a segment boundary.
    """
    n = len(table)
    day = table["day"].to_numpy(dtype=np.int64)
    seg = table["user"].to_numpy() if segment is None else np.asarray(segment)
    hidden = np.zeros(n, bool) if hidden is None else np.asarray(hidden, bool)
    bounds = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1], True]) if n else np.array([0])
    valid = np.zeros(n, bool)
    query_day = day.copy()
    window_start = np.arange(n)
    hid_cum = np.r_[0, np.cumsum(hidden)]
    chunks = []
    for p0, p1 in itertools.pairwise(bounds):
        d = day[p0:p1]
        query_day[p0 : p1 - 1] = d[1:]
        # first visit of each target's window: day >= target day - history_days
        ws = p0 + np.searchsorted(d, d - history_days, side="left")
        window_start[p0:p1] = ws
        idx = np.arange(p0, p1)
        ok = (idx - ws) >= min_history
        if skip_first_days:
            ok &= (d - d[0]) >= history_days
        touched = (hid_cum[idx + 1] - hid_cum[ws]) > 0  # window or target hidden
        ok &= ~touched
        ok[0] = False
        valid[p0:p1] = ok
        for first in range(p0 + 1, p1, chunk_targets):
            stop = min(first + chunk_targets, p1)
            if valid[first:stop].any():
                chunks.append((window_start[first], first, stop))
    return Sequences(
        loc_idx=np.asarray(loc_idx, np.int64),
        user_idx=np.asarray(user_idx, np.int64),
        feats=time_features(table),
        day=day,
        query_day=query_day,
        hidden=hidden,
        valid=valid,
        chunks=np.array(chunks, dtype=np.int64).reshape(-1, 3),
        window_start=window_start,
    )


@dataclass
class Batch:
    """Padded tensors of a batch of chunks (``B`` chunks, ``L`` tokens)."""

    rows: torch.Tensor  # (B, L) visit row of each token, -1 for padding
    loc_idx: torch.Tensor  # (B, L)
    feats: torch.Tensor  # (B, L, 4)
    user_idx: torch.Tensor  # (B,)
    day: torch.Tensor  # (B, L)
    query_day: torch.Tensor  # (B, L)
    key_ok: torch.Tensor  # (B, L) bool: a real, not hidden token
    scored: torch.Tensor  # (B, L) bool: the query's next visit is a valid target
    target_rows: torch.Tensor  # (M,) visit row of each scored target, in scored order

    def to(self, device: torch.device) -> Batch:
        return Batch(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


def make_batch(seqs: Sequences, chunk_ids: np.ndarray) -> Batch:
    """Collate chunks into a padded :class:`Batch`."""
    sel = seqs.chunks[chunk_ids]
    lengths = sel[:, 2] - 1 - sel[:, 0]
    width = int(lengths.max())
    offs = np.arange(width)
    rows = sel[:, :1] + offs[None, :]
    real = offs[None, :] < lengths[:, None]
    rows = np.where(real, rows, -1)
    safe = np.where(real, rows, 0)
    query = real & (rows >= (sel[:, 1:2] - 1))
    nxt = np.minimum(safe + 1, len(seqs.valid) - 1)
    scored = query & seqs.valid[nxt]
    t = torch.from_numpy
    return Batch(
        rows=t(rows),
        loc_idx=t(np.where(real, seqs.loc_idx[safe], PAD)),
        feats=t(np.where(real[..., None], seqs.feats[safe], 0)),
        user_idx=t(seqs.user_idx[sel[:, 1]]),
        day=t(seqs.day[safe]),
        query_day=t(seqs.query_day[safe]),
        key_ok=t(real & ~seqs.hidden[safe]),
        scored=t(scored),
        target_rows=t(nxt[scored]),
    )


#: tokens of random jitter on a chunk's length when batching by length (so that the
#: batches differ from epoch to epoch)
LENGTH_JITTER = 8.0


def iter_chunk_batches(
    seqs: Sequences,
    batch_chunks: int,
    rng: np.random.Generator | None = None,
    *,
    by_length: bool = False,
):
    """Yield batches of ``batch_chunks`` chunk ids: shuffled with ``rng``, else in order.

    With ``by_length``, chunks of similar length share a batch, so that little of a
    batch is padding (attention costs grow with the longest chunk squared): chunks are
    sorted by length (jittered by up to :data:`LENGTH_JITTER` tokens with ``rng``), cut
    into batches, and the batches are shuffled with ``rng``. Every chunk is still
    yielded once per call.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> seqs = SimpleNamespace(chunks=np.array([[0, 1, 50], [0, 1, 3], [0, 1, 40], [0, 1, 4]]))
    >>> [b.tolist() for b in iter_chunk_batches(seqs, 2, by_length=True)]
    [[1, 3], [2, 0]]
    """
    order = np.arange(len(seqs.chunks))
    if by_length:
        length = (seqs.chunks[:, 2] - seqs.chunks[:, 0]).astype(float)
        if rng is not None:
            length = length + rng.uniform(0.0, LENGTH_JITTER, len(length))
        order = np.argsort(length, kind="stable")
        batches = [order[i : i + batch_chunks] for i in range(0, len(order), batch_chunks)]
        if rng is not None:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        yield from batches
        return
    if rng is not None:
        order = rng.permutation(order)
    for i in range(0, len(order), batch_chunks):
        yield order[i : i + batch_chunks]


def iter_budget_batches(seqs: Sequences, max_cells: int, max_chunks: int = 4096):
    """Yield consecutive batches of chunk ids whose padded attention maps stay small:
    ``chunks × longest² ≤ max_cells`` (a chunk alone may exceed it), at most
    ``max_chunks`` chunks. For scoring many short chunks, e.g. one per target."""
    lengths = seqs.chunks[:, 2] - 1 - seqs.chunks[:, 0]
    start, longest = 0, 0
    for i, n in enumerate(lengths):
        wider = max(longest, int(n))
        size = i - start + 1
        if i > start and (size * wider * wider > max_cells or size > max_chunks):
            yield np.arange(start, i)
            start, wider = i, int(n)
        longest = wider
    if start < len(lengths):
        yield np.arange(start, len(lengths))
