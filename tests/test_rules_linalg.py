"""The product and linear-algebra rules (rules/linalg.py) checked against
central finite differences, and against exact values where there is one.

As in test_rules.py, each loss is `np.sum(OP(...) * c)` with a fixed random
`c` of OP's output shape, passed last and never differentiated; every check
goes through `check_gradient` (float64 and float32, type/shape/dtype, and a
re-run on the CuPy-like StrictArray).  Matrices that are inverted or solved
with are well conditioned: `rng.normal(size=(n, n)) + n * np.eye(n)`.
"""

import numpy as np
import pytest

import s2sad
from fdcheck import cotangent, shape_id, shapes_id, check_gradient

DTYPES = [np.float64, np.float32]
DT_IDS = ["f64", "f32"]


def make(shape, dtype=np.float64, seed=0):
    return np.asarray(np.random.default_rng(seed).standard_normal(size=shape), dtype=dtype)


def well_conditioned(shape, dtype=np.float64, seed=0):
    """Square matrices (or a stack of them) far from singular."""
    n = shape[-1]
    a = np.random.default_rng(seed).normal(size=shape) + n * np.eye(n)
    return np.asarray(a, dtype=dtype)


# ---- vdot, outer, inner, tensordot ------------------------------------------------------


def l_vdot(a, b, c):
    return np.sum(np.vdot(a, b) * c)


def l_outer(a, b, c):
    return np.sum(np.outer(a, b) * c)


def l_inner(a, b, c):
    return np.sum(np.inner(a, b) * c)


def l_tensordot(a, b, c):
    return np.sum(np.tensordot(a, b) * c)


def l_tensordot1(a, b, c):
    return np.sum(np.tensordot(a, b, axes=1) * c)


def l_tensordot0(a, b, c):
    return np.sum(np.tensordot(a, b, 0) * c)


def l_tensordot_pairs(a, b, c):
    return np.sum(np.tensordot(a, b, axes=([1, 0], [0, 2])) * c)


def l_tensordot_ints(a, b, c):
    return np.sum(np.tensordot(a, b, axes=(-1, 0)) * c)


PRODUCTS = {
    "vdot": (l_vdot, np.vdot, [((4,), (4,)), ((3, 4), (3, 4)), ((2, 6), (3, 4)), ((), ())]),
    "outer": (l_outer, np.outer, [((3,), (4,)), ((2, 3), (4,)), ((3,), (2, 2)), ((), (3,))]),
    "inner": (l_inner, np.inner, [((4,), (4,)), ((3, 4), (4,)), ((4,), (2, 4)), ((3, 4), (2, 4)),
                                  ((2, 3, 4), (5, 4)), ((4,), (2, 3, 4)), ((), (3, 4)),
                                  ((3, 4), ())]),
    "tensordot": (l_tensordot, np.tensordot, [((2, 3, 4), (3, 4, 5)), ((3, 4), (3, 4)),
                                              ((2, 3, 4), (3, 4))]),
    "tensordot(axes=1)": (l_tensordot1, lambda a, b: np.tensordot(a, b, axes=1),
                          [((3, 4), (4, 5)), ((2, 3), (3,)), ((4,), (4, 2, 3))]),
    "tensordot(a,b,0)": (l_tensordot0, lambda a, b: np.tensordot(a, b, 0),
                         [((3,), (4,)), ((2, 3), (2,))]),
    "tensordot(axes=([1,0],[0,2]))": (l_tensordot_pairs,
                                      lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 2])),
                                      [((2, 3), (3, 4, 2)), ((2, 3, 5), (3, 4, 2))]),
    "tensordot(axes=(-1,0))": (l_tensordot_ints, lambda a, b: np.tensordot(a, b, axes=(-1, 0)),
                               [((2, 3), (3, 4)), ((4, 2, 3), (3,))]),
}

PRODUCT_CASES = [pytest.param(name, shapes, id=f"{name}-{shapes_id(shapes)}")
                 for name, (_, _, cases) in PRODUCTS.items() for shapes in cases]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name, shapes", PRODUCT_CASES)
def test_product(name, shapes, dtype):
    loss, op, _ = PRODUCTS[name]
    a, b = make(shapes[0], dtype, seed=1), make(shapes[1], dtype, seed=2)
    c = cotangent(op(a, b), dtype)
    check_gradient(loss, (a, b, c), (0, 1))


def test_product_exact_values():
    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0, 0.5])
    c = np.array([[1.0, 0.0, 2.0], [0.0, -1.0, 1.0]])
    da, db = s2sad.grad(l_outer, wrt=(0, 1))(a, b, c)
    np.testing.assert_array_equal(da, c @ b)
    np.testing.assert_array_equal(db, a @ c)
    da, db = s2sad.grad(l_vdot, wrt=(0, 1))(np.arange(4.0).reshape(2, 2), np.ones(4), 2.0)
    np.testing.assert_array_equal(da, [[2.0, 2.0], [2.0, 2.0]])
    np.testing.assert_array_equal(db, [0.0, 2.0, 4.0, 6.0])


# ---- einsum --------------------------------------------------------------------------------


def l_ein_matmul(a, b, c):
    return np.sum(np.einsum('ij,jk->ik', a, b) * c)


def l_ein_matmul_implicit(a, b, c):
    return np.sum(np.einsum('ij,jk', a, b) * c)


def l_ein_dot(a, b, c):
    return np.sum(np.einsum('i,i->', a, b) * c)


def l_ein_outer(a, b, c):
    return np.sum(np.einsum('i,j->ij', a, b) * c)


