"""Built-in rules for `scipy.special` (and `cupyx.scipy.special`, the same
functions for CuPy arrays), registered where the module imports: SciPy is
no dependency of s2sad.

The rules are written once, over the module they are registered for
(`register(special)`), so a CuPy user's gradient calls cupyx's `polygamma`
where a NumPy user's calls SciPy's. Like the NumPy rules they make no host
arrays and keep a float32 input's dtype. Adjoints are the numerically stable
forms: `logsumexp`'s is the softmax `exp(a - result)`, `log_ndtr`'s
`exp(-x**2 / 2 - result) / sqrt(2 pi)` (no `ndtr` that underflows for large
negative `x`), and `xlogy`, `xlog1py` give a zero gradient to `y` where
`x == 0`, as SciPy gives a zero value there.
"""

import math

import numpy as np

from ..runtime import unbroadcast
from . import adjoint, tangent

_SQRT_2PI = math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def register(special):
    """Register the rules for the functions of one `special` module."""
    def has(name):
        return hasattr(special, name)

    def reverse(name, **facts):             # (a function this module lacks: no rule)
        return adjoint(getattr(special, name), **facts) if has(name) else (lambda rule: rule)

    def forward(name):
        return tangent(getattr(special, name)) if has(name) else (lambda rule: rule)

    @reverse("expit", elementwise=True)
    def _(g, result, x, **_):
        return g * result * (1.0 - result)

    @reverse("logit", elementwise=True)
    def _(g, result, x, **_):
        return g / (x * (1.0 - x))

    @reverse("erf", elementwise=True)
    def _(g, result, x, **_):
        return g * _TWO_OVER_SQRT_PI * np.exp(-x * x)

    @reverse("erfc", elementwise=True)
    def _(g, result, x, **_):
        return -g * _TWO_OVER_SQRT_PI * np.exp(-x * x)

    @reverse("erfinv", elementwise=True)
    def _(g, result, x, **_):
        return g * (0.5 * math.sqrt(math.pi)) * np.exp(result * result)

    @reverse("erfcx", elementwise=True)
    def _(g, result, x, **_):
        # erfcx = exp(x**2) erfc(x): its slope 2 x erfcx(x) - 2 / sqrt(pi)
        return g * (2.0 * x * result - _TWO_OVER_SQRT_PI)

    @reverse("gammaln", elementwise=True)
    def _(g, result, x, **_):
        return g * special.digamma(x)

    @reverse("digamma", elementwise=True)
    def _(g, result, x, **_):
        return g * special.polygamma(1, x)

    @reverse("ndtr", elementwise=True)
    def _(g, result, x, **_):
        return g * np.exp(-0.5 * x * x) / _SQRT_2PI

    @reverse("log_ndtr", elementwise=True)
    def _(g, result, x, **_):
        # phi(x) / Phi(x), as exp(log phi - log Phi): finite for large negative x
        return g * np.exp(-0.5 * x * x - result) / _SQRT_2PI

    @reverse("ndtri", elementwise=True)
    def _(g, result, x, **_):
        return g * _SQRT_2PI * np.exp(0.5 * result * result)

    @reverse("entr", elementwise=True)
    def _(g, result, x, **_):
        return -g * (np.log(x) + 1.0)

    @reverse("softplus", elementwise=True)
    def _(g, result, x, **_):
        return g * special.expit(x)

    @reverse("polygamma")
    def _(g, result, n, x):
        return None, g * special.polygamma(n + 1, x)

    @forward("polygamma")
    def _(tangents, result, n, x):
        return tangents[1] * special.polygamma(n + 1, x)

    @reverse("xlogy", elementwise=True)
    def _(g, result, x, y, **_):
        # xlogy(0, y) is 0 for every y: no gradient reaches y there
        return (unbroadcast(special.xlogy(g, y), x),
                unbroadcast(g * x / np.where(x == 0, 1.0, y), y))

    @reverse("xlog1py", elementwise=True)
    def _(g, result, x, y, **_):
        return (unbroadcast(special.xlog1py(g, y), x),
                unbroadcast(g * x / np.where(x == 0, 1.0, 1.0 + y), y))

    @reverse("rel_entr", elementwise=True)
    def _(g, result, x, y, **_):
        return unbroadcast(g * (np.log(x / y) + 1.0), x), unbroadcast(-g * x / y, y)

    @reverse("kl_div", elementwise=True)
    def _(g, result, x, y, **_):
        return unbroadcast(g * np.log(x / y), x), unbroadcast(g * (1.0 - x / y), y)

    # ---- along an axis -------------------------------------------------------------

    @reverse("logsumexp")
    def _(g, result, a, axis=None, b=None, keepdims=False, return_sign=False):
        # the gradient is the softmax exp(a - result) (times b): stable as the value is
        if axis is None or keepdims or np.ndim(result) == 0:
            weights = np.exp(a - result)
            g_out = g
        else:
            weights = np.exp(a - np.expand_dims(result, axis))
            g_out = np.expand_dims(g, axis)
        if b is None:
            return g_out * weights, None, None
        return unbroadcast(g_out * b * weights, a), None, unbroadcast(g_out * weights, b)

    @forward("logsumexp")
    def _(tangents, result, a, axis=None, b=None, keepdims=False, return_sign=False):
        if axis is None or keepdims or np.ndim(result) == 0:
            weights = np.exp(a - result)
        else:
            weights = np.exp(a - np.expand_dims(result, axis))
        ta = tangents[0] if tangents[0] is not None else 0.0
        if b is None:
            return np.sum(weights * ta, axis=axis, keepdims=keepdims)
        tb = tangents[2] if len(tangents) > 2 and tangents[2] is not None else 0.0
        return np.sum(weights * (b * ta + tb), axis=axis, keepdims=keepdims)

    @reverse("softmax")
    def _(g, result, x, axis=None):
        return result * (g - np.sum(g * result, axis=axis, keepdims=True)), None

    @forward("softmax")
    def _(tangents, result, x, axis=None):
        return result * (tangents[0] - np.sum(tangents[0] * result, axis=axis, keepdims=True))

    @reverse("log_softmax")
    def _(g, result, x, axis=None):
        return g - np.exp(result) * np.sum(g, axis=axis, keepdims=True), None

    @forward("log_softmax")
    def _(tangents, result, x, axis=None):
        return tangents[0] - np.sum(np.exp(result) * tangents[0], axis=axis, keepdims=True)


def register_available():
    """Register for SciPy's special functions, and CuPy's where it imports."""
    for module in ("scipy.special", "cupyx.scipy.special"):
        try:
            special = __import__(module, fromlist=["expit"])
        except Exception:           # not installed (or, for CuPy, no GPU driver)
            continue
        register(special)


register_available()
