"""Built-in reverse rules: reductions.

`prod`, `max`/`amax`, `min`/`amin`, `var`, `std` (with `axis` None, an int,
a negative int or a tuple, `keepdims`, and `ddof` for var/std), their array
methods (`x.prod()`, `x.max(axis=0)`, `x.var(ddof=1)`), `cumsum`,
`cumprod` (exact at zeros, like `prod`), `np.sort` (each sorted element's
adjoint goes back to where it came from), and Python's builtins `sum`, `max`
and `min`.

The adjoint of a reduction over `axis` is `g` put back over the reduced
axes: `np.expand_dims(g, axis)` broadcasts against the input (with
`keepdims`, `axis=None` or a 0-d result, `g` already does; it may then be a
Python float, which `np.expand_dims` would turn into a host array).  Branches test only what the
argument kinds decide (`axis is None`, `keepdims`, `len(args)`), so the
rules inline as straight-line code.

Kinks follow JAX (docs/rules.md):

* `max`/`min`: tied extrema share the gradient equally, each gets
  `g / (number of ties)`; the count is taken in the input's dtype, so
  float32 stays float32;
* `prod` is exact where the input holds zeros: the derivative is the product
  of the *other* elements, from exclusive cumulative products from both sides
  (`prod_others`), never `result / x` (one zero: the product of the rest at
  the zero and zero elsewhere; two zeros or more: all zero);
* `std` at a zero standard deviation divides by zero, as JAX does.
"""

import numpy as np

from ..runtime import (size_of, average_adjoint, builtin_extremum_adjoint, builtin_sum_adjoint,
                       cumprod_adjoint, extremum_adjoint, extremum_shares, median_adjoint,
                       prod_adjoint, prod_others, quantile_weights, sort_adjoint, trapezoid_adjoint,
                       unbroadcast, var_adjoint)
from . import adjoint, method_key


# ---- reductions ---------------------------------------------------------------------


@adjoint(np.sum, linear=(0,))
@adjoint(np.ndarray.sum, linear=(0,))
def _(g, result, x, axis=None, dtype=None, out=None, keepdims=False, **_):
    if axis is None or keepdims or np.ndim(result) == 0:   # g may be a Python float
        return np.ones_like(x) * g
    return np.ones_like(x) * np.expand_dims(g, axis)


@adjoint(np.mean, linear=(0,))
@adjoint(np.ndarray.mean, linear=(0,))
def _(g, result, x, axis=None, dtype=None, out=None, keepdims=False, **_):
    if axis is None or np.ndim(result) == 0:
        return np.ones_like(x) * (g / x.size)
    if keepdims:
        return np.ones_like(x) * (g / (x.size / size_of(g)))
    return np.ones_like(x) * (np.expand_dims(g, axis) / (x.size / size_of(g)))


# ---- prod ---------------------------------------------------------------------------


@adjoint(np.prod, reduction_axis=1)
@adjoint(method_key("prod"), reduction_axis=1)
def _(g, result, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
      where=None, **_):
    if initial is not None or where is not None:
        return prod_adjoint(g, a, axis, keepdims, initial, where)
    if axis is None or keepdims or np.ndim(result) == 0:
        return g * prod_others(a, axis)
    return np.expand_dims(g, axis) * prod_others(a, axis)


# ---- max and min: ties share g ---------------------------------------------------------


@adjoint(np.max, reduction_axis=1)
@adjoint(np.amax, reduction_axis=1)
@adjoint(np.min, reduction_axis=1)
@adjoint(np.amin, reduction_axis=1)
@adjoint(method_key("max"), reduction_axis=1)
@adjoint(method_key("min"), reduction_axis=1)
def _(g, result, a, axis=None, out=None, keepdims=False, initial=None, where=None, **_):
    if initial is not None or where is not None:     # the result may be no element's
        return extremum_adjoint(g, result, a, axis, keepdims, where)
    if axis is None or keepdims or np.ndim(result) == 0:
        ties = a == result
        return g * (ties / np.sum(ties, axis=axis, keepdims=True, dtype=a.dtype))
    ties = a == np.expand_dims(result, axis)
    return np.expand_dims(g, axis) * (ties / np.sum(ties, axis=axis, keepdims=True, dtype=a.dtype))


# ---- var and std ----------------------------------------------------------------------


@adjoint(np.var, reduction_axis=1)
@adjoint(method_key("var"), reduction_axis=1)
def _(g, result, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
      mean=None, correction=None, **_):
    # d var = 2 (a - mean) / (N - ddof), N the number of elements per result
    if where is not None and correction is None:
        return var_adjoint(g, result, a, axis, ddof, keepdims, where)
    if where is not None:
        return var_adjoint(g, result, a, axis, correction, keepdims, where)
    if correction is None:
        scale = 2.0 / (a.size / size_of(result) - ddof)
    else:
        scale = 2.0 / (a.size / size_of(result) - correction)
    if axis is None or keepdims or np.ndim(result) == 0:
        return g * scale * (a - np.mean(a, axis=axis, keepdims=True))
    return np.expand_dims(g * scale, axis) * (a - np.mean(a, axis=axis, keepdims=True))


