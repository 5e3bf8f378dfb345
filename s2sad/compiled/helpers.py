"""Numba forms of the runtime helpers Numba cannot compile as written.

Generated code calls a few helpers of `s2sad.runtime`; a compiled build
calls `numba.njit` of the helper itself where Numba compiles it, and the
form here (keyed by the helper's id) where it does not: a stub with a
Numba `overload` choosing an implementation by the argument types, as
the plain helper chooses by the values.
"""

from __future__ import annotations

import numpy as np

from .. import rules, runtime


def _unbroadcast(g, x):
    return runtime.unbroadcast(g, x)


def _in_dtype_of(g, x):
    return runtime.in_dtype_of(g, x)


def _setitem_adjoint(g, result, x, index, value):
    return rules.lookup_adjoint(runtime.setitem)(g, result, x, index, value)


def _cotangents(value, needed, rule_name, slots=0):
    return runtime.cotangents(value, needed, rule_name, slots)


def _scalar_output(value, name):
    return runtime.scalar_output(value, name)


def _checkpoint_every(trips, every):
    return runtime.checkpoint_every(trips, every)


def _power_slope(x, y, power=None):
    return runtime.power_slope(x, y, power)


def _log_of_base(x):
    return runtime.log_of_base(x)


def _zeros_like_value(value):
    return runtime.zeros_like_value(value)


def add_at(a, index, values):
    """`np.add.at(a, index, values)` as a kernel calls it (Numba has no ufunc `.at`)."""
    np.add.at(a, index, values)


