"""The few helpers generated gradient code calls at run time.

Everything here dispatches on the array's own type (NumPy or CuPy) and
costs next to nothing on Python scalars: the scalar-loop benchmarks call
these in tight loops.  Generated code never imports the transformer, only
this module.
"""

import math

import numpy as np

from . import pytrees
from .lazy import add_at, size_of  # noqa: F401  (size_of: for the rules)


def stop_gradient(x):
    """Identity in the forward pass; no gradient flows through it (`s2sad.stop_gradient`)."""
    return x


def checkpoint_every(trips, every):
    """Trips between checkpoints: `every`, or about sqrt(trips) for None (the
    memory of sqrt(trips) states for one extra forward sweep)."""
    if every is None:
        every = math.isqrt(max(trips, 0))
        every += every * every < trips
    return max(int(every), 1)


def in_dtype_of(g, x):
    """The gradient of a float32 (or float16) `x` in x's own dtype, as JAX and
    PyTorch return it, though float64 values met on the way promoted it."""
    return g.astype(x.dtype, copy=False) if getattr(g, "dtype", x.dtype) != x.dtype else g


def unbroadcast(g, x):
    """Sum `g` down to the shape of `x`, undoing NumPy broadcasting."""
    shape = getattr(x, "shape", ())
    g_shape = getattr(g, "shape", ())
    if g_shape == shape:
        return g
    lead = len(g_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g_shape[lead + i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape) if lead else g


def has_newaxis(index):
    """Does `index` add axes (`None`, `np.newaxis`)?"""
    return any(part is None for part in (index if type(index) is tuple else (index,)))


def without_newaxes(index):
    """`index` without the axes it adds: the part of the array it reads
    (`x[:, None]` reads `x[:]`; Dask cannot write through a new axis)."""
    return tuple(part for part in (index if type(index) is tuple else (index,)) if part is not None)


def selects_each_once(index):
    """True when indexing with `index` selects each element at most once (no
    integer arrays, which may repeat), so its adjoint is an assignment."""
    parts = index if type(index) is tuple else (index,)
    for part in parts:
        if part is None or part is Ellipsis or type(part) is slice:
            continue
        if isinstance(part, (int, np.integer, bool, np.bool_)):
            continue
        dtype = getattr(part, "dtype", None)
        if dtype is not None and (dtype.kind == "b" or dtype.kind in "iu" and part.ndim == 0):
            continue                     # boolean masks, 0-d integer arrays
        return False
    return True


def inverse_axes(axes):
    """The permutation undoing `transpose(axes)`; accepts (1, 0) or ((1, 0),)."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    if len(axes) == 1 and axes[0] is None:
        return None
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a % len(axes)] = i
    return tuple(inverse)


def power_slope(x, y, power=None):
    """d(x ** y)/dx: `y * x ** (y - 1)`, and exactly 0 where y == 0 (x ** 0 is 1
    everywhere, at x == 0 too, as JAX has it): no `0 * x ** -1` there, which is
    0 * inf = nan with a warning.  `power`: np.float_power for its rule."""
    if power is None:
        power = _power
    if isinstance(y, (int, float)):                  # a Python number: the common case
        if y == 0:
            return np.zeros_like(x) if hasattr(x, "shape") else 0.0
        return y * power(x, y - 1)
    zero = y == 0
    return np.where(zero, 0, y * power(x, np.where(zero, 1, y - 1)))


def log_of_base(x):
    """log(x) as the exponent's gradient of `x ** y` reads it: 0 where x == 0
    (0 ** y is flat in y for y > 0, as JAX has it) and nan where x < 0 (no
    real log), without the warning `np.log` gives there: a rule called whole
    (kinds not known) computes it even where the exponent is a constant."""
    if isinstance(x, (int, float)):                  # a Python number stays one
        return math.log(x) if x > 0 else 0.0 if x == 0 else math.nan
    return np.where(x < 0, np.nan, np.log(np.where(x > 0, x, 1)))


def _power(x, y):
    return x ** y


def take_adjoint(g, a, indices, axis):
    """The adjoint of `np.take(a, indices, axis)`: repeated indices add up."""
    da = np.zeros_like(a, order="C")      # (C order: `reshape(-1)` a view, flat as `take`'s)
    if axis is None:
        flat = da.reshape(-1)
        add_at(flat, indices, g)
        return flat.reshape(da.shape)
    add_at(da, (slice(None),) * (axis % a.ndim) + (indices,), g)
    return da


def take_along_axis_adjoint(g, arr, indices, axis):
    """The adjoint of `np.take_along_axis`: scatter-add back along `axis`.  The
    other axes' positions are built from `indices` itself, on its device."""
    da = np.zeros_like(arr, order="C")    # (as take_adjoint's)
    if axis is None:
        flat = da.reshape(-1)
        add_at(flat, indices, g)
        return flat.reshape(da.shape)
    axis %= arr.ndim
    positions = []
    for d in range(arr.ndim):
        if d == axis:
            positions.append(indices)
        else:
            shape = [1] * arr.ndim
            shape[d] = indices.shape[d]
            positions.append(np.cumsum(np.ones_like(indices, shape=shape), axis=d) - 1)
    add_at(da, tuple(positions), g)
    return da


def matmul_adjoint(g, a, b):
    """Cotangents of `a @ b` for any ranks (vectors, matrices, batches)."""
    a_vec, b_vec = np.ndim(a) == 1, np.ndim(b) == 1
    a2 = a[None, :] if a_vec else a
    b2 = b[:, None] if b_vec else b
    if a_vec:
        g = np.expand_dims(g, -2)
    if b_vec:
        g = np.expand_dims(g, -1)
    da = unbroadcast(g @ np.swapaxes(b2, -1, -2), a2)
    db = unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2)
    return (da.reshape(a.shape) if a_vec else da), (db.reshape(b.shape) if b_vec else db)


