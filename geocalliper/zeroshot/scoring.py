"""Places scored against texts: similarity, description and zero-shot labels of points.

:class:`TextScorer` sees a fitted model through a set of projected texts (from
:mod:`geocalliper.zeroshot.texts`): it "embeds" a point as its vector of scores, cosine
or probability. :func:`similarity`, :func:`describe` and :func:`label_points` score
points; the maps of :mod:`geocalliper.zeroshot.maps` hand the same scorer to the grid and
H3 machinery of :mod:`geocalliper.spatial`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .texts import (
    PriorLike,
    check_labels,
    check_texts,
    log_prior,
    logit_scale,
    text_vectors,
    training_texts,
)

if TYPE_CHECKING:
    from ..calliper import CaLLiPer

#: Name of the label column of :func:`label_points` / :func:`label_h3` and of the label
#: raster of :func:`label_grid`.
LABEL = "label"
#: Prefix of probability columns: ``p_{label name}``.
PROBABILITY_PREFIX = "p_"
#: Points scored at a time by :func:`similarity`, :func:`describe` and
#: :func:`label_points` …
SCORE_BATCH = 16_384
#: … and at most this many (point, text) scores at a time (64 MiB of float64 per array),
#: so describing points against a large training vocabulary stays in bounded memory.
SCORE_CELLS = 2**23


# ---------------------------------------------------------------------------- scoring
def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


class TextScorer:
    """A fitted model seen through a set of texts: it "embeds" a point as its scores.

    It has the face of a fitted :class:`~geocalliper.CaLLiPer` that
    :func:`~geocalliper.spatial.raster.embed_grid` and :func:`~geocalliper.spatial.h3cells.embed_h3`
    use (``embed_coords``, ``crs_``, ``embedding_dim``, ``dtype`` …), so maps of
    scores reuse their machinery unchanged; it is small and picklable for dask.

    Parameters
    ----------
    model
        A fitted CaLLiPer with its text projector.
    vectors
        ``(k, embedding_dim)`` L2-normalised projected texts.
    output
        ``"cosine"``: the cosine similarity to each text; ``"probability"``: the
        softmax over the texts of ``scale · cosine + log_prior``.
    scale, log_prior
        Logit scale and optional log prior (``(k,)``) for ``"probability"``.
    """

    def __init__(
        self,
        model: CaLLiPer,
        vectors: np.ndarray,
        output: Literal["cosine", "probability"] = "cosine",
        scale: float = 1.0,
        log_prior: np.ndarray | None = None,
    ) -> None:
        self.model = model
        self.vectors = np.asarray(vectors, dtype=np.float64)
        self.output = output
        self.scale = float(scale)
        self.log_prior = log_prior
        self.embedding_dim = len(self.vectors)
        self.dtype = str(model.dtype)
        self.crs_ = model.crs_
        self.progress = model.progress
        self.is_fitted = True

    def _check_fitted(self) -> None:
        self.model._check_fitted()

    def scores(self, emb: np.ndarray) -> np.ndarray:
        """Scores of L2-normalised location embeddings ``(n, d)``: ``(n, k)`` float64."""
        cos = np.asarray(emb, dtype=np.float64) @ self.vectors.T
        if self.output == "cosine":
            return cos
        logits = self.scale * cos
        if self.log_prior is not None:
            logits += self.log_prior
        return _softmax(logits)

    def embed_coords(
        self,
        xy: np.ndarray,
        *,
        batch_size: int | None = None,
        normalize: bool = False,
        progress: bool | None = None,
    ) -> np.ndarray:
        """Scores at ``(N, 2)`` coordinates in :attr:`crs_`: ``(N, k)`` in the model's dtype.

        ``normalize`` is accepted for the interface's sake and ignored (the location
        embeddings are always normalised before comparing).
        """
        emb = self.model.embed_coords(xy, batch_size=batch_size, normalize=True, progress=progress)
        return self.scores(emb).astype(self.dtype, copy=False)


def _point_scores(
    scorer: TextScorer,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    batch_size: int | None,
    reduce: Any,
) -> list[Any]:
    """Embed the points, score them batch by batch and apply ``reduce`` to each batch."""
    emb = scorer.model.embed(points, batch_size=batch_size, normalize=True).to_numpy()
    step = max(1, min(SCORE_BATCH, SCORE_CELLS // max(1, scorer.embedding_dim)))
    show = bool(scorer.model.progress) and len(emb) > 4 * step
    return [
        reduce(scorer.scores(emb[i : i + step]))
        for i in tqdm(range(0, len(emb), step), desc="score", unit="batch", disable=not show)
    ]


def similarity(
    model: CaLLiPer,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    texts: str | Sequence[str],
    *,
    batch_size: int | None = None,
) -> pd.DataFrame:
    """Cosine similarity between each point's location embedding and each text.

    Parameters
    ----------
    model
        A fitted :class:`~geocalliper.CaLLiPer` with its text projector.
    points
        GeoDataFrame or GeoSeries in any CRS (lines and polygons as in
        :meth:`~geocalliper.CaLLiPer.embed`).
    texts
        One text or a list of texts, e.g. ``"A place of cafe, a type of amenity"``
        (texts in the style of the training texts match best).
    batch_size
        Points per forward pass of the encoder.

    Returns
    -------
    pandas.DataFrame
        Index: the points' index; one float64 column per text (named by the text), in
        [-1, 1]. Compare values within a column (where is this text most at home?);
        across texts, rank with a prior (:func:`describe`, :func:`label_points`).

    Raises
    ------
    MissingProjectorError
        The model was saved without its text projector.

    Examples
    --------
    >>> sim = similarity(model, pois, ["A place of cafe", "A place of park"])  # doctest: +SKIP
    >>> sim.idxmax()                                                    # doctest: +SKIP
    """
    texts = check_texts(texts)
    scorer = TextScorer(model, text_vectors(model, texts))
    parts = _point_scores(scorer, points, batch_size, lambda s: s)
    index = points.index
    return pd.DataFrame(np.concatenate(parts), index=index, columns=pd.Index(texts, name="text"))


def describe(
    model: CaLLiPer,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    candidates: Sequence[str] | None = None,
    k: int = 5,
    *,
    prior: PriorLike = "auto",
    batch_size: int | None = None,
) -> pd.DataFrame:
    """The ``k`` texts that best match each point, best first.

    Parameters
    ----------
    model
        A fitted :class:`~geocalliper.CaLLiPer` with its text projector.
    points
        GeoDataFrame or GeoSeries in any CRS.
    candidates
        Texts to choose from; ``None`` (default): the distinct texts the model was
        trained on (see :attr:`~geocalliper.CaLLiPer.training_texts_`).
    k
        Texts per point (at most the number of candidates).
    prior
        ``"auto"`` (default): the training frequency of each text
        (``log(1 + count)``) when the candidates are the training texts, none for
        candidates you give. ``None``: rank by cosine alone (favours rare texts).
        ``"training"``, a mapping text → weight or weights in candidate order: see
        :func:`log_prior`.
    batch_size
        Points per forward pass of the encoder.

    Returns
    -------
    pandas.DataFrame
        Tidy, ``len(points) * k`` rows: a column with the point's index label (named
        like the index, else ``"point"``), ``rank`` (1 = best), ``text``, ``score``
        (what was ranked: the cosine, or ``exp(s) · cosine + log prior`` with a
        prior), ``cosine`` and ``probability`` (softmax of the logits over all
        candidates at the model's learned temperature).

    Examples
    --------
    >>> describe(model, pois.head(2), k=3)                             # doctest: +SKIP
       point  rank                                  text  score  cosine  probability
    0      0     1  A place of restaurant, a type of ...   ...
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    if candidates is None:
        texts = training_texts(model).index.astype(str).tolist()
        if prior == "auto":
            prior = "training"
    else:
        texts = check_texts(candidates, "candidates")
        if pd.Index(texts).has_duplicates:
            texts = list(dict.fromkeys(texts))  # a duplicate candidate is one candidate
    if prior == "auto":
        prior = None
    logp = log_prior(model, prior, texts, texts)
    k = min(int(k), len(texts))
    scale = logit_scale(model)
    scorer = TextScorer(model, text_vectors(model, texts))

    def top(cos: np.ndarray) -> tuple[np.ndarray, ...]:
        logits = scale * cos if logp is None else scale * cos + logp
        ranked = logits if logp is not None else cos
        part = np.argpartition(-ranked, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(ranked, part, axis=1), axis=1, kind="stable")
        best = np.take_along_axis(part, order, axis=1)
        prob = _softmax(logits.copy())
        take = functools.partial(np.take_along_axis, indices=best, axis=1)
        return best, take(ranked), take(cos), take(prob)

    parts = _point_scores(scorer, points, batch_size, top)
    best, score, cos, prob = (np.concatenate(p) for p in zip(*parts, strict=True))
    name = points.index.name if points.index.name is not None else "point"
    return pd.DataFrame(
        {
            name: np.repeat(np.asarray(points.index), k),
            "rank": np.tile(np.arange(1, k + 1), len(best)),
            "text": np.asarray(texts, dtype=object)[best.ravel()],
            "score": score.ravel(),
            "cosine": cos.ravel(),
            "probability": prob.ravel(),
        }
    )


def _label_scorer(
    model: CaLLiPer, labels: Sequence[str] | Mapping[str, str], prior: PriorLike
) -> tuple[list[str], list[str], TextScorer]:
    names, texts = check_labels(labels)
    logp = log_prior(model, prior, names, texts)
    vectors = text_vectors(model, texts)
    scorer = TextScorer(model, vectors, "probability", logit_scale(model), logp)
    return names, texts, scorer


def probability_columns(names: Sequence[str]) -> list[str]:
    """Names of the probability columns of ``names``: ``p_{name}``."""
    return [f"{PROBABILITY_PREFIX}{n}" for n in names]


def label_points(
    model: CaLLiPer,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    labels: Sequence[str] | Mapping[str, str],
    *,
    probabilities: bool = False,
    prior: PriorLike = None,
    batch_size: int | None = None,
) -> pd.DataFrame:
    """The best-matching label of each point (zero-shot classification).

    Parameters
    ----------
    model
        A fitted :class:`~geocalliper.CaLLiPer` with its text projector.
    points
        GeoDataFrame or GeoSeries in any CRS.
    labels
        A list of texts (each its own name) or a dict name → text, e.g.
        ``{"food": "A place of Food", "park": "A place of Outdoors & Recreation"}``.
    probabilities
        Also return the probability of every label (softmax over the labels of
        ``exp(s) · cosine + log prior``, ``s`` the model's learned logit scale).
    prior
        ``None`` (default): every label equally likely a priori, i.e. rank by cosine.
        A mapping label name → weight (e.g. how many training POIs each label has),
        weights in label order, or ``"training"``; see :func:`log_prior`.
    batch_size
        Points per forward pass of the encoder.

    Returns
    -------
    pandas.DataFrame
        Aligned to the points' index: ``label`` (the label name) and, with
        ``probabilities``, one ``p_{name}`` column per label.

    Examples
    --------
    >>> labels = {"food": "A place of Food", "shop": "A place of Shop & Service"}
    >>> label_points(model, pois, labels, probabilities=True)          # doctest: +SKIP
    """
    names, _, scorer = _label_scorer(model, labels, prior)
    parts = _point_scores(scorer, points, batch_size, lambda s: s)
    prob = np.concatenate(parts)
    out = pd.DataFrame(
        {LABEL: np.asarray(names, dtype=object)[prob.argmax(axis=1)]}, index=points.index
    )
    if probabilities:
        out[probability_columns(names)] = prob
    return out
