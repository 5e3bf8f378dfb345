"""Built-in reverse rules: products and linear algebra.

`vdot`, `vecdot`, `outer`, `inner`, `cross`, `tensordot`, `einsum`,
`trace`, `diag`, `diagonal` (and the methods `x.trace()`, `x.diagonal()`),
and `np.linalg`'s `multi_dot`, `norm`, `inv`, `solve`, `det`, `slogdet`,
`matrix_power`, `pinv`, `lstsq`, `cholesky`, `eigh`, `svd`
(thin) and `qr` (tall), most for stacks of matrices too; and `kron`.
`pinv` and `lstsq` assume the matrix keeps its rank nearby.

The common ranks inline as the textbook formulas (`-(Ainv.T @ g @ Ainv.T)`,
`np.linalg.solve(a.T, g)`, `np.outer(g, b)`); the general cases call the
helpers of `runtime/linalg.py`, which do the bookkeeping on subscripts and
axes on the host and the arithmetic on the arrays' device.

Conventions: `norm`'s gradient at a zero vector or matrix is 0 (the
subgradient of smallest norm; JAX's `x / norm` gives NaN there); `inf`
norms and the matrix 1/inf norms share the gradient between ties, as
`max` does.  `einsum` takes the subscripts-string form, with any number of
operands.  `det`, `inv` and `slogdet` need an invertible matrix.
`cholesky` and `eigh` read a symmetric matrix and give a symmetric adjoint
(as JAX and PyTorch do); `eigh`'s eigenvectors have no derivative where two
eigenvalues coincide (their part of the adjoint is left out); so do `svd`'s
singular vectors where two singular values coincide.
"""

import operator

import numpy as np

from ..runtime import (cholesky_adjoint, cross_adjoint, dot_adjoint, eigh_adjoint, einsum_adjoint,
                       einsum_adjoints, inner_adjoint, kron_adjoint, lstsq_adjoint, matmul_adjoint,
                       matrix_power_adjoint, multi_dot_adjoint, norm_adjoint, pinv_adjoint,
                       qr_adjoint, solve_adjoint, svd_adjoint, tensordot_adjoint, unbroadcast,
                       undiagonal, untrace)
from . import adjoint, method_key


# ---- products -----------------------------------------------------------------------


@adjoint(operator.matmul, factors=(0, 1))
@adjoint(np.matmul, factors=(0, 1))
def _(g, result, a, b):
    if np.ndim(a) == 2 and np.ndim(b) == 2:
        return g @ b.T, a.T @ g
    if np.ndim(a) == 1 and np.ndim(b) == 2:
        return b @ g, np.outer(a, g)
    if np.ndim(a) == 2 and np.ndim(b) == 1:
        return np.outer(g, b), g @ a
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return g * b, g * a
    return matmul_adjoint(g, a, b)


@adjoint(np.dot, factors=(0, 1))
@adjoint(np.ndarray.dot, factors=(0, 1))
def _(g, result, a, b, **_):
    if np.ndim(a) == 2 and np.ndim(b) == 2:
        return g @ b.T, a.T @ g
    if np.ndim(a) == 1 and np.ndim(b) == 2:
        return b @ g, np.outer(a, g)
    if np.ndim(a) == 2 and np.ndim(b) == 1:
        return np.outer(g, b), g @ a
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return g * b, g * a
    return dot_adjoint(g, a, b)


# ---- products --------------------------------------------------------------------------


@adjoint(np.vdot, factors=(0, 1))
def _(g, result, a, b):
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return g * b, g * a
    return g * np.reshape(b, np.shape(a)), g * np.reshape(a, np.shape(b))   # flattened


@adjoint(np.outer, factors=(0, 1))
def _(g, result, a, b, out=None):
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return g @ b, a @ g
    return np.reshape(g @ np.ravel(b), np.shape(a)), np.reshape(np.ravel(a) @ g, np.shape(b))


@adjoint(np.inner, factors=(0, 1))
def _(g, result, a, b):
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return g * b, g * a
    if np.ndim(a) == 2 and np.ndim(b) == 1:
        return np.outer(g, b), g @ a
    if np.ndim(a) == 1 and np.ndim(b) == 2:
        return g @ b, np.outer(g, a)
    if np.ndim(a) == 2 and np.ndim(b) == 2:          # a @ b.T
        return g @ b, g.T @ a
    return inner_adjoint(g, a, b)


@adjoint(np.tensordot, factors=(0, 1))
def _(g, result, a, b, axes=2):
    if axes == 1 and np.ndim(a) == 2 and np.ndim(b) == 2:        # a @ b
        return g @ b.T, a.T @ g
    return tensordot_adjoint(g, a, b, axes, wrt=0), tensordot_adjoint(g, a, b, axes, wrt=1)


@adjoint(np.einsum)
def _(g, result, *operands, **_):
    # operands[0] is the subscripts string; one einsum of g and the other operands each
    if not isinstance(operands[0], str):
        raise TypeError("s2sad differentiates np.einsum in its subscripts form only: write "
                        "np.einsum('ij,jk->ik', a, b) rather than np.einsum(a, [0, 1], b, [1, 2])")
    if len(operands) == 2:
        return None, einsum_adjoint(g, operands[0], operands[1], wrt=0)
    if len(operands) == 3:
        return (None, einsum_adjoint(g, operands[0], operands[1], operands[2], wrt=0),
                einsum_adjoint(g, operands[0], operands[1], operands[2], wrt=1))
    if len(operands) == 4:
        return (None, einsum_adjoint(g, operands[0], operands[1], operands[2], operands[3], wrt=0),
                einsum_adjoint(g, operands[0], operands[1], operands[2], operands[3], wrt=1),
                einsum_adjoint(g, operands[0], operands[1], operands[2], operands[3], wrt=2))
    return einsum_adjoints(g, *operands)


