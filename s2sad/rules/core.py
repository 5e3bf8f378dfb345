"""Built-in reverse rules: arithmetic, elementwise functions, reductions,
products, shapes and indexing.

Each rule is written in the form users register with.  Branches on
`np.ndim(...)`, `is None`, `keepdims` and `selects_each_once(...)` are decided
when the gradient is built, from the argument kinds, so the inlined code is
as specific as hand-written code (`a.T @ g` for matrices); where the kinds
are unknown the rule runs as an ordinary function.  Rules must stay
backend-neutral: no host arrays, only functions that dispatch on the
array's type.
"""

import operator

import numpy as np

from ..runtime import (diagonal_cotangent, dot_adjoint, inverse_axes, item_adjoint, log_of_base,
                       matmul_adjoint, power_slope, selects_each_once, setitem, setitem_value_adjoint, take_adjoint,
                       take_along_axis_adjoint, unbroadcast, without_diagonal, zeros_like_value)
from . import adjoint, method_key, nondifferentiable

# ---- arithmetic -----------------------------------------------------------------


@adjoint(operator.add)
@adjoint(np.add)
def _(g, result, x, y):
    return unbroadcast(g, x), unbroadcast(g, y)


@adjoint(operator.sub)
@adjoint(np.subtract)
def _(g, result, x, y):
    return unbroadcast(g, x), unbroadcast(-g, y)


@adjoint(operator.mul)
@adjoint(np.multiply)
def _(g, result, x, y):
    return unbroadcast(g * y, x), unbroadcast(g * x, y)


@adjoint(operator.truediv)
@adjoint(np.divide)
def _(g, result, x, y):
    return unbroadcast(g / y, x), unbroadcast(-g * result / y, y)


@adjoint(operator.pow)
@adjoint(np.power)
def _(g, result, x, y):
    # d/dy reads log(x) as 0 at x == 0, as JAX does: 0 ** y is 0 for every
    # y > 0, so the exponent's gradient there is 0, not 0 * -inf = nan.
    # d/dx is power_slope: y * x ** (y - 1), exactly 0 where y == 0 (x ** 0 is 1
    # everywhere); a constant y folds it (`2 * x`, `g` for y == 1) when inlined.
    return (unbroadcast(g * power_slope(x, y), x),
            unbroadcast(g * result * log_of_base(x), y))


@adjoint(operator.neg)
@adjoint(np.negative)
def _(g, result, x):
    return -g


@adjoint(operator.pos)
@adjoint(np.positive)
def _(g, result, x):
    return g


# ---- elementwise functions ----------------------------------------------------------


@adjoint(np.exp)
def _(g, result, x):
    return g * result


@adjoint(np.log)
def _(g, result, x):
    return g / x


@adjoint(np.sqrt)
def _(g, result, x):
    return g / (2.0 * result)


@adjoint(np.sin)
def _(g, result, x):
    return g * np.cos(x)


@adjoint(np.cos)
def _(g, result, x):
    return -g * np.sin(x)


@adjoint(np.tanh)
def _(g, result, x):
    return g * (1.0 - result * result)


# ---- reductions ---------------------------------------------------------------------


@adjoint(np.sum)
@adjoint(np.ndarray.sum)
def _(g, result, x, axis=None, dtype=None, out=None, keepdims=False, **_):
    if axis is None or keepdims or np.ndim(result) == 0:   # g may be a Python float
        return np.ones_like(x) * g
    return np.ones_like(x) * np.expand_dims(g, axis)


@adjoint(np.mean)
@adjoint(np.ndarray.mean)
def _(g, result, x, axis=None, dtype=None, out=None, keepdims=False, **_):
    if axis is None or np.ndim(result) == 0:
        return np.ones_like(x) * (g / x.size)
    if keepdims:
        return np.ones_like(x) * (g / (x.size / np.size(g)))
    return np.ones_like(x) * (np.expand_dims(g, axis) / (x.size / np.size(g)))


# ---- products -----------------------------------------------------------------------


@adjoint(operator.matmul)
@adjoint(np.matmul)
def _(g, result, a, b):
    if np.ndim(a) == 2 and np.ndim(b) == 2:
        return g @ b.T, a.T @ g
    if np.ndim(a) == 1 and np.ndim(b) == 2:
        return b @ g, np.outer(a, g)
    if np.ndim(a) == 2 and np.ndim(b) == 1:
        return np.outer(g, b), g @ a
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return g * b, g * a
    return matmul_adjoint(g, a, b)


