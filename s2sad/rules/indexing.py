"""Built-in reverse rules: reading items (`x[i]`, `np.take`), setting them
(`x[i] = v`, `np.add.at`, `np.fill_diagonal`), and constants (`np.full`) of
which only a fill value carries a gradient; and the functions whose results
carry no gradient at all (shapes, indices, comparisons, rounding)."""

import operator

import numpy as np

from ..runtime import (add_at, diagonal_cotangent, has_newaxis, list_item_adjoint, selects_each_once,
                       setitem, setitem_value_adjoint, take_adjoint, take_along_axis_adjoint,
                       unbroadcast, without_diagonal, without_newaxes, zeros_like_value)
from . import adjoint, method_key, nondifferentiable


# ---- indexing -----------------------------------------------------------------------


@adjoint(operator.getitem, linear=(0,))
def _(g, result, x, index):
    if isinstance(x, list):              # a list of any length: an adjoint per element
        return list_item_adjoint(g, x, index), None
    dx = np.zeros_like(x)
    if selects_each_once(index):
        if has_newaxis(index):             # `x[:, None]`: written as `x[:]` (Dask cannot
            dx[without_newaxes(index)] = np.reshape(g, np.shape(x[without_newaxes(index)]))
        else:                              # write through a new axis)
            dx[index] = g
    else:
        add_at(dx, index, g)
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
@adjoint(add_at)                   # (its form in generated code: Dask's too)
def _(g, result, x, index, value):
    return g, None, unbroadcast(g[index], value)


@adjoint(np.fill_diagonal)
def _(g, result, a, val, wrap=False):
    # (an update only in generated code transformed again: a rule's `g_on_diagonal`)
    return without_diagonal(g, wrap), diagonal_cotangent(g, val, wrap)


@adjoint(np.take, linear=(0,))
@adjoint(np.ndarray.take, linear=(0,))
def _(g, result, a, indices, axis=None, **_):
    return take_adjoint(g, a, indices, axis), None


@adjoint(np.take_along_axis, linear=(0,))
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
