"""Central finite differences for the tests (float64)."""

import numpy as np


def numerical_grad(f, args, i, eps=1e-6):
    """d f(*args) / d args[i] by central differences; args[i] a float or an array."""
    args = list(args)
    x = args[i]
    if isinstance(x, float):
        hi = f(*args[:i], x + eps, *args[i + 1:])
        lo = f(*args[:i], x - eps, *args[i + 1:])
        return float((hi - lo) / (2 * eps))
    x = np.array(x, dtype=np.float64)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        out[idx] = (f(*args[:i], plus, *args[i + 1:]) - f(*args[:i], minus, *args[i + 1:])) / (2 * eps)
    return out


def assert_close(actual, expected, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=rtol, atol=atol)