@adjoint(np.dot)
@adjoint(np.ndarray.dot)
def _(g, result, a, b, **_):
    if np.ndim(a) == 2 and np.ndim(b) == 2:
        return g @ b.T, a.T @ g
    if np.ndim(a) == 1 and np.ndim(b) == 2:
        return b @ g, np.outer(a, g)
    if np.ndim(a) == 2 and np.ndim(b) == 1:
        return np.outer(g, b), g @ a
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return g * b, g * a
    return dot_adjoint(g, a, b)


# ---- shapes -------------------------------------------------------------------------


@adjoint(np.reshape)
def _(g, result, x, shape=None, order="C", **_):
    if order == "C":
        return np.reshape(g, x.shape), None
    return np.reshape(g, x.shape, order=order), None


@adjoint(np.ndarray.reshape)
def _(g, result, x, *shape, order="C", **_):
    if order == "C":
        return (g.reshape(x.shape),) + (None,) * len(shape)
    return (g.reshape(x.shape, order=order),) + (None,) * len(shape)


@adjoint(np.transpose)
def _(g, result, x, axes=None):
    if axes is None:
        return np.transpose(g), None
    return np.transpose(g, inverse_axes((axes,))), None


@adjoint(np.ndarray.transpose)
def _(g, result, x, *axes):
    if len(axes) == 0:
        return g.T
    return (g.transpose(inverse_axes(axes)),) + (None,) * len(axes)


@adjoint(method_key("T"))
def _(g, result, x):
    return g.T


@adjoint(method_key("mT"))
def _(g, result, x):
    return np.swapaxes(g, -1, -2)


@adjoint(np.ndarray.copy)
@adjoint(np.copy)
def _(g, result, x, **_):
    return g


@adjoint(np.ndarray.astype)
def _(g, result, x, dtype, **_):
    # (a cast to an integer or boolean dtype has no gradient: nothing flows back)
    return g.astype(x.dtype), None


@adjoint(np.ndarray.item)
def _(g, result, x, *index):
    if len(index) == 0:
        return np.full_like(x, g)        # a size-one array: its shape and dtype
    return (item_adjoint(g, x, index),) + (None,) * len(index)


# ---- indexing -----------------------------------------------------------------------


@adjoint(operator.getitem)
def _(g, result, x, index):
    dx = np.zeros_like(x)
    if selects_each_once(index):
        dx[index] = g
    else:
        np.add.at(dx, index, g)
    return dx, None


@adjoint(setitem)
def _(g, result, x, index, value):
    # the overwritten items of the old x get nothing; `value` gets what they got
    # (with a repeated index, the write NumPy kept)
    dx = g.copy()
    if isinstance(dx, list):             # a list's item: zeros shaped as the item it replaced
        dx[index] = zeros_like_value(x[index])
    else:
        dx[index] = 0
    if selects_each_once(index):
        return dx, None, unbroadcast(g[index], value)
    return dx, None, setitem_value_adjoint(g, index, value)


@adjoint(np.add.at)
def _(g, result, x, index, value):
    return g, None, unbroadcast(g[index], value)


@adjoint(np.fill_diagonal)
def _(g, result, a, val, wrap=False):
    # (an update only in generated code transformed again: a rule's `g_on_diagonal`)
    return without_diagonal(g, wrap), diagonal_cotangent(g, val, wrap)


@adjoint(np.take)
@adjoint(np.ndarray.take)
def _(g, result, a, indices, axis=None, **_):
    return take_adjoint(g, a, indices, axis), None


@adjoint(np.take_along_axis)
def _(g, result, arr, indices, axis=-1):
    return take_along_axis_adjoint(g, arr, indices, axis), None


# ---- constants: only a fill value can carry a gradient ---------------------------------


@adjoint(np.full)
def _(g, result, shape, fill_value, dtype=None, **_):
    return None, unbroadcast(g, fill_value)


@adjoint(np.full_like)
def _(g, result, a, fill_value, dtype=None, **_):
    return None, unbroadcast(g, fill_value)


# ---- no gradient --------------------------------------------------------------------

nondifferentiable(
    len, range, int, bool, isinstance, type, np.shape, np.ndim, np.size,
    np.zeros, np.ones, np.empty, np.zeros_like, np.ones_like, np.empty_like, np.eye,
    np.arange, np.linspace, np.argmax, np.argmin, np.argsort, np.floor, np.ceil,
    np.round, np.rint, np.trunc, np.fix, np.sign, np.isnan, np.isfinite, np.isinf,
    np.floor_divide, np.heaviside, np.signbit,
    method_key("argmax"), method_key("argmin"), method_key("argsort"), method_key("round"),
)
