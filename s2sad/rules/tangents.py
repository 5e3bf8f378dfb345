"""Forward rules for the built-in functions whose tangent no declared fact gives.

Most tangents follow from the facts declared with a function's reverse rule
(`@adjoint(np.sin, elementwise=True)`, see `rules.Facts`), so they need no
rule of their own (see `forward/calls.py`): elementwise functions reuse their
reverse rules, linear functions are called again on the tangents, reductions
weight the tangent by the reverse rule's gradient.  The few others have
forward rules here, in the form users register with (`@tangent`).
"""


import numpy as np

from ..runtime import (average_tangent, builtin_extremum_tangent, cholesky_tangent, cumprod_tangent, diff_tangent,
                       eigh_tangent, median_tangent, lstsq_tangent,
                       matrix_power_tangent, multi_dot_tangent, pinv_tangent, qr_tangent,
                       quantile_weights, sort_tangent, svd_tangent, trapezoid_tangent)
from . import method_key, tangent

@tangent(np.pad)
def _(tangents, result, array, pad_width, mode="constant", **_):
    if mode == "empty":                  # what padding holds is a constant, as in reverse mode
        return np.pad(tangents[0], pad_width)
    return np.pad(tangents[0], pad_width, mode=mode)


@tangent(np.cumprod)
@tangent(method_key("cumprod"))
def _(tangents, result, a, axis=None, dtype=None, out=None):
    return cumprod_tangent(tangents[0], a, axis)


@tangent(np.sort)
def _(tangents, result, a, axis=-1, kind=None, order=None, **_):
    return sort_tangent(tangents[0], a, axis)


@tangent(np.linalg.multi_dot)
def _(tangents, result, arrays, **_):
    return multi_dot_tangent(tangents[0], result, arrays)


@tangent(np.linalg.eigh)
def _(tangents, result, a, UPLO="L"):
    return eigh_tangent(tangents[0], result[0], result[1])


@tangent(np.linalg.svd)
def _(tangents, result, a, full_matrices=True, compute_uv=True, hermitian=False):
    return svd_tangent(tangents[0], a, full_matrices, compute_uv)


@tangent(np.linalg.qr)
def _(tangents, result, a, mode="reduced"):
    return qr_tangent(tangents[0], a, mode)


@tangent(np.linalg.matrix_power)
def _(tangents, result, a, n):
    return matrix_power_tangent(tangents[0], a, n)


@tangent(np.linalg.pinv)
def _(tangents, result, a, **_):
    return pinv_tangent(tangents[0], a, result)


@tangent(np.linalg.lstsq)
def _(tangents, result, a, b, rcond=None):
    return lstsq_tangent(tangents[0], tangents[1], result, a, b)


@tangent(np.linalg.cholesky)
def _(tangents, result, a, **_):
    return cholesky_tangent(tangents[0], result)


@tangent(np.diff)
def _(tangents, result, a, n=1, axis=-1, prepend=None, append=None):
    return diff_tangent(tangents[0], n, axis, prepend, append)


@tangent(np.median)
def _(tangents, result, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return median_tangent(tangents[0], a, axis, keepdims)


@tangent(np.quantile)
def _(tangents, result, a, q, axis=None, out=None, overwrite_input=False, method="linear",
      keepdims=False, **_):
    weights = quantile_weights(a, q, axis, method)
    return np.sum(weights * tangents[0], axis=axis, keepdims=keepdims)


@tangent(np.percentile)
def _(tangents, result, a, q, axis=None, out=None, overwrite_input=False, method="linear",
      keepdims=False, **_):
    weights = quantile_weights(a, q / 100.0, axis, method)
    return np.sum(weights * tangents[0], axis=axis, keepdims=keepdims)


@tangent(np.average)
def _(tangents, result, a, axis=None, weights=None, returned=False, keepdims=False):
    tw = tangents[2] if len(tangents) > 2 else None
    return average_tangent(tangents[0], tw, result, a, axis, weights, keepdims)


for _trapezoid in {getattr(np, n) for n in ("trapezoid", "trapz") if hasattr(np, n)}:
    @tangent(_trapezoid)
    def _(tangents, result, y, x=None, dx=1.0, axis=-1):
        tx = tangents[1] if len(tangents) > 1 else None
        return trapezoid_tangent(tangents[0], tx, y, x, dx, axis)


@tangent(np.nansum)
def _(tangents, result, a, axis=None, dtype=None, out=None, keepdims=False, **_):
    return np.sum(np.where(np.isnan(a), 0.0, tangents[0]), axis=axis, keepdims=keepdims)


@tangent(np.nanmean)
def _(tangents, result, a, axis=None, dtype=None, out=None, keepdims=False, **_):
    kept = ~np.isnan(a)
    return np.sum(np.where(kept, tangents[0], 0.0), axis=axis, keepdims=keepdims) \
        / np.sum(kept, axis=axis, keepdims=keepdims)


@tangent(np.linalg.inv)
def _(tangents, result, a):
    return -(result @ tangents[0] @ result)


@tangent(np.linalg.solve)
def _(tangents, result, a, b):
    # a x = b: a dx = db - da x (x a vector, or a stack of them, when b is 1-D)
    if tangents[0] is None:
        return np.linalg.solve(a, tangents[1])
    if np.ndim(b) == 1:                  # solve the stack of vectors as one-column matrices
        da_x = (tangents[0] @ result[..., None])[..., 0]
        rhs = -da_x if tangents[1] is None else tangents[1] - da_x
        return np.linalg.solve(a, rhs[..., None])[..., 0]
    da_x = tangents[0] @ result
    if tangents[1] is None:
        return np.linalg.solve(a, -da_x)
    return np.linalg.solve(a, tangents[1] - da_x)


@tangent(np.linalg.det)
def _(tangents, result, a):
    return result * np.trace(np.linalg.solve(a, tangents[0]), axis1=-2, axis2=-1)


@tangent(np.linalg.slogdet)
def _(tangents, result, a):
    return (np.zeros_like(result[0]),
            np.trace(np.linalg.solve(a, tangents[0]), axis1=-2, axis2=-1))


@tangent(np.full)
def _(tangents, result, shape, fill_value, dtype=None, **_):
    if tangents[1] is None:              # (only the shape is varied: it lends a shape)
        return np.zeros_like(result)
    return np.full_like(result, tangents[1])


@tangent(np.full_like)
def _(tangents, result, a, fill_value, dtype=None, **_):
    if tangents[1] is None:              # `a` lends only its shape and dtype
        return np.zeros_like(result)
    return np.full_like(result, tangents[1])


@tangent(max)
@tangent(min)
def _(tangents, result, *args, key=None, default=None):
    return builtin_extremum_tangent(tangents, result, args)
