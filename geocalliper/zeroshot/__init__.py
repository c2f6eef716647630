"""Ask the map in words: zero-shot text queries over CaLLiPer location embeddings.

CaLLiPer trains a text projector beside the location encoder, so places and texts share
one space. This package compares them:

* :func:`similarity` — cosine similarity of points and texts (a DataFrame);
* :func:`describe` — the best-matching texts per point, by default among the training
  texts, ranked with their training frequency as a prior (a tidy DataFrame);
* :func:`label_points` — the best of a set of labels per point, with probabilities;
* :func:`query_grid` / :func:`query_h3` — a similarity map of a text over a study area
  (a raster like :func:`~geocalliper.spatial.raster.embed_grid`, or H3 hexagons);
* :func:`label_grid` / :func:`label_h3` — a categorical map: the best label per cell,
  optionally with the probability of every label;
* :func:`~geocalliper.io.style.preview_rgb` — a query or label raster as an RGB picture for
  a PNG (it moved to :mod:`geocalliper.io.style`; re-exported here for one release).

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

The package has three modules: :mod:`~geocalliper.zeroshot.texts` puts texts in the
location space (checks, projection, priors); :mod:`~geocalliper.zeroshot.scoring` scores
points against them (:class:`TextScorer`, :func:`similarity`, :func:`describe`,
:func:`label_points`); :mod:`~geocalliper.zeroshot.maps` builds grids and H3 cells of
scores and labels.

Every public name of the former single module ``geocalliper.zeroshot`` is importable from
here as before.
"""

from ..io.style import PALETTE, label_colors, preview_rgb
from .maps import label_grid, label_h3, query_grid, query_h3
from .scoring import (
    LABEL,
    PROBABILITY_PREFIX,
    SCORE_BATCH,
    SCORE_CELLS,
    TextScorer,
    describe,
    label_points,
    probability_columns,
    similarity,
)
from .texts import (
    SAFE_TEXT_BYTES,
    PriorLike,
    check_labels,
    check_texts,
    embed_texts,
    log_prior,
    logit_scale,
    text_vectors,
    training_texts,
    warn_truncated,
)

__all__ = [
    "LABEL",
    "PALETTE",
    "PROBABILITY_PREFIX",
    "SAFE_TEXT_BYTES",
    "SCORE_BATCH",
    "SCORE_CELLS",
    "PriorLike",
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
    "preview_rgb",
    "probability_columns",
    "query_grid",
    "query_h3",
    "similarity",
    "text_vectors",
    "training_texts",
    "warn_truncated",
]