def l_ein_batch(a, b, c):
    return np.sum(np.einsum('bij,bjk->bik', a, b) * c)


def l_ein_ellipsis(a, b, c):
    return np.sum(np.einsum('...ij,...jk->...ik', a, b) * c)


def l_ein_ellipsis_implicit(a, b, c):
    return np.sum(np.einsum('...i,...i', a, b) * c)


def l_ein_spaces(a, b, c):
    return np.sum(np.einsum('i j , j k -> k i', a, b) * c)


def l_ein_bcast(a, b, c):
    return np.sum(np.einsum('ij,ij->ij', a, b) * c)


def l_ein_weighted(a, b, c):
    return np.sum(np.einsum('ij,j->i', a, b) * c)


def l_ein_upper(a, b, c):
    return np.sum(np.einsum('aB,Bc', a, b) * c)


def l_ein_self(a, c):
    return np.einsum('ij,ij->', a, a) * c


def l_ein_self_matmul(a, c):
    return np.sum(np.einsum('ij,kj->ik', a, a) * c)


def l_ein3(a, b, d, c):
    return np.sum(np.einsum('ij,jk,kl->il', a, b, d) * c)


def l_ein3_implicit(a, b, d, c):
    return np.sum(np.einsum('ij,jk,ki', a, b, d) * c)


def l_ein4(a, b, d, e, c):
    return np.sum(np.einsum('i,ij,jk,k->', a, b, d, e) * c)


def l_ein5(a, b, d, e, f, c):
    return np.sum(np.einsum('i,ij,jk,kl,l->', a, b, d, e, f) * c)


def l_ein_optimize(a, b, d, c):
    return np.sum(np.einsum('ij,jk,kl->il', a, b, d, optimize=True) * c)


def l_ein_diag_mixed(a, b, c):
    return np.sum(np.einsum('ii,ij->j', a, b) * c)


# one operand: sums, transposes, traces and diagonals


def l_ein1_0(x, c):
    return np.sum(np.einsum('ij->', x) * c)


def l_ein1_1(x, c):
    return np.sum(np.einsum('ij->i', x) * c)


def l_ein1_2(x, c):
    return np.sum(np.einsum('ij->j', x) * c)


def l_ein1_3(x, c):
    return np.sum(np.einsum('ij->ji', x) * c)


def l_ein1_4(x, c):
    return np.sum(np.einsum('ij', x) * c)


def l_ein1_5(x, c):
    return np.sum(np.einsum('ji', x) * c)


def l_ein1_6(x, c):
    return np.sum(np.einsum('ii->i', x) * c)


def l_ein1_7(x, c):
    return np.sum(np.einsum('ii', x) * c)


def l_ein1_8(x, c):
    return np.sum(np.einsum('ii->', x) * c)


def l_ein1_9(x, c):
    return np.sum(np.einsum('iij->ij', x) * c)


def l_ein1_10(x, c):
    return np.sum(np.einsum('iji->j', x) * c)


def l_ein1_11(x, c):
    return np.sum(np.einsum('...ii->...i', x) * c)


def l_ein1_12(x, c):
    return np.sum(np.einsum('i...->...', x) * c)


def l_ein1_13(x, c):
    return np.sum(np.einsum('i->', x) * c)


def l_ein1_14(x, c):
    return np.sum(np.einsum('->', x) * c)


def l_ein1_15(x, c):
    return np.sum(np.einsum('ijk->kij', x) * c)


def l_ein1_16(x, c):
    return np.sum(np.einsum('iii->', x) * c)


def l_ein1_17(x, c):
    return np.sum(np.einsum('i...i', x) * c)


