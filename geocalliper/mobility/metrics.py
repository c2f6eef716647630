"""Next-location metrics: Acc@k, MRR, NDCG@10 and weighted F1, all ×100.

Every function takes the rank of the true location among the candidates (1 = top;
``inf`` when the true location is not a candidate at all, which counts as a miss).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def accuracy_at_k(ranks: np.ndarray, k: int) -> float:
    """Share of targets ranked within the top ``k``, ×100.

    Examples
    --------
    >>> accuracy_at_k(np.array([1, 2, 11, np.inf]), 10)
    50.0
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(ranks <= k) * 100) if len(ranks) else float("nan")


def mean_reciprocal_rank(ranks: np.ndarray) -> float:
    """Mean of ``1 / rank`` over all targets (0 for a miss), ×100.

    Examples
    --------
    >>> mean_reciprocal_rank(np.array([1, 2, 4, np.inf]))
    43.75
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(1.0 / ranks) * 100) if len(ranks) else float("nan")


def ndcg_at_k(ranks: np.ndarray, k: int = 10) -> float:
    """NDCG@k with one relevant item per target: ``1 / log2(rank + 1)`` within the top
    ``k``, else 0; mean ×100.

    Examples
    --------
    >>> round(ndcg_at_k(np.array([1, 3, 20])), 3)
    50.0
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    if not len(ranks):
        return float("nan")
    gain = np.where(ranks <= k, 1.0 / np.log2(np.minimum(ranks, k) + 1.0), 0.0)
    return float(np.mean(gain) * 100)


def weighted_f1(y_true: Sequence[Hashable], y_pred: Sequence[Hashable]) -> float:
    """F1 of the top-1 predictions per true class, weighted by class support, ×100.

    Examples
    --------
    >>> weighted_f1(["a", "a", "b", "c"], ["a", "b", "b", "c"])
    75.0
    """
    from sklearn.metrics import f1_score

    if not len(y_true):
        return float("nan")
    true = np.array([str(v) for v in y_true], dtype=object)
    pred = np.array([str(v) for v in y_pred], dtype=object)
    return float(f1_score(true, pred, average="weighted", zero_division=0) * 100)


def next_location_scores(
    ranks: np.ndarray, y_true: Sequence[Hashable], y_pred: Sequence[Hashable]
) -> dict[str, float]:
    """All the reported metrics of one evaluation, ×100, plus the sample count ``n``."""
    return {
        "acc@1": accuracy_at_k(ranks, 1),
        "acc@5": accuracy_at_k(ranks, 5),
        "acc@10": accuracy_at_k(ranks, 10),
        "mrr": mean_reciprocal_rank(ranks),
        "ndcg@10": ndcg_at_k(ranks, 10),
        "f1": weighted_f1(y_true, y_pred),
        "n": float(len(ranks)),
    }
