"""Rules for what generated gradient code calls, so that it can be
differentiated again (higher order: `jvp(grad(f))`, `grad(grad(f))`).

A gradient's source calls runtime helpers (`unbroadcast`, ...) and pops the
values its loops recorded (`y = y_stack.pop()`); transforming that source a
second time needs their derivatives, given here in the form users register
with.
"""

import numpy as np

from ..runtime import (add_at_item, as_list, checkpoint_every, cotangents, cross_adjoint,
                       einsum_adjoint, kron_adjoint, multi_dot_adjoint,
                       einsum_adjoints, in_dtype_of,
                       inverse_axes, log_of_base, negated, pad_interior, power_slope, selects_each_once,
                       unbroadcast, zeros_like_value, zeros_list)
from .. import runtime
from . import adjoint, declare, lookup_adjoint, method_key, nondifferentiable, not_from_source, tangent

# helpers whose source the sweeps do not follow yet (a gradient calling them,
# transformed again in that mode, is refused): reverse over reverse of
# np.linalg.matrix_power
not_from_source(runtime.linalg.matrix_power_adjoint)

# zeros, indices, axes and counts: no derivative
nondifferentiable(zeros_list, zeros_like_value, runtime.zeros_at, selects_each_once, inverse_axes,
                  checkpoint_every, negated, pad_interior)


@tangent(unbroadcast)
def _(tangents, result, value, x):
    # linear in `value`; `x` only lends its shape, so its tangent plays no part
    if tangents[0] is None:
        return 0.0 * result
    return unbroadcast(tangents[0], x)


@tangent(in_dtype_of)
def _(tangents, result, g, x):
    # a float32 argument's gradient cast back to float32: linear in `g`, and
    # `x` only lends its dtype
    if tangents[0] is None:
        return 0.0 * result
    return in_dtype_of(tangents[0], x)


@adjoint(unbroadcast)
def _(g, result, value, x):
    # a sum over the broadcast axes: its adjoint spreads g back over them
    return g + np.zeros_like(value), None


def pop_adjoint(g, index=-1):
    """The adjoint of a list before `xs.pop(index)`, from the adjoint `g` of the
    list after it: the removed element gets none from the pop itself (its
    adjoint comes through `y = xs[-1]`, which precedes the pop): zeros shaped
    as a neighbour's adjoint (the elements of a list grown in a loop share a
    kind), or 0.0 where none is left."""
    if not isinstance(g, list):          # the pop's result was used, not the list
        raise TypeError("s2sad differentiates `xs.pop()` only as a statement of its own "
                        "(`y = xs.pop()`), not inside an expression")
    at = index % (len(g) + 1)            # where it was in the longer, old list
    near = [v for v in g[at:at + 1] + g[at - 1:at] if v is not None]
    return g[:at] + [zeros_like_value(near[0]) if near else 0.0] + g[at:]


@adjoint(method_key("pop"))
def _(g, result, xs, index=-1):
    # `y = xs.pop()` updates xs: its old adjoint is the new one, one longer
    return pop_adjoint(g, index), None


def add_at_item_tangent(dparts, parts, index, dg):
    """The tangent of `add_at_item(parts, index, g)`, which is linear in the
    parts and in g: the same call on their tangents (zeros where None)."""
    if dparts is None:
        dparts = [None] * len(parts)
    dparts = [d if d is not None else np.zeros_like(p) for d, p in zip(dparts, parts)]
    return add_at_item(dparts, index, dg) if dg is not None else dparts


@tangent(add_at_item)
def _(tangents, result, parts, index, g):
    # a loop over a list reading one item per trip: its adjoint goes to that item
    return add_at_item_tangent(tangents[0], parts, index, tangents[2])


def rows_adjoint(g, value):
    """The adjoint of `as_list(value)`'s argument from its elements' adjoints:
    a list stays a list, an array's rows stack back into an array."""
    return list(g) if isinstance(value, list) else np.stack(g)


@adjoint(as_list)
def _(g, result, value):
    return rows_adjoint(g, value)


@tangent(as_list)
def _(tangents, result, value):
    return as_list(tangents[0])


def cotangents_tangent(dvalue, needed):
    """The tangent of `cotangents(value, needed, ...)`: the tangent of the
    rule's return value as one tangent per positional argument (the call
    itself has checked the count)."""
    if not isinstance(dvalue, tuple):
        dvalue = (dvalue,)
    count = len(needed)
    return dvalue[:count] + (None,) * (count - len(dvalue))


@tangent(cotangents)
def _(tangents, result, value, needed, rule_name, slots=0):
    # a rule's return value sorted into one cotangent per argument: linear in it
    return cotangents_tangent(tangents[0], needed)