@adjoint(np.std, reduction_axis=1)
@adjoint(method_key("std"), reduction_axis=1)
def _(g, result, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
      mean=None, correction=None, **_):
    # d std = d var / (2 std) = (a - mean) / ((N - ddof) std); a zero std divides by zero
    if where is not None and correction is None:
        return var_adjoint(g, result, a, axis, ddof, keepdims, where, std=True)
    if where is not None:
        return var_adjoint(g, result, a, axis, correction, keepdims, where, std=True)
    if correction is None:
        count = a.size / size_of(result) - ddof
    else:
        count = a.size / size_of(result) - correction
    if axis is None or keepdims or np.ndim(result) == 0:
        return g / (count * result) * (a - np.mean(a, axis=axis, keepdims=True))
    return np.expand_dims(g / (count * result), axis) * (a - np.mean(a, axis=axis, keepdims=True))


# ---- cumsum: the reversed cumulative sum of g -----------------------------------------------


@adjoint(np.cumsum, linear=(0,))
@adjoint(method_key("cumsum"), linear=(0,))
def _(g, result, a, axis=None, dtype=None, out=None):
    if axis is None and np.ndim(a) == 1:
        return np.flip(np.cumsum(np.flip(g)))
    if axis is None:                     # over the flattened array
        return np.reshape(np.flip(np.cumsum(np.flip(g))), np.shape(a))
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


# ---- nansum and nanmean: NaNs take no part, and get no gradient ---------------------------


@adjoint(np.nansum)
def _(g, result, a, axis=None, dtype=None, out=None, keepdims=False, **_):
    if axis is None or keepdims or np.ndim(result) == 0:
        return g * ~np.isnan(a)
    return np.expand_dims(g, axis) * ~np.isnan(a)


@adjoint(np.nanmean)
def _(g, result, a, axis=None, dtype=None, out=None, keepdims=False, **_):
    kept = ~np.isnan(a)
    count = np.sum(kept, axis=axis, keepdims=True)
    if axis is None or keepdims or np.ndim(result) == 0:
        return g * kept / count
    return np.expand_dims(g, axis) * kept / count


# ---- median, average, trapezoid ----------------------------------------------------------


@adjoint(np.median)
def _(g, result, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return median_adjoint(g, a, axis, keepdims)


@adjoint(np.quantile)
def _(g, result, a, q, axis=None, out=None, overwrite_input=False, method="linear",
      keepdims=False, **_):
    weights = quantile_weights(a, q, axis, method)
    if axis is None or keepdims or np.ndim(result) == 0:
        return g * weights, None
    return np.expand_dims(g, axis) * weights, None


@adjoint(np.percentile)
def _(g, result, a, q, axis=None, out=None, overwrite_input=False, method="linear",
      keepdims=False, **_):
    weights = quantile_weights(a, q / 100.0, axis, method)
    if axis is None or keepdims or np.ndim(result) == 0:
        return g * weights, None
    return np.expand_dims(g, axis) * weights, None


@adjoint(np.average)
def _(g, result, a, axis=None, weights=None, returned=False, keepdims=False):
    # (weights passed by keyword: a constant; positional weights get their cotangent)
    parts = average_adjoint(g, result, a, axis, weights, keepdims)
    return parts[0], None, parts[1]


for _trapezoid in {getattr(np, n) for n in ("trapezoid", "trapz") if hasattr(np, n)}:
    @adjoint(_trapezoid)
    def _(g, result, y, x=None, dx=1.0, axis=-1):
        parts = trapezoid_adjoint(g, y, x, dx, axis)
        return parts[0], parts[1]


# ---- cumprod (exact at zeros, as prod) and sort ------------------------------------------


@adjoint(np.cumprod)
@adjoint(method_key("cumprod"))
def _(g, result, a, axis=None, dtype=None, out=None):
    return cumprod_adjoint(g, a, axis)


@adjoint(np.sort)
def _(g, result, a, axis=-1, kind=None, order=None, **_):
    return sort_adjoint(g, a, axis)


# ---- Python's builtins -------------------------------------------------------------------


@adjoint(sum, linear=(0, 1))
def _(g, result, iterable, *start, **_):
    # over an array: the sum of its rows (axis 0); over a list or tuple: of its elements
    if len(start) == 0:
        return builtin_sum_adjoint(g, iterable)
    return builtin_sum_adjoint(g, iterable), unbroadcast(g, start[0])


@adjoint(max)
@adjoint(min)
def _(g, result, *args, key=None, default=None):
    # the arguments equal to the result share g (ties equally, as np.maximum's)
    if len(args) == 1:                   # over an iterable: a vector, a list or a tuple
        return builtin_extremum_adjoint(g, result, args[0])
    if len(args) == 2 and (isinstance(args[0], float) or isinstance(args[0], int)) \
            and (isinstance(args[1], float) or isinstance(args[1], int)):   # Python numbers
        first_won = args[0] == result
        second_won = args[1] == result
        tie = 0.5 * g * (first_won & second_won)
        return g * first_won - tie, g * second_won - tie
    return extremum_shares(g, result, args)     # arrays (size one): in their dtypes
