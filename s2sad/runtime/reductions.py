"""Run-time helpers for the reductions rules (generated code calls them).

Only shapes and axes (host ints) are computed on here; the arrays stay on
their device and go through functions that dispatch on their own type
(NumPy or CuPy): `cumprod`, `concatenate`, `flip`, `moveaxis`, ufuncs.
"""

import numpy as np

from . import unbroadcast
from .lazy import blockwise_last, size_of

__all__ = ["prod_others", "prod_adjoint", "extremum_adjoint", "var_adjoint", "extremum_shares",
           "builtin_sum_adjoint", "builtin_extremum_adjoint", "builtin_extremum_tangent",
           "cumprod_adjoint", "cumprod_tangent", "sort_adjoint", "sort_tangent",
           "median_adjoint", "median_tangent", "average_adjoint", "average_tangent",
           "trapezoid_adjoint", "trapezoid_tangent", "quantile_weights"]


def _axes(axis, ndim):
    """`axis` (an int or a sequence of ints, negatives allowed) as a sorted tuple."""
    if isinstance(axis, (tuple, list)):
        return tuple(sorted(int(a) % ndim for a in axis))
    return (int(axis) % ndim,)


def _others_last(x):
    """The product of the other elements along the last axis, from the
    exclusive cumulative products from the left and from the right: exact
    where `x` holds zeros (no division)."""
    if x.shape[-1] == 0:
        return x
    one = np.ones_like(x[..., :1])
    left = np.cumprod(np.concatenate([one, x[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([one, np.flip(x[..., 1:], -1)], axis=-1), axis=-1)
    return left * np.flip(right, -1)


def prod_others(a, axis=None):
    """For each element of `a`, the product of the other elements of its
    `np.prod(a, axis)` group: the derivative of the product, exact at zeros
    (one zero: the product of the rest there, zero elsewhere; two: zeros)."""
    shape = a.shape
    if axis is None:
        return _others_last(a.reshape(-1)).reshape(shape)
    axes = _axes(axis, len(shape))
    ends = tuple(range(len(shape) - len(axes), len(shape)))
    moved = np.moveaxis(a, axes, ends)
    flat = moved.reshape(moved.shape[:len(shape) - len(axes)] + (-1,))
    others = _others_last(flat).reshape(moved.shape)
    return np.moveaxis(others, ends, axes)


def _cumprod_last_tangent(v, dv):
    """The tangent of `np.cumprod(v, axis=-1)` along dv, exact at zeros (the
    product rule carried along the axis, no division)."""
    p, dp, out = np.ones_like(v[..., 0]), np.zeros_like(v[..., 0]), []
    for j in range(v.shape[-1]):
        dp = dp * v[..., j] + p * dv[..., j]
        p = p * v[..., j]
        out.append(dp)
    return np.stack(out, axis=-1) if out else np.zeros_like(v)


def _others_last_tangent(x, dx):
    """The tangent of `_others_last(x)` along dx."""
    if x.shape[-1] == 0:
        return dx
    one, zero = np.ones_like(x[..., :1]), np.zeros_like(x[..., :1])
    a, da = np.concatenate([one, x[..., :-1]], axis=-1), np.concatenate([zero, dx[..., :-1]], axis=-1)
    b = np.concatenate([one, np.flip(x[..., 1:], -1)], axis=-1)
    db = np.concatenate([zero, np.flip(dx[..., 1:], -1)], axis=-1)
    left, right = np.cumprod(a, axis=-1), np.cumprod(b, axis=-1)
    return _cumprod_last_tangent(a, da) * np.flip(right, -1) + left * np.flip(_cumprod_last_tangent(b, db), -1)


def prod_others_tangent(da, a, axis=None):
    """The tangent of `prod_others(a, axis)` along da (a gradient of a product
    differentiated again: hvp), exact at zeros as prod_others is."""
    da = da + np.zeros_like(a)
    shape = a.shape
    if axis is None:
        return _others_last_tangent(a.reshape(-1), da.reshape(-1)).reshape(shape)
    axes = _axes(axis, len(shape))
    ends = tuple(range(len(shape) - len(axes), len(shape)))
    moved, dmoved = np.moveaxis(a, axes, ends), np.moveaxis(da, axes, ends)
    lead = moved.shape[:len(shape) - len(axes)] + (-1,)
    others = _others_last_tangent(moved.reshape(lead), dmoved.reshape(lead)).reshape(moved.shape)
    return np.moveaxis(others, ends, axes)


def prod_adjoint(g, a, axis=None, keepdims=False, initial=None, where=None):
    """The adjoint of `np.prod(a, axis, keepdims=..., initial=..., where=...)`."""
    if where is not None:
        a = np.where(where, a, 1)
    others = prod_others(a, axis)
    if initial is not None:
        others = others * initial
    if where is not None:
        others = others * where
    if axis is not None and not keepdims and np.ndim(g) > 0:
        g = np.expand_dims(g, axis)
    return g * others


def extremum_adjoint(g, result, a, axis=None, keepdims=False, where=None):
    """The adjoint of `np.max`/`np.min` with `initial` or a `where` mask (the
    rule inlines the plain forms): the tied extrema among the selected
    elements share `g`; where the result is `initial`, no element's, none
    gets anything."""
    if axis is not None and not keepdims and np.ndim(result) > 0:
        g = np.expand_dims(g, axis)
        result = np.expand_dims(result, axis)
    ties = a == result
    if where is not None:
        ties = ties & where
    dtype = a.dtype if a.dtype.kind == "f" else None
    count = np.sum(ties, axis=axis, keepdims=True, dtype=dtype)
    return g * (ties / np.maximum(count, 1))


def var_adjoint(g, result, a, axis=None, ddof=0, keepdims=False, where=None, std=False):
    """The adjoint of `np.var` (or, with `std`, `np.std`) with a `where` mask
    (the rules inline the plain forms): `2 (a - mean) / (N - ddof)` over the
    selected elements, N their count per result; nothing to the others."""
    selected = np.ones_like(a) * where if where is not None else np.ones_like(a)
    count = np.sum(selected, axis=axis, keepdims=True)
    mean = np.sum(a * selected, axis=axis, keepdims=True) / count
    if axis is not None and not keepdims and np.ndim(result) > 0:
        g = np.expand_dims(g, axis)
        result = np.expand_dims(result, axis)
    if std:
        g = g / (2 * result)
    return g * (2 * (a - mean) * selected / (count - ddof))


def _cast_like(d, x):
    """`d` in the floating dtype of `x` (a share computed with an integer
    count must not promote a float32 gradient)."""
    dtype = getattr(x, "dtype", None)
    if dtype is not None and dtype.kind == "f" and getattr(d, "dtype", dtype) != dtype:
        return d.astype(dtype)
    return d


def extremum_shares(g, result, values):
    """The adjoints of `max(*values)` / `min(*values)` (Python's builtins, or
    over a list): the values equal to the result share `g` equally."""
    wins = [v == result for v in values]
    count = 0
    for w in wins:
        count = count + 1 * w
    return tuple(_cast_like(unbroadcast(g * w / count, v), v) for v, w in zip(values, wins))


def builtin_sum_adjoint(g, iterable):
    """The adjoint of Python's `sum(iterable)`: over an array, its rows were
    added (each gets `g`); over a list or tuple, each element gets `g`
    summed down to its shape."""
    if isinstance(iterable, (list, tuple)):
        return type(iterable)(unbroadcast(g, v) for v in iterable)
    return g * np.ones_like(iterable)


def builtin_extremum_adjoint(g, result, iterable):
    """The adjoint of Python's `max(iterable)` / `min(iterable)`: over a list
    or tuple, the elements equal to the result share `g`; over an array
    (its first axis, so a vector), so do the tied elements."""
    if isinstance(iterable, (list, tuple)):
        return type(iterable)(extremum_shares(g, result, iterable))
    ties = iterable == result
    dtype = iterable.dtype if iterable.dtype.kind == "f" else None
    return g * (ties / np.sum(ties, axis=0, keepdims=True, dtype=dtype))


def builtin_extremum_tangent(tangents, result, args):
    """The tangent of Python's `max`/`min`: the chosen element's tangent,
    shared equally among tied elements (as the reverse rule shares `g`)."""
    if len(args) == 1:                   # one iterable: a list, a tuple or an array's rows
        pairs = list(zip(args[0], tangents[0] if tangents[0] is not None else [None] * len(args[0])))
    else:
        pairs = list(zip(args, tangents))
    chosen = [t if t is not None else 0.0 for x, t in pairs if bool(x == result)]
    total = chosen[0]
    for t in chosen[1:]:
        total = total + t
    return total / len(chosen) if len(chosen) > 1 else total


def _along_last(f, a, axis, *others, flat_result=False):
    """`f` on `a` and `others` with `axis` moved last (None: the flattened
    arrays), its result moved back to `a`'s shape (with `flat_result`, a
    tangent of cumprod or sort over the flattened array, left flat)."""
    if axis is None:
        out = blockwise_last(f, np.reshape(a, (-1,)), *[np.reshape(o, (-1,)) for o in others])   # (a number too)
        return out if flat_result else np.reshape(out, np.shape(a))
    moved = [np.moveaxis(v, axis, -1) for v in (a,) + others]
    return np.moveaxis(blockwise_last(f, *moved), -1, axis)


def _first_zeros(x):
    """Along the last axis: the positions (counting on x's device), whether
    each lies before the first zero, is it, or lies after it, and the
    product of the elements before it."""
    n = x.shape[-1]
    position = np.cumsum(np.ones_like(x, dtype=np.int64), axis=-1) - 1
    zero = x == 0
    first = np.where(np.any(zero, axis=-1, keepdims=True),
                     np.argmax(zero, axis=-1)[..., None], n)     # n: no zero
    before = position < first
    prefix = np.prod(np.where(before, x, 1), axis=-1, keepdims=True)
    return position, first, before, prefix


def _cumprod_adjoint_last(x, g):
    # before the first zero x_i != 0: sum_{j>=i} g_j result_j / x_i; at the first
    # zero: the product before it times sum_{j>=i} g_j prod_{i<l<=j} x_l; after it: 0
    if x.shape[-1] == 0:
        return np.zeros_like(x)
    position, first, before, prefix = _first_zeros(x)
    result = np.cumprod(x, axis=-1)
    later = np.flip(np.cumsum(np.flip(g * result, -1), axis=-1), -1)
    dx = np.where(before, later / np.where(before, x, 1), 0)
    after = np.cumprod(np.where(position <= first, 1, x), axis=-1)
    at_zero = prefix * np.sum(np.where(position >= first, g * after, 0), axis=-1, keepdims=True)
    return dx + np.where(position == first, at_zero, 0)


def cumprod_adjoint(g, a, axis=None):
    """The adjoint of `np.cumprod(a, axis)`, exact where `a` holds zeros (no
    division by them: each element's derivative is a product of the others).
    (Written out, not through `_along_last`: forward mode reads this source
    for a Hessian.)"""
    if axis is None:
        return np.reshape(_cumprod_adjoint_last(np.reshape(a, (-1,)), np.reshape(g, (-1,))), np.shape(a))
    last = _cumprod_adjoint_last(np.moveaxis(a, axis, -1), np.moveaxis(g, axis, -1))
    return np.moveaxis(last, -1, axis)


def _cumprod_tangent_last(x, t):
    # before the first zero: result_j * sum_{i<=j} t_i / x_i; from it on, only
    # the zero's own tangent moves the products: t_z * prefix * prod_{z<l<=j} x_l
    if x.shape[-1] == 0:
        return np.zeros_like(t)
    position, first, before, prefix = _first_zeros(x)
    result = np.cumprod(x, axis=-1)
    early = result * np.cumsum(np.where(before, t / np.where(before, x, 1), 0), axis=-1)
    t_zero = np.take_along_axis(t, np.minimum(first, x.shape[-1] - 1), axis=-1)
    late = t_zero * prefix * np.cumprod(np.where(position <= first, 1, x), axis=-1)
    return np.where(before, early, late)


def cumprod_tangent(t, a, axis=None):
    """The tangent of `np.cumprod(a, axis)` along `t`, exact at zeros."""
    return _along_last(_cumprod_tangent_last, a, axis, t, flat_result=True)


def sort_adjoint(g, a, axis=-1):
    """The adjoint of `np.sort(a, axis)`: each sorted element's adjoint goes
    back where it came from (`np.argsort`'s permutation, inverted)."""
    def last(x, g):
        return np.take_along_axis(g, np.argsort(np.argsort(x, axis=-1), axis=-1), axis=-1)
    return _along_last(last, a, axis, g)


def sort_tangent(t, a, axis=-1):
    """The tangent of `np.sort(a, axis)`: `t` in the order that sorts `a`."""
    def last(x, t):
        return np.take_along_axis(t, np.argsort(x, axis=-1), axis=-1)
    return _along_last(last, a, axis, t, flat_result=True)


def _put_back(g, axis, keepdims, ndim):
    """A reduction's adjoint `g` with the reduced axis back (as size one)."""
    if axis is None:
        return np.reshape(g, (1,) * ndim) if np.ndim(g) else g
    return g if keepdims else np.expand_dims(g, axis)


def median_adjoint(g, a, axis=None, keepdims=False):
    """The adjoint of `np.median(a, axis)`: g to the middle element, or half
    of it to each of the two middle elements (an even count)."""
    def last(x, g):
        n = x.shape[-1]
        rank = np.argsort(np.argsort(x, axis=-1), axis=-1)
        middle = (rank == (n - 1) // 2).astype(x.dtype) + (rank == n // 2).astype(x.dtype)
        return g * middle * 0.5
    g = _put_back(g, axis, keepdims, np.ndim(a)) * np.ones_like(a)    # (on a's device)
    return _along_last(last, a, axis, g)


def average_adjoint(g, result, a, axis=None, weights=None, keepdims=False):
    """The adjoints of `np.average(a, axis, weights, keepdims=...)` for `a`
    and the weights: sum(a w) / sum(w) gives a the share w / sum(w), and a
    weight (a - average) / sum(w)."""
    g = _put_back(g, axis, keepdims, np.ndim(a))
    avg = _put_back(result, axis, keepdims, np.ndim(a))
    if weights is None:
        return g * np.ones_like(a) / (size_of(a) // size_of(avg)), None
    w = weights
    if np.ndim(w) != np.ndim(a):             # 1-D weights along `axis`
        shape = [1] * np.ndim(a)
        shape[axis] = -1
        w = np.reshape(w, shape)
    total = np.sum(w * np.ones_like(a), axis=axis, keepdims=True)
    da = g * w / total
    dw = g * (a - avg) / total
    if np.ndim(weights) != np.ndim(a):
        others = tuple(i for i in range(np.ndim(a)) if i != axis % np.ndim(a))
        dw = np.reshape(np.sum(dw, axis=others), np.shape(weights))
    return da, dw


def trapezoid_adjoint(g, y, x=None, dx=1.0, axis=-1):
    """The adjoints of `np.trapezoid(y, x, dx, axis)` for y and x: each y_i
    weighs the half widths on either side; each x_i moves the widths of its
    two intervals."""
    g = np.expand_dims(g, axis) if np.ndim(g) else g
    y_last = np.moveaxis(y, axis, -1)
    n = y_last.shape[-1]
    if x is None:
        widths = np.ones_like(y_last[..., :max(n - 1, 0)]) * dx
    else:
        x_last = np.moveaxis(x, axis, -1) if np.ndim(x) == np.ndim(y) else x
        widths = np.diff(x_last, axis=-1) * np.ones_like(y_last[..., 1:])
    zero = np.zeros_like(y_last[..., :1])
    padded = np.concatenate([zero, widths, zero], axis=-1)
    dy = np.moveaxis((padded[..., :-1] + padded[..., 1:]) * 0.5, -1, axis) * g
    if x is None:
        return dy, None
    means = (y_last[..., :-1] + y_last[..., 1:]) * 0.5
    padded = np.concatenate([zero, means, zero], axis=-1)
    dx_last = (padded[..., :-1] - padded[..., 1:]) * np.moveaxis(
        g if np.ndim(g) else g * np.ones_like(y), axis, -1)
    if np.ndim(x) == np.ndim(y):
        return dy, np.moveaxis(dx_last, -1, axis)
    return dy, np.reshape(np.sum(np.reshape(dx_last, (-1, n)), axis=0), np.shape(x))


def median_tangent(t, a, axis=None, keepdims=False):
    """The tangent of `np.median(a, axis)`: the middle element's (or the mean
    of the two middle elements') tangent."""
    def last(x, t):
        n = x.shape[-1]
        order = np.argsort(x, axis=-1)
        picked = np.take_along_axis(t, order[..., [(n - 1) // 2, n // 2]], axis=-1)
        return np.mean(picked, axis=-1)
    if axis is None:
        out = last(a.reshape(-1), t.reshape(-1))
        return np.reshape(out, (1,) * np.ndim(a)) if keepdims else out
    out = last(np.moveaxis(a, axis, -1), np.moveaxis(t, axis, -1))
    return np.expand_dims(out, axis) if keepdims else out


def average_tangent(ta, tw, result, a, axis=None, weights=None, keepdims=False):
    """The tangent of `np.average(a, axis, weights)` along `ta` (and `tw`
    for the weights): the average of ta, plus sum((a - avg) tw) / sum(w)."""
    out = 0.0 if ta is None else np.average(ta, axis, weights, keepdims=keepdims)
    if tw is None:
        return out
    avg = _put_back(result, axis, keepdims, np.ndim(a))
    w, t = weights, tw
    if np.ndim(w) != np.ndim(a):
        shape = [1] * np.ndim(a)
        shape[axis] = -1
        w, t = np.reshape(w, shape), np.reshape(t, shape)
    total = np.sum(w * np.ones_like(a), axis=axis, keepdims=keepdims)
    return out + np.sum((a - avg) * t, axis=axis, keepdims=keepdims) / total


def trapezoid_tangent(ty, tx, y, x=None, dx=1.0, axis=-1):
    """The tangent of `np.trapezoid(y, x, dx, axis)`, bilinear in y and the
    widths: trapezoid(ty, x) + trapezoid(y, tx)."""
    trapezoid = getattr(np, "trapezoid", None) or np.trapz
    out = 0.0 if ty is None else (trapezoid(ty, x, dx=dx, axis=axis) if x is not None
                                  else trapezoid(ty, dx=dx, axis=axis))
    if tx is not None:
        out = out + trapezoid(y, tx, axis=axis)
    return out


def quantile_weights(a, q, axis=None, method="linear"):
    """How much each element of `a` weighs in `np.quantile(a, q, axis)` with
    linear interpolation: 1 - f for the element of rank floor(q (n - 1)), f
    for the next (the derivative, and the tangent's weights)."""
    if np.ndim(q) != 0 or method != "linear":
        raise NotImplementedError("s2sad differentiates np.quantile / np.percentile with one q "
                                  "and method='linear'")
    def last(x):
        n = x.shape[-1]
        position = float(q) * (n - 1)
        low = int(np.floor(position))
        frac = position - low
        rank = np.argsort(np.argsort(x, axis=-1), axis=-1)
        high = min(low + 1, n - 1)
        return (rank == low).astype(x.dtype) * (1.0 - frac) + (rank == high).astype(x.dtype) * frac
    return _along_last(lambda x, *_: last(x), a, axis)
