"""Built-in reverse rules: shapes.

The adjoint of a shape operation is its inverse applied to `g` (swap,
move, flip or roll back, reshape to the input's shape), or, where the
operation copies elements (`tile`, `broadcast_to`, `repeat`, the border of
`pad`), the sum over the copies.  Joins (`concatenate`, `stack`, `hstack`,
`vstack`) give their list operand one part of `g` per element; splits get
`g` as a list of the parts' adjoints (None for parts nobody used).

Branches test only what the argument kinds decide (`axis is None`,
`np.ndim(x) == 1`, `isinstance(shift, int)`, literal modes and orders), so
the rules inline (a tuple `shift` of `np.roll`, or an axis or mode held in
a variable, makes the rule a call at run time instead); the bookkeeping on shapes, repeats and pad widths (host
ints) lives in `runtime/shapes.py`.
"""

import numpy as np

from ..runtime import (diff_adjoint, fill_zeros, inverse_axes, item_adjoint, negated, pad_interior,
                       unbroadcast, unconcatenate, unpad, unravel, unrepeat, untile)
from . import adjoint, declare, method_key


# ---- shapes -------------------------------------------------------------------------


@adjoint(np.reshape, linear=(0,), view=True)
def _(g, result, x, shape=None, order="C", **_):
    if order == "C":
        return np.reshape(g, x.shape), None
    return np.reshape(g, x.shape, order=order), None


@adjoint(np.ndarray.reshape, linear=(0,))
def _(g, result, x, *shape, order="C", **_):
    if order == "C":
        return (np.reshape(g, x.shape),) + (None,) * len(shape)
    return (np.reshape(g, x.shape, order=order),) + (None,) * len(shape)


@adjoint(np.transpose, linear=(0,), view=True)
def _(g, result, x, axes=None):
    if axes is None:
        return np.transpose(g), None
    return np.transpose(g, inverse_axes((axes,))), None


@adjoint(np.ndarray.transpose, linear=(0,))
def _(g, result, x, *axes):
    if len(axes) == 0:
        return g.T
    return (g.transpose(inverse_axes(axes)),) + (None,) * len(axes)


@adjoint(method_key("T"), linear=(0,))
def _(g, result, x):
    return g.T


@adjoint(method_key("mT"), linear=(0,))
def _(g, result, x):
    return np.swapaxes(g, -1, -2)


@adjoint(np.ndarray.copy, linear=(0,))
@adjoint(np.copy, linear=(0,))
def _(g, result, x, **_):
    return g


@adjoint(np.ndarray.astype, linear=(0,))
def _(g, result, x, dtype, **_):
    # (a cast to an integer or boolean dtype has no gradient: nothing flows back)
    return g.astype(x.dtype), None


@adjoint(np.ndarray.item, linear=(0,))
def _(g, result, x, *index):
    if len(index) == 0:
        return np.full_like(x, g)        # a size-one array: its shape and dtype
    return (item_adjoint(g, x, index),) + (None,) * len(index)


# ---- axes ---------------------------------------------------------------------------


@adjoint(np.swapaxes, linear=(0,), view=True)
def _(g, result, a, axis1, axis2):
    return np.swapaxes(g, axis1, axis2), None, None


@adjoint(method_key("swapaxes"), linear=(0,))
def _(g, result, x, axis1, axis2):
    return g.swapaxes(axis1, axis2), None, None


@adjoint(np.moveaxis, linear=(0,), view=True)
def _(g, result, a, source, destination):
    return np.moveaxis(g, destination, source), None, None


# ---- size-one axes and flattening: back to the input's shape --------------------------


@adjoint(np.expand_dims, linear=(0,), view=True)
def _(g, result, a, axis):
    return np.squeeze(g, axis), None


@adjoint(np.squeeze, linear=(0,), view=True)
def _(g, result, a, axis=None):
    return np.reshape(g, a.shape), None


@adjoint(method_key("squeeze"), linear=(0,))
def _(g, result, x, axis=None):
    return np.reshape(g, x.shape), None


@adjoint(np.ravel, linear=(0,), view=True)
def _(g, result, a, order="C"):
    if order == "C":
        return np.reshape(g, a.shape), None
    if order == "F":
        return np.reshape(g, a.shape, order="F"), None
    return unravel(g, a, order), None


@adjoint(method_key("ravel"), linear=(0,))
@adjoint(method_key("flatten"), linear=(0,))
def _(g, result, x, order="C"):
    if order == "C":
        return np.reshape(g, x.shape), None
    if order == "F":
        return np.reshape(g, x.shape, order="F"), None
    return unravel(g, x, order), None


# ---- reversing and rolling ----------------------------------------------------------


@adjoint(np.fliplr, linear=(0,))
def _(g, result, m):
    return np.fliplr(g)


@adjoint(np.flipud, linear=(0,))
def _(g, result, m):
    return np.flipud(g)


@adjoint(np.rot90, linear=(0,))
def _(g, result, m, k=1, axes=(0, 1)):
    return np.rot90(g, -k, axes), None, None


