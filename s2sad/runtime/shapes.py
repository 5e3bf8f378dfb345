"""Run-time helpers for the shapes rules (generated code calls them).

Shapes, axes, repeats, reps and pad widths are host values (Python ints,
tuples, lists); only they are computed on here.  The gradient arrays stay
on their device: they are only sliced, reshaped, summed, split and
concatenated, or scatter-added (`np.add.at`, as `take_adjoint` does) with
host integer indices, all through functions that dispatch on the array's
own type (NumPy or CuPy).
"""

import itertools
import math

import numpy as np

from .lazy import add_at

__all__ = ["unconcatenate", "reconcatenate", "fill_zeros", "negated", "unravel", "untile",
           "unrepeat", "pad_interior", "unpad", "item_adjoint", "diff_adjoint", "diff_tangent"]


def _shape(a):
    shape = getattr(a, "shape", None)
    return tuple(shape) if shape is not None else np.shape(a)


def _ints(values):
    """A host int, sequence of ints or integer NumPy array as a list of ints."""
    if isinstance(values, (int, np.integer)):
        return [int(values)]
    return [int(v) for v in np.ravel(np.asarray(values))]


def unconcatenate(g, arrays, axis, ndmin=1):
    """`g` cut into the parts `arrays` contributed to a concatenation along
    `axis` (flattened for None), each part shaped as its array.  `ndmin=2` is
    `np.vstack`'s promotion of 1-D arrays to rows (1, n); `ndmin=1`
    `np.hstack`'s of 0-d arrays to (1,)."""
    cuts, axis, shapes = _cuts(arrays, axis, ndmin)
    parts = [g[where] for where in _pieces(cuts, axis % np.ndim(g))]
    # (a part of another size is only ever cut from the analysis's stand-ins, whose
    # sizes disagree: as it is, so that the result's kind is still a list of arrays)
    return [p if _shape(p) == s or p.size != math.prod(s) else p.reshape(s) for p, s in zip(parts, shapes)]


def _cuts(arrays, axis, ndmin):
    """(where the parts of a concatenation of `arrays` start, its axis, their shapes)."""
    shapes = [_shape(a) for a in arrays]
    if axis is None:
        sizes = [math.prod(s) for s in shapes]
        axis = 0
    else:
        sizes = [((1,) * (ndmin - len(s)) + s)[axis] for s in shapes]
    return list(itertools.accumulate(sizes[:-1])), axis, shapes


def _pieces(cuts, axis):
    """The index of each part between `cuts` along `axis` (`np.split`'s
    parts, as slices: Dask has no `np.split`)."""
    bounds = [None] + list(cuts) + [None]
    return [(slice(None),) * axis + (slice(lo, hi),) for lo, hi in zip(bounds, bounds[1:])]


def reconcatenate(parts, g, arrays, axis, ndmin=1):
    """The transpose of `unconcatenate(g, arrays, axis, ndmin)` (its reverse
    rule): the parts' adjoints put back where they were cut from, zeros where
    a part has none, in g's shape."""
    cuts, axis, _ = _cuts(arrays, axis, ndmin)
    pieces = []
    for where, part in zip(_pieces(cuts, axis % np.ndim(g)), parts):
        cut = g[where]
        pieces.append(np.zeros_like(cut) if part is None else np.reshape(part, _shape(cut)))
    out = np.concatenate(pieces, axis=axis)
    return out if out.dtype == g.dtype else out.astype(g.dtype)


def fill_zeros(g, parts):
    """The adjoints of a list of parts (`np.split`'s result), zeros where
    nothing used a part (its adjoint is None)."""
    return [gi if gi is not None else np.zeros_like(p) for gi, p in zip(g, parts)]


def negated(shift):
    """`-shift` for an int or a tuple of ints (`np.roll`'s shift)."""
    if isinstance(shift, (tuple, list)):
        return tuple(-s for s in shift)
    return -shift


def unravel(g, a, order):
    """The adjoint of `np.ravel(a, order)`: `g` back in `a`'s shape, read in
    the order the ravel wrote it ('K' and 'A' follow `a`'s memory layout)."""
    shape = _shape(a)
    if order in ("A", "a"):
        flags = a.flags
        order = "F" if flags.f_contiguous and not flags.c_contiguous else "C"
    if order in ("K", "k"):
        flags = a.flags
        if flags.c_contiguous:
            order = "C"
        elif flags.f_contiguous:
            order = "F"
        else:                            # by decreasing stride, as NumPy reads memory
            perm = sorted(range(len(shape)), key=lambda i: -abs(a.strides[i]))
            inverse = [0] * len(perm)
            for i, p in enumerate(perm):
                inverse[p] = i
            return g.reshape(tuple(shape[p] for p in perm)).transpose(inverse)
    return g.reshape(shape, order=order.upper())


def untile(g, a, reps):
    """The adjoint of `np.tile(a, reps)`: the sum over the copies."""
    shape = _shape(a)
    reps = tuple(_ints(reps))
    d = max(len(shape), len(reps))
    inner = (1,) * (d - len(shape)) + shape
    reps = (1,) * (d - len(reps)) + reps
    interleaved = tuple(n for pair in zip(reps, inner) for n in pair)
    return g.reshape(interleaved).sum(axis=tuple(range(0, 2 * d, 2))).reshape(shape)