def _overloads():
    from numba import types
    from numba.extending import overload

    @overload(_unbroadcast)
    def unbroadcast(g, x):
        """Sum g down to x's shape: each element of g added into the element
        of x it was broadcast from (g's leading axes and x's size-one axes)."""
        if not isinstance(g, types.Array) or g.ndim == 0:
            return lambda g, x: g
        if not isinstance(x, types.Array) or x.ndim == 0:
            return lambda g, x: np.asarray(g.sum())         # (a 0-d array, as NumPy's reshape(()))
        lead = g.ndim - x.ndim

        def sum_down(g, x):
            if g.shape == x.shape:
                return g
            g_shape, x_shape = g.shape, x.shape
            out = np.zeros(x_shape, dtype=g.dtype)
            into, flat = out.reshape(-1), np.ascontiguousarray(g).reshape(-1)
            for p in range(flat.size):
                rest, at, stride = p, 0, 1
                for d in range(g.ndim - 1, lead - 1, -1):
                    i = rest % g_shape[d]
                    rest //= g_shape[d]
                    n = x_shape[d - lead]
                    if n != 1:
                        at += i * stride
                    stride *= n
                into[at] += flat[p]
            return out
        return sum_down

    def once(index):
        """Does an index of this type select each element at most once?"""
        parts = index.types if isinstance(index, types.BaseTuple) else (index,)
        return all(isinstance(p, (types.Integer, types.SliceType, types.NoneType)) or
                   isinstance(p, types.Array) and p.dtype == types.boolean for p in parts)

    @overload(_setitem_adjoint)
    def setitem_adjoint(g, result, x, index, value):
        """`x[index] = value`: the overwritten items of x get nothing; value
        gets what they got (with a repeated index, only the write NumPy kept)."""
        if not isinstance(g, types.Array):
            return None
        if once(index):
            def each_once(g, result, x, index, value):
                dx = g.copy()
                dx[index] = 0
                return dx, None, _unbroadcast(g[index], value)
            return each_once

        def last_write_wins(g, result, x, index, value):
            dx = g.copy()
            dx[index] = 0
            picked = g[index]
            order = np.arange(1, picked.size + 1).reshape(picked.shape)
            written = np.zeros(g.shape, dtype=np.int64)
            written[index] = order
            kept = np.where(written[index] == order, picked, 0)
            return dx, None, _unbroadcast(kept, value)
        return last_write_wins

    @overload(_cotangents)
    def cotangents(value, needed, rule_name, slots=0):
        """A rule's cotangents, one per positional argument: s2sad's own
        rules return exactly those (a user's rule is not compiled)."""
        if isinstance(value, types.BaseTuple) and isinstance(needed, types.BaseTuple) \
                and len(value) == len(needed):
            return lambda value, needed, rule_name, slots=0: value
        return None

    @overload(_scalar_output)
    def scalar_output(value, name):
        if isinstance(value, types.Array):
            def one_item(value, name):
                if value.size != 1:
                    raise ValueError("a differentiated function must return a scalar (a float, "
                                     "a 0-d array or a size-1 array) to be differentiated with grad")
                return value
            return one_item
        return lambda value, name: value

    @overload(_checkpoint_every)
    def checkpoint_every(trips, every):
        """Trips between checkpoints: `every`, or the ceiling of sqrt(trips)."""
        if not isinstance(every, (types.NoneType, types.Omitted)):
            return lambda trips, every: max(int(every), 1)

        def about_sqrt(trips, every):
            root = int(np.sqrt(max(trips, 0)))
            while root * root > trips:
                root -= 1
            while (root + 1) * (root + 1) <= trips:
                root += 1
            return max(root + (root * root < trips), 1)
        return about_sqrt

    @overload(_power_slope)
    def power_slope(x, y, power=None):
        """d(x ** y)/dx, exactly 0 where y == 0."""
        if not isinstance(power, (types.NoneType, types.Omitted)) and power is not None:
            return None                          # (np.float_power's rule: not compiled)
        if isinstance(y, types.Array):
            return lambda x, y, power=None: np.where(y == 0, 0.0, y * x ** np.where(y == 0, 1, y - 1))
        if isinstance(x, types.Array):
            return lambda x, y, power=None: np.zeros_like(x) if y == 0 else y * x ** (y - 1)
        return lambda x, y, power=None: 0.0 if y == 0 else y * x ** (y - 1)

    @overload(_log_of_base)
    def log_of_base(x):
        """log(x) for the exponent's gradient of x ** y: 0 where x == 0, nan where x < 0."""
        if isinstance(x, types.Array):
            return lambda x: np.where(x < 0, np.nan, np.log(np.where(x > 0, x, 1.0)))
        return lambda x: np.log(x) if x > 0 else (0.0 if x == 0 else np.nan)

    @overload(_zeros_like_value)
    def zeros_like_value(value):
        """A zero tangent shaped as an array or a number (lists and tuples: not compiled)."""
        if isinstance(value, types.Array):
            return lambda value: np.zeros_like(value)
        if isinstance(value, (types.Number, types.Boolean)):
            return lambda value: 0.0
        return None

    @overload(runtime.stop_gradient)
    def identity(x):
        """`s2sad.stop_gradient(x)` as the user's code calls it: x."""
        return lambda x: x

    @overload(add_at)
    def scatter_add(a, index, values):
        """Unbuffered `a[index] += values` for an integer or a 1-d integer
        array index (repeats add up); values one per index, or one for all."""
        if not isinstance(a, types.Array):
            return None
        if isinstance(index, types.Integer):
            def at_one(a, index, values):
                n = a.shape[0]
                if index >= n or index < -n:
                    raise IndexError("index out of bounds in np.add.at")
                a[index] += values
            return at_one
        if not (isinstance(index, types.Array) and isinstance(index.dtype, types.Integer)
                and index.ndim == 1):
            return None
        if isinstance(values, types.Array) and values.ndim == a.ndim:
            def at_rows(a, index, values):              # values[k] for index[k]
                n, count = a.shape[0], values.shape[0]
                if count != 1 and count != index.shape[0]:
                    raise ValueError("np.add.at: values do not match the index")
                for k in range(index.shape[0]):
                    i = index[k]
                    if i >= n or i < -n:
                        raise IndexError("index out of bounds in np.add.at")
                    a[i] += values[k if count != 1 else 0]
            return at_rows

        def at_same(a, index, values):                  # one value (or row) for every index
            n = a.shape[0]
            for k in range(index.shape[0]):
                i = index[k]
                if i >= n or i < -n:
                    raise IndexError("index out of bounds in np.add.at")
                a[i] += values
        return at_same

    @overload(_in_dtype_of)
    def in_dtype_of(g, x):
        if isinstance(g, types.Array) and isinstance(x, types.Array) and g.dtype != x.dtype:
            return lambda g, x: g.astype(x.dtype)
        return lambda g, x: g


_READY = []


def overrides():
    """{id(runtime helper): its Numba form} (the overloads registered once)."""
    if not _READY:
        _overloads()
        _READY.append({id(runtime.unbroadcast): _unbroadcast, id(runtime.in_dtype_of): _in_dtype_of,
                       id(rules.lookup_adjoint(runtime.setitem)): _setitem_adjoint,
                       id(runtime.cotangents): _cotangents, id(runtime.scalar_output): _scalar_output,
                       id(runtime.checkpoint_every): _checkpoint_every,
                       id(runtime.power_slope): _power_slope, id(runtime.log_of_base): _log_of_base,
                       id(runtime.zeros_like_value): _zeros_like_value, id(add_at): add_at,
                       id(runtime.add_at): add_at})
    return _READY[0]
