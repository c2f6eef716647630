"""The :class:`NextLocationPredictor` estimator: visits GeoDataFrames in, places out.

Length: about 780 lines, nearly all of them the one class (parameters, ``fit``,
``predict``, ``evaluate``, ``save``/``load`` and the place features of each head); the
model, sequences, split, training loop and metrics already live in their own modules of
:mod:`geocalliper.mobility`, and splitting the class would scatter one public object.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import torch
from pyproj import Transformer

from .._constants import (
    CALLIPER_SUBDIR,
    DURATION_COLUMN,
    END_COLUMN,
    LOCATION_COLUMN,
    PREDICTOR_KIND,
    SPLIT_COLUMN,
    SPLITS,
    START_COLUMN,
    USER_COLUMN,
    WGS84,
)
from .._params import FittedModuleMixin, ParamsMixin
from ..calliper.estimator import CaLLiPer, default_device
from ..exceptions import EmptyDataError, ModelFileError, NotFittedError
from ..io.persistence import load_model_dir, staged_dir, write_model_dir
from .metrics import next_location_scores
from .module import MHSA
from .sequences import (
    UNKNOWN,
    Batch,
    Sequences,
    build_sequences,
    iter_budget_batches,
    make_batch,
)
from .split import split_by_day
from .training import TrainConfig, train_next_location
from .visits import candidate_points, location_table, match_ids, prepare_visits

_FEATURES = ("lookup", "calliper", "both")
_HEADS = ("closed", "inductive")
_RUNTIME_PARAMS = ("calliper", "device", "progress")
#: scoring batches: chunks × (longest chunk)² at most (bounds the attention maps' memory)
EVAL_CELLS = 2_000_000
#: inductive scoring: queries per block (a block holds a few queries × candidates maps)
PLACE_ROWS = 1024
#: candidate sets (other than the known locations) whose embeddings are kept, most recent
CANDIDATE_CACHE = 4


def _json_id(value: Any) -> Any:
    """A location or user id as a JSON value (numpy scalars to Python)."""
    return value.item() if hasattr(value, "item") else value


def _check_k(k: Any) -> int:
    """``k`` as an ``int``: a whole number of places, at least 1 (NumPy integers too)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k (places per user) must be a whole number of at least 1, got {k!r}.")
    return int(k)


def _candidate_of_visit(where: pd.Series, table: pd.DataFrame) -> np.ndarray:
    """Each visit's candidate index (``where``: id -> index), -1 for none."""
    locs = table["location"].to_numpy(dtype=object)
    return where.reindex(locs).fillna(-1).to_numpy().astype(np.int64)


