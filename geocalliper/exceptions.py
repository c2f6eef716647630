"""Errors raised by geocalliper.

Every error subclasses :class:`GeocalliperError` and a built-in class
(``ValueError``, ``KeyError``, ``RuntimeError`` …), so ``except ValueError`` keeps
working. Messages say what was wrong and how to fix it.
"""

from __future__ import annotations

import errno


class GeocalliperError(Exception):
    """Base class of all geocalliper errors."""


class EmptyDataError(GeocalliperError, ValueError):
    """The input has no rows (or no usable rows)."""


class MissingCRSError(GeocalliperError, ValueError):
    """A GeoDataFrame or GeoSeries has no CRS, so its coordinates cannot be placed."""


class CRSError(GeocalliperError, ValueError):
    """A CRS cannot be used: e.g. a geographic CRS where metres are needed."""


class InvalidGeometryError(GeocalliperError, ValueError):
    """Missing, empty or non-finite geometries, or coordinates outside the CRS' range."""


class MissingColumnError(GeocalliperError, KeyError):
    """A column the call needs is not in the frame."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class DuplicateIndexError(GeocalliperError, ValueError):
    """The frame's index has duplicates, so results could not be aligned to it."""


class GridTooLargeError(GeocalliperError, MemoryError):
    """A raster request would not fit in memory; pass ``chunks=`` for a lazy array."""


class NotFittedError(GeocalliperError, RuntimeError):
    """An estimator was used before ``fit`` (or ``load``)."""


class ModelFileError(GeocalliperError, ValueError):
    """A model directory is missing a file, was altered, or does not match its config."""


class TextModelError(GeocalliperError, OSError):
    """The sentence-transformers text model could not be loaded."""


class VisitsError(GeocalliperError, ValueError):
    """A visits frame cannot be used as it is: e.g. mixed tz-aware and naive times."""


class MissingProjectorError(ModelFileError):
    """The model has no trained text projector, so it cannot compare places with texts."""


class MissingTrainingTextsError(ModelFileError):
    """The model does not know the texts it was trained on (saved by an older version)."""


class DuplicateLabelError(GeocalliperError, ValueError):
    """Two labels share a name or a text, so the best match between them is undefined."""


class TextTruncatedWarning(UserWarning):
    """A text is longer than the text model accepts; only its first tokens were embedded."""


class TrainingDivergedError(GeocalliperError, RuntimeError):
    """Training produced a NaN or infinite loss; the model was not fitted."""


class UndertrainedWarning(UserWarning):
    """Training ran (or kept a model from) too few optimiser steps to learn much."""


class DiskFullError(GeocalliperError, OSError):
    """The disk filled up during a write (``errno`` is ``ENOSPC``); nothing was left behind.

    The target file, if it existed, is left as it was.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.errno = errno.ENOSPC
        self.strerror = message

    def __str__(self) -> str:  # OSError would prefix "[Errno 28]" only with two args
        return str(self.args[0]) if self.args else ""


class DegenerateTextsError(GeocalliperError, ValueError):
    """The training texts cannot teach the model anything: e.g. every POI has the same."""


class OutsideTrainingAreaWarning(UserWarning):
    """Points lie far outside the area the model was trained on; their embeddings
    extrapolate.

    "Far" means more than the larger of the model's ``lambda_max`` and half the longer
    side of the training POIs' bounding box beyond that box (in the model's CRS).
    Silence it where it is intended::

        import warnings
        from geocalliper.exceptions import OutsideTrainingAreaWarning
        warnings.filterwarnings("ignore", category=OutsideTrainingAreaWarning)
    """


class TextCacheWarning(UserWarning):
    """The text-embedding cache file cannot be read or written (corrupt, read-only…) and
    is bypassed, or held invalid vectors that were recomputed."""


class PLTFormatError(GeocalliperError, ValueError):
    """A GeoLife PLT file cannot be parsed: wrong header, columns or dates."""


class DuplicateFixesWarning(UserWarning):
    """Position fixes that repeat an earlier fix exactly were dropped (with the counts)."""


class NoDefaultModelError(GeocalliperError, TypeError):
    """A call needed a model, none was passed and no default model is set.

    A ``TypeError``, as the missing argument was before defaults existed.
    """


class OSMDownloadError(GeocalliperError, OSError):
    """An OpenStreetMap extract could not be fetched (offline, or an unknown place name)."""


class SlowPrecisionWarning(UserWarning):
    """A reduced precision was asked for where this machine has no fast kernels for it:
    e.g. ``precision="bf16"`` on a CPU without native bfloat16 (AVX-512 BF16 or AMX),
    where torch emulates it and runs slower than float32. ``precision="int8"`` is the
    fast reduced precision on such CPUs."""
