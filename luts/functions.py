"""Registry of the nonlinear functions the fitter knows, each with its natural domain.

Every function is float64 numpy, vectorized. User functions are accepted as ``module:function``.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from nlihw.errors import FunctionError


@dataclass(frozen=True)
class Function:
    """A named real function with the part of the real line where it is defined."""
    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    undefined: Callable[[np.ndarray], np.ndarray] | None = None   # mask of x where undefined
    undefined_text: str = ""                                       # e.g. "x <= 0"
    default_domain: tuple[float, float] | None = None              # None: the whole input format
    description: str = ""

    def __call__(self, x) -> np.ndarray:
        return np.asarray(self.fn(np.asarray(x, dtype=np.float64)), dtype=np.float64)

    def check_domain(self, lo: float, hi: float) -> None:
        """Raise if the function is undefined anywhere on [lo, hi] (or gives non-finite values)."""
        if self.undefined is not None:
            probe = np.array([lo, hi, 0.0 if lo <= 0.0 <= hi else lo])
            if np.any(self.undefined(probe)):
                raise FunctionError(
                    f"{self.name} is undefined for {self.undefined_text}; the requested domain "
                    f"[{lo:g}, {hi:g}] reaches it (pass a --domain inside where it is defined)")


_erf = np.frompyfunc(math.erf, 1, 1)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def _rsqrt(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 / np.sqrt(x)


def _reciprocal(x):
    with np.errstate(divide="ignore"):
        return 1.0 / x


REGISTRY: dict[str, Function] = {f.name: f for f in [
    Function("silu", lambda x: x * _sigmoid(x), description="x * sigmoid(x) (SwiGLU, Mamba gate)"),
    Function("gelu", _gelu, description="0.5 x (1 + erf(x / sqrt 2))"),
    Function("gelu_tanh", _gelu_tanh, description="tanh approximation of GELU"),
    Function("exp", np.exp, description="e^x (softmax uses x <= 0)"),
    Function("sigmoid", _sigmoid, description="1 / (1 + e^-x)"),
    Function("tanh", np.tanh, description="hyperbolic tangent"),
    Function("softplus", lambda x: np.logaddexp(0.0, x), description="log(1 + e^x) (Mamba dt)"),
    Function("reciprocal", _reciprocal, undefined=lambda x: x == 0.0, undefined_text="x = 0",
             default_domain=(1.0, 2.0), description="1 / x (normalized mantissa in [1, 2))"),
    Function("rsqrt", _rsqrt, undefined=lambda x: x <= 0.0, undefined_text="x <= 0",
             default_domain=(1.0, 4.0), description="1 / sqrt(x) (RMSNorm, mantissa in [1, 4))"),
]}


def get_function(name: str) -> Function:
    """Look up a registered function, or import a user callable given as ``module:function``."""
    if name in REGISTRY:
        return REGISTRY[name]
    if ":" in name:
        mod_name, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(mod_name), attr)
        except (ImportError, AttributeError) as e:
            raise FunctionError(f"cannot load user function {name!r}: {e}") from None
        if not callable(fn):
            raise FunctionError(f"user function {name!r} is not callable")
        return Function(name, fn, description="user function")
    raise FunctionError(f"unknown function {name!r}; known: {', '.join(sorted(REGISTRY))} "
                        f"(or module:function)")