def power_slope_tangent(dx, dy, x, y, power=None):
    """The tangent of `power_slope(x, y)` = y x ** (y - 1) (the slope of a power,
    which a gradient of `x ** y` reads): along x, `y (y - 1) x ** (y - 2)`,
    that is y times the slope of x ** (y - 1) (0 where y is 0 or 1); along y,
    `x ** (y - 1) (1 + y log x)`, with log 0 read as log 1 as the reverse rule
    of a power reads it."""
    out = None
    if dx is not None:
        out = dx * (y * power_slope(x, y - 1, power))
    if dy is not None:
        base = power(x, y - 1) if power is not None else x ** (y - 1)
        term = dy * base * (1 + y * log_of_base(x))
        out = term if out is None else out + term
    return out


@tangent(power_slope)
def _(tangents, result, x, y, power=None):
    return power_slope_tangent(tangents[0], tangents[1] if len(tangents) > 1 else None, x, y, power)


def log_of_base_slope(x):
    """d log_of_base(x)/dx: 1/x, and 0 at x == 0 (where it is held at 0)."""
    return np.where(x == 0, 0, 1 / np.where(x == 0, 1, x))


@tangent(log_of_base)
def _(tangents, result, x):
    return tangents[0] * log_of_base_slope(x)


@adjoint(log_of_base)
def _(g, result, x):
    return unbroadcast(g * log_of_base_slope(x), x)


# Reverse rules a gradient may call rather than inline, linear in g, whose other
# arguments lend shapes or say which element won (several take `*args`, which
# forward mode does not read from source): Python's max/min, sum, clip, a
# trace (its 2-D form fills a diagonal in place), reshape/transpose/item methods
for _fn in (max, sum, np.clip, method_key("clip"), np.trace, method_key("trace"),
            np.ndarray.reshape, np.ndarray.transpose, np.ndarray.item, np.atleast_1d):
    declare(lookup_adjoint(_fn), linear_given_shapes=(0,))
declare(pop_adjoint, linear_given_shapes=(0,))               # (g's neighbours lend a shape)

# Runtime helpers a gradient calls, linear in these arguments together; their
# other arguments lend only shapes, dtypes, structure and indices, so their
# tangents play no part: `take_adjoint(g, a, i, axis)` has tangent
# `take_adjoint(dg, a, i, axis)`.  Where the elements went or which one won
# (sort, median, max) is piecewise constant in the values.
for _fn in (runtime.take_adjoint, runtime.take_along_axis_adjoint, runtime.setitem_value_adjoint, runtime.shaped_like,
            runtime.unpack_adjoint, runtime.scalar_output, runtime.builtin_sum_adjoint, runtime.undiagonal,
            runtime.list_item_adjoint,
            runtime.untrace, runtime.unconcatenate, runtime.fill_zeros, runtime.unravel,
            runtime.untile, runtime.unrepeat, runtime.unpad, runtime.item_adjoint,
            runtime.diff_adjoint, runtime.without_diagonal, runtime.diagonal_cotangent,
            runtime.sort_adjoint, runtime.median_adjoint, runtime.extremum_adjoint, runtime.builtin_extremum_adjoint,
            runtime.extremum_shares):
    declare(_fn, linear_given_shapes=(0,))
declare(runtime.add_lists, linear_given_shapes=(0, 1))


def einsum_adjoint_tangent(tangents, g, subscripts, operands, wrt):
    """The tangent of `einsum_adjoint(g, subscripts, *operands, wrt=k)`: linear
    in g and in each operand but the k-th, whose values it does not read
    (only its shape): one term per varied factor."""
    terms = []
    if tangents[0] is not None:
        terms.append(einsum_adjoint(tangents[0], subscripts, *operands, wrt=wrt))
    for j, t in enumerate(tangents[2:2 + len(operands)]):
        if t is not None and j != wrt:
            varied = list(operands)
            varied[j] = t
            terms.append(einsum_adjoint(g, subscripts, *varied, wrt=wrt))
    if not terms:
        return np.zeros_like(einsum_adjoint(g, subscripts, *operands, wrt=wrt))
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


@tangent(einsum_adjoint)
def _(tangents, result, g, subscripts, *operands, wrt=0):
    return einsum_adjoint_tangent(tangents, g, subscripts, operands, wrt)


@tangent(einsum_adjoints)
def _(tangents, result, g, subscripts, *operands):
    return (None,) + tuple(einsum_adjoint_tangent(tangents, g, subscripts, operands, k)
                           for k in range(len(operands)))


def _zeros_if_none(t, like):
    return t if t is not None else np.zeros_like(like)


