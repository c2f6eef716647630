"""What the estimators share: constructor parameters as in scikit-learn, and the
fitted state (a torch ``module_``)."""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

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
