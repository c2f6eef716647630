"""Ask the map in words: zero-shot text queries over CaLLiPer location embeddings.

CaLLiPer trains a text projector beside the location encoder, so places and texts share
one space. This module compares them:

* :func:`similarity` — cosine similarity of points and texts (a DataFrame);
* :func:`describe` — the best-matching texts per point, by default among the training
  texts, ranked with their training frequency as a prior (a tidy DataFrame);
* :func:`label_points` — the best of a set of labels per point, with probabilities;
* :func:`query_grid` / :func:`query_h3` — a similarity map of a text over a study area
  (a raster like :func:`~geocalliper.spatial.raster.embed_grid`, or H3 hexagons);
* :func:`label_grid` / :func:`label_h3` — a categorical map: the best label per cell,
  optionally with the probability of every label;
* :func:`preview_rgb` — a query or label raster as an RGB picture for a PNG.

Scores
------
InfoNCE makes ``exp(s) · cos(place, text)`` approximate ``log p(text | place) − log
p(text)`` plus a per-place constant (``s`` is the model's learned logit scale), so
plain cosine ranks the texts that are *over-represented* at a place. Where the texts
have a known frequency (a *prior*), ``exp(s) · cos + log prior`` ranks the *likeliest*
ones instead; ``prior=`` adds it. Probabilities are the softmax of those logits over the
texts or labels compared, at the model's own learned temperature. Nothing is tuned.

The grid and H3 variants reuse :mod:`geocalliper.spatial.raster` and
:mod:`geocalliper.spatial.h3cells` unchanged: a :class:`TextScorer` looks to them like a
model whose "embedding" of a point is its vector of scores, so the grid layout, the
in-area test, dask chunks, memory limits and progress bars are the same as for
embeddings.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .._constants import embedding_columns
from .._optional import import_optional
from ..exceptions import (
    DuplicateLabelError,
    EmptyDataError,
    MissingTrainingTextsError,
    TextTruncatedWarning,
)

if TYPE_CHECKING:
    import xarray as xr

    from ..calliper import CaLLiPer
    from ..spatial.area import AreaLike
    from ..spatial.h3cells import Containment

#: Name of the label column of :func:`label_points` / :func:`label_h3` and of the label
#: raster of :func:`label_grid`.
LABEL = "label"
#: Prefix of probability columns: ``p_{label name}``.
PROBABILITY_PREFIX = "p_"
#: A text of at most this many UTF-8 bytes cannot exceed a text model's token limit
#: (a token covers at least one byte; limits are 128 tokens or more), so only longer
#: texts are counted with the tokenizer (which loads the text model).
SAFE_TEXT_BYTES = 100
#: Points scored at a time by :func:`similarity`, :func:`describe` and
#: :func:`label_points` …
SCORE_BATCH = 16_384
#: … and at most this many (point, text) scores at a time (64 MiB of float64 per array),
#: so describing points against a large training vocabulary stays in bounded memory.
SCORE_CELLS = 2**23
#: Qualitative colours of labels (Tableau 10, then its light variants), as ``#rrggbb``.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)  # fmt: skip

PriorLike = None | str | Mapping[str, float] | Sequence[float] | np.ndarray


# ---------------------------------------------------------------------------- texts
def check_texts(texts: str | Sequence[str], what: str = "texts") -> list[str]:
    """``texts`` as a list of non-blank strings (one string is a list of one).

    Examples
    --------
    >>> check_texts("A place of cafe")
    ['A place of cafe']
    >>> check_texts([])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geocalliper.exceptions.EmptyDataError: No texts given: pass at least one, e.g. ...
    """
    if isinstance(texts, str):
        texts = [texts]
    elif isinstance(texts, Mapping) or not isinstance(
        texts, Sequence | pd.Index | pd.Series | np.ndarray
    ):
        kind = type(texts).__name__
        raise TypeError(f"{what} must be a string or a list of strings, got {kind}.")
    texts = list(texts)
    if not texts:
        raise EmptyDataError(f"No {what} given: pass at least one, e.g. ['A place of cafe'].")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise ValueError(
            f"{len(bad)} of the {what} are missing, not strings or blank (positions "
            f"{bad[:5]}); give every one a non-empty text."
        )
    return texts


def check_labels(labels: Sequence[str] | Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Label names and texts from a list of texts (names = texts) or a dict name → text.

    Raises :class:`~geocalliper.exceptions.DuplicateLabelError` when two labels share a
    name or a text (their scores would tie everywhere).

    Examples
    --------
    >>> check_labels({"cafe": "A place of cafe", "park": "A place of park"})
    (['cafe', 'park'], ['A place of cafe', 'A place of park'])
    >>> check_labels(["A place of cafe", "A place of cafe"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geocalliper.exceptions.DuplicateLabelError: Duplicate label text(s) ['A place of cafe']:...
    """
    if isinstance(labels, Mapping):
        names = [str(n) for n in labels]
        blank = [n for n in names if not n.strip()]
        if blank:
            raise ValueError("Label names must not be blank.")
        texts = check_texts(list(labels.values()), "label texts")
    else:
        texts = check_texts(labels, "labels")
        names = list(texts)
    if not names:  # pragma: no cover - check_texts refuses empty lists
        raise EmptyDataError("No labels given.")
    for kind, values in (("text", texts), ("name", names)):
        seen = pd.Index(values)
        if seen.has_duplicates:
            dups = sorted(set(seen[seen.duplicated()]))
            raise DuplicateLabelError(
                f"Duplicate label {kind}(s) {dups[:5]}: every label needs its own {kind}, "
                "or the best match between them is a tie everywhere. Drop or rename them."
            )
    return names, texts


