"""The MHSA next-location transformer (Hong et al.), in pure torch: tensors in, tensors out.

Location features come from a trainable lookup table, from frozen CaLLiPer
embeddings of each visit's coordinates, or both. Time (hour, quarter-hour,
weekday) and duration embeddings are added; sinusoidal positions; a post-norm
transformer encoder with a mask that lets each query see only the visits of its
target's window; a user embedding and a residual fully-connected block. Two heads:

- :meth:`MHSA.closed_logits`: the reference softmax over the training vocabulary;
- :meth:`MHSA.inductive_logits`: scores any candidate place from its CaLLiPer
  embedding, plus a learned vector and bias for known ids (a shared bias for unknown
  ones) and a revisit term (closeness to the visits in the query's window), so places
  never seen in training can be ranked; optionally (``place_features``) a learned
  function of per-candidate features that are the same in kind for known and new
  places (:meth:`MHSA.place_features`, :meth:`MHSA.place_scores`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from .sequences import N_DURATION_BINS, PAD

#: scale of the revisit term's two scalar parameters (see ``MHSA.__init__``)
REVISIT_GAIN = 10.0
#: knots of the distance term, in ``log1p(metres / DISTANCE_UNIT_M)`` (0 m … 55 km)
DISTANCE_KNOTS = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0)
DISTANCE_UNIT_M = 50.0
#: features of a window's place: log1p(window visits), log1p(hours since the latest),
#: is the last visit's place, log1p(distance from the last visit / 50 m)
N_PLACE_FEATURES = 4


class PlaceFeatures(NamedTuple):
    """What :meth:`MHSA.place_scores` needs for ``M`` queries, ``C`` candidates and
    windows of ``L`` tokens."""

    log_dist: torch.Tensor  # (M, C): log1p(distance from the last visit / 50 m)
    window: torch.Tensor  # (M, L, N_PLACE_FEATURES): of each window token's place
    key_cand: torch.Tensor  # (M, L): candidate index of each window token's place
    latest: torch.Tensor  # (M, L) bool: the window's latest visit to a candidate


def sinusoidal_positions(length: int, dim: int, device: torch.device) -> torch.Tensor:
    """``(length, dim)`` sinusoidal position encoding (Vaswani et al.)."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10_000.0) / dim)
    )
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe


def window_mask(
    day: torch.Tensor, query_day: torch.Tensor, key_ok: torch.Tensor, history_days: int
) -> torch.Tensor:
    """``(B, L, L)`` bool: may query ``q`` attend to key ``k``?

    Causal (``k <= q``), ``day[k] >= query_day[q] - history_days``, the key is a real,
    visible token; every token may attend to itself, so no row is empty.
    """
    length = day.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=day.device).tril()
    recent = day[:, None, :] >= (query_day[:, :, None] - history_days)
    allowed = causal[None] & recent & key_ok[:, None, :]
    return allowed | torch.eye(length, dtype=torch.bool, device=day.device)[None]