# ---- diagonals and traces ----------------------------------------------------------------


@adjoint(np.trace, linear=(0,))
@adjoint(method_key("trace"), linear=(0,))
def _(g, result, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    # (a strided slice assignment, not `np.fill_diagonal`, which Dask does not do in place)
    if offset == 0 and axis1 == 0 and axis2 == 1:
        return untrace(g, a)
    return untrace(g, a, offset, axis1, axis2)


@adjoint(np.diagonal, linear=(0,))
@adjoint(method_key("diagonal"), linear=(0,))
def _(g, result, a, offset=0, axis1=0, axis2=1):
    return undiagonal(g, a, offset, axis1, axis2), None, None, None


@adjoint(np.diag, linear=(0,))
def _(g, result, v, k=0):
    if np.ndim(v) == 1:                  # a vector onto a diagonal: read it back
        return np.diagonal(g, k), None
    return undiagonal(g, v, k), None     # a matrix's diagonal: back onto it


# ---- np.linalg ---------------------------------------------------------------------------


@adjoint(np.linalg.norm, reduction_axis=2)
def _(g, result, x, ord=None, axis=None, keepdims=False):
    # 2-norm and Frobenius: x / norm, and 0 at the zero vector (not 0/0)
    if ord is None and (axis is None or keepdims or np.ndim(result) == 0):
        return g * x / np.where(result == 0.0, 1.0, result)
    if ord is None:
        return np.expand_dims(g / np.where(result == 0.0, 1.0, result), axis) * x
    return norm_adjoint(g, result, x, ord, axis, keepdims)


@adjoint(np.linalg.inv)
def _(g, result, a):
    if np.ndim(a) == 2:
        return -(result.T @ g @ result.T)
    return -(np.swapaxes(result, -1, -2) @ g @ np.swapaxes(result, -1, -2))


@adjoint(np.linalg.solve)
def _(g, result, a, b):
    # x = solve(a, b): db = solve(a^T, g), da = -db x^T
    if np.ndim(a) == 2 and np.ndim(b) == 1:
        db = np.linalg.solve(a.T, g)
        return -np.outer(db, result), db
    if np.ndim(a) == 2 and np.ndim(b) == 2:
        db = np.linalg.solve(a.T, g)
        return -(db @ result.T), db
    return solve_adjoint(g, result, a, b)


@adjoint(np.cross, factors=(0, 1))
def _(g, result, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    parts = cross_adjoint(g, a, b, axisa, axisb, axisc, axis)
    return parts[0], parts[1]


@adjoint(np.linalg.multi_dot)
def _(g, result, arrays, **_):
    return multi_dot_adjoint(g, arrays)


for _vecdot in {f for f in (getattr(np, "vecdot", None), getattr(np.linalg, "vecdot", None)) if f}:
    @adjoint(_vecdot, factors=(0, 1))
    def _(g, result, x1, x2, axis=-1, **_):
        # the sum over `axis` of x1 * x2 (real arrays)
        return (unbroadcast(np.expand_dims(g, axis) * x2, x1),
                unbroadcast(np.expand_dims(g, axis) * x1, x2))


@adjoint(np.linalg.eigh)
def _(g, result, a, UPLO="L"):
    # g = [d eigenvalues, d eigenvectors], None where unused; a symmetric
    return eigh_adjoint(g[0], g[1], result[0], result[1])


@adjoint(np.linalg.svd)
def _(g, result, a, full_matrices=True, compute_uv=True, hermitian=False):
    return svd_adjoint(g, a, full_matrices, compute_uv)


@adjoint(np.linalg.qr)
def _(g, result, a, mode="reduced"):
    return qr_adjoint(g, a, mode)


@adjoint(np.linalg.matrix_power)
def _(g, result, a, n):
    return matrix_power_adjoint(g, a, n), None


@adjoint(np.kron, factors=(0, 1))
def _(g, result, a, b):
    parts = kron_adjoint(g, a, b)
    return parts[0], parts[1]


@adjoint(np.linalg.pinv)
def _(g, result, a, **_):
    return pinv_adjoint(g, a, result)


@adjoint(np.linalg.lstsq)
def _(g, result, a, b, rcond=None):
    parts = lstsq_adjoint(g, a, b)
    return parts[0], parts[1]


@adjoint(np.linalg.cholesky)
def _(g, result, a, **_):
    # a symmetric: the adjoint is symmetric too (as JAX and PyTorch give it)
    return cholesky_adjoint(g, result)


@adjoint(np.linalg.det)
def _(g, result, a):
    # d det(a) = det(a) inv(a)^T
    if np.ndim(a) == 2:
        return g * result * np.linalg.inv(a).T
    return np.expand_dims(g * result, (-2, -1)) * np.swapaxes(np.linalg.inv(a), -1, -2)


@adjoint(np.linalg.slogdet)
def _(g, result, a):
    # g = [d sign, d logabsdet]; the sign is piecewise constant: d logabsdet(a) = inv(a)^T
    if g[1] is None:
        return np.zeros_like(a)
    if np.ndim(a) == 2:
        return g[1] * np.linalg.inv(a).T
    return np.expand_dims(g[1], (-2, -1)) * np.swapaxes(np.linalg.inv(a), -1, -2)
