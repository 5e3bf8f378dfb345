"""Run-time helpers for the linalg rules (generated code calls them).

Subscripts, axes and shapes are host values; what is computed on them
(an einsum plan, tensordot axes, a diagonal's slice) is cached or costs a
few Python operations.  The arrays stay on their device: they only go
through `np.einsum`, `np.tensordot`, `np.linalg.*`, `np.moveaxis`,
`np.zeros_like`, ufuncs and indexing with host integers, all of which
dispatch on the array's own type (NumPy or CuPy).
"""

import functools
import string

import numpy as np

from . import unbroadcast
from .lazy import add_at, is_chunked

__all__ = ["einsum_adjoint", "einsum_adjoints", "tensordot_adjoint", "inner_adjoint",
           "undiagonal", "untrace", "norm_adjoint", "solve_adjoint", "cholesky_adjoint",
           "cholesky_tangent", "cross_adjoint", "multi_dot_adjoint", "multi_dot_tangent",
           "eigh_adjoint", "eigh_tangent", "svd_adjoint", "svd_tangent", "qr_adjoint",
           "qr_tangent", "matrix_power_adjoint", "matrix_power_tangent", "kron_adjoint",
           "pinv_adjoint", "pinv_tangent", "lstsq_adjoint", "lstsq_tangent"]


def _shape(a):
    shape = getattr(a, "shape", None)
    return tuple(shape) if shape is not None else np.shape(a)


def _on_device(g, like):
    """A Python-number adjoint as a 0-d array of `like`'s type and dtype: einsum
    and tensordot would make a host float64 array of it."""
    if hasattr(g, "dtype") or not hasattr(like, "dtype"):
        return g
    return np.full_like(like, g, shape=())


# ---- einsum -------------------------------------------------------------------------

_LETTERS = string.ascii_uppercase + string.ascii_lowercase


def _einsum_terms(subscripts, shapes):
    """The input terms and the output term of an einsum, with `...` spelled
    out as letters of its own (right-aligned, as the broadcast aligns them)
    and an implicit output made explicit (NumPy's rule: the broadcast dims,
    then the letters that appear once, in ASCII order)."""
    if not isinstance(subscripts, str):
        raise NotImplementedError(
            "s2sad differentiates np.einsum with a subscripts string ('ij,jk->ik'), not "
            "the sublist form einsum(a, [0, 1], b, [1, 2])")
    spec = subscripts.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum subscripts {subscripts!r} name {len(terms)} operands, "
                         f"but {len(shapes)} were given")
    spare = iter(c for c in _LETTERS if c not in spec)
    widths = [len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes) if "..." in t]
    dots = "".join(next(spare) for _ in range(max(widths, default=0)))
    expanded = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            width = len(s) - len(t.replace("...", ""))
            t = t.replace("...", dots[len(dots) - width:])
        expanded.append(t)
    if arrow:
        output = output.replace("...", dots)
    else:
        letters = inputs.replace("...", "").replace(",", "")
        output = dots + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return expanded, output, spare


@functools.lru_cache(maxsize=1024)
def _einsum_plan(subscripts, shapes, wrt):
    """How to compute the adjoint of operand `wrt`: an einsum of `g` and the
    other operands onto the labels of `wrt` it can reach, then the size-one
    axes to add for the labels only `wrt` has (broadcast), and the diagonal
    to scatter into for a label `wrt` repeats ('ii->i')."""
    terms, output, spare = _einsum_terms(subscripts, shapes)
    sizes = {}
    for t, s in zip(terms, shapes):
        for c, n in zip(t, s):
            sizes[c] = max(sizes.get(c, 1), n)

    def own(term, shape):
        # a size-one axis broadcast against a longer one is that operand's alone
        return "".join(next(spare) if n == 1 and sizes[c] != 1 else c for c, n in zip(term, shape))

    others = [i for i in range(len(terms)) if i != wrt]
    inputs = [output] + [own(terms[i], shapes[i]) for i in others]
    term, shape = terms[wrt], shapes[wrt]
    distinct = "".join(dict.fromkeys(term))
    alone = {c for c, n in zip(term, shape) if n == 1 and sizes[c] != 1}
    reached = "".join(c for c in distinct if c not in alone and any(c in t for t in inputs))
    spec = ",".join(inputs) + "->" + reached
    missing = tuple(i for i, c in enumerate(distinct) if c not in reached)
    target = tuple(shape[term.index(c)] for c in distinct)
    broadcast = any(target[i] != 1 for i in missing)
    diagonal = None
    if len(distinct) < len(term):
        k = len(distinct)
        diagonal = tuple(
            np.arange(target[distinct.index(c)]).reshape(
                tuple(target[distinct.index(c)] if j == distinct.index(c) else 1 for j in range(k)))
            for c in term)
    return spec, tuple(others), missing, target, broadcast, diagonal