def dot_adjoint(g, a, b):
    """Cotangents of `np.dot(a, b)` for N-d operands."""
    p, q = np.ndim(a), np.ndim(b)
    if p == 0 or q == 0:
        return unbroadcast(g * b, a), unbroadcast(g * a, b)
    if q == 1:
        da = np.expand_dims(g, -1) * b
        db = np.tensordot(a, g, axes=(list(range(p - 1)), list(range(p - 1))))
        return da, db
    g_b_axes = list(range(p - 1, p - 1 + q - 2)) + [p - 1 + q - 2]
    da = np.tensordot(g, b, axes=(g_b_axes, list(range(q - 2)) + [q - 1]))
    db = np.tensordot(a, g, axes=(list(range(p - 1)), list(range(p - 1))))
    return da, np.moveaxis(db, 0, q - 2)


def unpack_adjoint(g, value):
    """The adjoint of `a, b = value` where the build could not tell whether
    `value` is an array (stack the rows' adjoints) or a list or tuple (keep
    one adjoint per element); zeros stand in for unused parts (None)."""
    parts = [gi if gi is not None else np.zeros_like(v) for gi, v in zip(g, value)]
    if isinstance(value, (list, tuple)):
        return type(value)(parts)
    return np.stack(parts)


def setitem(x, index, value):
    """`x[index] = value` as a value (what the rules of item assignment are
    registered under; generated code assigns items directly)."""
    x = x.copy()
    x[index] = value
    return x


def setitem_value_adjoint(g, index, value):
    """The adjoint of `value` in `x[index] = value` for an index with integer
    arrays or lists in it.  A position the index repeats keeps the last write
    (NumPy's rule, also for `x[index] += value`, which is
    `x[index] = x[index] + value`), so only that write's part of `value` gets
    the position's adjoint; the writes it overwrote get zero.  Which write
    NumPy kept is asked of NumPy itself, on the array's device: each write's
    number is assigned through the same index and read back."""
    picked = g[index]
    shape = np.shape(picked)
    order = np.cumsum(np.ones_like(picked, dtype=np.int64).reshape(-1)).reshape(shape)
    written = np.zeros_like(g, dtype=np.int64)
    written[index] = order
    winners = written[index]
    return unbroadcast(np.where(winners == order, picked, 0), value)


def _diagonal_positions(shape, wrap=False):
    """The flat positions `np.fill_diagonal` writes (NumPy's own recipe)."""
    if len(shape) == 2:
        return slice(None, None if wrap else shape[1] * shape[1], shape[1] + 1)
    step, size = 1, 1
    for n in shape[:-1]:
        size *= n
        step += size
    return slice(None, None, step)


def without_diagonal(g, wrap=False):
    """The adjoint of the old `a` in `np.fill_diagonal(a, val, wrap)` (generated
    code calls it on arrays of its own): g less the diagonal, which was
    overwritten."""
    flat = g.copy().reshape(-1)            # (np.fill_diagonal fills a computed copy of a Dask array)
    flat[_diagonal_positions(g.shape, wrap)] = 0
    return flat.reshape(g.shape)


def diagonal_cotangent(g, val, wrap=False):
    """The adjoint of `val` in `np.fill_diagonal(a, val, wrap)`: val, repeated
    along the diagonal as NumPy repeats it, gets the sum of g over the places
    each of its elements went."""
    picked = g.reshape(-1)[_diagonal_positions(g.shape, wrap)]
    if np.ndim(val) == 0:
        total = picked.sum()
        return float(total) if isinstance(val, (int, float)) else total
    k = np.size(val)
    out = np.zeros_like(g, shape=(k,))
    for j in range(min(k, picked.size)):
        out[j] = picked[j::k].sum()
    return out.reshape(np.shape(val))


def as_list(adjoint):
    """The adjoint of a list of unknown length as a list (a stacked array's rows)."""
    return list(adjoint)


def add_lists(a, b):
    """Two adjoints of one list, added element by element."""
    return [x + y for x, y in zip(a, b)]


def zeros_list(values):
    """A zero adjoint for each element of a list (of arrays, numbers, or
    tuples of them: what a loop saved for the reverse sweep); None for None
    (generated code transformed again: a stack a path never made)."""
    return None if values is None else [zeros_like_value(v) for v in values]


