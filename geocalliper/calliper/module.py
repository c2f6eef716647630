"""The CaLLiPer torch module and its contrastive loss. Pure tensors, no I/O."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..encoders import LocationEncoder


class CaLLiPerModule(nn.Module):
    """Location encoder, text projector and learnable temperature.

    ``forward(coords, text_embeddings)`` returns the L2-normalised location
    embeddings and the projected text embeddings (L2-normalised too unless
    ``normalize_text=False``), ready for :func:`contrastive_loss`.

    Parameters
    ----------
    text_dim
        Size of the frozen text embeddings (384 for all-MiniLM-L6-v2).
    temperature
        Initial temperature; the learnable logit scale starts at ``ln(1/temperature)``.
    max_logit_scale
        The logit scale ``exp(s)`` is clamped to ``[1, max_logit_scale]``, as in CLIP;
        ``None`` leaves it free (the CaLLiPer reference).
    normalize_text
        L2-normalise the projected text embeddings (``False`` is the reference).
    **location_kwargs
        Passed to :class:`~geocalliper.encoders.LocationEncoder`.

    Examples
    --------
    >>> m = CaLLiPerModule(text_dim=8, num_scales=4, embedding_dim=16)
    >>> loc, txt = m(torch.zeros(4, 2, dtype=torch.float64), torch.randn(4, 8))
    >>> loc.shape, txt.shape
    (torch.Size([4, 16]), torch.Size([4, 16]))
    """

    def __init__(
        self,
        text_dim: int = 384,
        temperature: float = 0.07,
        max_logit_scale: float | None = 100.0,
        dtype: torch.dtype = torch.float32,
        normalize_text: bool = True,
        **location_kwargs: float,
    ) -> None:
        super().__init__()
        self.location = LocationEncoder(dtype=dtype, **location_kwargs)
        embedding_dim = self.location.net.output.out_features
        self.text_projector = nn.Linear(text_dim, embedding_dim).to(dtype)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature), dtype=dtype))
        self.max_log_scale = None if max_logit_scale is None else math.log(max_logit_scale)
        self.normalize_text = bool(normalize_text)

    def forward(
        self, coords: torch.Tensor, text_embeddings: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        loc = F.normalize(self.location(coords), dim=-1)
        txt = self.project_text(text_embeddings)
        if self.normalize_text:
            txt = F.normalize(txt, dim=-1)
        return loc, txt

    def project_text(self, text_embeddings: torch.Tensor) -> torch.Tensor:
        """Project frozen text embeddings into the location-embedding space."""
        return self.text_projector(text_embeddings.to(self.text_projector.weight.dtype))

    @torch.no_grad()
    def clamp_logit_scale_(self) -> None:
        """Keep ``exp(s)`` within ``[1, max_logit_scale]``, as CLIP does (if capped)."""
        if self.max_log_scale is not None:
            self.logit_scale.clamp_(0.0, self.max_log_scale)


def contrastive_loss(
    loc: torch.Tensor,
    txt: torch.Tensor,
    logit_scale: torch.Tensor,
    text_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Bidirectional InfoNCE: mean of location→text and text→location cross-entropy.

    ``logits = exp(s) · L Tᵀ`` with matching pairs on the diagonal. With ``text_ids``
    (one integer per pair), pairs that share a text are positives too: each row's
    target spreads evenly over the columns with the same text, instead of treating
    an identical text as a negative (the in-batch false negatives that many POIs
    with one text create). Without it, the reference loss.

    Examples
    --------
    >>> eye = torch.eye(3)
    >>> float(contrastive_loss(eye, eye, torch.tensor(0.0))) > 0
    True
    >>> same = contrastive_loss(eye, eye, torch.tensor(0.0), torch.tensor([0, 0, 1]))
    >>> float(same) < float(contrastive_loss(eye, eye, torch.tensor(0.0)))
    True
    """
    logits = logit_scale.exp() * loc @ txt.T
    if text_ids is None:
        target = torch.arange(loc.shape[0], device=loc.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    positive = (text_ids[:, None] == text_ids[None, :]).to(logits.dtype)
    target = positive / positive.sum(dim=1, keepdim=True)  # symmetric mask: rows = columns
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