def einsum_adjoint(g, subscripts, *operands, wrt):
    """The adjoint of operand `wrt` of `np.einsum(subscripts, *operands)`, for
    any subscripts: implicit output, `...`, repeated operands, 3+ operands,
    traces and diagonals ('ii', 'ii->i'), size-one broadcasting."""
    shapes = tuple(_shape(o) for o in operands)
    spec, others, missing, target, broadcast, diagonal = _einsum_plan(subscripts, shapes, wrt)
    g = _on_device(g, operands[wrt])
    d = np.einsum(spec, g, *[operands[i] for i in others], optimize=len(others) > 1)
    if missing:
        d = np.expand_dims(d, missing)
    x = operands[wrt]
    if diagonal is not None:
        dx = np.zeros_like(x)
        add_at(dx, diagonal, d)                  # (each position once: Dask has no nd setitem)
        return dx
    if broadcast:
        return np.zeros_like(x) + d
    return d


def einsum_adjoints(g, subscripts, *operands):
    """All cotangents of `np.einsum(subscripts, *operands)`: None for the
    subscripts, then one per operand."""
    return (None,) + tuple(einsum_adjoint(g, subscripts, *operands, wrt=i)
                           for i in range(len(operands)))


# ---- tensordot and inner ---------------------------------------------------------------


def _tensordot_axes(axes, p, q):
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        return list(range(p - n, p)), list(range(n))
    ia, ib = axes
    ia = [ia] if isinstance(ia, (int, np.integer)) else list(ia)
    ib = [ib] if isinstance(ib, (int, np.integer)) else list(ib)
    return [int(i) % p for i in ia], [int(i) % q for i in ib]


def _inverse(order):
    inverse = [0] * len(order)
    for i, o in enumerate(order):
        inverse[o] = i
    return inverse


def tensordot_adjoint(g, a, b, axes=2, wrt=0):
    """The adjoint of operand `wrt` (0: a, 1: b) of `np.tensordot(a, b, axes)`:
    `g` contracted with the other operand over its free axes, then put back
    in the operand's axis order."""
    p, q = np.ndim(a), np.ndim(b)
    ia, ib = _tensordot_axes(axes, p, q)
    g = _on_device(g, a if wrt == 0 else b)
    free_a = [i for i in range(p) if i not in ia]
    free_b = [j for j in range(q) if j not in ib]
    k = len(free_a)
    if wrt == 0:
        d = np.tensordot(g, b, axes=(list(range(k, k + len(free_b))), free_b))
        order = free_a + [ia[ib.index(j)] for j in sorted(ib)]
    else:
        d = np.tensordot(a, g, axes=(free_a, list(range(k))))
        order = [ib[ia.index(i)] for i in sorted(ia)] + free_b
    if order != sorted(order):
        d = np.transpose(d, _inverse(order))
    return d


def inner_adjoint(g, a, b):
    """The cotangents of `np.inner(a, b)` (a sum product over the last axes)
    for any ranks; a 0-d operand makes it a product."""
    p, q = np.ndim(a), np.ndim(b)
    if p == 0 or q == 0:
        return unbroadcast(g * b, a), unbroadcast(g * a, b)
    da = np.tensordot(g, b, axes=(list(range(p - 1, p + q - 2)), list(range(q - 1))))
    db = np.tensordot(g, a, axes=(list(range(p - 1)), list(range(p - 1))))
    return da, db


# ---- diagonals ---------------------------------------------------------------------------


def _diagonal_slice(n1, n2, offset):
    """The slice of the flattened (n1, n2) matrix holding its `offset` diagonal."""
    if offset >= 0:
        length, start = max(0, min(n1, n2 - offset)), offset
    else:
        length, start = max(0, min(n1 + offset, n2)), -offset * n2
    step = n2 + 1
    return slice(start, start + (length - 1) * step + 1 if length else start, step)


