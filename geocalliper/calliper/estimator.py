"""The :class:`CaLLiPer` estimator: ``fit`` on POIs, ``embed`` any points, ``save``/``load``.

Length: about 800 lines, nearly all of them the one class: its parameters and checks,
``fit``, ``embed_coords`` and the out-of-area warning, ``save``/``load`` with the config
validation, and the thin text methods. The work itself already lives elsewhere (the
torch module, dataset and training loop beside it in :mod:`geocalliper.calliper`, the
geometry handling in :mod:`geocalliper.spatial`, the text scoring in
:mod:`geocalliper.zeroshot`, model directories in :mod:`geocalliper.io.persistence`);
splitting the class itself would scatter one public object over several files.
"""

from __future__ import annotations

import copy
import inspect
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import torch
from pyproj import CRS
from tqdm.auto import tqdm

from .._constants import CALLIPER_KIND, DEFAULT_TEXT_MODEL, TEXT_COLUMN
from .._params import FittedModuleMixin, ParamsMixin, check_param_types
from ..encoders import encoding_class
from ..exceptions import (
    CRSError,
    EmptyDataError,
    MissingColumnError,
    MissingProjectorError,
    ModelFileError,
    OutsideTrainingAreaWarning,
    SlowPrecisionWarning,
)
from ..io.persistence import load_model_dir, save_model_dir
from ..io.poi import make_text
from ..spatial.coords import as_geoseries, estimate_metric_crs, geometries_to_xy, metric_crs
from ..text import TextEncoder
from .dataset import ContrastiveDataset, train_val_split
from .module import CaLLiPerModule
from .texts import check_training_texts
from .training import SCHEDULES, TrainingConfig, auto_location_noise, train_contrastive

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
#: parameters that describe where and how to run, not the model; not saved
_RUNTIME_PARAMS = ("device", "cache_dir", "progress")
#: ranges of numeric parameters: (name, low, high, "[)" closed/open ends)
_RANGES = (
    ("num_blocks", 0, math.inf, "[)"),
    ("lambda_min", 0.0, math.inf, "()"),
    ("dropout", 0.0, 1.0, "[)"),
    ("temperature", 0.0, math.inf, "()"),
    ("max_logit_scale", 0.0, math.inf, "()"),
    ("learning_rate", 0.0, math.inf, "()"),
    ("weight_decay", 0.0, math.inf, "[)"),
    ("val_fraction", 0.0, 1.0, "()"),
    ("patience", 0, math.inf, "[)"),
    ("warmup_steps", 0, math.inf, "[)"),
    ("min_steps", 0, math.inf, "[)"),
    ("seed", 0, 2**63, "[)"),
)
#: fewest POIs that make a training and a validation set
MIN_POIS = 10
#: state-dict keys of the text side (projector and temperature), absent from a model
#: saved without its projector
PROJECTOR_KEYS = ("text_projector.weight", "text_projector.bias")
TEXT_SIDE_KEYS = (*PROJECTOR_KEYS, "logit_scale")
#: what a model file saved before a parameter existed used, where that shapes its output
LEGACY_PARAMS = {"encoding": "grid", "normalize_text": True}