ONE_OPERAND = [
    (l_ein1_0, 'ij->', (3, 4)),
    (l_ein1_1, 'ij->i', (3, 4)),
    (l_ein1_2, 'ij->j', (3, 4)),
    (l_ein1_3, 'ij->ji', (3, 4)),
    (l_ein1_4, 'ij', (3, 4)),
    (l_ein1_5, 'ji', (3, 4)),
    (l_ein1_6, 'ii->i', (4, 4)),
    (l_ein1_7, 'ii', (4, 4)),
    (l_ein1_8, 'ii->', (4, 4)),
    (l_ein1_9, 'iij->ij', (3, 3, 2)),
    (l_ein1_10, 'iji->j', (3, 2, 3)),
    (l_ein1_11, '...ii->...i', (2, 3, 3)),
    (l_ein1_12, 'i...->...', (3, 2, 4)),
    (l_ein1_13, 'i->', (5,)),
    (l_ein1_14, '->', ()),
    (l_ein1_15, 'ijk->kij', (2, 3, 4)),
    (l_ein1_16, 'iii->', (2, 2, 2)),
    (l_ein1_17, 'i...i', (3, 2, 3)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("loss, subscripts, shape", ONE_OPERAND,
                         ids=[f"{s}-{shape_id(sh)}" for _, s, sh in ONE_OPERAND])
def test_einsum_one_operand(loss, subscripts, shape, dtype):
    x = make(shape, dtype, seed=3)
    c = cotangent(np.einsum(subscripts, x), dtype)
    check_gradient(loss, (x, c), 0)


EINSUMS = {
    "ij,jk->ik": (l_ein_matmul, lambda a, b: np.einsum('ij,jk->ik', a, b), [((3, 4), (4, 2))]),
    "ij,jk": (l_ein_matmul_implicit, lambda a, b: np.einsum('ij,jk', a, b), [((3, 4), (4, 2))]),
    "i,i->": (l_ein_dot, lambda a, b: np.einsum('i,i->', a, b), [((5,), (5,))]),
    "i,j->ij": (l_ein_outer, lambda a, b: np.einsum('i,j->ij', a, b), [((3,), (4,))]),
    "bij,bjk->bik": (l_ein_batch, lambda a, b: np.einsum('bij,bjk->bik', a, b),
                     [((2, 3, 4), (2, 4, 5))]),
    "...ij,...jk->...ik": (l_ein_ellipsis, lambda a, b: np.einsum('...ij,...jk->...ik', a, b),
                           [((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 2, 4, 5)),
                            ((2, 1, 3, 4), (3, 4, 2))]),
    "...i,...i": (l_ein_ellipsis_implicit, lambda a, b: np.einsum('...i,...i', a, b),
                  [((2, 3), (3,)), ((4,), (2, 3, 4)), ((2, 1, 3), (4, 3))]),
    "i j , j k -> k i": (l_ein_spaces, lambda a, b: np.einsum('i j , j k -> k i', a, b),
                         [((3, 4), (4, 2))]),
    "ij,ij->ij (size-one broadcast)": (l_ein_bcast, lambda a, b: np.einsum('ij,ij->ij', a, b),
                                       [((3, 1), (3, 4)), ((1, 4), (3, 4))]),
    "ij,j->i": (l_ein_weighted, lambda a, b: np.einsum('ij,j->i', a, b), [((3, 4), (4,))]),
    "aB,Bc": (l_ein_upper, lambda a, b: np.einsum('aB,Bc', a, b), [((3, 4), (4, 2))]),
    "ii,ij->j": (l_ein_diag_mixed, lambda a, b: np.einsum('ii,ij->j', a, b), [((3, 3), (3, 2))]),
}

EINSUM_CASES = [pytest.param(name, shapes, id=f"{name}-{shapes_id(shapes)}")
                for name, (_, _, cases) in EINSUMS.items() for shapes in cases]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name, shapes", EINSUM_CASES)
def test_einsum_two_operands(name, shapes, dtype):
    loss, op, _ = EINSUMS[name]
    a, b = make(shapes[0], dtype, seed=4), make(shapes[1], dtype, seed=5)
    c = cotangent(op(a, b), dtype)
    check_gradient(loss, (a, b, c), (0, 1))


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_einsum_repeated_operand(dtype):
    a = make((3, 4), dtype, seed=6)
    g = check_gradient(l_ein_self, (a, 1.5), 0)
    np.testing.assert_allclose(g, 3.0 * a, rtol=1e-6)        # d sum(a*a) = 2a
    check_gradient(l_ein_self_matmul, (a, cotangent(a @ a.T, dtype)), 0)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_einsum_three_or_more_operands(dtype):
    a, b, d = make((2, 3), dtype, seed=7), make((3, 4), dtype, seed=8), make((4, 2), dtype, seed=9)
    check_gradient(l_ein3, (a, b, d, cotangent(a @ b @ d, dtype)), (0, 1, 2))
    check_gradient(l_ein3_implicit, (a, b, d, np.asarray(1.5, dtype)), (0, 1, 2))
    check_gradient(l_ein_optimize, (a, b, d, cotangent(a @ b @ d, dtype)), (0, 1, 2))
    v, w = make((4,), dtype, seed=10), make((4,), dtype, seed=11)
    check_gradient(l_ein4, (v, b.T.copy(), b, w, np.asarray(-0.5, dtype)), (0, 1, 2, 3))
    e, u = make((4, 5), dtype, seed=12), make((5,), dtype, seed=13)
    v3, d44 = make((3,), dtype, seed=14), make((4, 4), dtype, seed=15)
    args = (v3, b, d44, e, u, np.asarray(2.0, dtype))
    check_gradient(l_ein5, args, (0, 1, 2, 3, 4))


def test_einsum_exact_values():
    # a trace's gradient is the identity; a diagonal's puts g on the diagonal
    x = make((3, 3), seed=14)
    np.testing.assert_array_equal(s2sad.grad(l_einsum_trace)(x), np.eye(3))
    c = np.array([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(s2sad.grad(l_einsum_diag)(x, c), np.diag(c))


def l_einsum_trace(x):
    return np.einsum('ii', x)


def l_einsum_diag(x, c):
    return np.sum(np.einsum('ii->i', x) * c)


# ---- trace, diag, diagonal --------------------------------------------------------------------


def l_trace(x, c):
    return np.sum(np.trace(x) * c)


def l_trace_offset1(x, c):
    return np.sum(np.trace(x, 1) * c)


def l_trace_offsetm1(x, c):
    return np.sum(np.trace(x, offset=-1) * c)


def l_trace_axes(x, c):
    return np.sum(np.trace(x, axis1=1, axis2=2) * c)


def l_trace_axes_rev(x, c):
    return np.sum(np.trace(x, 1, 2, 0) * c)


def l_mtrace(x, c):
    return np.sum(x.trace() * c)


def l_mtrace_offset(x, c):
    return np.sum(x.trace(offset=1, axis1=0, axis2=2) * c)


def l_diag(x, c):
    return np.sum(np.diag(x) * c)


def l_diag_k1(x, c):
    return np.sum(np.diag(x, 1) * c)


def l_diag_km2(x, c):
    return np.sum(np.diag(x, k=-2) * c)


def l_diagonal(x, c):
    return np.sum(np.diagonal(x) * c)


def l_diagonal_offset(x, c):
    return np.sum(np.diagonal(x, offset=-1) * c)


def l_diagonal_axes(x, c):
    return np.sum(np.diagonal(x, 0, -1, 0) * c)


def l_mdiagonal(x, c):
    return np.sum(x.diagonal() * c)


def l_mdiagonal_axes(x, c):
    return np.sum(x.diagonal(1, 1, 2) * c)


DIAGONALS = {
    "trace": (l_trace, np.trace, [(3, 3), (3, 4), (4, 2), (2, 3, 4)]),
    "trace(x,1)": (l_trace_offset1, lambda x: np.trace(x, 1), [(3, 3), (3, 4), (2, 3, 2)]),
    "trace(offset=-1)": (l_trace_offsetm1, lambda x: np.trace(x, offset=-1), [(3, 3), (4, 2)]),
    "trace(axis1=1,axis2=2)": (l_trace_axes, lambda x: np.trace(x, axis1=1, axis2=2),
                               [(2, 3, 3), (2, 3, 4)]),
    "trace(x,1,2,0)": (l_trace_axes_rev, lambda x: np.trace(x, 1, 2, 0), [(3, 2, 4)]),
    "x.trace()": (l_mtrace, lambda x: x.trace(), [(3, 3), (2, 3, 4)]),
    "x.trace(offset=1,axis1=0,axis2=2)": (l_mtrace_offset,
                                          lambda x: x.trace(offset=1, axis1=0, axis2=2),
                                          [(3, 2, 4)]),
    "diag": (l_diag, np.diag, [(4,), (3, 3), (3, 4), (4, 2)]),
    "diag(x,1)": (l_diag_k1, lambda x: np.diag(x, 1), [(4,), (3, 4), (3, 3)]),
    "diag(k=-2)": (l_diag_km2, lambda x: np.diag(x, k=-2), [(3,), (4, 3)]),
    "diagonal": (l_diagonal, np.diagonal, [(3, 3), (3, 4), (2, 3, 4)]),
    "diagonal(offset=-1)": (l_diagonal_offset, lambda x: np.diagonal(x, offset=-1),
                            [(3, 3), (4, 3, 2)]),
    "diagonal(x,0,-1,0)": (l_diagonal_axes, lambda x: np.diagonal(x, 0, -1, 0), [(3, 2, 4)]),
    "x.diagonal()": (l_mdiagonal, lambda x: x.diagonal(), [(3, 3), (2, 4, 3)]),
    "x.diagonal(1,1,2)": (l_mdiagonal_axes, lambda x: x.diagonal(1, 1, 2), [(2, 3, 4)]),
}

DIAGONAL_CASES = [pytest.param(name, shape, id=f"{name}-{shape_id(shape)}")
                  for name, (_, _, shapes) in DIAGONALS.items() for shape in shapes]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name, shape", DIAGONAL_CASES)
def test_diagonal(name, shape, dtype):
    loss, op, _ = DIAGONALS[name]
    x = make(shape, dtype, seed=15)
    c = cotangent(op(x), dtype)
    check_gradient(loss, (x, c), 0)


def test_diagonal_exact_values():
    x = make((3, 4), seed=16)
    g = s2sad.grad(l_trace_offset1)(x, 2.0)
    np.testing.assert_array_equal(g, 2.0 * np.eye(3, 4, 1))
    c = np.array([1.0, 2.0])
    np.testing.assert_array_equal(s2sad.grad(l_diagonal_offset)(x[:, :3], c),
                                  [[0, 0, 0], [1, 0, 0], [0, 2, 0]])
    np.testing.assert_array_equal(s2sad.grad(l_diag_k1)(np.ones(2), np.arange(9.0).reshape(3, 3)),
                                  [1.0, 5.0])


# ---- norm ---------------------------------------------------------------------------------


def l_norm(x, c):
    return np.sum(np.linalg.norm(x) * c)


def l_norm_ax1(x, c):
    return np.sum(np.linalg.norm(x, axis=1) * c)


def l_norm_axm1_kd(x, c):
    return np.sum(np.linalg.norm(x, axis=-1, keepdims=True) * c)


def l_norm_kd(x, c):
    return np.sum(np.linalg.norm(x, keepdims=True) * c)


def l_norm_fro(x, c):
    return np.sum(np.linalg.norm(x, 'fro') * c)


def l_norm_fro_axes(x, c):
    return np.sum(np.linalg.norm(x, ord='fro', axis=(0, 2)) * c)


def l_norm_axes_none(x, c):
    return np.sum(np.linalg.norm(x, axis=(1, 2)) * c)


def l_norm_ord1(x, c):
    return np.sum(np.linalg.norm(x, ord=1) * c)


def l_norm_ord2(x, c):
    return np.sum(np.linalg.norm(x, ord=2) * c)


def l_norm_ord_inf(x, c):
    return np.sum(np.linalg.norm(x, ord=np.inf) * c)


def l_norm_ord_minf(x, c):
    return np.sum(np.linalg.norm(x, ord=-np.inf) * c)


def l_norm_ord3(x, c):
    return np.sum(np.linalg.norm(x, ord=3) * c)


def l_norm_ord1_ax1(x, c):
    return np.sum(np.linalg.norm(x, ord=1, axis=1) * c)


def l_norm_ord_inf_ax0_kd(x, c):
    return np.sum(np.linalg.norm(x, ord=np.inf, axis=0, keepdims=True) * c)


def l_norm_ord2_axm1(x, c):
    return np.sum(np.linalg.norm(x, 2, -1) * c)


def l_norm_nuc(x, c):
    return np.sum(np.linalg.norm(x, 'nuc') * c)


def l_norm_mat_ord1_axes(x, c):
    return np.sum(np.linalg.norm(x, ord=1, axis=(1, 2)) * c)


def l_norm_mat_inf_kd(x, c):
    return np.sum(np.linalg.norm(x, ord=np.inf, axis=(0, 1), keepdims=True) * c)


NORMS = {
    "norm": (l_norm, np.linalg.norm, [(5,), (3, 4), (2, 3, 4)]),
    "norm(axis=1)": (l_norm_ax1, lambda x: np.linalg.norm(x, axis=1), [(3, 4), (2, 3, 4)]),
    "norm(axis=-1,keepdims)": (l_norm_axm1_kd, lambda x: np.linalg.norm(x, axis=-1, keepdims=True),
                               [(5,), (3, 4)]),
    "norm(keepdims)": (l_norm_kd, lambda x: np.linalg.norm(x, keepdims=True), [(5,), (3, 4)]),
    "norm(x,'fro')": (l_norm_fro, lambda x: np.linalg.norm(x, 'fro'), [(3, 4)]),
    "norm(ord='fro',axis=(0,2))": (l_norm_fro_axes,
                                   lambda x: np.linalg.norm(x, ord='fro', axis=(0, 2)),
                                   [(2, 3, 4)]),
    "norm(axis=(1,2))": (l_norm_axes_none, lambda x: np.linalg.norm(x, axis=(1, 2)), [(2, 3, 4)]),
    "norm(ord=1)": (l_norm_ord1, lambda x: np.linalg.norm(x, ord=1), [(5,), (3, 4)]),
    "norm(ord=2)": (l_norm_ord2, lambda x: np.linalg.norm(x, ord=2), [(5,), (3, 4)]),
    "norm(ord=inf)": (l_norm_ord_inf, lambda x: np.linalg.norm(x, ord=np.inf), [(5,), (3, 4)]),
    "norm(ord=-inf)": (l_norm_ord_minf, lambda x: np.linalg.norm(x, ord=-np.inf), [(5,), (3, 4)]),
    "norm(ord=3)": (l_norm_ord3, lambda x: np.linalg.norm(x, ord=3), [(5,)]),
    "norm(ord=1,axis=1)": (l_norm_ord1_ax1, lambda x: np.linalg.norm(x, ord=1, axis=1), [(3, 4)]),
    "norm(ord=inf,axis=0,keepdims)": (l_norm_ord_inf_ax0_kd,
                                      lambda x: np.linalg.norm(x, ord=np.inf, axis=0,
                                                               keepdims=True), [(3, 4)]),
    "norm(x,2,-1)": (l_norm_ord2_axm1, lambda x: np.linalg.norm(x, 2, -1), [(5,), (2, 3, 4)]),
    "norm(x,'nuc')": (l_norm_nuc, lambda x: np.linalg.norm(x, 'nuc'), [(3, 4)]),
    "norm(ord=1,axis=(1,2))": (l_norm_mat_ord1_axes,
                               lambda x: np.linalg.norm(x, ord=1, axis=(1, 2)), [(2, 3, 4)]),
    "norm(ord=inf,axis=(0,1),keepdims)": (l_norm_mat_inf_kd,
                                          lambda x: np.linalg.norm(x, ord=np.inf, axis=(0, 1),
                                                                   keepdims=True), [(3, 4, 2)]),
}

NORM_CASES = [pytest.param(name, shape, id=f"{name}-{shape_id(shape)}")
              for name, (_, _, shapes) in NORMS.items() for shape in shapes]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name, shape", NORM_CASES)
def test_norm(name, shape, dtype):
    loss, op, _ = NORMS[name]
    x = make(shape, dtype, seed=17)
    c = cotangent(op(x), dtype)
    check_gradient(loss, (x, c), 0)


def l_norm_plain(x):
    return np.linalg.norm(x)


def l_norm_rows(x):
    return np.sum(np.linalg.norm(x, axis=1))


def l_norm_inf_plain(x):
    return np.linalg.norm(x, ord=np.inf)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_norm_at_zero_is_zero(dtype):
    # the convention (rules/linalg.py): gradient 0 at the zero vector, not NaN
    g = s2sad.grad(l_norm_plain)(np.zeros(3, dtype))
    assert g.dtype == dtype
    np.testing.assert_array_equal(g, np.zeros(3))
    x = np.array([[0.0, 0.0], [3.0, 4.0]], dtype=dtype)
    np.testing.assert_allclose(s2sad.grad(l_norm_rows)(x), [[0.0, 0.0], [0.6, 0.8]], rtol=1e-6)
    np.testing.assert_array_equal(s2sad.grad(l_norm_inf_plain)(np.zeros(3, dtype)), np.zeros(3))


def test_norm_inf_ties_share():
    x = np.array([3.0, -3.0, 1.0])
    np.testing.assert_array_equal(s2sad.grad(l_norm_inf_plain)(x), [0.5, -0.5, 0.0])


# ---- inv, solve, det, slogdet ---------------------------------------------------------------


def l_inv(a, c):
    return np.sum(np.linalg.inv(a) * c)


def l_solve(a, b, c):
    return np.sum(np.linalg.solve(a, b) * c)


def l_det(a, c):
    return np.sum(np.linalg.det(a) * c)


def l_slogdet(a, c):
    sign, logdet = np.linalg.slogdet(a)
    return np.sum(logdet * c)


def l_slogdet_index(a, c):
    return np.sum(np.linalg.slogdet(a)[1] * c)


def l_slogdet_scaled(a, c):
    return np.linalg.slogdet(a)[1] * c


def l_slogdet_both(a, c):
    sign, logdet = np.linalg.slogdet(a)
    return np.sum(sign * logdet * c)


def l_slogdet_sign_only(a, c):
    sign, logdet = np.linalg.slogdet(a)
    return np.sum(sign * c)


SQUARE = [(3, 3), (1, 1), (2, 4, 4)]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape", SQUARE, ids=shape_id)
def test_inv(shape, dtype):
    a = well_conditioned(shape, dtype, seed=18)
    check_gradient(l_inv, (a, cotangent(a, dtype)), 0)


SOLVE_SHAPES = [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 4)), ((2, 3, 3), (3,)),
                ((3, 3), (2, 3, 2)), ((2, 1, 3, 3), (4, 3, 2))]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shapes", SOLVE_SHAPES, ids=shapes_id)
def test_solve(shapes, dtype):
    a = well_conditioned(shapes[0], dtype, seed=19)
    b = make(shapes[1], dtype, seed=20)
    c = cotangent(np.linalg.solve(a, b), dtype)
    check_gradient(l_solve, (a, b, c), (0, 1))


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape", SQUARE, ids=shape_id)
@pytest.mark.parametrize("loss", [l_det, l_slogdet, l_slogdet_index, l_slogdet_both],
                         ids=["det", "slogdet", "slogdet[1]", "sign*logdet"])
def test_det_slogdet(loss, shape, dtype):
    a = well_conditioned(shape, dtype, seed=21)
    a[..., 0, :] *= -1.0                     # negative determinants too
    c = cotangent(np.linalg.det(a), dtype)
    check_gradient(loss, (a, c), 0)


def test_slogdet_sign_only_has_zero_gradient():
    a = well_conditioned((3, 3), seed=22)
    g = check_gradient(l_slogdet_sign_only, (a, 2.0), 0)
    np.testing.assert_array_equal(g, np.zeros((3, 3)))


def test_linalg_exact_values():
    a = np.array([[2.0, 1.0], [0.0, 4.0]])
    inv = np.linalg.inv(a)
    np.testing.assert_allclose(s2sad.grad(l_det)(a, 1.0), 8.0 * inv.T, rtol=1e-12)
    np.testing.assert_allclose(s2sad.grad(l_slogdet)(a, 1.0), inv.T, rtol=1e-12)
    c = np.ones((2, 2))
    np.testing.assert_allclose(s2sad.grad(l_inv)(a, c), -inv.T @ c @ inv.T, rtol=1e-12)
    b = np.array([1.0, 2.0])
    da, db = s2sad.grad(l_solve, wrt=(0, 1))(a, b, np.array([1.0, 0.0]))
    np.testing.assert_allclose(db, np.linalg.solve(a.T, [1.0, 0.0]), rtol=1e-12)
    np.testing.assert_allclose(da, -np.outer(db, np.linalg.solve(a, b)), rtol=1e-12)


# ---- a Python-float adjoint keeps a float32 gradient float32 -----------------------------------


def l_einsum_dot3(a, b):
    return np.einsum('i,i->', a, b) * 3.0


def l_tensordot_full3(a, b):
    return np.tensordot(a, b, axes=2) * 3.0


def l_trace3d3(x):
    return np.sum(np.trace(x, axis1=1, axis2=2)) * 3.0


def l_trace_offset3(x):
    return np.trace(x, 1) * 3.0


def l_norm_ord1_3(x):
    return np.linalg.norm(x, ord=1) * 3.0


def l_det3(a):
    return np.linalg.det(a) * 3.0


def l_vdot3(a, b):
    return np.vdot(a, b) * 3.0


@pytest.mark.parametrize("loss, shapes", [
    (l_einsum_dot3, ((4,), (4,))), (l_tensordot_full3, ((2, 3), (2, 3))),
    (l_vdot3, ((2, 3), (3, 2)))], ids=["einsum", "tensordot", "vdot"])
def test_float_adjoint_keeps_float32_two(loss, shapes):
    a, b = make(shapes[0], np.float32, seed=23), make(shapes[1], np.float32, seed=24)
    da, db = check_gradient(loss, (a, b), (0, 1))
    assert da.dtype == np.float32 and db.dtype == np.float32


@pytest.mark.parametrize("loss, shape", [
    (l_trace3d3, (2, 3, 3)), (l_trace_offset3, (3, 4)), (l_norm_ord1_3, (5,)),
    (l_norm_ord1_3, (3, 4)), (l_det3, (3, 3))],
    ids=["trace3d", "trace-offset", "norm1-vector", "norm1-matrix", "det"])
def test_float_adjoint_keeps_float32_one(loss, shape):
    x = make(shape, np.float32, seed=25)
    if loss is l_det3:
        x = well_conditioned(shape, np.float32, seed=25)
    g = check_gradient(loss, (x,), 0)
    assert g.dtype == np.float32


# ---- generated code reads like hand-written backprop ---------------------------------------------


def test_generated_code_is_inlined():
    a = well_conditioned((3, 3), seed=26)
    b = make((3, 2), seed=27)
    src = s2sad.source(s2sad.grad(l_solve, wrt=(0, 1)), a, b, cotangent(b))
    assert "np.linalg.solve(a.T," in src and "cotangents" not in src
    src = s2sad.source(s2sad.grad(l_inv), a, cotangent(a))
    assert "-(inv_a.T @ " in src
    src = s2sad.source(s2sad.grad(l_slogdet_scaled), a, 1.0)
    assert "np.linalg.inv(a).T" in src and "cotangents" not in src
    src = s2sad.source(s2sad.grad(l_ein_matmul, wrt=(0, 1)), b.T, a, cotangent(b.T @ a))
    assert "einsum_adjoint(" in src and "cotangents" not in src
    src = s2sad.source(s2sad.grad(l_trace), a, 1.0)
    assert "np.fill_diagonal(g_on_diagonal, " in src and "cotangents" not in src


def test_slogdet_inlined_with_temporary_adjoint():
    a = well_conditioned((3, 3), seed=28)
    src = s2sad.source(s2sad.grad(l_slogdet), a, cotangent(np.linalg.det(a)))
    assert "cotangents" not in src


def _einsum_sublists(a, b):
    return np.sum(np.einsum(a, [0, 1], b, [1, 2]))


def test_einsum_sublist_form_is_refused_not_zero():
    with pytest.raises(TypeError, match="subscripts form"):
        s2sad.grad(_einsum_sublists)(np.ones((2, 3)), np.ones((3, 4)))


# ---- cholesky: symmetric adjoint (as JAX and PyTorch), checked through a = b b^T + n I ------


def l_cholesky(b, c):
    a = b @ np.swapaxes(b, -1, -2) + 4.0 * np.eye(b.shape[-1])
    return np.sum(np.linalg.cholesky(a) * c)


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (4, 4), (2, 3, 3)], ids=shape_id)
def test_cholesky(shape):
    b = make(shape, seed=21)
    c = cotangent(np.linalg.cholesky(b @ np.swapaxes(b, -1, -2) + 4.0 * np.eye(shape[-1])))
    check_gradient(l_cholesky, (b, c), 0, strict=False)     # (np.eye: a host array)


