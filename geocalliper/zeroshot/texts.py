"""Texts in the location space: checks, projection, the learned temperature and priors.

The text half of zero-shot queries, before any place is scored: texts and labels are
checked (:func:`check_texts`, :func:`check_labels`), embedded by the frozen text model and
mapped by the model's trained projector into the location space (:func:`text_vectors`,
:func:`embed_texts`, with a warning for texts the text model truncates), and weighted by a
prior (:func:`log_prior`, e.g. the training texts' frequencies, :func:`training_texts`).
:mod:`geocalliper.zeroshot.scoring` compares them with places.

The ``model`` is a fitted :class:`~geocalliper.CaLLiPer` (its text projector, logit scale
and text-model settings); it is only ever passed in, never imported at run time.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from .._constants import embedding_columns
from ..exceptions import (
    DuplicateLabelError,
    EmptyDataError,
    MissingTrainingTextsError,
    TextTruncatedWarning,
)

if TYPE_CHECKING:
    from ..calliper import CaLLiPer

#: A text of at most this many UTF-8 bytes cannot exceed a text model's token limit
#: (a token covers at least one byte; limits are 128 tokens or more), so only longer
#: texts are counted with the tokenizer (which loads the text model).
SAFE_TEXT_BYTES = 100

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
