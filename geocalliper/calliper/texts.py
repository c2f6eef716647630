"""Checks of the training texts that ``CaLLiPer.fit`` runs before any embedding."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..exceptions import DegenerateTextsError

#: fewest distinct texts a contrastive loss can learn from
MIN_DISTINCT_TEXTS = 2


def check_training_texts(texts: Sequence[str], text_model: str | os.PathLike | None = None) -> None:
    """Refuse training texts the loss cannot learn from; warn about truncated ones.

    With a single distinct text every location is paired with the same text vector,
    so the contrastive loss stays at chance and the model learns nothing: that raises
    :class:`~geocalliper.exceptions.DegenerateTextsError`. Texts longer than the text
    model accepts are truncated to its first tokens with a
    :class:`~geocalliper.exceptions.TextTruncatedWarning`, as in zero-shot queries.

    Examples
    --------
    >>> check_training_texts(["A place of cafe"] * 20)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geocalliper.exceptions.DegenerateTextsError: All 20 POIs have the same text ...
    """
    distinct = set(texts)
    if len(distinct) < MIN_DISTINCT_TEXTS:
        example = next(iter(distinct), "")
        raise DegenerateTextsError(
            f"All {len(texts)} POIs have the same text ({example[:60]!r}), so the "
            "contrastive loss cannot tell places apart and the model would learn nothing. "
            "Give texts that describe each POI, e.g. text='A place of {fclass}' or "
            "geocalliper.osm_text(pois)."
        )
    from ..text import TextEncoder
    from ..zeroshot.texts import warn_truncated

    warn_truncated(TextEncoder(text_model, cache=False, progress=False), list(texts))