def l_cholesky_direct(a, c):
    return np.sum(np.linalg.cholesky(a) * c)


def test_cholesky_adjoint_is_symmetric_and_matches_a_symmetric_perturbation():
    b = make((3, 3), seed=22)
    a = b @ b.T + 3.0 * np.eye(3)
    c = make((3, 3), seed=23)
    g = s2sad.grad(l_cholesky_direct)(a, c)
    np.testing.assert_allclose(g, g.T, rtol=1e-12, atol=1e-12)
    e = make((3, 3), seed=24)
    e = e + e.T                                     # a symmetric direction
    eps = 1e-6
    fd = (l_cholesky_direct(a + eps * e, c) - l_cholesky_direct(a - eps * e, c)) / (2 * eps)
    np.testing.assert_allclose(np.sum(g * e), fd, rtol=1e-6)
    _, t = s2sad.jvp(l_cholesky_direct)(a, c, e)
    np.testing.assert_allclose(t, fd, rtol=1e-6)


# ---- cross, multi_dot, vecdot --------------------------------------------------------------


def l_cross(a, b, c):
    return np.sum(np.cross(a, b) * c)


def l_cross_axis0(a, b, c):
    return np.sum(np.cross(a, b, axis=0) * c)


def l_multi_dot(a, b, d, c):
    return np.sum(np.linalg.multi_dot([a, b, d]) * c)


