"""What forward mode knows of the built-in functions.

Most tangents follow from a function's class, so they need no rule of their
own (see `forward.py`): elementwise functions reuse their reverse rules,
linear functions are called again on the tangents, reductions weight the
tangent by the reverse rule's gradient.  The few others have forward rules
here, in the form users register with (`@tangent`).
"""

import math
import operator

import numpy as np

from ..runtime import (add_lists, diagonal_cotangent, without_diagonal, average_tangent, builtin_extremum_adjoint,
                       extremum_adjoint,
                       extremum_shares, median_adjoint, sort_adjoint, builtin_extremum_tangent, builtin_sum_adjoint,
                       cholesky_tangent, cumprod_tangent, diff_adjoint, diff_tangent,
                       eigh_tangent, fill_zeros, item_adjoint, median_tangent, lstsq_tangent,
                       matrix_power_tangent, multi_dot_tangent, pinv_tangent, qr_tangent,
                       quantile_weights, scalar_output, setitem_value_adjoint, shaped_like,
                       sort_tangent, svd_tangent, take_adjoint, take_along_axis_adjoint,
                       trapezoid_tangent, unconcatenate, undiagonal, unpack_adjoint, unpad,
                       unravel, unrepeat, untile, untrace)
from . import method_key, tangent

ELEMENTWISE = {
    operator.add, np.add, operator.sub, np.subtract, operator.mul, np.multiply,
    operator.truediv, np.divide, operator.pow, np.power, operator.neg, np.negative,
    operator.pos, np.positive, np.exp, np.log, np.sqrt, np.sin, np.cos, np.tanh, abs, np.abs,
    np.square, np.reciprocal, np.log1p, np.expm1, np.log2, np.log10, np.tan, np.arcsin,
    np.arccos, np.arctan, np.sinh, np.cosh, np.arcsinh, np.arctanh, np.arctan2, np.hypot,
    np.logaddexp, np.maximum, np.minimum, np.fmax, np.fmin, np.where, np.clip,
    method_key("clip"), math.sin, math.cos, math.tan, math.exp, math.expm1, math.log,
    math.log1p, math.sqrt, math.tanh, math.atan, math.pow, math.fabs,
    np.fabs, np.cbrt, np.exp2, np.deg2rad, np.radians, np.rad2deg, np.degrees, np.logaddexp2,
    np.remainder, np.fmod,
    np.copysign, np.float_power,
}

_FIRST = (0,)
_FIRST_TWO = (0, 1)
LINEAR = {                       # function -> positions of the arguments it is linear in
    np.sum: _FIRST, np.ndarray.sum: _FIRST, np.mean: _FIRST, np.ndarray.mean: _FIRST,
    np.reshape: _FIRST, np.ndarray.reshape: _FIRST, np.transpose: _FIRST,
    np.ndarray.transpose: _FIRST, method_key("T"): _FIRST, np.ndarray.copy: _FIRST,
    np.copy: _FIRST, np.array: _FIRST, np.asarray: _FIRST, operator.getitem: _FIRST,
    np.take: _FIRST, np.ndarray.take: _FIRST,
    np.take_along_axis: _FIRST, np.cumsum: _FIRST, method_key("cumsum"): _FIRST,
    np.trace: _FIRST, method_key("trace"): _FIRST, np.diagonal: _FIRST,
    method_key("diagonal"): _FIRST, np.diag: _FIRST, np.swapaxes: _FIRST,
    method_key("swapaxes"): _FIRST, np.moveaxis: _FIRST, np.expand_dims: _FIRST,
    np.squeeze: _FIRST, method_key("squeeze"): _FIRST, np.ravel: _FIRST,
    method_key("ravel"): _FIRST, method_key("flatten"): _FIRST, np.flip: _FIRST,
    np.roll: _FIRST, np.broadcast_to: _FIRST, np.tile: _FIRST, np.repeat: _FIRST,
    method_key("repeat"): _FIRST, np.concatenate: _FIRST, np.stack: _FIRST,
    np.hstack: _FIRST, np.vstack: _FIRST, np.split: _FIRST, np.array_split: _FIRST,
    np.hsplit: _FIRST, np.vsplit: _FIRST, np.dsplit: _FIRST, float: _FIRST, sum: _FIRST_TWO,
    np.ndarray.astype: _FIRST, np.ndarray.item: _FIRST, method_key("mT"): _FIRST,
    np.fliplr: _FIRST, np.flipud: _FIRST, np.rot90: _FIRST, np.tril: _FIRST, np.triu: _FIRST,
    np.atleast_1d: _FIRST, np.atleast_2d: _FIRST, np.atleast_3d: _FIRST, list: _FIRST,
    tuple: _FIRST,
}

PRODUCTS = {                    # linear in each factor: one term per varied factor
    operator.matmul: _FIRST_TWO, np.matmul: _FIRST_TWO, np.dot: _FIRST_TWO, np.cross: _FIRST_TWO,
    np.ndarray.dot: _FIRST_TWO, np.vdot: _FIRST_TWO, np.outer: _FIRST_TWO,
    np.inner: _FIRST_TWO, np.tensordot: _FIRST_TWO, np.kron: _FIRST_TWO,
    **{f: _FIRST_TWO for f in (getattr(np, "vecdot", None), getattr(np.linalg, "vecdot", None)) if f},
}

# Helpers a generated gradient calls (higher order: forward mode over it),
# linear in these arguments together; their other arguments lend only shapes,
# dtypes, structure and indices, so their tangents play no part:
# `take_adjoint(g, a, i, axis)` has tangent `take_adjoint(dg, a, i, axis)`.
LINEAR_GIVEN_SHAPES = {
    take_adjoint: _FIRST, take_along_axis_adjoint: _FIRST, setitem_value_adjoint: _FIRST,
    shaped_like: _FIRST, unpack_adjoint: _FIRST, scalar_output: _FIRST, add_lists: _FIRST_TWO,
    builtin_sum_adjoint: _FIRST, undiagonal: _FIRST, untrace: _FIRST, unconcatenate: _FIRST,
    fill_zeros: _FIRST, unravel: _FIRST, untile: _FIRST, unrepeat: _FIRST, unpad: _FIRST,
    item_adjoint: _FIRST, diff_adjoint: _FIRST, without_diagonal: _FIRST,
    diagonal_cotangent: _FIRST,
    # where the elements went or which won is piecewise constant in the values
    sort_adjoint: _FIRST, median_adjoint: _FIRST, extremum_adjoint: _FIRST,
    builtin_extremum_adjoint: _FIRST, extremum_shares: _FIRST,
}

REDUCTIONS = {                  # function -> position of its `axis` argument
    np.prod: 1, method_key("prod"): 1, np.max: 1, np.amax: 1, np.min: 1, np.amin: 1,
    method_key("max"): 1, method_key("min"): 1, np.var: 1, method_key("var"): 1,
    np.std: 1, method_key("std"): 1, np.linalg.norm: 2,
}


def linear_positions(key, nargs):
    """(positions, jointly): the arguments `key` is linear in, all together
    (`sum(xs, start)`) or each factor on its own (`a @ b`); None if neither."""
    if key is np.einsum:
        return tuple(range(1, nargs)), False     # every operand after the subscripts
    try:
        if key in LINEAR:
            return LINEAR[key], True
        if key in PRODUCTS:
            return PRODUCTS[key], False
    except TypeError:
        pass
    return None


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