@functools.lru_cache(maxsize=4)
def _encoder(text_model: str | None, cache_dir: str | None, progress: bool) -> Any:
    """One :class:`~geocalliper.text.TextEncoder` per setting, so the text model (when it
    has to be loaded at all) is loaded once per process."""
    from ..text import TextEncoder

    return TextEncoder(text_model, cache_dir=cache_dir, progress=progress)


def _text_encoder(model: CaLLiPer) -> Any:
    cache_dir = None if model.cache_dir is None else str(model.cache_dir)
    return _encoder(model.text_model, cache_dir, bool(model.progress))


def warn_truncated(encoder: Any, texts: Sequence[str]) -> list[int]:
    """Warn about texts longer than the text model accepts; return their positions.

    sentence-transformers silently keeps only the first ``max_seq_length`` tokens of a
    text. Texts of at most :data:`SAFE_TEXT_BYTES` bytes cannot be that long; longer
    ones are counted with the model's own tokenizer (special tokens included).
    """
    long = [i for i, t in enumerate(texts) if len(t.encode("utf-8")) > SAFE_TEXT_BYTES]
    if not long:
        return []
    st_model = encoder.model
    limit = int(st_model.max_seq_length)
    batch = [texts[i] for i in long]
    ids = st_model.tokenizer(batch, add_special_tokens=True, verbose=False)["input_ids"]
    over = [(i, len(t)) for i, t in zip(long, ids, strict=True) if len(t) > limit]
    if over:
        i, n = over[0]
        warnings.warn(
            f"{len(over)} text(s) are longer than the text model accepts ({limit} tokens) "
            f"and were truncated to their first {limit} tokens, e.g. text {i} "
            f"({n} tokens): {texts[i][:60]!r}…. Shorten them to keep every word.",
            TextTruncatedWarning,
            stacklevel=3,
        )
    return [i for i, _ in over]


def text_vectors(
    model: CaLLiPer, texts: str | Sequence[str], *, normalize: bool = True
) -> np.ndarray:
    """Texts projected into the location space: ``(len(texts), embedding_dim)`` float64.

    The frozen text model embeds each text (cached on disk, see
    :class:`~geocalliper.text.TextEncoder`), then the model's trained projector maps it
    to the location space; ``normalize`` L2-normalises the result (as the contrastive
    loss saw it). Texts longer than the text model accepts are truncated, with a
    :class:`~geocalliper.exceptions.TextTruncatedWarning`.

    Raises
    ------
    MissingProjectorError
        The model was saved without its text projector.
    """
    model._check_projector()
    texts = check_texts(texts)
    encoder = _text_encoder(model)
    warn_truncated(encoder, texts)
    table, codes = encoder.encode_unique(texts)
    module = model.module_.eval()
    with torch.inference_mode():
        projected = module.project_text(torch.from_numpy(table).to(model.device_))
        if normalize:
            projected = torch.nn.functional.normalize(projected, dim=-1)
    return projected.cpu().numpy().astype(np.float64)[codes]


