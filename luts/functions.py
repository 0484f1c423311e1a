"""Registry of the nonlinear functions the fitter knows, each with its natural domain.

Every registered function is float64 numpy, vectorized, and has an mpmath twin used to decide the
rare stored values whose float64 value lies on a rounding boundary (see ``stored_values``). User
functions are accepted as ``module:function``; they are probed once on a small array and every
call is checked (shape, real dtype), so a bad one gives one ``FunctionError`` naming it (a
``SystemExit`` from user code too; ``KeyboardInterrupt`` still interrupts). Loading one imports
and runs its module: a trust boundary, like a pytest conftest or unpickling.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Callable

import mpmath
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
    mp: Callable | None = None      # mpmath form (mpf -> mpf); None: float64 values are final
    user: bool = False              # loaded from module:function (checked on every call)

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if not self.user:
            return np.asarray(self.fn(x), dtype=np.float64)
        try:
            y = self.fn(x)
        except (Exception, SystemExit) as e:  # noqa: BLE001  (Ctrl-C still interrupts)
            raise FunctionError(f"user function {self.name!r} raised {type(e).__name__}: {e} "
                                f"(it must map a float64 numpy array to an array of the same "
                                f"shape)") from None
        try:
            y_arr = np.asarray(y)
        except Exception:         # noqa: BLE001  (e.g. a ragged list)
            y_arr = np.asarray(None)
        if y_arr.shape != x.shape:
            raise FunctionError(f"user function {self.name!r} returned shape {y_arr.shape} for an "
                                f"input of shape {x.shape}; it must be vectorized (numpy "
                                f"elementwise), returning one value per input")
        if y_arr.dtype.kind not in "biuf":
            raise FunctionError(f"user function {self.name!r} returned {y_arr.dtype} values; "
                                f"expected real numbers (float64)")
        return y_arr.astype(np.float64)

    def probe(self, lo: float, hi: float) -> None:
        """Call the function once on a few points of [lo, hi]; raise FunctionError if it fails."""
        x = np.linspace(lo, hi, 7)
        with np.errstate(all="ignore"):
            y = self(x)
        if not np.all(np.isfinite(y)):
            raise FunctionError(f"{self.name} is not finite at x = {x[~np.isfinite(y)][0]:g} "
                                f"(probed on [{lo:g}, {hi:g}]); pass a narrower --domain")

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


# mpmath forms (same mathematical definitions; evaluated at the caller's mpmath precision)
def _mp_sigmoid(x):
    return 1 / (1 + mpmath.exp(-x))


def _mp_gelu(x):
    return x * (1 + mpmath.erf(x / mpmath.sqrt(2))) / 2


def _mp_gelu_tanh(x):
    c = mpmath.sqrt(mpmath.mpf(2) / mpmath.pi)
    return x * (1 + mpmath.tanh(c * (x + mpmath.mpf("0.044715") * x ** 3))) / 2


def _mp_softplus(x):
    return mpmath.log1p(mpmath.exp(x))


REGISTRY: dict[str, Function] = {f.name: f for f in [
    Function("silu", lambda x: x * _sigmoid(x), description="x * sigmoid(x) (SwiGLU, Mamba gate)",
             mp=lambda x: x * _mp_sigmoid(x)),
    Function("gelu", _gelu, description="0.5 x (1 + erf(x / sqrt 2))", mp=_mp_gelu),
    Function("gelu_tanh", _gelu_tanh, description="tanh approximation of GELU", mp=_mp_gelu_tanh),
    Function("exp", np.exp, description="e^x (softmax uses x <= 0)", mp=mpmath.exp),
    Function("sigmoid", _sigmoid, description="1 / (1 + e^-x)", mp=_mp_sigmoid),
    Function("tanh", np.tanh, description="hyperbolic tangent", mp=mpmath.tanh),
    Function("softplus", lambda x: np.logaddexp(0.0, x), description="log(1 + e^x) (Mamba dt)",
             mp=_mp_softplus),
    Function("reciprocal", _reciprocal, undefined=lambda x: x == 0.0, undefined_text="x = 0",
             default_domain=(1.0, 2.0), description="1 / x (normalized mantissa in [1, 2))",
             mp=lambda x: 1 / x),
    Function("rsqrt", _rsqrt, undefined=lambda x: x <= 0.0, undefined_text="x <= 0",
             default_domain=(1.0, 4.0), description="1 / sqrt(x) (RMSNorm, mantissa in [1, 4))",
             mp=lambda x: 1 / mpmath.sqrt(x)),
]}


def get_function(name: str) -> Function:
    """Look up a registered function, or import a user callable given as ``module:function``."""
    if name in REGISTRY:
        return REGISTRY[name]
    if ":" in name:
        mod_name, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(mod_name), attr)
        except (Exception, SystemExit) as e:  # noqa: BLE001  ImportError, errors raised on import
            raise FunctionError(f"cannot load user function {name!r}: {type(e).__name__}: "
                                f"{str(e).splitlines()[0] if str(e) else ''}") from None
        if not callable(fn):
            raise FunctionError(f"user function {name!r} is not callable")
        return Function(name, fn, description="user function", user=True)
    raise FunctionError(f"unknown function {name!r}; known: {', '.join(sorted(REGISTRY))} "
                        f"(or module:function)")