class NextLocationPredictor(ParamsMixin, FittedModuleMixin):
    """Predict where a person goes next from their recent visits (MHSA transformer).

    Configuration goes in ``__init__``; learned state (attributes ending in ``_``)
    appears after :meth:`fit` or :meth:`load`.

    Parameters
    ----------
    calliper
        A fitted :class:`~geocalliper.CaLLiPer` (or the path of a saved one) whose
        frozen encoder gives location features; ``None`` for the lookup-table model.
    features
        ``"lookup"`` (a trainable embedding per known location: the "vanilla"
        control), ``"calliper"`` (CaLLiPer embeddings of each visit's coordinates) or
        ``"both"`` (summed; places unknown in training use a shared lookup row).
        Default: ``"both"`` with a CaLLiPer model, else ``"lookup"``.
    head
        ``"closed"`` (the reference softmax over training locations) or
        ``"inductive"`` (scores any place by its CaLLiPer embedding, so places never
        seen in training can be predicted). Default: ``"inductive"`` with a CaLLiPer
        model, else ``"closed"``.
    d_model, n_layers, n_heads, ff_dim, dropout
        Transformer shape (MHSA: d 128 / 6 layers on FSQ, d 32–64 / 2 layers on
        GeoLife; 8 heads; FF 256).
    history_days, min_history
        History = the user's visits in the ``history_days`` days before a target; a
        target is scored with at least ``min_history`` of them.
    chunk_targets
        Targets per causal pass in training (see :mod:`geocalliper.mobility.sequences`);
        evaluation and :meth:`predict` score each target on its own window.
    batch_size, max_epochs, learning_rate, weight_decay, warmup_epochs, patience
        Training: Adam, linear warm-up then linear decay, early stopping on the
        validation loss after ``patience`` epochs without improvement; the best
        epoch's weights are kept. ``batch_size`` counts chunks.
    lr_drops
        Times training goes on from the best weights with the learning rate ×0.1
        instead of stopping (the reference MHSA schedule: 2).
    unknown_rate
        Inductive head: share of known locations treated as unknown in each batch
        (their id bias and lookup row hidden), so the model learns to score places
        from their coordinates alone. Half of them by default: with place
        features, a model that leans on ids ranks new places lower (GeoLife, seed 0,
        masked targets: Acc@1 33.8 with 0.1, 37.6 with 0.5).
    place_features
        Inductive head: also score each candidate by a small learned function of
        features that are the same in kind for known and new places (how often and how
        recently the user's window visited it, whether it is the last visit's place,
        its distance from the last visit; see :meth:`MHSA.place_features`). Saved
        predictors from before this option load with it off.
    user_dropout
        Share of batches' users replaced by the shared unknown-user embedding, which
        is what users never seen in training get.
    seed
        Seeds the initial weights, batch order and dropouts.
    user_col, start_col, end_col, duration_col, location_col, split_col
        Column names of visits frames.
    device, progress
        Torch device (default CUDA when available) and progress bars.

    Attributes
    ----------
    locations_ : pandas.DataFrame
        The known locations (index: id) with ``lon``, ``lat`` and training ``count``.
    users_ : list
        The known users.
    module_ : MHSA
        The trained torch module.
    history_ : pandas.DataFrame
        Per-epoch ``train_loss``, ``val_loss``, ``lr`` and ``seconds``.
    best_epoch_ : int

    Examples
    --------
    >>> import geocalliper as gc
    >>> from geocalliper.mobility import read_fsq_nyc
    >>> visits = read_fsq_nyc("shared/data/fsq-nyc/checkins.csv.gz")       # doctest: +SKIP
    >>> model = gc.NextLocationPredictor(calliper=nyc_calliper).fit(visits)  # doctest: +SKIP
    >>> model.evaluate(visits[visits.split == "test"])                    # doctest: +SKIP
    >>> history = visits[visits.user_id == 1].tail(5)                     # doctest: +SKIP
    >>> model.predict(history, k=10).explore()                            # doctest: +SKIP
    """

    _not_fitted_message = (
        "This NextLocationPredictor is not fitted yet: call fit(visits) or "
        "NextLocationPredictor.load(path) first."
    )

    def __init__(
        self,
        calliper: CaLLiPer | str | os.PathLike | None = None,
        *,
        features: str | None = None,
        head: str | None = None,
        d_model: int = 128,
        n_layers: int = 2,
        n_heads: int = 8,
        ff_dim: int = 256,
        dropout: float = 0.1,
        history_days: int = 7,
        min_history: int = 3,
        chunk_targets: int = 32,
        batch_size: int = 8,
        max_epochs: int = 50,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-6,
        warmup_epochs: int = 2,
        patience: int = 3,
        lr_drops: int = 0,
        unknown_rate: float = 0.5,
        place_features: bool = True,
        user_dropout: float = 0.05,
        seed: int = 0,
        user_col: str = USER_COLUMN,
        start_col: str = START_COLUMN,
        end_col: str | None = END_COLUMN,
        duration_col: str | None = DURATION_COLUMN,
        location_col: str = LOCATION_COLUMN,
        split_col: str = SPLIT_COLUMN,
        device: str | None = None,
        progress: bool = True,
    ) -> None:
        self.calliper = calliper
        self.features = features
        self.head = head
        self.d_model = d_model
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.ff_dim = ff_dim
        self.dropout = dropout
        self.history_days = history_days
        self.min_history = min_history
        self.chunk_targets = chunk_targets
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.warmup_epochs = warmup_epochs
        self.patience = patience
        self.lr_drops = lr_drops
        self.unknown_rate = unknown_rate
        self.place_features = place_features
        self.user_dropout = user_dropout
        self.seed = seed
        self.user_col = user_col
        self.start_col = start_col
        self.end_col = end_col
        self.duration_col = duration_col
        self.location_col = location_col
        self.split_col = split_col
        self.device = device
        self.progress = progress

    # ------------------------------------------------------------------ params
    def __repr__(self) -> str:
        return (
            f"NextLocationPredictor(features={self._features()!r}, head={self._head()!r}, "
            f"d_model={self.d_model}, n_layers={self.n_layers})"
        )

    def _calliper_model(self) -> CaLLiPer | None:
        if self.calliper is None or isinstance(self.calliper, CaLLiPer):
            return self.calliper
        self.calliper = CaLLiPer.load(self.calliper, device=self.device, progress=False)
        return self.calliper

    def _features(self) -> str:
        return self.features or ("lookup" if self.calliper is None else "both")

    def _head(self) -> str:
        return self.head or ("closed" if self.calliper is None else "inductive")

    def _check_params(self) -> None:
        features, head = self._features(), self._head()
        if features not in _FEATURES:
            raise ValueError(f"features must be one of {_FEATURES}, got {features!r}.")
        if head not in _HEADS:
            raise ValueError(f"head must be one of {_HEADS}, got {head!r}.")
        if (features != "lookup" or head == "inductive") and self.calliper is None:
            raise ValueError(
                f"features={features!r} with head={head!r} needs a CaLLiPer model: pass "
                "calliper=CaLLiPer(...).fit(pois), or the path of a saved one."
            )
        calliper = self._calliper_model()
        if calliper is not None and not calliper.is_fitted:
            raise NotFittedError("The CaLLiPer model is not fitted; call its fit(pois) first.")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must divide by n_heads ({self.n_heads}).")
        if self.max_epochs < 1 or self.batch_size < 1 or self.chunk_targets < 1:
            raise ValueError("max_epochs, batch_size and chunk_targets must be positive.")

    # ------------------------------------------------------------------ data
    def _prepare(self, visits: gpd.GeoDataFrame, name: str = "visits") -> pd.DataFrame:
        return prepare_visits(
            visits,
            user_col=self.user_col,
            start_col=self.start_col,
            end_col=self.end_col,
            duration_col=self.duration_col,
            location_col=self.location_col,
            extra=(self.split_col,),
            name=name,
        )

    def _match_ids(self, table: pd.DataFrame, name: str) -> pd.DataFrame:
        """The table with user and location ids of the model's types (see ``match_ids``)."""
        table["user"] = match_ids(table["user"], self._user_index.index, self.user_col, name)
        table["location"] = match_ids(
            table["location"], self._loc_index.index, self.location_col, name
        )
        return table

    def _project(self, lon: Any, lat: Any) -> np.ndarray:
        """``(N, 2)`` float64: WGS84 points in the CaLLiPer model's projected CRS."""
        crs = self._calliper_model().crs_
        cached = self.__dict__.get("_transformer")
        if cached is None or cached[0] != crs:  # building a Transformer costs milliseconds
            cached = (crs, Transformer.from_crs(WGS84, crs, always_xy=True))
            self._transformer = cached
        x, y = cached[1].transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
        return np.column_stack([x, y])

    def _uses_embeddings(self) -> bool:
        calliper = self._calliper_model()
        return calliper is not None and not (
            self._features() == "lookup" and self._head() == "closed"
        )

    def _visit_embeddings(self, lon: np.ndarray, lat: np.ndarray) -> torch.Tensor | None:
        """``(N, E + 2)`` float32: the frozen CaLLiPer embedding of each WGS84 point,
        then its projected ``x, y`` in metres, centred on the known locations."""
        if not self._uses_embeddings():
            return None
        xy = self._project(lon, lat)
        emb = self._calliper_model().embed_coords(xy, progress=False)
        if not hasattr(self, "_origin"):  # the first call is on the known locations
            self._origin = xy.mean(axis=0)
        out = np.hstack([emb, xy - self._origin]).astype(np.float32)
        return torch.from_numpy(out)

    def _candidate_embeddings(self, lon: np.ndarray, lat: np.ndarray) -> torch.Tensor:
        """:meth:`_visit_embeddings` of candidate points, computed once per point set.

        The known locations' are computed at ``fit`` (and saved with the model); of
        other sets, the :data:`CANDIDATE_CACHE` most recently used are kept, so that
        repeated ``predict`` calls over the same candidates embed nothing."""
        lon = np.ascontiguousarray(lon, np.float64)
        lat = np.ascontiguousarray(lat, np.float64)
        known = self.locations_
        if len(lon) == len(known) and (
            np.array_equal(lon, known["lon"].to_numpy(np.float64))
            and np.array_equal(lat, known["lat"].to_numpy(np.float64))
        ):
            return self._vocab_emb
        key = hashlib.blake2b(lon.tobytes() + lat.tobytes(), digest_size=16).digest()
        cache = self.__dict__.setdefault("_cand_cache", OrderedDict())
        if key not in cache:
            cache[key] = self._visit_embeddings(lon, lat)
            while len(cache) > CANDIDATE_CACHE:
                cache.popitem(last=False)
        cache.move_to_end(key)
        return cache[key]

    def _candidate_vectors(self, cand_emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``cand_emb`` on the device and its ``module_.candidate_vectors``, kept for the
        last candidate tensor (the module is frozen after ``fit``)."""
        memo = self.__dict__.get("_vec_memo")
        if memo is None or memo[0] is not cand_emb or memo[1] is not self.module_:
            cand = cand_emb.to(self.device_)
            memo = (cand_emb, self.module_, cand, self.module_.candidate_vectors(cand[:, :-2]))
            self._vec_memo = memo
        return memo[2], memo[3]

    def _encode(
        self, table: pd.DataFrame, hidden: np.ndarray | None = None, **kw: Any
    ) -> Sequences:
        loc_pos = self._loc_index.reindex(table["location"].to_numpy())
        loc_idx = np.where(loc_pos.isna(), UNKNOWN, loc_pos.fillna(0).to_numpy() + 2)
        user_pos = self._user_index.reindex(table["user"].to_numpy())
        user_idx = np.where(user_pos.isna(), 0, user_pos.fillna(0).to_numpy() + 1)
        options = {
            "history_days": self.history_days,
            "min_history": self.min_history,
            "chunk_targets": self.chunk_targets,
            **kw,
        }
        return build_sequences(
            table, loc_idx.astype(np.int64), user_idx.astype(np.int64), hidden=hidden, **options
        )

    def _set_vocab(
        self, locations: pd.DataFrame, users: list, vocab_emb: torch.Tensor | None = None
    ) -> None:
        self.locations_ = locations
        self.users_ = users
        self._loc_index = pd.Series(np.arange(len(locations)), index=locations.index)
        self._user_index = pd.Series(np.arange(len(users)), index=pd.Index(users, dtype=object))
        for cached in ("_origin", "_cand_cache", "_vec_memo"):
            self.__dict__.pop(cached, None)
        lon, lat = locations["lon"].to_numpy(), locations["lat"].to_numpy()
        if vocab_emb is not None and self._uses_embeddings():
            self._origin = self._project(lon, lat).mean(axis=0)
            self._vocab_emb = vocab_emb
        else:
            self._vocab_emb = self._visit_embeddings(lon, lat)

    def _new_module(self) -> MHSA:
        calliper = self._calliper_model()
        features = self._features()
        return MHSA(
            len(self.locations_),
            len(self.users_),
            location_dim=calliper.embedding_dim if features != "lookup" else 0,
            use_lookup=features != "calliper",
            inductive=self._head() == "inductive",
            d_model=self.d_model,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            ff_dim=self.ff_dim,
            dropout=self.dropout,
            history_days=self.history_days,
            place_features=bool(self.place_features) and self._head() == "inductive",
        )

    def _train_valid(
        self, visits: gpd.GeoDataFrame, validation: gpd.GeoDataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        table = self._prepare(visits)
        if validation is not None:
            return table, self._prepare(validation, name="validation visits")
        if self.split_col in table.columns:
            split = table[self.split_col]
            unknown = set(split.dropna().unique()) - set(SPLITS)
            if unknown:
                raise ValueError(
                    f"The {self.split_col!r} column holds {sorted(map(str, unknown))}; "
                    f"expected {SPLITS}."
                )
            train = table[split == SPLITS[0]].reset_index(drop=True)
            valid = table[split == SPLITS[1]].reset_index(drop=True)
        else:
            tmp = pd.DataFrame(
                {self.user_col: table["user"], self.start_col: pd.to_datetime(table["instant"])}
            )
            split = split_by_day(
                tmp, user_col=self.user_col, start_col=self.start_col, fractions=(0.8, 0.2, 0.0)
            ).to_numpy()
            train = table[split == SPLITS[0]].reset_index(drop=True)
            valid = table[split != SPLITS[0]].reset_index(drop=True)
        if train.empty or valid.empty:
            raise EmptyDataError(
                "Need training and validation visits: pass validation=, or a "
                f"{self.split_col!r} column with 'train' and 'valid' rows, or enough days "
                "per user for a chronological 80/20 split."
            )
        return train, valid

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        visits: gpd.GeoDataFrame,
        validation: gpd.GeoDataFrame | None = None,
        *,
        exclude_locations: Any = None,
    ) -> NextLocationPredictor:
        """Train on visits.

        Parameters
        ----------
        visits
            Visits GeoDataFrame (see :func:`~geocalliper.mobility.prepare_visits`).
            With a ``split`` column, its ``"train"`` rows train and its ``"valid"``
            rows validate (``"test"`` rows are ignored); without one, each user's
            last 20% of days validate.
        validation
            Explicit validation visits (then all of ``visits`` trains).
        exclude_locations
            Location ids to treat as never seen (the inductive protocol): they are
            left out of the vocabulary, no other visit attends to them, and every
            target whose window or target touches one is dropped.

        Returns
        -------
        NextLocationPredictor
            ``self``, fitted.
        """
        self._check_params()
        train, valid = self._train_valid(visits, validation)
        excluded = set() if exclude_locations is None else set(exclude_locations)
        hid_train = train["location"].isin(excluded).to_numpy()
        hid_valid = valid["location"].isin(excluded).to_numpy()
        locations = location_table(train[~hid_train])
        if locations.empty:
            raise EmptyDataError("The training visits name no location.")
        self._set_vocab(locations, sorted(train["user"].unique().tolist(), key=str))

        device = torch.device(self.device or default_device())
        torch.manual_seed(self.seed)
        seqs_train = self._encode(train, hid_train)
        seqs_valid = self._encode(valid, hid_valid)
        if seqs_train.n_targets == 0 or seqs_valid.n_targets == 0:
            raise EmptyDataError(
                f"No valid targets ({seqs_train.n_targets} train, {seqs_valid.n_targets} "
                f"valid): a target needs {self.min_history} visits in the "
                f"{self.history_days} days before it, and a segment's first "
                f"{self.history_days} days are history only."
            )
        module = self._new_module().to(device)
        config = TrainConfig(
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            warmup_epochs=self.warmup_epochs,
            patience=self.patience,
            lr_drops=self.lr_drops,
            unknown_rate=self.unknown_rate if self._head() == "inductive" else 0.0,
            user_dropout=self.user_dropout,
            seed=self.seed,
            progress=self.progress,
        )
        emb_train = self._visit_embeddings(train["lon"], train["lat"])
        emb_valid = self._visit_embeddings(valid["lon"], valid["lat"])
        history, best = train_next_location(
            module,
            (seqs_train, emb_train),
            (seqs_valid, emb_valid),
            self._vocab_emb,
            config,
        )
        self.module_ = module.eval()
        self.history_ = history
        self.best_epoch_ = best
        self.n_train_targets_ = seqs_train.n_targets
        self.n_valid_targets_ = seqs_valid.n_targets
        return self

    # ------------------------------------------------------------------ candidates
    def _candidates(self, candidates: gpd.GeoDataFrame | None, extra: pd.DataFrame | None = None):
        """(ids, lon, lat, vocab position or -1, embeddings, crs, geometry) of candidates."""
        if candidates is None:
            locs = self.locations_
            if extra is not None:
                more = extra[~extra.index.isin(locs.index)]
                locs = pd.concat([locs, more[["lon", "lat"]]])
            ids = locs.index.to_numpy(dtype=object)
            lon, lat = locs["lon"].to_numpy(), locs["lat"].to_numpy()
            geometry = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=WGS84)
        else:
            ids, geoms = candidate_points(candidates, self.location_col)
            ids = match_ids(ids, self._loc_index.index, self.location_col, "candidates")
            if pd.Index(ids).has_duplicates:
                raise ValueError(
                    f"Candidate ids ({self.location_col!r} or the index) must be unique."
                )
            ll = geoms.to_crs(WGS84)
            lon, lat = ll.x.to_numpy(), ll.y.to_numpy()
            geometry = geoms.reset_index(drop=True)
        pos = self._loc_index.reindex(ids).fillna(-1).to_numpy().astype(np.int64)
        emb = self._candidate_embeddings(lon, lat) if self._head() == "inductive" else None
        return ids, pos, emb, geometry

    @torch.no_grad()
    def _score_batches(
        self,
        seqs: Sequences,
        emb: torch.Tensor | None,
        pos: np.ndarray,
        cand_emb,
        cand_of_visit: np.ndarray | None = None,
    ):
        """Yield (target rows, scores (M, C)) over the scored targets of ``seqs``;
        ``cand_of_visit``: each visit's candidate index (-1: none), for place features."""
        module = self.module_.eval()
        device = self.device_
        pos_t = torch.from_numpy(pos).to(device)
        known = pos_t >= 0
        inductive = self._head() == "inductive"
        if inductive:
            cand, cand_vec = self._candidate_vectors(cand_emb)
            bias_idx = torch.where(known, pos_t + 1, torch.zeros_like(pos_t))
        emb_dev = emb.to(device) if emb is not None else None
        place = inductive and module.place_in is not None
        if place:
            if cand_of_visit is None:
                cand_of_visit = np.full(len(seqs.valid), -1, np.int64)
            visit_cand = torch.from_numpy(np.asarray(cand_of_visit, np.int64)).to(device)
        for ids in iter_budget_batches(seqs, EVAL_CELLS):
            batch: Batch = make_batch(seqs, ids).to(device)
            visit = emb_dev[batch.rows.clamp(min=0)] if emb_dev is not None else None
            loc_emb = visit[..., :-2] if self._features() != "lookup" else None
            hidden = module(
                batch.loc_idx,
                loc_emb,
                batch.feats,
                batch.user_idx,
                batch.day,
                batch.query_day,
                batch.key_ok,
            )[batch.scored]
            if inductive:
                rows, cols = batch.scored.nonzero(as_tuple=True)
                token_cand = None
                if place:
                    token_cand = torch.where(
                        batch.rows >= 0, visit_cand[batch.rows.clamp(min=0)], -1
                    )
                parts = []
                # blocks of queries bound the (queries × candidates) maps' memory
                for i in range(0, len(rows), PLACE_ROWS):
                    sl = slice(i, i + PLACE_ROWS)
                    args = (batch.day, batch.query_day, batch.key_ok)
                    revisits = module.revisits(
                        *args, visit[..., -2:], cand[:, -2:], rows[sl], cols[sl]
                    )
                    feats = None
                    if place:
                        feats = module.place_features(
                            batch.day,
                            batch.feats,
                            batch.query_day,
                            batch.key_ok,
                            token_cand,
                            visit[..., -2:],
                            cand[:, -2:],
                            rows[sl],
                            cols[sl],
                        )
                    parts.append(
                        module.inductive_logits(hidden[sl], cand_vec, bias_idx, revisits, feats)
                    )
                scores = torch.cat(parts) if parts else hidden.new_zeros((0, len(cand)))
            else:
                logits = module.closed_logits(hidden)
                scores = torch.full(
                    (len(hidden), len(pos)), float("-inf"), device=device, dtype=logits.dtype
                )
                scores[:, known] = logits[:, pos_t[known]]
            yield batch.target_rows.cpu().numpy(), scores

    # ------------------------------------------------------------------ evaluate
    def rank_targets(
        self, visits: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame | None = None
    ) -> pd.DataFrame:
        """Rank the true next location of every scored target among the candidates.

        Parameters
        ----------
        visits
            Visits of one period (e.g. the test split); histories are taken within it.
        candidates
            Places to rank; default: the known locations plus every location the
            visits name.

        Returns
        -------
        pandas.DataFrame
            One row per scored target: ``row`` (its label in ``visits``), ``user``,
            ``location`` (the true id), ``rank`` (1 = top; ``inf`` when the true place
            is not a candidate, or the closed head cannot score it) and
            ``predicted`` (the top-1 id).
        """
        self._check_fitted()
        table = self._match_ids(self._prepare(visits), "visits")
        extra = location_table(table)
        ids, pos, cand_emb, _ = self._candidates(candidates, extra)
        seqs = self._encode(table, chunk_targets=1)  # each target on its own window
        emb = self._visit_embeddings(table["lon"], table["lat"])
        where = pd.Series(np.arange(len(ids)), index=pd.Index(ids, dtype=object))
        where = where[~where.index.duplicated()]
        cand_of_visit = _candidate_of_visit(where, table)
        out = []
        for rows, scores in self._score_batches(seqs, emb, pos, cand_emb, cand_of_visit):
            true_pos = where.reindex(table["location"].to_numpy()[rows]).to_numpy()
            has = ~np.isnan(true_pos)
            tp = torch.from_numpy(np.nan_to_num(true_pos).astype(np.int64)).to(scores.device)
            true_score = scores.gather(1, tp[:, None])
            rank = 1 + (scores > true_score).sum(1).cpu().numpy().astype(np.float64)
            finite = torch.isfinite(true_score[:, 0]).cpu().numpy()
            rank = np.where(has & finite, rank, np.inf)
            top1 = scores.argmax(1).cpu().numpy()
            out.append(pd.DataFrame({"target": rows, "rank": rank, "predicted": ids[top1]}))
        if not out:
            raise EmptyDataError(
                f"No target in these visits has {self.min_history} visits in the "
                f"{self.history_days} days before it (after a first {self.history_days} "
                "days of history per user)."
            )
        res = pd.concat(out, ignore_index=True).sort_values("target", ignore_index=True)
        rows = res.pop("target").to_numpy()
        res.insert(0, "row", table["row"].to_numpy()[rows])
        res.insert(1, "user", table["user"].to_numpy()[rows])
        res.insert(2, "location", table["location"].to_numpy()[rows])
        return res

    def evaluate(
        self, visits: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame | None = None
    ) -> dict[str, float]:
        """Acc@1/5/10, MRR, NDCG@10 and weighted F1 (×100) over the scored targets.

        See :meth:`rank_targets` for ``visits`` and ``candidates``; the dict also
        holds ``n``, the number of targets.
        """
        ranks = self.rank_targets(visits, candidates)
        return next_location_scores(
            ranks["rank"].to_numpy(), ranks["location"].tolist(), ranks["predicted"].tolist()
        )

    # ------------------------------------------------------------------ predict
    def predict(
        self,
        history: gpd.GeoDataFrame,
        k: int = 10,
        candidates: gpd.GeoDataFrame | None = None,
        *,
        at: Any = None,
    ) -> gpd.GeoDataFrame:
        """Top-``k`` next places of each user in ``history``.

        Parameters
        ----------
        history
            Recent visits of one or many users (any CRS); visits more than
            ``history_days`` days before the query are ignored. A user never seen
            in training gets the shared unknown-user embedding.
        k
            Places per user.
        candidates
            GeoDataFrame of places to rank (any CRS; ids from the location column,
            else the index). Default: the known locations. With the inductive head
            any place can be ranked, including ones added after training; the
            closed head scores only known ids.
        at
            Time of the prediction (its day sets the history window); default: the
            day of each user's last visit.

        Returns
        -------
        geopandas.GeoDataFrame
            ``k`` rows per user: the user column, ``rank``, the location column,
            ``score``, ``probability`` (softmax over all candidates) and the
            candidate's geometry, in the candidates' CRS.
        """
        self._check_fitted()
        k = _check_k(k)
        table = self._match_ids(self._prepare(history, name="history"), "history")
        ids, pos, cand_emb, geometry = self._candidates(candidates)
        k = min(k, len(ids))
        # one placeholder target after each user's last visit, on the query day
        last = table.groupby("user", sort=False).tail(1).copy()
        if at is not None:
            day = np.floor_divide(pd.Timestamp(at).tz_localize(None).value, 86_400 * 10**9)
            last["day"] = day
        last["instant"] = np.iinfo(np.int64).max
        last["location"] = None
        full = pd.concat([table, last]).sort_values(["user", "instant"], kind="stable")
        full = full.reset_index(drop=True)
        placeholder = (full["instant"] == np.iinfo(np.int64).max).to_numpy()
        seqs = self._encode(full, min_history=1, skip_first_days=False)
        starts = np.flatnonzero(placeholder)
        seqs.valid = placeholder
        first = np.minimum(seqs.window_start[starts], starts - 1)
        seqs.chunks = np.column_stack([first, starts, starts + 1])
        emb = self._visit_embeddings(full["lon"], full["lat"])
        where = pd.Series(np.arange(len(ids)), index=pd.Index(ids, dtype=object))
        cand_of_visit = _candidate_of_visit(where[~where.index.duplicated()], full)
        frames = []
        for rows, scores in self._score_batches(seqs, emb, pos, cand_emb, cand_of_visit):
            prob = torch.softmax(scores, dim=1)
            top = scores.topk(k, dim=1)
            top_idx = top.indices.cpu().numpy()
            top_prob = prob.gather(1, top.indices).cpu().numpy()
            for i, r in enumerate(rows):
                frames.append(
                    pd.DataFrame(
                        {
                            self.user_col: full["user"].iloc[r],
                            "rank": np.arange(1, k + 1),
                            self.location_col: ids[top_idx[i]],
                            "score": top.values[i].cpu().numpy(),
                            "probability": top_prob[i],
                            "_cand": top_idx[i],
                        }
                    )
                )
        out = pd.concat(frames, ignore_index=True)
        out[self.location_col] = out[self.location_col].infer_objects()  # ints stay ints
        geom = geometry.iloc[out.pop("_cand").to_numpy()].reset_index(drop=True)
        return gpd.GeoDataFrame(out, geometry=geom.values, crs=geometry.crs)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (and the CaLLiPer model in a
        ``calliper/`` sub-folder) into the folder ``path``."""
        self._check_fitted()
        params = {k: v for k, v in self.get_params().items() if k not in _RUNTIME_PARAMS}
        params["features"], params["head"] = self._features(), self._head()
        folder = Path(path)
        calliper = self._calliper_model()
        config = {
            "params": params,
            "has_calliper": calliper is not None,
            "locations": [_json_id(v) for v in self.locations_.index],
            "location_counts": self.locations_["count"].astype(int).tolist(),
            "users": [_json_id(v) for v in self.users_],
            "best_epoch": self.best_epoch_,
            "history": self.history_.to_dict("records"),
        }
        tensors = dict(self.module_.state_dict())
        tensors["locations.lonlat"] = torch.from_numpy(
            np.array(self.locations_[["lon", "lat"]], dtype=np.float64)
        )
        if self._vocab_emb is not None:  # so that a loaded model embeds nothing to start
            tensors["locations.embedding"] = self._vocab_emb.contiguous()
        with staged_dir(folder) as staged:  # all or nothing, the CaLLiPer model included
            if calliper is not None:
                calliper.save(staged / CALLIPER_SUBDIR)
            write_model_dir(staged, PREDICTOR_KIND, config, tensors)
        return folder

    @classmethod
    def load(
        cls, path: str | os.PathLike, *, device: str | None = None, progress: bool = True
    ) -> NextLocationPredictor:
        """Load a predictor saved with :meth:`save`; it predicts exactly as before."""
        config, tensors = load_model_dir(path, PREDICTOR_KIND)
        try:
            params = dict(config["params"])
            # saved before place features existed: load as it was trained
            params.setdefault("place_features", False)
            unknown = set(params) - set(cls._param_names())
            if unknown:
                raise ModelFileError(f"Unknown parameters {sorted(unknown)} in the config.")
            calliper = None
            if config.get("has_calliper"):
                calliper = CaLLiPer.load(
                    Path(path) / CALLIPER_SUBDIR, device=device, progress=False
                )
            model = cls(calliper, **params, device=device, progress=progress)
            model._check_params()
            lonlat = tensors.pop("locations.lonlat").numpy()
            locations = pd.DataFrame(
                {"lon": lonlat[:, 0], "lat": lonlat[:, 1], "count": config["location_counts"]},
                index=pd.Index(config["locations"], dtype=object),
            )
            vocab_emb = tensors.pop("locations.embedding", None)
            if vocab_emb is not None and calliper is not None:
                want = (len(locations), calliper.embedding_dim + 2)
                if tuple(vocab_emb.shape) != want:
                    raise ModelFileError(
                        f"The saved location embeddings {tuple(vocab_emb.shape)} do not match "
                        f"the config.json ({want} expected). Save the predictor again with "
                        "model.save(path)."
                    )
                vocab_emb = vocab_emb.float()
            model._set_vocab(locations, list(config["users"]), vocab_emb)
            module = model._new_module()
            module.load_state_dict(tensors, strict=True)
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFileError(
                f"The predictor in {str(path)!r} does not match its config.json ({exc}). "
                "Save it again with model.save(path)."
            ) from exc
        model.module_ = module.to(torch.device(device or default_device())).eval()
        model.history_ = pd.DataFrame(config.get("history", []))
        model.best_epoch_ = int(config.get("best_epoch", 0))
        return model


__all__ = ["NextLocationPredictor"]
