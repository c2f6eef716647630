"""What the estimators share: constructor parameters as in scikit-learn, and the
fitted state (a torch ``module_``)."""

from __future__ import annotations

import inspect
import math
import numbers
import types
import typing
from typing import Any, TypeVar

import numpy as np
import torch

from .exceptions import NotFittedError

_T = TypeVar("_T", bound="ParamsMixin")


class ParamsMixin:
    """``get_params``/``set_params`` over the keyword arguments of ``__init__``.

    An estimator stores each ``__init__`` argument under its own name, unchanged.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters, as in scikit-learn."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self: _T, **params: Any) -> _T:
        """Set constructor parameters (call ``fit`` again for them to take effect);
        unknown names raise ``ValueError``."""
        unknown = set(params) - set(self._param_names())
        if unknown:
            raise ValueError(f"Unknown parameters {sorted(unknown)}.")
        for k, v in params.items():
            setattr(self, k, v)
        return self


def _allowed_types(cls: type, name: str, default: Any) -> tuple[type, ...] | None:
    """The types parameter ``name`` of ``cls.__init__`` takes: its annotation when it is
    made of plain classes (``str | None``), else the type of its default; ``None``
    when that cannot be told (``Any``, no default)."""
    try:
        hint = typing.get_type_hints(cls.__init__).get(name)
    except Exception:  # an annotation that does not evaluate here
        hint = None
    if hint is not None:
        args = (
            typing.get_args(hint)
            if typing.get_origin(hint) in (typing.Union, types.UnionType)
            else (hint,)
        )
        args = tuple(typing.get_origin(a) or a for a in args)
        if all(isinstance(a, type) and a is not Any for a in args):
            return args
        return None
    if default is inspect.Parameter.empty or default is None:
        return None
    return (type(default),)


def check_param_types(estimator: Any) -> None:
    """Check each ``__init__`` parameter of ``estimator`` against its annotation (or its
    default's type), converting NumPy scalars to Python numbers in place.

    ``int`` accepts any integer but ``bool``; ``float`` accepts any finite real number
    but ``bool``. Parameters whose type cannot be told are left alone.

    Raises
    ------
    TypeError
        A value of the wrong type, naming the parameter and the types it takes.
    ValueError
        A NaN or infinite float.
    """
    cls = type(estimator)
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or not hasattr(estimator, name):
            continue
        allowed = _allowed_types(cls, name, p.default)
        value = getattr(estimator, name)
        if isinstance(value, np.generic):  # np.float32(0.3), np.int64(1), np.bool_(True)
            value = value.item()
            setattr(estimator, name, value)
        if allowed is None or object in allowed:
            continue
        ok = False
        for t in allowed:
            if t is bool:
                ok = isinstance(value, bool)
            elif t is int:
                ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
            elif t is float:
                ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
                if ok and not math.isfinite(value):
                    raise ValueError(f"{name} must be a finite number, got {value!r}.")
            else:
                ok = isinstance(value, t)
            if ok:
                break
        if not ok:
            names = " or ".join("None" if t is type(None) else t.__name__ for t in allowed)
            raise TypeError(f"{name} must be {names}, got {value!r} ({type(value).__name__}).")


class FittedModuleMixin:
    """``is_fitted``, ``device_`` and the not-fitted check of an estimator whose learned
    state is a torch module in ``module_``; ``_not_fitted_message`` says what to call."""

    _not_fitted_message = "This estimator is not fitted yet: call fit(...) or load(path) first."

    @property
    def is_fitted(self) -> bool:
        """Whether the estimator has learned state (after ``fit`` or ``load``)."""
        return hasattr(self, "module_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(self._not_fitted_message)

    @property
    def device_(self) -> torch.device:
        """Device the fitted module lives on."""
        self._check_fitted()
        return next(self.module_.parameters()).device