def list_item_adjoint(g, xs, index):
    """The adjoint of a list of any length from that of `xs[index]` (an item,
    or a list of them for a slice): zeros for every element, the picked ones'
    adjoints added (ragged elements too, which no array could stack)."""
    out = zeros_list(xs)
    picked = range(len(xs))[index]
    if isinstance(picked, int):
        out[picked] = out[picked] + g
        return out
    for i, gi in zip(picked, g):
        out[i] = out[i] + gi
    return out


def zeros_at(value, *path):
    """`zeros_like_value(value[path])`, or None where `value` is None: in
    generated code transformed again, a saved value a path did not make (a
    helper not called before an early return) is None there, and a branch
    that does not read it still starts its adjoint."""
    for key in path:
        if value is None:
            return None
        value = value[key]
    return zeros_like_value(value)


def zeros_like_value(value):
    """A zero tangent shaped as `value`, whatever it is at run time (generated
    code transformed again, where a kind was not known: what a recursive
    helper saved): zeros for an array, 0.0 for a number, a list, tuple or
    dict of those, None for None."""
    if value is None:
        return None
    kids = pytrees.children(value)
    if kids is not None:
        return pytrees.rebuild(value, [zeros_like_value(v) for _, v in kids])
    if isinstance(value, (bool, int, float)):
        return 0.0
    return np.zeros_like(value)


def add_at_item(parts, index, g):
    """The adjoints of a sequence's elements after `g` reaches element `index`
    (`x = xs[k]` in a loop over a list of arrays)."""
    parts = list(parts)
    parts[index] = parts[index] + g
    return parts


def scalar_output(value, name):
    """Check that a differentiated function returned a scalar, and pass it on."""
    if getattr(value, "size", 1) != 1 or not hasattr(value, "__float__") and not hasattr(value, "shape"):
        raise ValueError(
            f"{name} must return a scalar (a float, a 0-d array or a size-1 array) to be "
            f"differentiated with grad, but it returned "
            f"{type(value).__name__}{' of shape ' + str(value.shape) if hasattr(value, 'shape') else ''}; "
            f"reduce it (e.g. with np.sum) or use s2sad.jacobian")
    return value


def shaped_like(c, x, rule_name):
    """A cotangent a user's rule returned for array argument `x`, summed down
    to x's shape where the function broadcast `x` (as PyTorch does for a custom
    backward); a shape broadcasting cannot explain is the rule's error."""
    shape, c_shape = x.shape, getattr(c, "shape", ())
    if c_shape == shape:
        return c
    try:
        explained = np.broadcast_shapes(shape, c_shape) == tuple(c_shape)
    except ValueError:
        explained = False
    if not explained:
        raise ValueError(f"the gradient rule of {rule_name} returned a cotangent of shape "
                         f"{tuple(c_shape)} for an argument of shape {tuple(shape)}: return one "
                         f"shaped like the argument (or like the result, where the argument was "
                         f"broadcast)")
    return unbroadcast(c, x)


def cotangents(value, needed, rule_name, slots=0):
    """A rule's return value as one cotangent per positional argument.

    `needed` says, per positional argument, whether the gradient uses its
    cotangent.  A bare value is the first cotangent; missing trailing ones
    are None, which is an error where one is needed.  Cotangents for the
    rule's other positional parameters (`slots` in all), which this call
    passed by keyword or left to their defaults, are dropped."""
    if not isinstance(value, tuple):
        value = (value,)
    count = len(needed)
    if any(v is not None for v in value[max(count, slots):]):
        raise ValueError(f"the gradient rule of {rule_name} returned {len(value)} cotangents for a "
                         f"call with {count} positional argument(s)")
    value = value[:count] + (None,) * (count - len(value))
    missing = [i + 1 for i, (v, n) in enumerate(zip(value, needed)) if v is None and n]
    if missing:
        raise ValueError(f"the gradient rule of {rule_name} returned no cotangent for positional "
                         f"argument {missing[0]}, which needs one; return one cotangent per "
                         f"positional argument (None only where there is no gradient)")
    return value


def cotangents_transpose(g, value):
    """The transpose of `cotangents(value, ...)`, which sorts a rule's return
    value into one cotangent per argument: the slots' adjoints put back into
    the value's structure (zeros where nothing used one)."""
    if not isinstance(value, tuple):
        return g[0] if g[0] is not None else zeros_like_value(value)
    return tuple(gi if gi is not None else zeros_like_value(v) for gi, v in zip(g, value))


def cotangents_slots(g, gg, value):
    """The transpose of `cotangents_transpose(gg, value)`: the value's parts'
    adjoints back in their slots, zeros where nothing used a part and in the
    slots past them (None where the slot held none)."""
    if isinstance(value, tuple):
        parts = [p if p is not None else zeros_like_value(v) for p, v in zip(g, value)]
    else:
        parts = [g if g is not None else zeros_like_value(value)]
    return parts + [zeros_like_value(s) for s in gg[len(parts):]]


# helpers of the rule catalogue, one module per area
from .linalg import *  # noqa: E402,F401,F403
from .reductions import *  # noqa: E402,F401,F403
from .shapes import *  # noqa: E402,F401,F403