def pair_adjoint_tangent(adjoint_of, tangents, g, a, b, *rest):
    """The tangent of `(da, db) = adjoint_of(g, a, b, ...)` for a product of
    two factors (`kron`, `cross`): da reads g and b, db reads g and a, each
    linearly, so the tangent is `adjoint_of(dg, a, b) + adjoint_of(g, da, db)`
    part by part."""
    tg, ta, tb = (tuple(tangents) + (None, None, None))[:3]
    parts = []
    if tg is not None:
        parts.append(adjoint_of(tg, a, b, *rest))
    if ta is not None or tb is not None:
        parts.append(adjoint_of(g, _zeros_if_none(ta, a), _zeros_if_none(tb, b), *rest))
    if not parts:
        return tuple(np.zeros_like(p) for p in adjoint_of(g, a, b, *rest))
    return parts[0] if len(parts) == 1 else tuple(x + y for x, y in zip(*parts))


@tangent(kron_adjoint)
def _(tangents, result, g, a, b):
    return pair_adjoint_tangent(kron_adjoint, tangents, g, a, b)


@tangent(cross_adjoint)
def _(tangents, result, g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    return pair_adjoint_tangent(cross_adjoint, tangents, g, a, b, axisa, axisb, axisc, axis)


def multi_dot_adjoint_tangent(tangents, g, arrays):
    """The tangent of `multi_dot_adjoint(g, arrays)`: factor k's adjoint reads g
    and every factor but k, linearly in each: one term per varied input."""
    tg = tangents[0]
    tarrays = tangents[1] if len(tangents) > 1 and tangents[1] is not None else [None] * len(arrays)
    base = multi_dot_adjoint(g, arrays)
    total = [np.zeros_like(p) for p in base]
    if tg is not None:
        total = [t + p for t, p in zip(total, multi_dot_adjoint(tg, arrays))]
    for j, t in enumerate(tarrays):
        if t is None:
            continue
        varied = list(arrays)
        varied[j] = t
        parts = multi_dot_adjoint(g, varied)
        total = [s + (p if k != j else 0) for k, (s, p) in enumerate(zip(total, parts))]
    return type(base)(total) if isinstance(base, tuple) else total


@tangent(multi_dot_adjoint)
def _(tangents, result, g, arrays):
    return multi_dot_adjoint_tangent(tangents, g, arrays)


# ---- reverse over reverse: the transposes of the linear helpers --------------------------
# A helper linear in g, whose other arguments lend shapes and indices
# (`linear_given_shapes` above), is the transpose of an operation; its
# reverse rule is that operation again, on the cotangent of its result
# (`untile`'s is `np.tile`).  The shape-lending arguments get no cotangent.

@adjoint(runtime.unconcatenate)
def _(g, result, gg, arrays, axis, ndmin=1):
    return runtime.reconcatenate(g, gg, arrays, axis, ndmin), None


@adjoint(runtime.fill_zeros)
def _(g, result, gg, parts):
    # the parts' adjoints pass through where the gradient had one
    return [gi if given is not None else None for gi, given in zip(g, gg)], None


@adjoint(runtime.untile)
def _(g, result, gg, a, reps):
    return np.reshape(np.tile(g, reps), np.shape(gg)), None


@adjoint(runtime.unrepeat)
def _(g, result, gg, a, repeats, axis=None):
    return np.reshape(np.repeat(g, repeats, axis=axis), np.shape(gg)), None


@adjoint(runtime.take_adjoint)
def _(g, result, gg, a, indices, axis):
    return np.take(g, indices, axis=axis), None


@adjoint(runtime.take_along_axis_adjoint)
def _(g, result, gg, arr, indices, axis):
    return np.take_along_axis(g, indices, axis=axis), None


@adjoint(runtime.diff_adjoint)
def _(g, result, gg, a, n=1, axis=-1, prepend=None, append=None):
    return runtime.diff_tangent(g, n, axis, prepend, append), None


@adjoint(runtime.item_adjoint)
def _(g, result, gg, x, index):
    return item_transpose(g, index), None


def item_transpose(g, index):
    """The transpose of `item_adjoint(gg, x, index)`: g's element at `index`
    (a flat C-order position for one int, as `x.item` reads it)."""
    if len(index) == 0:
        return g.reshape(-1)[0]
    if len(index) == 1:
        return g.reshape(-1)[index[0]]
    return g[tuple(index)]


@adjoint(runtime.builtin_sum_adjoint)
def _(g, result, gg, iterable):
    return builtin_sum_transpose(g, gg, iterable), None


def builtin_sum_transpose(g, gg, iterable):
    """The transpose of `builtin_sum_adjoint(gg, iterable)`: over a list, the
    elements' cotangents added up in gg's shape; over an array's rows, the
    rows' summed."""
    if isinstance(iterable, (list, tuple)):
        total = 0.0 * gg
        for gi in g:
            if gi is not None:
                total = total + gi
        return total
    return unbroadcast(g, gg)


@adjoint(power_slope)
def _(g, result, x, y, power=None):
    # elementwise in x and y: each cotangent is the tangent along g, summed to its shape
    return (unbroadcast(power_slope_tangent(g, None, x, y, power), x),
            unbroadcast(power_slope_tangent(None, g, x, y, power), y))


@adjoint(runtime.einsum_adjoint)
def _(g, result, gg, subscripts, *operands, wrt=0):
    return einsum_adjoint_transpose(g, gg, subscripts, operands, wrt)


def einsum_adjoint_transpose(g, gg, subscripts, operands, wrt):
    """The cotangents of `einsum_adjoint(gg, subscripts, *operands, wrt=k)`:
    for gg, the einsum with operand k replaced by g (the transpose of a linear
    map is the map it is the adjoint of); for each other operand j, the
    adjoint of j in that same einsum (`<g, A_k(gg)> = <gg, einsum(..g..)>`);
    for operand k, whose values it does not read, zeros."""
    varied = list(operands)
    varied[wrt] = g
    out = [np.einsum(subscripts, *varied), None]
    for j, op in enumerate(operands):
        out.append(np.zeros_like(op) if j == wrt else einsum_adjoint(gg, subscripts, *varied, wrt=j))
    return tuple(out)


@adjoint(runtime.tensordot_adjoint)
def _(g, result, gg, a, b, axes=2, wrt=0):
    # as einsum_adjoint's: the tensordot with the operand replaced by g, and
    # the other operand's adjoint in it
    if wrt == 0:
        return np.tensordot(g, b, axes), np.zeros_like(a), runtime.tensordot_adjoint(gg, g, b, axes, 1)
    return np.tensordot(a, g, axes), runtime.tensordot_adjoint(gg, a, g, axes, 0), np.zeros_like(b)


@adjoint(runtime.list_item_adjoint)
def _(g, result, gg, xs, index):
    return list_item_transpose(g, gg, index), None


def list_item_transpose(g, gg, index):
    """The transpose of spreading `xs[index]`'s adjoint `gg` over the list:
    reading the picked elements back (zeros where nothing used one)."""
    picked = g[index]
    if not isinstance(picked, list):
        return picked if picked is not None else zeros_like_value(gg)
    return [p if p is not None else zeros_like_value(q) for p, q in zip(picked, gg)]


@tangent(runtime.reductions.prod_others)
def _(tangents, result, a, axis=None):
    # the other elements' product, differentiated: exact at zeros, as prod_others is
    return runtime.reductions.prod_others_tangent(tangents[0], a, axis)


@adjoint(runtime.sort_adjoint)
def _(g, result, gg, a, axis=-1):
    # the sorted elements sent back where they came from: read back in sorted order
    return runtime.sort_tangent(g, a, axis), None


@adjoint(runtime.median_adjoint)
def _(g, result, gg, a, axis=None, keepdims=False):
    # g spread over the middle element(s) with weights: summed back with them
    weights = runtime.median_adjoint(gg * 0.0 + 1.0, a, axis, keepdims)
    return np.sum(g * weights, axis=axis, keepdims=keepdims), None


@adjoint(runtime.undiagonal)
def _(g, result, gg, a, offset=0, axis1=0, axis2=1):
    return np.diagonal(g, offset, axis1, axis2), None


@adjoint(runtime.untrace)
def _(g, result, gg, a, offset=0, axis1=0, axis2=1):
    return np.trace(g, offset, axis1, axis2), None


@adjoint(runtime.unpad)
def _(g, result, gg, array, pad_width, mode, reflect_type="even"):
    return pad_transpose(g, pad_width, mode, reflect_type), None


def pad_transpose(g, pad_width, mode, reflect_type="even"):
    """The transpose of `unpad`: the padding again (zeros around for the
    constant modes, the copies for the modes that copy the array's values)."""
    if mode in ("constant", "empty"):
        return np.pad(g, pad_width)
    if mode in ("reflect", "symmetric"):
        return np.pad(g, pad_width, mode=mode, reflect_type=reflect_type)
    return np.pad(g, pad_width, mode=mode)


@adjoint(cotangents)
def _(g, result, value, needed, rule_name, slots=0):
    return runtime.cotangents_transpose(g, value), None, None, None


@adjoint(runtime.cotangents_transpose)
def _(g, result, gg, value):
    return runtime.cotangents_slots(g, gg, value), None


declare(runtime.cotangents_transpose, linear_given_shapes=(0,))
declare(runtime.cotangents_slots, linear_given_shapes=(0,))