def l_vecdot(a, b, c):
    return np.sum(np.vecdot(a, b) * c)


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors:DeprecationWarning")
@pytest.mark.parametrize("loss, op, shapes", [
    (l_cross, np.cross, ((3,), (3,))),
    (l_cross, np.cross, ((4, 3), (3,))),                 # broadcast: b's gradient summed
    (l_cross, np.cross, ((5, 2), (5, 2))),               # 2-vectors: the z component
    (l_cross_axis0, lambda a, b: np.cross(a, b, axis=0), ((3, 4), (3, 4))),
    (l_vecdot, np.vecdot, ((4, 3), (3,))),
    (l_vecdot, np.vecdot, ((2, 4, 3), (4, 3))),
], ids=["cross", "cross-broadcast", "cross-2d", "cross-axis0", "vecdot", "vecdot-broadcast"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_bilinear_products(loss, op, shapes, dtype):
    a, b = make(shapes[0], dtype, seed=41), make(shapes[1], dtype, seed=42)
    check_gradient(loss, (a, b, cotangent(op(a, b), dtype)), (0, 1))


@pytest.mark.parametrize("shapes", [((2, 3), (3, 4), (4, 2)), ((3,), (3, 4), (4,)),
                                    ((3,), (3, 4), (4, 2)), ((2, 3), (3, 4), (4,))],
                         ids=shapes_id)
def test_multi_dot(shapes):
    a, b, d = (make(s, seed=43 + i) for i, s in enumerate(shapes))
    c = cotangent(np.linalg.multi_dot([a, b, d]))
    check_gradient(l_multi_dot, (a, b, d, c), (0, 1, 2))


def test_cross_exact_values():
    ex, ey = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    ga, gb = s2sad.grad(l_cross, wrt=(0, 1))(ex, ey, np.array([0.0, 0.0, 1.0]))
    np.testing.assert_array_equal(ga, [1.0, 0.0, 0.0])      # d (a x b)_z / d a = (b1, -b0, 0)
    np.testing.assert_array_equal(gb, [0.0, 1.0, 0.0])


# ---- eigh: symmetric input; losses that do not depend on the eigenvectors' signs ---------


def l_eigenvalues(b, c):
    w, v = np.linalg.eigh(b + np.swapaxes(b, -1, -2))
    return np.sum(w * c)


def l_eigenvectors_squared(b, c):
    w, v = np.linalg.eigh(b + np.swapaxes(b, -1, -2))
    return np.sum(v * v * c) + np.sum(w ** 2)


def l_top_eigenvector(b, c):
    w, v = np.linalg.eigh(b @ b.T)
    return np.sum((v[:, -1] * c[0]) ** 2)


@pytest.mark.parametrize("loss, shape", [
    (l_eigenvalues, (4, 4)), (l_eigenvalues, (2, 3, 3)), (l_eigenvectors_squared, (3, 3)),
    (l_eigenvectors_squared, (2, 3, 3)), (l_top_eigenvector, (4, 4)),
], ids=["values", "values-stacked", "vectors", "vectors-stacked", "top-vector"])
def test_eigh(loss, shape):
    b = make(shape, seed=51)
    c = make(shape[-1:] if loss is l_eigenvalues else shape[-2:], seed=52)
    check_gradient(loss, (b, c), 0)


def test_eigh_eigenvalue_gradient_is_the_outer_product_of_its_eigenvector():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    w, v = np.linalg.eigh(a)

    def top(a):
        w, v = np.linalg.eigh(a)
        return w[1]
    np.testing.assert_allclose(s2sad.grad(top)(a), np.outer(v[:, 1], v[:, 1]), rtol=1e-12)


# ---- svd (thin), losses that do not depend on the singular vectors' signs -----------------


def l_singular_values(a, c):
    return np.sum(np.linalg.svd(a, compute_uv=False) * c)


def l_singular_vectors_squared(a, c):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(u * u * c[0][..., :, None]) + np.sum(vh * vh * c[1][..., None, :]) \
        + np.sum(s ** 2)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3), (2, 4, 3)], ids=shape_id)