def embed_texts(
    model: CaLLiPer, texts: str | Sequence[str], *, normalize: bool = True
) -> pd.DataFrame:
    """:func:`text_vectors` as a DataFrame indexed by the texts, columns ``calliper_0 …``.

    Examples
    --------
    >>> embed_texts(model, ["A place of cafe"]).shape                 # doctest: +SKIP
    (1, 128)
    """
    texts = check_texts(texts)
    vectors = text_vectors(model, texts, normalize=normalize)
    index = pd.Index(texts, name="text")
    return pd.DataFrame(vectors, index=index, columns=embedding_columns(vectors.shape[1]))


def logit_scale(model: CaLLiPer) -> float:
    """The model's learned inverse temperature ``exp(s)`` (clamped as in training)."""
    model._check_projector()
    scale = float(model.module_.logit_scale.detach().exp())
    return min(scale, float(model.max_logit_scale))


# ---------------------------------------------------------------------------- priors
def log_prior(
    model: CaLLiPer, prior: PriorLike, names: Sequence[str], texts: Sequence[str]
) -> np.ndarray | None:
    """The log prior of each label, or ``None`` for no prior.

    ``prior`` is ``None`` (none), ``"training"`` (``log(1 + n)`` with ``n`` the number
    of training POIs whose text is exactly the label's text; the model keeps these
    counts), a mapping from label name (or text) to a non-negative weight (a count or
    a probability; only ratios matter), or weights in label order.
    """
    if prior is None:
        return None
    n = len(names)
    if isinstance(prior, str):
        if prior != "training":
            raise ValueError(
                f"prior must be None, 'training', a mapping label -> weight or a list of "
                f"weights, got {prior!r}."
            )
        counts = training_texts(model)
        weights = 1.0 + counts.reindex(list(texts)).fillna(0).to_numpy(np.float64)
    elif isinstance(prior, Mapping):
        weights = np.empty(n)
        for i, (name, text) in enumerate(zip(names, texts, strict=True)):
            if name in prior:
                weights[i] = prior[name]
            elif text in prior:
                weights[i] = prior[text]
            else:
                raise KeyError(f"The prior has no weight for the label {name!r}.")
    else:
        weights = np.asarray(prior, dtype=np.float64)
        if weights.shape != (n,):
            raise ValueError(f"prior holds {weights.size} weights for {n} labels.")
    weights = np.asarray(weights, dtype=np.float64)
    if not np.isfinite(weights).all() or (weights < 0).any() or not (weights > 0).any():
        raise ValueError(
            "Prior weights must be finite and non-negative, and not all zero (counts or "
            "probabilities of the labels)."
        )
    with np.errstate(divide="ignore"):
        return np.log(weights / weights.sum())


def training_texts(model: CaLLiPer) -> pd.Series:
    """The model's training texts and their POI counts, most frequent first."""
    model._check_fitted()
    counts = getattr(model, "training_texts_", None)
    if counts is None or len(counts) == 0:
        raise MissingTrainingTextsError(
            "This model does not know the texts it was trained on (it was saved by an "
            "older geocalliper). Pass candidates=[...] (and prior=None), or re-run "
            "CaLLiPer.fit(pois) and save the model again."
        )
    return counts


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


# ---------------------------------------------------------------------------- maps
def query_grid(
    model: CaLLiPer,
    area: AreaLike,
    text: str | Sequence[str],
    resolution: float | tuple[float, float],
    crs: Any = None,
    chunks: int | tuple[int, int] | None = None,
    *,
    area_crs: Any = None,
    batch_size: int | None = None,
    max_memory: float | None = None,
    progress: bool | None = None,
) -> xr.DataArray:
    """A raster of the cosine similarity between each grid cell and a text.

    The grid is laid out exactly as :func:`~geocalliper.spatial.raster.embed_grid` lays it out
    (same parameters, snapping, CRS handling, dask ``chunks`` and memory limit); each
    cell's value is the cosine similarity between its centre's location embedding and
    the projected text.

    Parameters
    ----------
    model
        A fitted :class:`~geocalliper.CaLLiPer` with its text projector.
    area, resolution, crs, chunks, area_crs, batch_size, max_memory, progress
        As in :func:`~geocalliper.spatial.raster.embed_grid`.
    text
        The query, e.g. ``"A place of cafe"``; a list gives one band per text.

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)``, one band per text (named by the text), float32 in [-1, 1],
        NaN outside the area; CRS, transform and nodata set, so
        :func:`~geocalliper.io.geotiff.to_geotiff` writes it (the band description is
        the text).

    Examples
    --------
    >>> cafes = query_grid(model, city, "A place of cafe", resolution=50)  # doctest: +SKIP
    >>> to_geotiff(cafes, "cafes.tif")                                    # doctest: +SKIP
    """
    from ..spatial.raster import embed_grid

    texts = check_texts(text)
    scorer = TextScorer(model, text_vectors(model, texts))
    da = embed_grid(
        scorer,
        area,
        resolution,
        crs,
        chunks,
        area_crs=area_crs,
        batch_size=batch_size,
        max_memory=max_memory,
        progress=progress,
    )
    return _renamed(da, texts, "similarity")


