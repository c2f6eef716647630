"""A default model, so that ``gdf.calliper.embed()`` needs no argument.

Three ways to set one, checked in this order by :func:`get_default_model`:

1. ``gc.set_default_model(model_or_path)``: for the rest of the session;
2. ``with gc.set_default_model(model_or_path):``: inside the block only;
3. the environment variable ``GEOCALLIPER_MODEL``: a folder written by
   :meth:`geocalliper.CaLLiPer.save`, loaded on first use (and again if the variable
   changes).

Without any of them, a call that needs a model raises
:class:`~geocalliper.exceptions.NoDefaultModelError`, which names the three ways.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Union

from .exceptions import NoDefaultModelError

if TYPE_CHECKING:
    from .calliper import CaLLiPer

#: environment variable naming a saved model folder
ENV_VAR = "GEOCALLIPER_MODEL"

ModelLike = Union["CaLLiPer", str, os.PathLike]

_state: dict[str, Any] = {"model": None, "env": None}  # env: (path, loaded model)


def _as_model(model_or_path: ModelLike) -> CaLLiPer:
    """A fitted model from a model (returned as is) or a saved model folder (loaded)."""
    if isinstance(model_or_path, (str, os.PathLike)):
        from .calliper import CaLLiPer

        return CaLLiPer.load(Path(model_or_path))
    if not hasattr(model_or_path, "embed_coords"):
        raise TypeError(
            "set_default_model takes a fitted CaLLiPer or the folder of a saved one, not a "
            f"{type(model_or_path).__name__}."
        )
    return model_or_path


class set_default_model:  # lower case: used like a function, and as a context manager
    """Set the model used when a call is given none (e.g. ``gdf.calliper.embed()``).

    Called alone, it sets the default for the session; used in a ``with`` block, it
    sets it for the block only and restores the one before on exit.

    Parameters
    ----------
    model_or_path
        A fitted :class:`~geocalliper.CaLLiPer`, or the folder of a saved one (loaded
        now, so a bad path fails here), or ``None`` to clear the default.

    Examples
    --------
    >>> import geocalliper as gc
    >>> gc.set_default_model("helsinki-calliper")         # doctest: +SKIP
    >>> emb = pois.calliper.embed()                        # doctest: +SKIP
    >>> with gc.set_default_model(other_model):           # doctest: +SKIP
    ...     emb2 = pois.calliper.embed()
    >>> gc.set_default_model(None)  # clears it
    <geocalliper default model: None>
    """

    def __init__(self, model_or_path: ModelLike | None) -> None:
        self._previous = _state["model"]
        self.model = None if model_or_path is None else _as_model(model_or_path)
        _state["model"] = self.model

    def __enter__(self) -> CaLLiPer | None:
        return self.model

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _state["model"] = self._previous

    def __repr__(self) -> str:
        what = None if self.model is None else type(self.model).__name__
        return f"<geocalliper default model: {what}>"


def get_default_model() -> CaLLiPer:
    """The default model: the one set by :class:`set_default_model`, else ``GEOCALLIPER_MODEL``.

    Returns
    -------
    CaLLiPer
        The fitted model.

    Raises
    ------
    NoDefaultModelError
        When neither is set; the message names the three ways to set one.

    Examples
    --------
    >>> import geocalliper as gc
    >>> with gc.set_default_model(None):
    ...     gc.get_default_model()        # doctest: +SKIP
    Traceback (most recent call last):
    NoDefaultModelError: No model was given and no default model is set...
    """
    if _state["model"] is not None:
        return _state["model"]
    path = os.environ.get(ENV_VAR)
    if path:
        cached = _state["env"]
        if cached is None or cached[0] != path:
            _state["env"] = (path, _as_model(path))
        return _state["env"][1]
    raise NoDefaultModelError(
        "No model was given and no default model is set. Pass one (gdf.calliper.embed(model)), "
        "or set a default: gc.set_default_model(model_or_folder) for the session, "
        "`with gc.set_default_model(model_or_folder):` for a block, or the environment "
        f"variable {ENV_VAR}=/path/to/saved/model."
    )


def resolve_model(model: ModelLike | None) -> CaLLiPer:
    """``model`` itself, a saved model folder loaded, or the default model when ``None``.

    Examples
    --------
    >>> resolve_model(None)           # doctest: +SKIP
    """
    return get_default_model() if model is None else _as_model(model)