def test_svd(shape):
    a = make(shape, seed=61)
    k = min(shape[-2:])
    check_gradient(l_singular_values, (a, make(shape[:-2] + (k,), seed=62)), 0)
    c = (make(shape[:-1], seed=63), make(shape[:-2] + shape[-1:], seed=64))
    check_gradient(l_singular_vectors_squared, (a, c), 0)


def l_full_svd_vectors(a):
    u, s, vh = np.linalg.svd(a)
    return np.sum(u * u)


def test_svd_full_matrices_vectors_of_a_non_square_matrix_are_refused():
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        s2sad.grad(l_full_svd_vectors)(make((4, 3), seed=65))


# ---- qr of a tall or square matrix ------------------------------------------------------------


def l_qr(a, c):
    q, r = np.linalg.qr(a)
    return np.sum(q * c[0]) + np.sum(r * c[1])


def l_qr_r(a, c):
    return np.sum(np.linalg.qr(a, mode="r") * c)


def l_qr_q_only(a, c):
    q, r = np.linalg.qr(a)
    return np.sum(q * c)


@pytest.mark.parametrize("shape", [(5, 3), (3, 3), (2, 4, 3)], ids=shape_id)
def test_qr(shape):
    a = make(shape, seed=71)
    q, r = np.linalg.qr(a)
    check_gradient(l_qr, (a, (make(q.shape, seed=72), make(r.shape, seed=73))), 0)
    check_gradient(l_qr_r, (a, make(r.shape, seed=74)), 0)
    check_gradient(l_qr_q_only, (a, make(q.shape, seed=75)), 0)