def _renamed(da: xr.DataArray, bands: Sequence[str], name: str) -> xr.DataArray:
    da = da.assign_coords(band=list(bands))
    da.name = name
    da.attrs["long_name"] = tuple(bands)
    return da


def label_colors(n: int) -> list[str]:
    """``n`` distinct ``#rrggbb`` colours: :data:`PALETTE`, then evenly spaced hues.

    Examples
    --------
    >>> label_colors(2)
    ['#1f77b4', '#ff7f0e']
    """
    if n <= len(PALETTE):
        return list(PALETTE[:n])
    import colorsys

    extra = []
    for i in range(n - len(PALETTE)):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.65, 0.9)
        extra.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return [*PALETTE, *extra]


def preview_rgb(da: xr.DataArray) -> xr.DataArray:
    """A 3-band ``uint8`` picture of a one-band map, for :func:`~geocalliper.io.geotiff.write_png`.

    A label map (from :func:`label_grid`, with ``category_colors`` in its ``attrs``) gets
    one colour per label; any other map (e.g. :func:`query_grid`) a dark-blue → green →
    yellow ramp stretched between its 2nd and 98th percentiles. Nodata stays 0 (and so
    transparent in the PNG).

    Parameters
    ----------
    da
        A ``(y, x)`` or one-band ``(band, y, x)`` raster with a CRS.

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)`` with bands 1, 2, 3, on the same grid and CRS.

    Examples
    --------
    >>> from geocalliper.io.geotiff import write_png
    >>> write_png(preview_rgb(query_grid(model, area, "A place of cafe", 25)),
    ...           "cafes.png")                                          # doctest: +SKIP
    PosixPath('cafes.png')
    """
    from ..spatial.raster import rio_transform

    xr_mod = import_optional("xarray", "map previews")
    if "band" in da.dims and da.sizes["band"] == 1:
        da = da.squeeze("band", drop=True)
    if da.dims != ("y", "x"):
        sizes = ", ".join(f"{k}={v}" for k, v in da.sizes.items())
        raise ValueError(
            f"preview_rgb needs a one-band map, got {sizes}; pick one band first, e.g. "
            "q.isel(band=[0])."
        )
    one = da
    values = np.asarray(one.values, dtype=np.float64)
    rgb = np.zeros((3, *values.shape), dtype=np.uint8)
    colours = da.attrs.get("category_colors")
    if colours:
        for code, colour in enumerate(colours):
            mask = values == code
            for band in range(3):
                rgb[band][mask] = int(colour[1 + 2 * band : 3 + 2 * band], 16)
    else:
        ok = np.isfinite(values)
        lo, hi = np.percentile(values[ok], [2, 98]) if ok.any() else (0.0, 1.0)
        t = np.clip((values - lo) / max(hi - lo, 1e-12), 0, 1)
        anchors = np.array([[68, 1, 84], [33, 145, 140], [253, 231, 37]], dtype=np.float64)
        for band in range(3):
            ramp = np.interp(t, [0.0, 0.5, 1.0], anchors[:, band])
            rgb[band] = np.where(ok, np.maximum(ramp, 1), 0).astype(np.uint8)
    out = xr_mod.DataArray(
        rgb, dims=("band", "y", "x"), coords={"band": [1, 2, 3], "y": one["y"], "x": one["x"]}
    )
    out.rio.write_crs(one.rio.crs, inplace=True)
    return out.rio.write_transform(rio_transform(one))


