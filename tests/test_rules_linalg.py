"""The product and linear-algebra rules (rules/linalg.py) beyond the rule
table's finite differences (tests/rule_table.py runs every product, einsum,
diagonal, norm, inverse, solve and determinant form on several shapes):
exact values, ties and zeros of norms, einsum with repeated operands,
decompositions (eigh, svd, qr, cholesky) on inputs that keep them smooth,
matrix powers, lstsq, dtypes kept, refusals, and what the generated code
shows.  Matrices that are inverted or solved with are well conditioned:
`rng.normal(size=(n, n)) + n * np.eye(n)`.
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


# one operand: sums, transposes, traces and diagonals


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


def l_diag_k1(x, c):
    return np.sum(np.diag(x, 1) * c)


def l_diagonal_offset(x, c):
    return np.sum(np.diagonal(x, offset=-1) * c)


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


def l_slogdet_scaled(a, c):
    return np.linalg.slogdet(a)[1] * c


def l_slogdet_sign_only(a, c):
    sign, logdet = np.linalg.slogdet(a)
    return np.sum(sign * c)


SQUARE = [(3, 3), (1, 1), (2, 4, 4)]


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
    assert "untrace(" in src and "cotangents" not in src


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


# ---- pinv, lstsq (full rank) ------------------------------------------------------------------


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