@adjoint(np.atleast_1d, linear=(0,), view=True)
@adjoint(np.atleast_2d, linear=(0,), view=True)
@adjoint(np.atleast_3d, linear=(0,), view=True)
def _(g, result, *arys):
    if len(arys) == 1:
        return np.reshape(g, np.shape(arys[0]))
    return tuple(np.reshape(gi, np.shape(a)) for gi, a in zip(g, arys))


# ---- triangles and differences ----------------------------------------------------------


@adjoint(np.tril, linear=(0,))
def _(g, result, m, k=0):
    if np.ndim(m) == 1:                  # a vector is every row of the matrix: sum them
        return np.sum(np.tril(g, k), axis=0), None
    return np.tril(g, k), None


@adjoint(np.triu, linear=(0,))
def _(g, result, m, k=0):
    if np.ndim(m) == 1:
        return np.sum(np.triu(g, k), axis=0), None
    return np.triu(g, k), None


@adjoint(np.diff)
def _(g, result, a, n=1, axis=-1, prepend=None, append=None):
    # (prepend and append are keywords: constants, they get no cotangent)
    return diff_adjoint(g, a, n, axis, prepend, append), None, None


@adjoint(np.flip, linear=(0,))
def _(g, result, m, axis=None):
    if axis is None:
        return np.flip(g), None
    return np.flip(g, axis=axis), None


@adjoint(np.roll, linear=(0,))
def _(g, result, a, shift, axis=None):
    if isinstance(shift, int) and axis is None:
        return np.roll(g, -shift), None
    if isinstance(shift, int):
        return np.roll(g, -shift, axis=axis), None
    return np.roll(g, negated(shift), axis=axis), None


# ---- copies: the sum over them ------------------------------------------------------


@adjoint(np.broadcast_to, linear=(0,), view=True)
def _(g, result, array, shape, subok=False):
    return unbroadcast(g, array), None


@adjoint(np.tile, linear=(0,))
def _(g, result, A, reps):
    return untile(g, A, reps), None


@adjoint(np.repeat, linear=(0,))
def _(g, result, a, repeats, axis=None):
    if axis is None:
        return unrepeat(g, a, repeats), None
    return unrepeat(g, a, repeats, axis=axis), None


@adjoint(method_key("repeat"), linear=(0,))
def _(g, result, x, repeats, axis=None):
    if axis is None:
        return unrepeat(g, x, repeats), None
    return unrepeat(g, x, repeats, axis=axis), None


@adjoint(np.pad)
def _(g, result, array, pad_width, mode="constant", reflect_type="even", **_):
    if mode == "constant":
        return g[pad_interior(array, pad_width)], None
    if reflect_type == "even":
        return unpad(g, array, pad_width, mode), None
    return unpad(g, array, pad_width, mode, reflect_type), None


# ---- joins: one part of g per element of the list operand ----------------------------


@adjoint(np.concatenate, linear=(0,))
def _(g, result, arrays, axis=0, out=None, **_):
    return unconcatenate(g, arrays, axis), None


@adjoint(np.array, linear=(0,))
@adjoint(np.asarray, linear=(0,), view=True)
def _(g, result, obj, dtype=None, **_):
    return g, None                        # g[i] (g[i][j]...) is the adjoint of obj[i] ([j]...)


@adjoint(np.stack, linear=(0,))
def _(g, result, arrays, axis=0, out=None, **_):
    if axis == 0:
        return g, None                    # g[i] is the adjoint of arrays[i]
    return np.moveaxis(g, axis, 0), None


@adjoint(np.hstack, linear=(0,))
def _(g, result, tup, **_):
    if np.ndim(g) == 1:
        return unconcatenate(g, tup, 0), None
    return unconcatenate(g, tup, 1), None


@adjoint(np.vstack, linear=(0,))
def _(g, result, tup, **_):
    return unconcatenate(g, tup, 0, ndmin=2), None


# ---- splits: g is a list of the parts' adjoints, None where a part was not used --------


@adjoint(np.split, linear=(0,))
@adjoint(np.array_split, linear=(0,))
def _(g, result, ary, indices_or_sections, axis=0):
    return np.concatenate(fill_zeros(g, result), axis=axis), None


@adjoint(np.hsplit, linear=(0,))
def _(g, result, ary, indices_or_sections):
    if np.ndim(ary) == 1:
        return np.concatenate(fill_zeros(g, result)), None
    return np.concatenate(fill_zeros(g, result), axis=1), None


@adjoint(np.vsplit, linear=(0,))
def _(g, result, ary, indices_or_sections):
    return np.concatenate(fill_zeros(g, result)), None


@adjoint(np.dsplit, linear=(0,))
def _(g, result, ary, indices_or_sections):
    return np.concatenate(fill_zeros(g, result), axis=2), None


# no reverse rule of their own (the transformer follows the containers they
# build), but forward mode calls them again on tangents, and the analysis
# knows what may share memory
declare(list, linear=(0,))
declare(tuple, linear=(0,))
declare(np.asanyarray, view=True)