def _codes_block(prob: np.ndarray, nodata: int, dtype: str) -> np.ndarray:
    """``(k, h, w)`` probabilities → ``(h, w)`` index of the best label, nodata where NaN."""
    valid = np.isfinite(prob[0])
    codes = np.argmax(np.where(np.isfinite(prob), prob, -np.inf), axis=0)
    return np.where(valid, codes, nodata).astype(dtype)


def label_grid(
    model: CaLLiPer,
    area: AreaLike,
    labels: Sequence[str] | Mapping[str, str],
    resolution: float | tuple[float, float],
    crs: Any = None,
    chunks: int | tuple[int, int] | None = None,
    *,
    probabilities: bool = False,
    prior: PriorLike = None,
    area_crs: Any = None,
    batch_size: int | None = None,
    max_memory: float | None = None,
    progress: bool | None = None,
) -> xr.DataArray | xr.Dataset:
    """A categorical raster: the best-matching label of every grid cell.

    Parameters
    ----------
    model
        A fitted :class:`~geocalliper.CaLLiPer` with its text projector.
    area, resolution, crs, chunks, area_crs, batch_size, max_memory, progress
        As in :func:`~geocalliper.spatial.raster.embed_grid` (the memory limit applies to the
        per-label probabilities the labels are chosen from).
    labels
        A list of texts (each its own name) or a dict name → text.
    probabilities
        Also return the probability of each label per cell (softmax at the model's
        learned temperature, with the prior).
    prior
        As in :func:`label_points`; ``None`` ranks by cosine alone.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        The label raster: ``(y, x)`` codes ``0 … len(labels)-1`` (uint8; uint16 for
        more than 255 labels), nodata 255 (65535) outside the area, named ``"label"``;
        ``attrs`` hold ``category_names``, ``category_texts`` and ``category_colors``,
        which :func:`~geocalliper.io.geotiff.to_geotiff` writes as a colour table and
        category names (a legend in QGIS). With ``probabilities``, a Dataset of
        ``label`` and ``probability`` (``(band, y, x)`` float32, one band per label
        name). With ``chunks`` both are lazy and each computes the probabilities
        afresh: persist the Dataset first (``ds = ds.persist()``) if it fits in memory
        and both are written.

    Examples
    --------
    >>> labels = {"food": "A place of Food", "parks": "A place of Outdoors & Recreation"}
    >>> lab = label_grid(model, city, labels, resolution=100)         # doctest: +SKIP
    >>> to_geotiff(lab, "labels.tif")                                 # doctest: +SKIP
    >>> ds = label_grid(model, city, labels, 100, probabilities=True)  # doctest: +SKIP
    >>> to_geotiff(ds["probability"], "label-probabilities.tif")      # doctest: +SKIP
    """
    from ..spatial.raster import embed_grid, rio_transform

    xr_mod = import_optional("xarray", "label rasters")
    names, texts, scorer = _label_scorer(model, labels, prior)
    if len(names) > 65_535:
        raise ValueError(f"At most 65,535 labels fit a raster, got {len(names)}.")
    prob = embed_grid(
        scorer,
        area,
        resolution,
        crs,
        chunks,
        area_crs=area_crs,
        batch_size=batch_size,
        max_memory=max_memory,
        progress=progress,
    )
    prob = _renamed(prob, names, "probability")
    dtype, nodata = ("uint8", 255) if len(names) <= 255 else ("uint16", 65_535)
    data = prob.data
    if type(data).__module__.split(".")[0] == "dask":
        codes = data.map_blocks(
            _codes_block, nodata, dtype, drop_axis=0, dtype=dtype, meta=np.empty((0, 0), dtype)
        )
    else:
        codes = _codes_block(np.asarray(data), nodata, dtype)
    label = xr_mod.DataArray(
        codes, dims=("y", "x"), coords={"y": prob.y.values, "x": prob.x.values}, name=LABEL
    )
    label.rio.write_crs(prob.rio.crs, inplace=True)
    label.rio.write_transform(rio_transform(prob), inplace=True)
    label.rio.write_nodata(nodata, encoded=False, inplace=True)
    label.attrs.update(
        long_name=(LABEL,),
        category_names=tuple(names),
        category_texts=tuple(texts),
        category_colors=tuple(label_colors(len(names))),
    )
    if not probabilities:
        return label
    return xr_mod.Dataset({LABEL: label, "probability": prob})