def _unique_first(keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distinct ``keys``, the index of one occurrence of each, and each key's position
    among the distinct ones (1-D :func:`torch.unique` is fast; ``dim=0`` is not)."""
    uniq, inverse = torch.unique(keys, return_inverse=True)
    first = torch.zeros(len(uniq), dtype=torch.long, device=keys.device)
    first.scatter_(0, inverse, torch.arange(len(keys), device=keys.device))
    return uniq, first, inverse


class MHSA(nn.Module):
    """Multi-head self-attention next-location model.

    Parameters
    ----------
    n_locations
        Vocabulary size (known locations); lookup indices are ``2 .. n_locations + 1``
        (0 = padding, 1 = unknown).
    n_users
        Known users; index 0 is the shared embedding of unknown users.
    location_dim
        Width of the CaLLiPer features (0: none).
    use_lookup
        Learn a lookup-table location embedding.
    inductive
        Build the inductive head (else the closed head).
    d_model, n_layers, n_heads, ff_dim, dropout
        Transformer shape.
    history_days
        Window of days each query may attend to.
    id_vectors
        Inductive head: give each known id a learned vector on top of its
        coordinates' vector (else known places differ from new ones by their bias only).
    place_features
        Inductive head: add :meth:`place_scores`, a small learned function (width
        ``place_hidden``) of the candidate's :meth:`place_features` and the hidden state.
    """

    def __init__(
        self,
        n_locations: int,
        n_users: int,
        *,
        location_dim: int = 0,
        use_lookup: bool = True,
        inductive: bool = False,
        d_model: int = 128,
        n_layers: int = 2,
        n_heads: int = 8,
        ff_dim: int = 256,
        dropout: float = 0.1,
        history_days: int = 7,
        id_vectors: bool = True,
        place_features: bool = False,
        place_hidden: int = 16,
    ) -> None:
        super().__init__()
        if not use_lookup and location_dim <= 0:
            raise ValueError("The model needs location features: a lookup table or CaLLiPer.")
        if inductive and location_dim <= 0:
            raise ValueError("The inductive head needs CaLLiPer location embeddings.")
        self.d_model = d_model
        self.history_days = history_days
        self.inductive = inductive
        self.lookup = (
            nn.Embedding(n_locations + 2, d_model, padding_idx=PAD) if use_lookup else None
        )
        self.location_proj = nn.Linear(location_dim, d_model) if location_dim > 0 else None
        self.hour = nn.Embedding(24, d_model)
        self.quarter = nn.Embedding(4, d_model)
        self.weekday = nn.Embedding(7, d_model)
        self.duration = nn.Embedding(N_DURATION_BINS, d_model)
        self.user = nn.Embedding(n_users + 1, d_model)
        self.input_drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, ff_dim, dropout, activation="relu", batch_first=True
        )
        self.encoder = nn.TransformerEncoder(
            layer, n_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False
        )
        self.n_heads = n_heads
        self.fc = nn.Linear(d_model, d_model)
        self.fc_drop = nn.Dropout(dropout)
        self.fc_norm = nn.LayerNorm(d_model)
        if inductive:
            self.query = nn.Linear(d_model, d_model)
            self.candidate = nn.Sequential(
                nn.Linear(location_dim, d_model), nn.ReLU(), nn.Linear(d_model, d_model)
            )
            # per known id: a vector added to the coordinate-based one, and a bias;
            # row 0 is every unknown place (a zero vector, a learned bias)
            # (small initial values, as a linear layer's, so learning is not swamped)
            self.id_vectors = None
            if id_vectors:
                self.id_vectors = nn.Embedding(n_locations + 1, d_model, padding_idx=0)
                bound = 1 / math.sqrt(d_model)
                nn.init.uniform_(self.id_vectors.weight, -bound, bound)
                with torch.no_grad():
                    self.id_vectors.weight[0].zero_()
            self.bias = nn.Embedding(n_locations + 1, 1)
            nn.init.zeros_(self.bias.weight)
            # revisits: how near a candidate lies to the visits in the query's window
            # (a kernel of learned width, in metres), so a new place the user was just
            # at can be ranked without any id
            # (both are stored divided by REVISIT_GAIN so that Adam, whose steps are
            # about the learning rate in size, can move them far enough)
            self.revisit_log_width = nn.Parameter(torch.tensor(math.log(50.0) / REVISIT_GAIN))
            self.revisit_weight = nn.Parameter(torch.tensor(1.0 / REVISIT_GAIN))
            self.place_in = self.place_query = self.place_distance = None
            if place_features:
                self.place_in = nn.Linear(N_PLACE_FEATURES, place_hidden)
                self.place_query = nn.Linear(d_model, place_hidden)
                self.place_distance = nn.Linear(d_model, len(DISTANCE_KNOTS))
            self.head = None
        else:
            self.head = nn.Linear(d_model, n_locations)

    def forward(
        self,
        loc_idx: torch.Tensor,
        loc_emb: torch.Tensor | None,
        feats: torch.Tensor,
        user_idx: torch.Tensor,
        day: torch.Tensor,
        query_day: torch.Tensor,
        key_ok: torch.Tensor,
    ) -> torch.Tensor:
        """Hidden state of every query position, ``(B, L, d_model)``.

        ``loc_idx`` (B, L) lookup indices; ``loc_emb`` (B, L, E) CaLLiPer features or
        ``None``; ``feats`` (B, L, 4) hour, quarter, weekday, duration bin;
        ``user_idx`` (B,); ``day``/``query_day`` (B, L) day numbers; ``key_ok`` (B, L).
        """
        x = torch.zeros(*loc_idx.shape, self.d_model, device=loc_idx.device)
        if self.lookup is not None:
            x = x + self.lookup(loc_idx)
        if self.location_proj is not None:
            x = x + self.location_proj(F.normalize(loc_emb, dim=-1))
        x = x * math.sqrt(self.d_model)
        x = x + self.hour(feats[..., 0]) + self.quarter(feats[..., 1])
        x = x + self.weekday(feats[..., 2]) + self.duration(feats[..., 3])
        x = self.input_drop(x + sinusoidal_positions(x.shape[1], self.d_model, x.device))
        allowed = window_mask(day, query_day, key_ok, self.history_days)
        mask = torch.zeros(allowed.shape, device=x.device).masked_fill(~allowed, float("-inf"))
        mask = mask.repeat_interleave(self.n_heads, dim=0)
        h = self.encoder(x, mask=mask)
        h = h + self.user(user_idx)[:, None, :]
        return self.fc_norm(h + self.fc_drop(F.relu(self.fc(h))))

    def closed_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """``(..., n_locations)`` logits over the training vocabulary."""
        if self.head is None:
            raise RuntimeError("This model has the inductive head; use inductive_logits.")
        return self.head(hidden)

    def candidate_vectors(self, cand_emb: torch.Tensor) -> torch.Tensor:
        """``(C, d_model)`` vectors of candidates from their CaLLiPer embeddings."""
        return self.candidate(F.normalize(cand_emb, dim=-1))

    def revisits(
        self,
        day: torch.Tensor,
        query_day: torch.Tensor,
        key_ok: torch.Tensor,
        token_xy: torch.Tensor,
        cand_xy: torch.Tensor,
        rows: torch.Tensor | None = None,
        cols: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``log(1 + sum over the query's window of exp(-d / width))`` for every
        candidate, with ``d`` the distance in metres from each window visit to it.

        ``token_xy`` (B, L, 2) and ``cand_xy`` (C, 2) are projected metres (centred).
        The queries are the tokens ``(rows[i], cols[i])``: the result is ``(M, C)``;
        without ``rows``/``cols`` every token is a query and the result is ``(B, L, C)``.

        Each distinct visited position is measured once: the sum is ``counts @ kernel``
        with ``counts`` (M, P) the window visits of each query at each of the batch's
        ``P`` distinct positions and ``kernel`` (P, C) (not ``(B, L, L) @ (B, L, C)``).
        """
        b, length = day.shape
        full = rows is None
        if full:
            rows = torch.arange(b, device=day.device).repeat_interleave(length)
            cols = torch.arange(length, device=day.device).repeat(b)
        allowed = window_mask(day, query_day, key_ok, self.history_days)[rows, cols]  # (M, L)
        width = (REVISIT_GAIN * self.revisit_log_width).exp()
        n_query, n_cand = len(rows), len(cand_xy)
        q_idx, k_idx = allowed.nonzero(as_tuple=True)
        # distinct visited positions, and how often each query's window holds each
        key_xy = token_xy[rows[q_idx], k_idx].detach().float().contiguous()
        bits = key_xy.view(torch.int32).to(torch.int64)  # exact: a position's float bits
        _, first_of, place_of = _unique_first(bits[:, 0] * (1 << 32) + (bits[:, 1] & 0xFFFFFFFF))
        places = key_xy[first_of].to(cand_xy.dtype)
        pair, weight = torch.unique(q_idx * len(places) + place_of, return_counts=True)
        pair_q, pair_p = pair // len(places), pair % len(places)
        dist = torch.cdist(places, cand_xy, compute_mode="donot_use_mm_for_euclid_dist")
        counts = torch.zeros(n_query, len(places), device=day.device, dtype=dist.dtype)
        counts[pair_q, pair_p] = weight.to(dist.dtype)
        out = torch.log1p(counts @ torch.exp(-dist / width))
        return out.view(b, length, n_cand) if full else out

    def place_features(
        self,
        day: torch.Tensor,
        feats: torch.Tensor,
        query_day: torch.Tensor,
        key_ok: torch.Tensor,
        token_cand: torch.Tensor,
        token_xy: torch.Tensor,
        cand_xy: torch.Tensor,
        rows: torch.Tensor,
        cols: torch.Tensor,
    ) -> PlaceFeatures:
        """Features of ``C`` candidates for ``M`` queries (:class:`PlaceFeatures`).

        The queries are the tokens ``(rows[i], cols[i])``; ``token_cand`` (B, L) is the
        candidate index of each token's place (-1: none of them). For every place of a
        query's window (its own visit included, as the last one), at the window's latest
        visit there: ``log1p`` of how often the window visited it, ``log1p`` of the
        hours since that latest visit, whether it is the last visit's place, and its
        ``log1p(d / 50 m)`` distance from the last visit. For every candidate: that
        distance. Nothing here depends on whether a place was seen in training.
        """
        allowed = window_mask(day, query_day, key_ok, self.history_days)
        allowed = allowed & key_ok[:, None, :]
        cand = token_cand[rows]  # (M, L)
        ok = allowed[rows, cols] & (cand >= 0)
        same = (cand[:, :, None] == cand[:, None, :]) & ok[:, :, None] & ok[:, None, :]
        count = same.sum(-1)  # (M, L): window visits to each key's place
        later = torch.ones(same.shape[-1], same.shape[-1], device=day.device).triu(1).bool()
        latest = ok & ~(same & later).any(-1)  # the window's last visit to its place
        minutes = day * 1440 + feats[..., 0] * 60 + feats[..., 1] * 15
        minutes = (minutes - minutes.min()).to(token_xy.dtype)  # exact in float32
        hours = (minutes[rows, cols][:, None] - minutes[rows]).clamp(min=0.0) / 60.0
        q_cand = token_cand[rows, cols]
        is_last = ((cand == q_cand[:, None]) & (q_cand[:, None] >= 0)).to(token_xy.dtype)
        q_xy = token_xy[rows, cols]  # (M, 2)
        dist = torch.cdist(q_xy[None], cand_xy[None])[0]  # (M, C)
        log_dist = torch.log1p(dist / DISTANCE_UNIT_M)
        key_dist = log_dist.gather(1, cand.clamp(min=0))
        window = torch.stack(
            [torch.log1p(count.to(token_xy.dtype)), torch.log1p(hours), is_last, key_dist],
            dim=-1,
        )
        return PlaceFeatures(log_dist, window, cand.clamp(min=0), latest)

    def place_scores(self, hidden: torch.Tensor, place: PlaceFeatures) -> torch.Tensor:
        """``(M, C)``: a function of distance from the last visit, piecewise linear in
        ``log1p(d / 50 m)`` with knots at :data:`DISTANCE_KNOTS` whose values depend on
        the query, plus, for the window's places, ``relu(W_f window) · (W_h hidden)``."""
        if self.place_in is None:
            raise RuntimeError("This model was built without place_features.")
        knots = self.place_distance(hidden)  # (M, K)
        n = len(DISTANCE_KNOTS)
        x = place.log_dist.clamp(max=float(n - 1))
        lo = x.floor().long().clamp(max=n - 2)
        frac = x - lo
        scores = knots.gather(1, lo) * (1 - frac) + knots.gather(1, lo + 1) * frac
        g = F.relu(self.place_in(place.window))  # (M, L, H)
        per_key = torch.einsum("mlh,mh->ml", g, self.place_query(hidden))
        per_key = torch.where(place.latest, per_key, torch.zeros_like(per_key))
        return scores.scatter_add(1, place.key_cand, per_key)

    def inductive_logits(
        self,
        hidden: torch.Tensor,
        cand_vec: torch.Tensor,
        cand_bias_idx: torch.Tensor,
        revisits: torch.Tensor | None = None,
        place_features: PlaceFeatures | None = None,
    ) -> torch.Tensor:
        """``(..., C)`` scores of ``C`` candidates.

        ``cand_vec`` from :meth:`candidate_vectors`; ``cand_bias_idx`` (C,) is a
        candidate's vocabulary position + 1, or 0 for a place not in the vocabulary.
        A known place is scored by its coordinates' vector plus its own id vector and
        bias; an unknown one by its coordinates' vector and the shared bias. Both add
        the learned revisit weight times their :meth:`revisits` row (``(..., C)``), if given,
        and :meth:`place_scores` of ``place_features``, if given.
        """
        q = self.query(hidden)
        vec = cand_vec if self.id_vectors is None else cand_vec + self.id_vectors(cand_bias_idx)
        scores = q @ vec.T + self.bias(cand_bias_idx).squeeze(-1)
        if revisits is not None:
            scores = scores + REVISIT_GAIN * self.revisit_weight * revisits
        if place_features is not None:
            scores = scores + self.place_scores(hidden, place_features)
        return scores