def undiagonal(g, a, offset=0, axis1=0, axis2=1):
    """The adjoint of `np.diagonal(a, offset, axis1, axis2)`: zeros shaped as
    `a` with `g` on that diagonal (written through a slice, no index arrays)."""
    shape = _shape(a)
    axis1, axis2 = axis1 % len(shape), axis2 % len(shape)
    n1, n2 = shape[axis1], shape[axis2]
    rest = tuple(n for i, n in enumerate(shape) if i not in (axis1, axis2))
    d = np.zeros_like(a, shape=rest + (n1 * n2,))
    d[..., _diagonal_slice(n1, n2, offset)] = g
    return np.moveaxis(d.reshape(rest + (n1, n2)), (-2, -1), (axis1, axis2))


def untrace(g, a, offset=0, axis1=0, axis2=1):
    """The adjoint of `np.trace(a, offset, axis1, axis2)`: `g` on every
    element of the diagonal it summed."""
    if np.ndim(g) > 0:                   # a scalar (a Python float too) broadcasts as it is
        g = np.expand_dims(g, -1)
    return undiagonal(g, a, offset, axis1, axis2)


# ---- norms -------------------------------------------------------------------------------


def _nonzero(r):
    return np.where(r == 0, 1, r)


def _ties_share(ties, axes, dtype):
    return ties / np.sum(ties, axis=axes, keepdims=True, dtype=dtype)


def norm_adjoint(g, result, x, ord=None, axis=None, keepdims=False):
    """The adjoint of `np.linalg.norm(x, ord, axis, keepdims)`.

    Vector norms: 2 (and None) `x / norm`, 1 `sign(x)`, inf/-inf the tied
    extreme |x| share, 0 nothing, other p `sign(x) |x|^(p-1) / norm^(p-1)`.
    Matrix norms: 'fro' (and None) `x / norm`, 1/-1/inf/-inf through the
    extreme column/row sums (ties share), 'nuc' `U V^T`, 2/-2 `u v^T` of the
    extreme singular value.  Where the norm is 0, the gradient is 0."""
    nd = np.ndim(x)
    if axis is None:
        axes = tuple(range(nd)) if ord is None or nd <= 2 else None
        if axes is None or (ord is not None and nd == 0):
            raise ValueError(f"np.linalg.norm with ord={ord!r} needs a vector or a matrix")
    elif isinstance(axis, (tuple, list)):
        axes = tuple(int(i) % nd for i in axis)
    else:
        axes = (int(axis) % nd,)
    if not keepdims and np.ndim(result) > 0:       # a 0-d result (and g) broadcasts as it is
        g = np.expand_dims(g, axes)
        result = np.expand_dims(result, axes)
    dtype = x.dtype if x.dtype.kind == "f" else None
    if ord is None or ord == "fro" or (ord == 2 and len(axes) == 1):
        return g * x / _nonzero(result)
    if len(axes) == 1:
        if ord == 1:
            return g * np.sign(x)
        if ord == 0:
            return np.zeros_like(x)
        if ord in (np.inf, -np.inf):
            return g * np.sign(x) * _ties_share(np.abs(x) == result, axes, dtype)
        p = float(ord)
        return g * np.sign(x) * (np.abs(x) / _nonzero(result)) ** (p - 1)
    rows, cols = axes
    if ord in (1, -1):
        sums = np.sum(np.abs(x), axis=rows, keepdims=True)      # one per column
        return g * np.sign(x) * _ties_share(sums == result, cols, dtype)
    if ord in (np.inf, -np.inf):
        sums = np.sum(np.abs(x), axis=cols, keepdims=True)      # one per row
        return g * np.sign(x) * _ties_share(sums == result, rows, dtype)
    if ord in ("nuc", 2, -2):
        moved = np.moveaxis(x, axes, (-2, -1))
        u, s, vh = np.linalg.svd(moved, full_matrices=False)
        if ord == "nuc":
            d = u @ vh
        else:
            k = 0 if ord == 2 else -1
            d = u[..., :, k:k + 1 or None] * vh[..., k:k + 1 or None, :]
        return g * np.moveaxis(d, (-2, -1), axes)
    raise ValueError(f"s2sad has no gradient for np.linalg.norm with ord={ord!r}")


# ---- solve -------------------------------------------------------------------------------