def test_qr_of_a_wide_matrix_is_refused():
    with pytest.raises(NotImplementedError, match="rows >= columns"):
        s2sad.grad(l_qr_r)(make((3, 5), seed=76), make((3, 5), seed=77))


# ---- matrix_power, kron ------------------------------------------------------------------


def l_matrix_power(a, n, c):
    return np.sum(np.linalg.matrix_power(a, n) * c)


@pytest.mark.parametrize("n", [0, 1, 3, -2])
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)], ids=shape_id)
def test_matrix_power(shape, n):
    a = make(shape, seed=81) * 0.5 + 2.0 * np.eye(shape[-1])     # well conditioned
    c = cotangent(np.linalg.matrix_power(a, n))
    check_gradient(l_matrix_power, (a, n, c), 0, strict=n != 0)  # (n = 0: np.eye's identity)


def l_kron(a, b, c):
    return np.sum(np.kron(a, b) * c)


@pytest.mark.parametrize("shapes", [((2,), (3,)), ((2, 3), (4, 2)), ((3,), (2, 2)),
                                    ((2, 2), (3,))], ids=shapes_id)
def test_kron(shapes):
    a, b = make(shapes[0], seed=82), make(shapes[1], seed=83)
    check_gradient(l_kron, (a, b, cotangent(np.kron(a, b))), (0, 1))