def default_device() -> str:
    """``"cuda"`` when a GPU is available, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_batch_size(device: torch.device) -> int:
    """Points per encoder pass: small on a CPU, where batches whose activations fit in
    cache run fastest (measured in ``benchmarks/encoder_throughput.py``), large on a GPU.
    """
    return 65_536 if device.type == "cuda" else 4_096


#: inference precisions of :meth:`CaLLiPer.embed_coords` and :meth:`CaLLiPer.embed`
PRECISIONS = ("fp32", "bf16", "int8")


def check_precision(precision: Any) -> str:
    """Return ``precision`` if it is one of :data:`PRECISIONS`, else raise ``ValueError``.

    Examples
    --------
    >>> check_precision("bf16")
    'bf16'
    >>> check_precision("fp16")
    Traceback (most recent call last):
    ...
    ValueError: precision must be one of 'fp32', 'bf16', 'int8', got 'fp16'. ...
    """
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got "
            f"{precision!r}. 'fp32' (default) is exact; 'bf16' runs the location encoder's "
            "network in bfloat16 (fast on GPUs and CPUs with native bf16); 'int8' runs it "
            "with dynamically quantised int8 weights (CPU only)."
        )
    return precision


def low_precision_net(net: torch.nn.Module, precision: str) -> tuple[torch.nn.Module, torch.dtype]:
    """A reduced-precision copy of the FCNet ``net`` and the dtype its input must have.

    ``"bf16"``: a bfloat16 copy (on ``net``'s device; faster than ``torch.autocast``,
    which re-casts the weights on every call). ``"int8"``: ``Linear`` layers dynamically
    quantised to int8 weights (``torch.ao.quantization.quantize_dynamic``; activations
    are quantised per batch), float32 in and out, CPU only. ``net`` is left unchanged.

    Examples
    --------
    >>> from geocalliper.encoders import FCNet
    >>> net = FCNet(8, 4, hidden_features=16, num_blocks=1).eval()
    >>> low, dtype = low_precision_net(net, "bf16")
    >>> dtype, low(torch.zeros(2, 8, dtype=dtype)).shape
    (torch.bfloat16, torch.Size([2, 4]))
    """
    with torch.no_grad():
        clone = copy.deepcopy(net).eval()
        for p in clone.parameters():
            p.requires_grad_(False)
        if precision == "bf16":
            return clone.to(torch.bfloat16), torch.bfloat16
        if precision != "int8":
            raise ValueError(f"no reduced-precision copy for precision={precision!r}")
        device = next(net.parameters()).device
        if device.type != "cpu":
            raise ValueError(
                f"precision='int8' runs on the CPU only (torch's dynamic int8 quantisation "
                f"has no {device.type} kernels), but this model is on {device}. Use "
                "precision='bf16' on a GPU, or load the model with device='cpu'."
            )
        with warnings.catch_warnings():  # torch.ao.quantization's deprecation notices
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            quantized = torch.ao.quantization.quantize_dynamic(
                clone.float(), {torch.nn.Linear}, dtype=torch.qint8
            )
        return quantized, torch.float32


class CaLLiPer(ParamsMixin, FittedModuleMixin):
    """CaLLiPer location encoder, pre-trained contrastively on POIs and their texts.

    Configuration goes in ``__init__``; learned state (attributes ending in ``_``)
    appears after :meth:`fit` or :meth:`load`.

    Parameters
    ----------
    crs
        Projected CRS in metres in which coordinates are encoded. ``None`` (default)
        picks the UTM zone of the training POIs (``estimate_utm_crs``); the
        ``"sphere"`` encoding always uses EPSG:4087. Stored with the model; every
        input is reprojected to it.
    encoding
        Positional encoding (:data:`geocalliper.encoders.ENCODINGS`): ``"rff"``
        (default: random Fourier features with Gaussian frequencies, isotropic),
        ``"grid"`` (the CaLLiPer reference, axis-aligned), ``"theory"`` (Space2Vec, three
        directions) or ``"sphere"`` (random Fourier features on the sphere, for study
        areas wider than a UTM zone). ``docs/benchmarks.md`` compares them.
    num_scales, lambda_min, lambda_max
        ``S`` scales between ``lambda_min`` and ``lambda_max`` metres (reference: 32,
        100 m, 10 km).
    frequencies_per_scale
        Random frequencies drawn per scale (``"rff"``, ``"sphere"``; from ``seed``).
    embedding_dim, hidden_dim, num_blocks, dropout
        FCNet shape (reference: 128, 256, 4, 0.5).
    text_model
        sentence-transformers model name or folder; ``None`` is the bundled
        all-MiniLM-L6-v2, loaded offline.
    temperature, max_logit_scale
        Initial InfoNCE temperature (0.07) and the cap on the learnable logit scale
        (100, as CLIP; ``None``: no cap, as the CaLLiPer reference).
    normalize_text
        L2-normalise the projected text embeddings in the loss (``False``: the reference).
    batch_size, max_steps, max_epochs
        Training length in optimiser steps of ``batch_size`` pairs: at most
        ``max_steps`` (and ``max_epochs`` passes, if given). A batch larger than the
        training set is shrunk to it, with a warning.
    learning_rate, weight_decay, warmup_steps, lr_schedule
        AdamW (no weight decay on biases and the scale), a linear warm-up, then
        ``"cosine"`` decay to zero at the last step, or ``"constant"``.
    val_fraction, eval_every, patience, min_steps
        A random validation split is scored every ``eval_every`` steps (default: about
        once an epoch, every 25–250 steps); the best is kept, and training stops after
        ``patience`` validations without improvement once ``min_steps`` are done. A
        best model from before ``min_steps`` is kept with an ``UndertrainedWarning``.
    location_noise
        Standard deviation in metres of Gaussian noise added to every training
        coordinate at every step, so that sparse POIs teach a field smooth at their
        spacing instead of points learnt by heart; ``"auto"``: twice the mean spacing
        of the training POIs (``sqrt(hull area / n)``). ``0``: none.
    seed
        Seeds the split, the initial weights, random frequencies and the batch order.
    dtype
        ``"float32"`` (default) or ``"float64"``.
    device
        Torch device; default CUDA when available, else CPU.
    cache_dir
        Folder of the text-embedding cache (default: the user cache folder).
    progress
        Show progress bars.

    Attributes
    ----------
    crs_ : pyproj.CRS
        The CRS coordinates are encoded in.
    module_ : CaLLiPerModule
        The trained torch module (location encoder, text projector, logit scale).
    history_ : pandas.DataFrame
        One row per validation: ``step``, ``epoch``, ``train_loss``, ``val_loss``,
        ``val_mrr`` (mean reciprocal rank of each validation POI's own text among the
        distinct texts: free of the temperature), ``temperature``, ``learning_rate``
        and ``seconds``.
    best_step_ : int
        Optimiser step whose weights were kept.
    best_epoch_ : float
        The same, in passes over the training POIs.
    location_noise_ : float
        The location noise used in training, in metres (``"auto"`` resolved).
    text_model_id_ : str
        Identifier of the text model the projector was trained against.
    timings_ : dict
        Seconds spent in ``fit`` on ``"text"`` embedding and ``"train"``ing.
    has_projector_ : bool
        Whether the trained text projector is there (always after ``fit``), which
        :meth:`similarity`, :meth:`describe` and the zero-shot maps of
        :mod:`geocalliper.zeroshot` need.
    training_texts_ : pandas.Series or None
        The distinct training texts (index) and how many POIs had each (values), most
        frequent first; ``None`` for a model saved by a version that did not keep them.
        Their log-counts are the prior of :meth:`describe`.
    training_extent_ : tuple of float or None
        Bounding box ``(xmin, ymin, xmax, ymax)`` of the training POIs in :attr:`crs_`;
        embedding points far outside it warns (:meth:`outside_margin`). ``None`` for a
        model saved by a version that did not keep it.

    Examples
    --------
    >>> from geocalliper import CaLLiPer, read_osm_pbf, osm_text
    >>> from geocalliper.datasets import helsinki_osm_path
    >>> pois = read_osm_pbf(helsinki_osm_path())
    >>> pois["text"] = osm_text(pois)
    >>> model = CaLLiPer(max_steps=500).fit(pois)         # doctest: +SKIP
    >>> model.embed(pois.head()).shape                     # doctest: +SKIP
    (5, 128)
    >>> model.save("helsinki-calliper")                    # doctest: +SKIP
    >>> same = CaLLiPer.load("helsinki-calliper")          # doctest: +SKIP
    """

    _not_fitted_message = (
        "This CaLLiPer model is not fitted yet. Call model.fit(pois) or CaLLiPer.load(path) first."
    )

    def __init__(
        self,
        *,
        crs: Any = None,
        encoding: str = "rff",
        num_scales: int = 32,
        lambda_min: float = 100.0,
        lambda_max: float = 10_000.0,
        frequencies_per_scale: int = 2,
        embedding_dim: int = 128,
        hidden_dim: int = 256,
        num_blocks: int = 4,
        dropout: float = 0.5,
        text_model: str | None = None,
        temperature: float = 0.07,
        max_logit_scale: float | None = 100.0,
        normalize_text: bool = True,
        batch_size: int = 256,
        max_steps: int = 3000,
        max_epochs: int | None = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.01,
        warmup_steps: int = 100,
        lr_schedule: str = "cosine",
        val_fraction: float = 0.1,
        eval_every: int | None = None,
        patience: int = 10,
        min_steps: int = 300,
        location_noise: float | str = 0.0,
        seed: int = 0,
        dtype: str = "float32",
        device: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        progress: bool = True,
    ) -> None:
        self.crs = crs
        self.encoding = encoding
        self.num_scales = num_scales
        self.lambda_min = lambda_min
        self.lambda_max = lambda_max
        self.frequencies_per_scale = frequencies_per_scale
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.num_blocks = num_blocks
        self.dropout = dropout
        self.text_model = text_model
        self.temperature = temperature
        self.max_logit_scale = max_logit_scale
        self.normalize_text = normalize_text
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.warmup_steps = warmup_steps
        self.lr_schedule = lr_schedule
        self.val_fraction = val_fraction
        self.eval_every = eval_every
        self.patience = patience
        self.min_steps = min_steps
        self.location_noise = location_noise
        self.seed = seed
        self.dtype = dtype
        self.device = device
        self.cache_dir = cache_dir
        self.progress = progress

    # ------------------------------------------------------------------ params
    def __repr__(self) -> str:
        defaults = {
            k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v]
        return f"CaLLiPer({', '.join(changed)})"

    def _check_params(self) -> None:
        """Refuse parameters of the wrong type or out of range (NumPy scalars become
        Python numbers); runs before ``fit`` and before ``load`` allocates anything."""
        check_param_types(self)
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}.")
        encoding_class(self.encoding)  # a clear ValueError naming the choices
        positive = ("num_scales", "embedding_dim", "hidden_dim", "batch_size", "max_steps")
        for name in (*positive, "frequencies_per_scale", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        for name in ("max_epochs", "eval_every"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}.")
        if self.batch_size < 2:
            raise ValueError("batch_size must be at least 2 for a contrastive loss.")
        noise = self.location_noise
        if noise != "auto" and (
            isinstance(noise, str | bool) or not math.isfinite(noise) or noise < 0
        ):
            raise ValueError(
                "location_noise must be a distance in metres >= 0, or 'auto' (twice the "
                f"mean spacing of the training POIs), got {noise!r}."
            )
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {self.lr_schedule!r}.")
        for name, low, high, rule in _RANGES:
            value = getattr(self, name)
            if value is None:  # e.g. max_logit_scale=None: no cap
                continue
            if not (low < value if rule[0] == "(" else low <= value) or not (
                value < high if rule[1] == ")" else value <= high
            ):
                raise ValueError(
                    f"{name} must be in {rule[0]}{low}, {high}{rule[1]}, got {value!r}."
                )
        if self.lambda_max < self.lambda_min:
            raise ValueError(
                f"lambda_max ({self.lambda_max}) must not be smaller than lambda_min "
                f"({self.lambda_min}): they are the finest and coarsest scales in metres."
            )

    def _new_module(self, text_dim: int) -> CaLLiPerModule:
        return CaLLiPerModule(
            text_dim=text_dim,
            temperature=self.temperature,
            max_logit_scale=self.max_logit_scale,
            normalize_text=self.normalize_text,
            dtype=_DTYPES[self.dtype],
            encoding=self.encoding,
            frequencies_per_scale=self.frequencies_per_scale,
            seed=self.seed,
            num_scales=self.num_scales,
            lambda_min=self.lambda_min,
            lambda_max=self.lambda_max,
            embedding_dim=self.embedding_dim,
            hidden_dim=self.hidden_dim,
            num_blocks=self.num_blocks,
            dropout=self.dropout,
        )

    # ------------------------------------------------------------------ fit
    def _texts(
        self, pois: gpd.GeoDataFrame, text: str | Sequence[str] | pd.Series | Callable
    ) -> list[str]:
        if text is None:
            raise TypeError(
                "text=None: say where the POIs' texts are. Pass text='your_column', a "
                "template like 'A place of {fclass}', a list or Series of texts, or leave "
                "it out to use the 'text' column."
            )
        if isinstance(text, str) and text not in pois.columns and "{" not in text:
            raise MissingColumnError(
                f"The POIs have no text column {text!r} (columns: {list(pois.columns)}). "
                "Pass text='your_column', a template like 'A place of {fclass}', or build "
                "one with geocalliper.osm_text(pois) / geocalliper.category_text(pois)."
            )
        if isinstance(text, str) or callable(text):
            values = make_text(pois, text)
        elif isinstance(text, pd.Series):
            values = text.reindex(pois.index)
        else:
            values = pd.Series(list(text), dtype=object)
            if len(values) != len(pois):
                raise ValueError(f"{len(values)} texts given for {len(pois)} POIs.")
        values = pd.Series(np.asarray(values, dtype=object))
        blank = values.isna() | (values.astype(str).str.strip() == "")
        if blank.any():
            raise ValueError(
                f"{int(blank.sum())} of {len(values)} POIs have no text (e.g. index "
                f"{list(pois.index[blank.to_numpy()][:5])}). Drop them first, e.g. "
                "pois[pois['text'].notna()], or fill them."
            )
        return values.astype(str).tolist()

    def fit(
        self,
        pois: gpd.GeoDataFrame,
        text: str | Sequence[str] | pd.Series | Callable = TEXT_COLUMN,
    ) -> CaLLiPer:
        """Pre-train on POIs: pairs of (location, text).

        Parameters
        ----------
        pois
            GeoDataFrame of POIs in any CRS. Non-point geometries are reduced to
            their representative point, with a warning.
        text
            Name of the text column (default ``"text"``), a format template over
            columns (``"A place of {fclass}"``), a Series aligned to the index, a
            list in row order, or a callable of the frame.

        Returns
        -------
        CaLLiPer
            ``self``, fitted.
        """
        self._check_params()
        geoms = as_geoseries(pois, name="POIs")
        if not isinstance(pois, gpd.GeoDataFrame):
            pois = gpd.GeoDataFrame(geometry=geoms)
        if len(geoms) < MIN_POIS:
            raise EmptyDataError(
                f"Need at least {MIN_POIS} POIs to train and validate, got {len(geoms)}."
            )
        texts = self._texts(pois, text)
        check_training_texts(texts, self.text_model)
        crs = self._encoding_crs(geoms)
        xy = geometries_to_xy(geoms, crs, name="POIs")

        t0 = time.perf_counter()
        encoder = TextEncoder(self.text_model, cache_dir=self.cache_dir, progress=self.progress)
        table, codes = encoder.encode_unique(texts)
        t_text = time.perf_counter() - t0

        device = torch.device(self.device or default_device())
        torch.manual_seed(self.seed)
        module = self._new_module(table.shape[1]).to(device)
        data = ContrastiveDataset.from_numpy(xy, table, codes, device=device)
        train_idx, val_idx = train_val_split(len(data), self.val_fraction, self.seed)
        noise = (
            auto_location_noise(xy[train_idx])
            if self.location_noise == "auto"
            else float(self.location_noise)
        )
        config = TrainingConfig(
            batch_size=self.batch_size,
            max_steps=self.max_steps,
            max_epochs=self.max_epochs,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            warmup_steps=self.warmup_steps,
            schedule=self.lr_schedule,
            eval_every=self.eval_every,
            patience=self.patience,
            min_steps=self.min_steps,
            location_noise=noise,
            seed=self.seed,
            progress=self.progress,
        )
        history, best_step = train_contrastive(module, data, train_idx, val_idx, config)
        t_train = time.perf_counter() - t0 - t_text

        self.__dict__.pop("_precision_nets", None)  # converted copies of the old weights
        self.module_ = module
        self.crs_ = crs
        self.history_ = history
        self.best_step_ = best_step
        self.best_epoch_ = _epoch_at(history, best_step)
        self.location_noise_ = noise
        self.text_model_id_ = encoder.model_id
        self.text_dim_ = int(table.shape[1])
        self.n_pois_ = len(xy)
        self.timings_ = {"text": t_text, "train": t_train}
        self.has_projector_ = True
        self.training_texts_ = _count_texts(texts)
        self.training_extent_ = tuple(float(v) for v in (*xy.min(axis=0), *xy.max(axis=0)))
        return self

    def _encoding_crs(self, geoms: gpd.GeoSeries) -> CRS:
        """The CRS to encode in: the encoding's own, the given ``crs``, or the UTM zone."""
        required = encoding_class(self.encoding).required_crs
        if required is not None:
            if self.crs is not None and CRS.from_user_input(self.crs) != CRS(required):
                raise CRSError(
                    f"The {self.encoding!r} encoding works in {required}; leave crs=None "
                    f"(got {self.crs!r})."
                )
            return metric_crs(required)
        return metric_crs(self.crs) if self.crs is not None else estimate_metric_crs(geoms)

    # ------------------------------------------------------------------ embed
    @torch.inference_mode()
    def embed_coords(
        self,
        xy: np.ndarray,
        *,
        batch_size: int | None = None,
        normalize: bool = False,
        progress: bool | None = None,
        precision: str = "fp32",
    ) -> np.ndarray:
        """Embed ``(N, 2)`` coordinates already in :attr:`crs_` (metres).

        The low-level path under :meth:`embed`: no reprojection, no checks beyond
        finiteness.

        Parameters
        ----------
        xy
            ``(N, 2)`` coordinates in :attr:`crs_`.
        batch_size
            Points per forward pass; default: 4,096 on a CPU, 65,536 on a GPU.
        normalize
            L2-normalise the embeddings.
        progress
            Show a progress bar for more than 262,144 points (default: ``progress``).
        precision
            ``"fp32"`` (default): the model's own dtype, exact. ``"bf16"``: the location
            encoder's network (FCNet) runs in bfloat16; fast on GPUs and on CPUs with
            native bf16 (AVX-512 BF16, AMX), slower than fp32 elsewhere (it then warns
            with :class:`~geocalliper.exceptions.SlowPrecisionWarning`). ``"int8"``:
            the FCNet's Linear layers are dynamically quantised to int8 (CPU only;
            a model on a GPU raises ``ValueError``). Either way the positional encoding
            stays in the model's dtype (the sine of a coordinate in metres needs it) and
            the output keeps the model's dtype; the converted network is built once and
            cached on the model until it is refitted or its weights change. Errors of a
            reduced precision are measured in ``benchmarks/encoder_throughput.py``.

        Returns
        -------
        numpy.ndarray
            ``(N, embedding_dim)`` in the model's dtype (float32 by default).

        Examples
        --------
        >>> xy = np.array([[585_000.0, 4_511_000.0]])                     # doctest: +SKIP
        >>> model.embed_coords(xy).shape                                    # doctest: +SKIP
        (1, 128)
        >>> fast = model.embed_coords(xy, precision="int8")                 # doctest: +SKIP
        >>> float(np.abs(fast - model.embed_coords(xy)).max()) < 0.1      # doctest: +SKIP
        True
        """
        precision = check_precision(precision)
        self._check_fitted()
        xy = np.asarray(xy, dtype=np.float64)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"xy must have shape (N, 2), got {xy.shape}.")
        if not np.isfinite(xy).all():
            raise ValueError("xy holds NaN or infinite coordinates; drop them first.")
        self._warn_outside(xy)
        module = self.module_.eval()
        device = self.device_
        out_dtype = _DTYPES[self.dtype]
        if precision == "fp32":
            encode = module.location
        else:
            net, net_dtype = self._low_precision_net(precision)
            encoding = module.location.encoding

            def encode(chunk: torch.Tensor) -> torch.Tensor:
                return net(encoding(chunk).to(net_dtype)).to(out_dtype)

        batch_size = batch_size or default_batch_size(device)
        out = np.empty((len(xy), self.embedding_dim), dtype=np.dtype(self.dtype))
        show = (self.progress if progress is None else progress) and len(xy) > 262_144
        for start in tqdm(
            range(0, len(xy), batch_size), desc="embed", unit="batch", disable=not show
        ):
            chunk = torch.from_numpy(xy[start : start + batch_size]).to(device)
            emb = encode(chunk)
            if normalize:
                emb = torch.nn.functional.normalize(emb, dim=-1)
            out[start : start + len(chunk)] = emb.cpu().numpy()
        return out

    def _low_precision_net(self, precision: str) -> tuple[torch.nn.Module, torch.dtype]:
        """The location encoder's FCNet converted to ``precision``, and its input dtype.

        Converted once and cached on the model; the cache is rebuilt when ``module_`` is
        replaced (``fit``), moved to another device, or its weights are changed in place
        (their tensors' version counters move), so it never serves stale weights.
        """
        source = self.module_.location.net
        device = self.device_
        # bumped by every in-place change of a weight (load_state_dict, optimiser steps)
        versions = tuple(p._version for p in source.parameters())
        cache = self.__dict__.setdefault("_precision_nets", {})
        entry = cache.get(precision)
        if (
            entry is not None
            and entry["source"] is source
            and entry["device"] == device
            and entry["versions"] == versions
        ):
            return entry["net"], entry["dtype"]
        if precision == "bf16" and device.type == "cpu" and not _cpu_has_bf16():
            warnings.warn(
                SlowPrecisionWarning(
                    "precision='bf16' on this CPU runs slower than 'fp32': it has no native "
                    "bfloat16 instructions (AVX-512 BF16 or AMX), so torch emulates them. "
                    "Use precision='int8' for speed on this CPU, or 'bf16' on a GPU."
                ),
                stacklevel=4,
            )
        net, dtype = low_precision_net(source, precision)
        cache[precision] = {
            "source": source,
            "device": device,
            "versions": versions,
            "net": net,
            "dtype": dtype,
        }
        return net, dtype

    def __getstate__(self) -> dict[str, Any]:
        """Pickle (e.g. to Dask workers) without the cached reduced-precision networks;
        they are rebuilt on first use."""
        state = self.__dict__.copy()
        state.pop("_precision_nets", None)
        return state

    def outside_distance(self, xy: np.ndarray) -> np.ndarray:
        """Metres from each ``(x, y)`` in :attr:`crs_` to the training extent (0 inside).

        The training extent is the bounding box of the training POIs in :attr:`crs_`
        (``training_extent_``); a model saved before it was kept returns zeros.

        Examples
        --------
        >>> x0, y0, x1, y1 = model.training_extent_                # doctest: +SKIP
        >>> model.outside_distance([[x1 + 5_000, y0]])              # doctest: +SKIP
        array([5000.])
        """
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        extent = getattr(self, "training_extent_", None)
        if extent is None:
            return np.zeros(len(xy))
        xmin, ymin, xmax, ymax = extent
        dx = np.maximum(np.maximum(xmin - xy[:, 0], xy[:, 0] - xmax), 0.0)
        dy = np.maximum(np.maximum(ymin - xy[:, 1], xy[:, 1] - ymax), 0.0)
        return np.hypot(dx, dy)

    def outside_margin(self) -> float:
        """Metres beyond the training extent where a point counts as far outside it: the
        larger of ``lambda_max`` and half the extent's longer side.

        Embedding such points warns with
        :class:`~geocalliper.exceptions.OutsideTrainingAreaWarning`.

        Examples
        --------
        >>> model.outside_margin() >= model.lambda_max             # doctest: +SKIP
        True
        """
        xmin, ymin, xmax, ymax = getattr(self, "training_extent_", None) or (0, 0, 0, 0)
        return max(float(self.lambda_max), 0.5 * max(xmax - xmin, ymax - ymin))

    def _warn_outside(self, xy: np.ndarray) -> None:
        """Warn (:class:`OutsideTrainingAreaWarning`) when points lie far outside the
        training extent: their embeddings extrapolate what the model never saw."""
        if getattr(self, "training_extent_", None) is None or not len(xy):
            return
        dist = self.outside_distance(xy)
        margin = self.outside_margin()
        far = dist > margin
        if far.any():
            warnings.warn(
                OutsideTrainingAreaWarning(
                    f"{int(far.sum())} of {len(xy)} points lie far outside the area this "
                    f"model was trained on: up to {dist.max() / 1000:,.0f} km beyond the "
                    f"bounding box of its training POIs (far means more than "
                    f"{margin / 1000:,.1f} km: the larger of lambda_max and half the box's "
                    "size). Their embeddings extrapolate and carry little meaning. If that "
                    "is intended, silence this with warnings.filterwarnings('ignore', "
                    "category=geocalliper.exceptions.OutsideTrainingAreaWarning)."
                ),
                stacklevel=3,
            )

    def embed(
        self,
        points: gpd.GeoDataFrame | gpd.GeoSeries,
        *,
        batch_size: int | None = None,
        normalize: bool = False,
        precision: str = "fp32",
    ) -> pd.DataFrame:
        """Embed points given in any CRS.

        Parameters
        ----------
        points
            GeoDataFrame or GeoSeries with a CRS and a unique index. Lines and
            polygons are embedded at a point inside them (their centroid where it
            falls inside), with a warning; ``gdf.calliper.embed(model, how=...)``
            chooses the reduction, including the mean over sampled points.
        batch_size
            Points per forward pass of the encoder; default: 4,096 on a CPU (cache-sized
            batches run fastest there), 65,536 on a GPU.
        normalize
            L2-normalise the embeddings (as the contrastive loss sees them).
        precision
            ``"fp32"`` (default, exact), ``"bf16"`` or ``"int8"`` (CPU only): the
            precision of the location encoder's network; see :meth:`embed_coords`.

        Returns
        -------
        pandas.DataFrame
            Aligned to the input index, columns ``calliper_0 …``, float32 (float64
            when the model was built with ``dtype="float64"``), whatever ``precision``.

        Examples
        --------
        >>> emb = model.embed(pois)                                       # doctest: +SKIP
        >>> fast = model.embed(pois, precision="int8")                    # doctest: +SKIP
        >>> fast.dtypes.unique()                                          # doctest: +SKIP
        array([dtype('float32')], dtype=object)
        """
        from ..spatial.reduce import embed_geometries

        check_precision(precision)
        return embed_geometries(
            self, points, batch_size=batch_size, normalize=normalize, precision=precision
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into the folder ``path``."""
        self._check_fitted()
        params = {k: v for k, v in self.get_params().items() if k not in _RUNTIME_PARAMS}
        params["crs"] = None
        config = {
            "params": params,
            "crs": {"wkt": self.crs_.to_wkt(), "epsg": self.crs_.to_epsg()},
            "text_model": self.text_model_id_,
            "text_dim": self.text_dim_,
            "n_pois": self.n_pois_,
            "best_step": self.best_step_,
            "best_epoch": self.best_epoch_,
            "location_noise": getattr(self, "location_noise_", 0.0),
            "history": self.history_.to_dict("records"),
            "text_projector": self.has_projector_,
        }
        if getattr(self, "training_extent_", None) is not None:  # xmin, ymin, xmax, ymax
            config["training_extent"] = list(self.training_extent_)
        texts = getattr(self, "training_texts_", None)
        if texts is not None:  # text -> number of POIs, most frequent first
            config["training_texts"] = {str(t): int(n) for t, n in texts.items()}
        state = self.module_.state_dict()
        if not self.has_projector_:
            state = {k: v for k, v in state.items() if k not in TEXT_SIDE_KEYS}
        return save_model_dir(path, CALLIPER_KIND, config, state)

    @classmethod
    def load(
        cls, path: str | os.PathLike, *, device: str | None = None, **runtime: Any
    ) -> CaLLiPer:
        """Load a model saved with :meth:`save`; it embeds exactly as before.

        ``device`` and ``runtime`` (``cache_dir``, ``progress``) set how it runs here.
        Raises :class:`~geocalliper.exceptions.ModelFileError` for a missing, corrupt
        or mismatched directory. A model saved without its text projector (its
        config says ``"text_projector": false``, or its weights lack the projector)
        loads and embeds locations; comparing them with texts then raises
        :class:`~geocalliper.exceptions.MissingProjectorError`.
        """
        config, tensors = load_model_dir(path, CALLIPER_KIND, validate=cls._validate_config)
        config_path = Path(path) / "config.json"
        try:
            params = {**LEGACY_PARAMS, **dict(config["params"])}
            crs_info = config["crs"]
            crs = (
                CRS.from_epsg(crs_info["epsg"])
                if crs_info.get("epsg")
                else CRS.from_wkt(crs_info["wkt"])
            )
            text_model = config["text_model"]
            text_dim = int(config["text_dim"])
            model = cls(**params, device=device, **runtime)
            model._check_params()
            module = model._new_module(text_dim)
            has_projector = config.get("text_projector", True) is not False and all(
                k in tensors for k in PROJECTOR_KEYS
            )
            if not has_projector:  # the location encoder alone: keep only its weights
                tensors = {k: v for k, v in tensors.items() if k not in TEXT_SIDE_KEYS}
            missing, unexpected = module.load_state_dict(tensors, strict=False)
            allowed = () if has_projector else TEXT_SIDE_KEYS
            if unexpected or set(missing) - set(allowed):
                raise RuntimeError(
                    f"missing tensors {sorted(set(missing) - set(allowed))}, "
                    f"unexpected tensors {sorted(unexpected)}"
                )
            texts = config.get("training_texts")
            training_texts = None
            if texts is not None:
                texts = dict(texts)
                training_texts = pd.Series(
                    [int(n) for n in texts.values()],
                    index=pd.Index([str(t) for t in texts], dtype=object, name="text"),
                    dtype=np.int64,
                    name="count",
                )
            extent = config.get("training_extent")
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            raise ModelFileError(
                f"The model in {str(path)!r} does not match its config ({config_path}: "
                f"{exc}). Save the model again with model.save(path)."
            ) from exc
        model.module_ = module.to(torch.device(device or default_device())).eval()
        model.crs_ = metric_crs(crs)
        model.history_ = pd.DataFrame(config.get("history", []))
        model.best_step_ = int(config.get("best_step", 0))
        model.best_epoch_ = float(config.get("best_epoch", 0))
        model.location_noise_ = float(config.get("location_noise", 0.0))
        model.text_model_id_ = text_model
        model.text_dim_ = text_dim
        model.n_pois_ = int(config.get("n_pois", 0))
        model.timings_ = {}
        model.has_projector_ = has_projector
        model.training_texts_ = training_texts
        model.training_extent_ = tuple(float(v) for v in extent) if extent else None
        if params.get("text_model") is None and text_model != DEFAULT_TEXT_MODEL:
            model.text_model = text_model.removeprefix("local:")
        return model

    @classmethod
    def _validate_config(cls, config: dict[str, Any], config_path: Path) -> None:
        """Check the values of a model's ``config.json`` before anything is allocated:
        types and ranges of every parameter, and the tensor shapes they imply (built on
        torch's ``meta`` device, which allocates nothing) against the weights'."""
        fix = "Save the model again with model.save(path)."

        def refuse(what: str) -> ModelFileError:
            return ModelFileError(f"{config_path}: {what}. {fix}")

        params = config.get("params")
        if not isinstance(params, dict):
            raise refuse(f'"params" must be an object, got {params!r}')
        unknown = set(params) - set(cls._param_names()) | set(params) & set(_RUNTIME_PARAMS)
        if unknown:
            raise refuse(f"unknown parameters {sorted(unknown)} in params")
        crs = config.get("crs")
        if (
            not isinstance(crs, dict)
            or not isinstance(crs.get("wkt"), str)
            or not isinstance(crs.get("epsg"), int | None)
        ):
            raise refuse(f'"crs" must be {{"wkt": text, "epsg": integer or null}}, got {crs!r}')
        text_dim = config.get("text_dim")
        if not isinstance(text_dim, int) or isinstance(text_dim, bool) or text_dim < 1:
            raise refuse(f'"text_dim" must be a positive integer, got {text_dim!r}')
        if not isinstance(config.get("text_model"), str):
            raise refuse(f'"text_model" must be a text, got {config.get("text_model")!r}')
        texts = config.get("training_texts")
        if texts is not None and (
            not isinstance(texts, dict)
            or not all(isinstance(n, int) and n > 0 for n in texts.values())
        ):
            raise refuse('"training_texts" must map each text to its positive count')
        extent = config.get("training_extent")
        if extent is not None and (
            not isinstance(extent, list)
            or len(extent) != 4
            or not all(isinstance(v, int | float) and math.isfinite(v) for v in extent)
            or extent[0] > extent[2]
            or extent[1] > extent[3]
        ):
            raise refuse(f'"training_extent" must be [xmin, ymin, xmax, ymax], got {extent!r}')
        for key in ("best_step", "n_pois"):
            if not isinstance(config.get(key, 0), int):
                raise refuse(f'"{key}" must be an integer, got {config.get(key)!r}')
        for key in ("best_epoch", "location_noise"):
            if not isinstance(config.get(key, 0), int | float):
                raise refuse(f'"{key}" must be a number, got {config.get(key)!r}')
        if not isinstance(config.get("history", []), list):
            raise refuse('"history" must be a list of epochs')
        try:
            model = cls(**{**LEGACY_PARAMS, **params}, device="cpu")
            model._check_params()
        except (TypeError, ValueError) as exc:
            raise refuse(f"invalid parameters ({exc})") from exc
        with torch.device("meta"):  # shapes only: nothing is allocated
            shapes = {k: list(v.shape) for k, v in model._new_module(text_dim).state_dict().items()}
        saved = config["weights"].get("tensors", {})
        optional = set(TEXT_SIDE_KEYS)
        for key, shape in shapes.items():
            entry = saved.get(key)
            if entry is None and key in optional:
                continue
            if entry is None or not isinstance(entry, list) or len(entry) != 2 or entry[1] != shape:
                found = entry[1] if isinstance(entry, list) and len(entry) == 2 else entry
                raise refuse(
                    f"its parameters (hidden_dim={model.hidden_dim}, embedding_dim="
                    f"{model.embedding_dim}, num_scales={model.num_scales}, …) need tensor "
                    f"{key!r} of shape {shape}, but the weights hold {found}"
                )

    def _temperature(self) -> float:
        self._check_fitted()
        return math.exp(-float(self.module_.logit_scale.detach()))

    def _check_projector(self) -> None:
        """Raise :class:`MissingProjectorError` unless the text projector is there."""
        self._check_fitted()
        if not getattr(self, "has_projector_", True):
            raise MissingProjectorError(
                "This CaLLiPer model was saved without its text projector, so it can embed "
                "places but not compare them with texts. Re-run CaLLiPer.fit(pois) on the "
                "training POIs (it trains the projector with the location encoder) and save "
                "that model."
            )

    # ------------------------------------------------------------------ zero-shot
    def embed_texts(self, texts: str | Sequence[str], *, normalize: bool = True) -> pd.DataFrame:
        """Project texts into the location-embedding space with the trained projector.

        Returns a DataFrame indexed by the texts, columns ``calliper_0 …``; see
        :func:`geocalliper.zeroshot.text_vectors`.
        """
        from ..zeroshot.texts import embed_texts

        return embed_texts(self, texts, normalize=normalize)

    def similarity(
        self,
        points: gpd.GeoDataFrame | gpd.GeoSeries,
        texts: str | Sequence[str],
        *,
        batch_size: int | None = None,
    ) -> pd.DataFrame:
        """Cosine similarity between each point's location and each text.

        Thin wrapper of :func:`geocalliper.zeroshot.similarity`: a DataFrame aligned to
        the points' index with one column per text.

        Examples
        --------
        >>> model.similarity(pois, ["A place of cafe", "A place of park"])  # doctest: +SKIP
        """
        from ..zeroshot.scoring import similarity

        return similarity(self, points, texts, batch_size=batch_size)

    def describe(
        self,
        points: gpd.GeoDataFrame | gpd.GeoSeries,
        candidates: Sequence[str] | None = None,
        k: int = 5,
        *,
        prior: Any = "auto",
        batch_size: int | None = None,
    ) -> pd.DataFrame:
        """The ``k`` texts that best describe each point, best first (a tidy frame).

        Thin wrapper of :func:`geocalliper.zeroshot.describe`: candidates default to
        the training texts, ranked with their log training frequency as the prior.

        Examples
        --------
        >>> model.describe(pois.head(3), k=3)                            # doctest: +SKIP
        """
        from ..zeroshot.scoring import describe

        return describe(self, points, candidates, k, prior=prior, batch_size=batch_size)


def _cpu_has_bf16() -> bool:
    """Whether this CPU has native bfloat16 matmuls (oneDNN's check: AVX-512 BF16 / AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


def _epoch_at(history: pd.DataFrame, step: int) -> float:
    """Passes over the training POIs at ``step`` (0 when no validation ran)."""
    row = history.loc[history["step"] == step, "epoch"] if len(history) else ()
    return float(row.iloc[0]) if len(row) else 0.0


def _count_texts(texts: Sequence[str]) -> pd.Series:
    """Distinct texts and their counts, most frequent first (ties alphabetical)."""
    counts = pd.Series(list(texts), dtype=object).value_counts().sort_index()
    counts = counts.sort_values(ascending=False, kind="stable")
    index = pd.Index(counts.index.astype(str).tolist(), dtype=object, name="text")
    return pd.Series(counts.to_numpy(np.int64), index=index, name="count")