def solve_adjoint(g, result, a, b):
    """The cotangents of `x = np.linalg.solve(a, b)` for stacks of matrices:
    `db = solve(a^T, g)`, `da = -db x^T`, each summed down to its operand's
    shape where the batch dimensions broadcast."""
    a_t = np.swapaxes(a, -1, -2)
    if np.ndim(b) == 1:                  # one vector, broadcast against every matrix
        db = np.linalg.solve(a_t, np.expand_dims(g, -1))[..., 0]
        da = -np.expand_dims(db, -1) * np.expand_dims(result, -2)
    else:
        db = np.linalg.solve(a_t, g)
        da = -(db @ np.swapaxes(result, -1, -2))
    return unbroadcast(da, a), unbroadcast(db, b)


def _lower_half_diagonal(x):
    """The lower triangle of (a stack of) matrices, the diagonal halved."""
    lower = np.tril(x)
    return lower - 0.5 * np.triu(lower)          # triu of a lower triangle: its diagonal


def _transposed(x):
    return np.swapaxes(x, -1, -2)


def _refuse_dask_cholesky(L):
    if is_chunked(L):
        raise NotImplementedError(
            "np.linalg.cholesky of a Dask array returns the upper factor (Dask's default), not "
            "NumPy's lower one, so s2sad refuses its gradient; factor a NumPy array (a small "
            "matrix: `a.compute()`), or register a rule with @s2sad.adjoint")


def cholesky_adjoint(g, L):
    """The adjoint of `L = np.linalg.cholesky(a)` (Murray 2016, as JAX and
    PyTorch): `L^-T Phi(L^T g) L^-1`, symmetrised, `a` being symmetric."""
    _refuse_dask_cholesky(L)
    lt = _transposed(L)
    left = np.linalg.solve(lt, _lower_half_diagonal(lt @ g))        # L^-T Phi(L^T g)
    x = _transposed(np.linalg.solve(lt, _transposed(left)))          # ... L^-1
    return 0.5 * (x + _transposed(x))


def cholesky_tangent(t, L):
    """The tangent of `np.linalg.cholesky(a)` along a symmetric `t`:
    `L Phi(L^-1 t L^-T)`."""
    _refuse_dask_cholesky(L)
    inner = np.linalg.solve(L, _transposed(np.linalg.solve(L, _transposed(t))))  # L^-1 t L^-T
    return L @ _lower_half_diagonal(inner)