def unrepeat(g, a, repeats, axis=None):
    """The adjoint of `np.repeat(a, repeats, axis)`: each element's copies
    summed (a reshape and a sum for one count; for a count per element, a
    scatter-add with the host index of the element each copy came from)."""
    shape = _shape(a)
    if axis is None:
        g, axis, n = g.reshape(-1), 0, math.prod(shape)
    else:
        axis %= len(shape)
        n = shape[axis]
    counts = _ints(repeats)
    before, after = _shape(g)[:axis], _shape(g)[axis + 1:]
    if len(counts) == 1:
        return g.reshape(before + (n, counts[0]) + after).sum(axis=axis + 1).reshape(shape)
    d = np.zeros_like(g, shape=before + (n,) + after)
    add_at(d, (slice(None),) * axis + (np.repeat(np.arange(n), counts),), g)
    return d.reshape(shape)


def _pad_pairs(pad_width, ndim):
    pairs = np.broadcast_to(np.asarray(pad_width), (ndim, 2))
    return [(int(b), int(a)) for b, a in pairs.tolist()]


def pad_interior(array, pad_width):
    """The index of the original array inside `np.pad(array, pad_width)`."""
    shape = _shape(array)
    return tuple(slice(b, b + n) for (b, _), n in zip(_pad_pairs(pad_width, len(shape)), shape))


_INDEX_MODES = ("edge", "reflect", "symmetric", "wrap")


def unpad(g, array, pad_width, mode, reflect_type="even"):
    """The adjoint of `np.pad(array, pad_width, mode)`: the interior, plus,
    for the modes that copy the array's own values into the border ('edge',
    'reflect', 'symmetric', 'wrap'), each border element added back onto the
    element it copies, axis by axis (padding is separable)."""
    if mode in ("constant", "empty"):
        return g[pad_interior(array, pad_width)]
    if mode not in _INDEX_MODES or (reflect_type != "even" and mode in ("reflect", "symmetric")):
        detail = f"reflect_type={reflect_type!r}" if mode in _INDEX_MODES else f"mode={mode!r}"
        raise NotImplementedError(
            f"s2sad has no gradient for np.pad with {detail}; it differentiates the modes "
            f"'constant', 'empty', 'edge', 'wrap', and 'reflect'/'symmetric' with "
            f"reflect_type='even'. Register a rule with @s2sad.adjoint(np.pad) for others")
    shape = _shape(array)
    for axis, ((before, after), n) in enumerate(zip(_pad_pairs(pad_width, len(shape)), shape)):
        if before == 0 and after == 0:
            continue
        # where each position of the padded axis takes its value from (host ints)
        source = np.pad(np.arange(n), (before, after), mode=mode)
        lead = (slice(None),) * axis
        d = g[lead + (slice(before, before + n),)].copy()
        border = np.concatenate([g[lead + (slice(0, before),)],
                                 g[lead + (slice(before + n, before + n + after),)]], axis=axis)
        index = np.concatenate([source[:before], source[before + n:]])
        add_at(d, lead + (index,), border)
        g = d
    return g


def item_adjoint(g, x, index):
    """The adjoint of `x.item(*index)`: `g` where the item came from (a
    flat index for one int, an index per axis for several, the only element
    for none)."""
    dx = np.zeros_like(x, order="C")      # (C order: `reshape(-1)` a view, flat as `item`'s)
    if len(index) == 0:
        dx[...] = g
    elif len(index) == 1:
        flat = dx.reshape(-1)                # (a view of dx, but on Dask: a new array)
        flat[index[0]] = g
        return flat.reshape(dx.shape)
    else:
        dx[tuple(index)] = g
    return dx


def diff_adjoint(g, a, n=1, axis=-1, prepend=None, append=None):
    """The adjoint of `np.diff(a, n, axis, prepend=..., append=...)`: each
    difference `a[i+1] - a[i]` gives g to a[i+1] and takes it from a[i]; n
    times over, then the prepended and appended parts cut off."""
    g = np.moveaxis(g, axis, -1)
    for _ in range(n):
        zero = np.zeros_like(g[..., :1])
        padded = np.concatenate([zero, g, zero], axis=-1)
        g = padded[..., :-1] - padded[..., 1:]
    before = 0 if prepend is None else (1 if np.ndim(prepend) == 0 else _shape(prepend)[axis])
    g = g[..., before:before + _shape(a)[axis]]
    return np.moveaxis(g, -1, axis)


def diff_tangent(t, n=1, axis=-1, prepend=None, append=None):
    """The tangent of `np.diff(a, n, axis, ...)`: the differences of t, the
    prepended and appended constants moving nothing (zeros in their place)."""
    ends = {k: np.zeros_like(v) for k, v in (("prepend", prepend), ("append", append))
            if v is not None}
    return np.diff(t, n, axis, **ends)