def query_h3(
    model: CaLLiPer,
    area: AreaLike,
    text: str | Sequence[str],
    resolution: int,
    how: Literal["center", "mean"] = "center",
    n_samples: int = 16,
    seed: int = 0,
    *,
    contain: Containment = "overlap",
    max_cells: int | None = None,
    area_crs: Any = None,
    batch_size: int | None = None,
) -> gpd.GeoDataFrame:
    """The cosine similarity between each H3 cell covering an area and a text.

    Parameters are those of :func:`~geocalliper.spatial.h3cells.embed_h3` (``how="mean"``
    averages the similarity over points sampled in each cell), plus ``text``: one text
    or a list. ``max_cells`` defaults to the H3 module's limit.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by H3 cell id, one float column per text (named by the text) and the
        hexagon ``geometry`` (EPSG:4326); ``to_file("q.gpkg")`` writes it.

    Examples
    --------
    >>> cells = query_h3(model, city, "A place of cafe", resolution=9)  # doctest: +SKIP
    >>> cells.to_file("cafes.gpkg")                                     # doctest: +SKIP
    """
    texts = check_texts(text)
    scorer = TextScorer(model, text_vectors(model, texts))
    return _score_h3(
        scorer, texts, area, resolution, how, n_samples, seed,
        contain=contain, max_cells=max_cells, area_crs=area_crs, batch_size=batch_size,
    )  # fmt: skip


def _score_h3(
    scorer: TextScorer,
    columns: Sequence[str],
    area: AreaLike,
    resolution: int,
    how: str,
    n_samples: int,
    seed: int,
    **kwargs: Any,
) -> gpd.GeoDataFrame:
    """:func:`~geocalliper.spatial.h3cells.embed_h3` of the scorer, columns renamed."""
    from ..spatial.h3cells import DEFAULT_MAX_CELLS, embed_h3

    if kwargs.get("max_cells") is None:
        kwargs["max_cells"] = DEFAULT_MAX_CELLS
    cells = embed_h3(scorer, area, resolution, how, n_samples, seed, **kwargs)
    names = dict(zip(embedding_columns(len(columns)), columns, strict=True))
    return cells.rename(columns=names)


def label_h3(
    model: CaLLiPer,
    area: AreaLike,
    labels: Sequence[str] | Mapping[str, str],
    resolution: int,
    how: Literal["center", "mean"] = "center",
    n_samples: int = 16,
    seed: int = 0,
    *,
    probabilities: bool = False,
    prior: PriorLike = None,
    contain: Containment = "overlap",
    max_cells: int | None = None,
    area_crs: Any = None,
    batch_size: int | None = None,
) -> gpd.GeoDataFrame:
    """The best-matching label of each H3 cell covering an area.

    Parameters are those of :func:`~geocalliper.spatial.h3cells.embed_h3` and of
    :func:`label_points` (``labels``, ``probabilities``, ``prior``); ``how="mean"``
    averages the label probabilities over points sampled in each cell.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by H3 cell id: ``label`` (the label name), with ``probabilities`` one
        ``p_{name}`` column per label, and the hexagon ``geometry`` (EPSG:4326).

    Examples
    --------
    >>> cells = label_h3(model, city, ["A place of Food", "A place of Nightlife Spot"],
    ...                  resolution=9, probabilities=True)              # doctest: +SKIP
    >>> cells.to_file("labels.gpkg")                                    # doctest: +SKIP
    """
    names, _, scorer = _label_scorer(model, labels, prior)
    cols = probability_columns(names)
    cells = _score_h3(
        scorer, cols, area, resolution, how, n_samples, seed,
        contain=contain, max_cells=max_cells, area_crs=area_crs, batch_size=batch_size,
    )  # fmt: skip
    prob = cells[cols].to_numpy()
    best = np.asarray(names, dtype=object)[prob.argmax(axis=1)]
    out = cells[[]].assign(**{LABEL: best})
    if probabilities:
        out = out.join(cells[cols])
    return gpd.GeoDataFrame(out, geometry=cells.geometry.values, crs=cells.crs)


__all__ = [
    "LABEL",
    "PALETTE",
    "TextScorer",
    "check_labels",
    "check_texts",
    "describe",
    "embed_texts",
    "label_colors",
    "label_grid",
    "label_h3",
    "label_points",
    "log_prior",
    "logit_scale",
    "query_grid",
    "query_h3",
    "similarity",
    "text_vectors",
    "training_texts",
    "warn_truncated",
]