def cross_adjoint(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The adjoints of `c = np.cross(a, b, ...)`: for 3-vectors, `b x g` for
    a and `g x a` for b; for 2-vectors (c the z component a0 b1 - a1 b0),
    `g (b1, -b0)` and `g (-a1, a0)`; each summed to its argument's shape."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a_last, b_last = np.moveaxis(a, axisa, -1), np.moveaxis(b, axisb, -1)
    if a_last.shape[-1] == 3 and b_last.shape[-1] == 3:
        g_last = np.moveaxis(g, axisc, -1)
        da, db = np.cross(b_last, g_last), np.cross(g_last, a_last)
    elif a_last.shape[-1] == 2 and b_last.shape[-1] == 2:
        g_last = g[..., None]
        da = np.concatenate([g_last * b_last[..., 1:], -g_last * b_last[..., :1]], axis=-1)
        db = np.concatenate([-g_last * a_last[..., 1:], g_last * a_last[..., :1]], axis=-1)
    else:
        raise NotImplementedError("s2sad differentiates np.cross of two 3-vectors or two "
                                  "2-vectors; pad the 2-vector with a zero")
    return (unbroadcast(np.moveaxis(da, -1, axisa), a),
            unbroadcast(np.moveaxis(db, -1, axisb), b))


def multi_dot_adjoint(g, arrays):
    """The adjoints of `np.linalg.multi_dot(arrays)`: for each factor, the
    product of those before it, transposed, times g, times the product of
    those after it, transposed (a first 1-D factor is a row, a last one a
    column, as multi_dot reads them)."""
    mats = list(arrays)
    first_vector, last_vector = np.ndim(mats[0]) == 1, np.ndim(mats[-1]) == 1
    if first_vector:
        mats[0] = mats[0][None, :]
    if last_vector:
        mats[-1] = mats[-1][:, None]
    g = np.reshape(g, (mats[0].shape[0], mats[-1].shape[1]))
    before = [None]                              # products of the factors before each
    for m in mats[:-1]:
        before.append(m if before[-1] is None else before[-1] @ m)
    after = [None]                               # and after each, from the end
    for m in reversed(mats[1:]):
        after.append(m if after[-1] is None else m @ after[-1])
    after.reverse()
    out = []
    for left, right in zip(before, after):
        d = g if left is None else left.T @ g
        out.append(d if right is None else d @ right.T)
    if first_vector:
        out[0] = out[0][0]
    if last_vector:
        out[-1] = out[-1][:, 0]
    return out


def multi_dot_tangent(tangents, result, arrays):
    """The tangent of `np.linalg.multi_dot(arrays)`: one product per factor
    that has a tangent, that factor replaced by it."""
    total = None
    arrays = list(arrays)
    for i, t in enumerate(tangents if tangents is not None else ()):
        if t is not None:
            term = np.linalg.multi_dot(arrays[:i] + [t] + arrays[i + 1:])
            total = term if total is None else total + term
    return total if total is not None else np.zeros_like(result)


def _reciprocal_or_zero(x):
    """1 / x, and 0 where x is 0 (a direction with no derivative)."""
    return np.where(x == 0, 0.0, 1.0 / np.where(x == 0, 1.0, x))


def _eigen_gaps(w):
    """F[i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it (and where two
    eigenvalues coincide, whose eigenvectors have no derivative)."""
    return _reciprocal_or_zero(w[..., None, :] - w[..., :, None])


def _identity_like(w):
    """Identity matrices of w's size, on w's device."""
    position = np.cumsum(np.ones_like(w), axis=-1)
    return (position[..., :, None] == position[..., None, :]).astype(w.dtype)


def eigh_adjoint(gw, gv, w, v):
    """The adjoint of `w, v = np.linalg.eigh(a)` (a symmetric):
    `v (diag(gw) + F * (v^T gv)) v^T`, symmetrised, as JAX and PyTorch."""
    inner = 0.0
    if gv is not None:
        inner = _eigen_gaps(w) * (_transposed(v) @ gv)
    if gw is not None:
        inner = inner + _identity_like(w) * gw[..., None, :]
    ga = v @ inner @ _transposed(v)
    return 0.5 * (ga + _transposed(ga))


def eigh_tangent(t, w, v):
    """The tangent of `np.linalg.eigh(a)` along a symmetric `t`:
    `dw = diag(v^T t v)`, `dv = v (F * (v^T t v))`."""
    rotated = _transposed(v) @ t @ v
    dw = np.sum(_identity_like(w) * rotated, axis=-1)
    return dw, v @ (_eigen_gaps(w) * rotated)


def svd_adjoint(g, a, full_matrices=True, compute_uv=True):
    """The adjoint of `np.linalg.svd(a, full_matrices=False)` (Townsend
    2016): g = [du, ds, dvh] (None where unused), or ds alone without
    compute_uv.  Singular vectors of repeated singular values have no
    derivative (their part is left out)."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    gu, gs, gvh = (None, g, None) if not compute_uv else tuple(g)
    if compute_uv and full_matrices and min(a.shape[-2:]) != max(a.shape[-2:]) \
            and (gu is not None or gvh is not None):
        raise NotImplementedError("s2sad differentiates the singular vectors of np.linalg.svd "
                                  "with full_matrices=False (a non-square matrix)")
    k = s.shape[-1]
    if gu is not None:
        gu = gu[..., :k]
    if gvh is not None:
        gvh = gvh[..., :k, :]
    v = _transposed(vh)
    eye = _identity_like(s)
    middle = eye * gs[..., None, :] if gs is not None else 0.0
    f = _eigen_gaps(s * s)                                          # 1 / (s_j^2 - s_i^2)
    s_row = s[..., None, :]                                         # multiplies columns: X S
    s_col = s[..., :, None]                                         # multiplies rows: S X
    inverse = _reciprocal_or_zero(s)
    out = 0.0
    if gu is not None:
        ut_gu = _transposed(u) @ gu
        middle = middle + (f * (ut_gu - _transposed(ut_gu))) * s_row
        out = out + (gu - u @ ut_gu) * inverse[..., None, :] @ vh
    if gvh is not None:
        gv = _transposed(gvh)
        vt_gv = vh @ gv
        middle = middle + s_col * (f * (vt_gv - _transposed(vt_gv)))
        out = out + u @ (inverse[..., :, None] * _transposed(gv - v @ vt_gv))
    return u @ middle @ vh + out


def svd_tangent(t, a, full_matrices=True, compute_uv=True):
    """The tangent of `np.linalg.svd(a, full_matrices=False)` along t:
    ds = diag(U^T t V), and du, dvh from the off-diagonal part (Townsend 2016)."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    v = _transposed(vh)
    p = _transposed(u) @ t @ v                                      # U^T t V
    eye = _identity_like(s)
    ds = np.sum(eye * p, axis=-1)
    if not compute_uv:
        return ds
    if full_matrices and min(a.shape[-2:]) != max(a.shape[-2:]):
        raise NotImplementedError("s2sad differentiates the singular vectors of np.linalg.svd "
                                  "with full_matrices=False (a non-square matrix)")
    f = _eigen_gaps(s * s)
    s_row, s_col = s[..., None, :], s[..., :, None]
    inverse = _reciprocal_or_zero(s)
    pt = _transposed(p)
    du = u @ (f * (p * s_row + s_col * pt)) \
        + (t @ v - u @ p) * inverse[..., None, :]
    dv = v @ (f * (s_col * p + pt * s_row)) \
        + (_transposed(t) @ u - v @ pt) * inverse[..., None, :]
    return du, ds, _transposed(dv)


def _qr_factors(a, mode):
    m, n = a.shape[-2:]
    if m < n or mode not in ("reduced", "r") and not (mode == "complete" and m == n):
        raise NotImplementedError("s2sad differentiates np.linalg.qr of a tall or square matrix "
                                  "(rows >= columns) in mode 'reduced' or 'r'")
    return np.linalg.qr(a)


def qr_adjoint(g, a, mode="reduced"):
    """The adjoint of `q, r = np.linalg.qr(a)` for rows >= columns:
    `(gq + q copyltu(r gr^T - gq^T q)) r^-T`, copyltu mirroring the strict
    lower triangle onto the upper (as PyTorch's)."""
    q, r = _qr_factors(a, mode)
    gq, gr = (None, g) if mode == "r" else tuple(g)
    m = 0.0
    if gr is not None:
        m = r @ _transposed(gr)
    if gq is not None:
        m = m - _transposed(gq) @ q
    lower = np.tril(m, -1)
    b = q @ (lower + _transposed(lower) + np.tril(np.triu(m)))
    if gq is not None:
        b = b + gq
    return _transposed(np.linalg.solve(r, _transposed(b)))          # b r^-T


def qr_tangent(t, a, mode="reduced"):
    """The tangent of `np.linalg.qr(a)` (rows >= columns): with
    C = q^T t r^-1 and its skew part W from the strict lower triangle,
    dq = q W + (t r^-1 - q C), dr = (C - W) r."""
    q, r = _qr_factors(a, mode)
    t_rinv = _transposed(np.linalg.solve(_transposed(r), _transposed(t)))   # t r^-1
    c = _transposed(q) @ t_rinv
    lower = np.tril(c, -1)
    w = lower - _transposed(lower)
    dr = (c - w) @ r
    if mode == "r":
        return dr
    return q @ w + (t_rinv - q @ c), dr


def _powers(a, n):
    """[a^0 (None: the identity), a^1, ..., a^n]."""
    out = [None, a]
    for _ in range(n - 1):
        out.append(out[-1] @ a)
    return out[:n + 1]


def matrix_power_adjoint(g, a, n):
    """The adjoint of `np.linalg.matrix_power(a, n)`: the sum over the n
    places of a in the product, `(a^k)^T g (a^(n-1-k))^T`; through the
    inverse for a negative n."""
    if n == 0:
        return np.zeros_like(a)
    base = a if n > 0 else np.linalg.inv(a)
    powers = _powers(base, abs(n) - 1)
    total = 0.0
    for k in range(abs(n)):
        left, right = powers[k], powers[abs(n) - 1 - k]
        term = g if left is None else _transposed(left) @ g
        total = total + (term if right is None else term @ _transposed(right))
    if n > 0:
        return total
    return -(_transposed(base) @ total @ _transposed(base))        # through inv(a)


def matrix_power_tangent(t, a, n):
    """The tangent of `np.linalg.matrix_power(a, n)` along t."""
    if n == 0:
        return np.zeros_like(a)
    base = a if n > 0 else np.linalg.inv(a)
    dbase = t if n > 0 else -(base @ t @ base)
    powers = _powers(base, abs(n) - 1)
    total = 0.0
    for k in range(abs(n)):
        left, right = powers[k], powers[abs(n) - 1 - k]
        term = dbase if left is None else left @ dbase
        total = total + (term if right is None else term @ right)
    return total


def kron_adjoint(g, a, b):
    """The adjoints of `np.kron(a, b)`: g seen as the blocks a_i * b, so a_i
    gets the sum of its block times b, and b the sum of the blocks weighted
    by a (the lower-dimensional operand padded with leading ones, as kron)."""
    d = max(np.ndim(a), np.ndim(b))
    a_shape = (1,) * (d - np.ndim(a)) + _shape(a)
    b_shape = (1,) * (d - np.ndim(b)) + _shape(b)
    interleaved = np.reshape(g, tuple(x for pair in zip(a_shape, b_shape) for x in pair))
    a_axes = string.ascii_lowercase[:d]
    b_axes = string.ascii_uppercase[:d]
    blocks = "".join(i + j for i, j in zip(a_axes, b_axes))
    da = np.einsum(f"{blocks},{b_axes}->{a_axes}", interleaved, np.reshape(b, b_shape))
    db = np.einsum(f"{blocks},{a_axes}->{b_axes}", interleaved, np.reshape(a, a_shape))
    return np.reshape(da, _shape(a)), np.reshape(db, _shape(b))


def pinv_adjoint(g, a, p):
    """The adjoint of `p = np.linalg.pinv(a)` (a of constant rank, Golub and
    Pereyra 1973): the three terms of the pseudo-inverse's derivative,
    transposed, written without identity matrices."""
    pt, gt = _transposed(p), _transposed(g)
    out = -(pt @ g @ pt)
    out = out + (gt - a @ (p @ gt)) @ (p @ pt)                 # (I - a p) g^T p p^T
    out = out + (pt @ p) @ (gt - (gt @ p) @ a)                 # p^T p g^T (I - p a)
    return out


def pinv_tangent(t, a, p):
    """The tangent of `np.linalg.pinv(a)` along t (a of constant rank)."""
    tt = _transposed(t)
    pt = _transposed(p)
    out = -(p @ t @ p)
    out = out + (p @ pt) @ (tt - (tt @ a) @ p)                 # p p^T t^T (I - a p)
    out = out + (tt - p @ (a @ tt)) @ (pt @ p)                 # (I - p a) t^T p^T p
    return out




def lstsq_adjoint(g, a, b):
    """The adjoints of `x, residuals, rank, s = np.linalg.lstsq(a, b)` (a of
    full rank): x = pinv(a) b gives b pinv(a)^T gx and a the pinv adjoint of
    gx b^T; the residuals |b - a x|^2 (x optimal, so only their explicit
    dependence counts) give b 2 r g and a -2 r x^T g; the singular values,
    as svd's."""
    gx, gres, _, gs = (list(g) + [None] * 4)[:4]
    p = np.linalg.pinv(a)
    x = p @ b
    vector = np.ndim(b) == 1
    da, db = 0.0, 0.0
    if gx is not None:
        da = pinv_adjoint(gx[:, None] * b[None, :] if vector else gx @ _transposed(b), a, p)
        db = _transposed(p) @ gx
    if gres is not None and np.size(gres):
        r = b - a @ x
        weighted = 2.0 * r * gres                      # gres: one per column of b
        da = da - (weighted[:, None] * x[None, :] if vector else weighted @ _transposed(x))
        db = db + weighted
    if gs is not None:
        da = da + svd_adjoint(gs, a, compute_uv=False)
    return da, db


def lstsq_tangent(ta, tb, result, a, b):
    """The tangent of `np.linalg.lstsq(a, b)`: of the solution pinv(a) b, of
    the residuals 2 sum(r (tb - ta x)), of the rank (none) and of the
    singular values (svd's)."""
    x, residuals, rank, s = result
    p = np.linalg.pinv(a)
    dx = np.zeros_like(x)
    moved = np.zeros_like(b)                           # tb - ta x
    if ta is not None:
        dx = dx + pinv_tangent(ta, a, p) @ b
        moved = moved - ta @ x
    if tb is not None:
        dx = dx + p @ tb
        moved = moved + tb
    dres = np.zeros_like(residuals)
    if np.size(residuals):
        dres = dres + 2.0 * np.sum((b - a @ x) * moved, axis=0)
    ds = svd_tangent(ta, a, compute_uv=False) if ta is not None else np.zeros_like(s)
    return dx, dres, 0, ds                              # (the rank, an int, does not move)