# ---- pinv, lstsq (full rank) ------------------------------------------------------------------


def l_pinv(a, c):
    return np.sum(np.linalg.pinv(a) * c)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3)], ids=shape_id)
def test_pinv(shape):
    a = make(shape, seed=91)
    check_gradient(l_pinv, (a, cotangent(np.linalg.pinv(a))), 0)


def l_lstsq(a, b, c):
    x, residuals, rank, s = np.linalg.lstsq(a, b)
    return np.sum(x * c)


def l_lstsq_all(a, b, c):
    x, residuals, rank, s = np.linalg.lstsq(a, b)
    return np.sum(x * c) + np.sum(residuals) + np.sum(s ** 2) + rank


@pytest.mark.parametrize("shapes", [((5, 3), (5,)), ((5, 3), (5, 2)), ((3, 3), (3,))],
                         ids=shapes_id)
def test_lstsq(shapes):
    a, b = make(shapes[0], seed=92), make(shapes[1], seed=93)
    c = cotangent(np.linalg.lstsq(a, b)[0])
    check_gradient(l_lstsq, (a, b, c), (0, 1))


def test_lstsq_residuals_and_singular_values():
    for shapes in [((5, 3), (5,)), ((5, 3), (5, 2))]:
        a, b = make(shapes[0], seed=94), make(shapes[1], seed=95)
        c = cotangent(np.linalg.lstsq(a, b)[0])
        check_gradient(l_lstsq_all, (a, b, c), (0, 1))
