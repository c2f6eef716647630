"""Constructor parameters of the estimators, as in scikit-learn (one place for both)."""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

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
