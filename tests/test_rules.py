"""Every built-in reverse rule checked against central finite differences.

Each loss is `np.sum(OP(...) * c)` with a fixed random `c` of OP's output
shape (so the gradient is not trivially ones); `c` is passed as the last
argument and never differentiated.  Gradients are compared in float64 with
rtol 1e-5 / atol 1e-6 and, for float32 inputs, checked to stay float32 and
compared loosely (rtol 1e-3) with the float64 finite differences.
"""

import numpy as np
import pytest

import s2sad
from fdcheck import cotangent, shape_id, shapes_id, FLOAT, check_gradient, numerical_grad

# ---- helpers -----------------------------------------------------------------------

EPS = 1e-6


def _rng(*key):
    return np.random.default_rng(abs(hash(tuple(str(k) for k in key))) % (2 ** 32))


def make(shape, dtype=np.float64, low=None, high=None, seed=0):
    """A random input: a Python float for FLOAT, else an array of `shape`."""
    rng = np.random.default_rng(seed)
    if shape == FLOAT:
        v = rng.uniform(low, high) if low is not None else rng.standard_normal()
        return float(v)
    if low is not None:
        a = rng.uniform(low, high, size=shape)
    else:
        a = rng.standard_normal(size=shape)
    return np.asarray(a, dtype=dtype)


def check(f, args, wrt):
    """Finite differences, types, and the CuPy-like StrictArray contract (fdcheck)."""
    return check_gradient(f, args, wrt)


DTYPES = [np.float64, np.float32]
DT_IDS = ["f64", "f32"]


# ---- arithmetic: + - * / ** and unary minus ---------------------------------------

def l_add(x, y, c):
    return np.sum((x + y) * c)


def l_sub(x, y, c):
    return np.sum((x - y) * c)


def l_mul(x, y, c):
    return np.sum((x * y) * c)


def l_div(x, y, c):
    return np.sum((x / y) * c)


def l_pow(x, y, c):
    return np.sum((x ** y) * c)


def l_np_add(x, y, c):
    return np.sum(np.add(x, y) * c)


def l_np_sub(x, y, c):
    return np.sum(np.subtract(x, y) * c)


def l_np_mul(x, y, c):
    return np.sum(np.multiply(x, y) * c)


def l_np_div(x, y, c):
    return np.sum(np.divide(x, y) * c)


def l_np_pow(x, y, c):
    return np.sum(np.power(x, y) * c)


# name -> (loss, numpy op, positive operands?)
BINARY = {
    "add": (l_add, np.add, False),
    "sub": (l_sub, np.subtract, False),
    "mul": (l_mul, np.multiply, False),
    "div": (l_div, np.divide, True),
    "pow": (l_pow, np.power, True),
    "np.add": (l_np_add, np.add, False),
    "np.subtract": (l_np_sub, np.subtract, False),
    "np.multiply": (l_np_mul, np.multiply, False),
    "np.divide": (l_np_div, np.divide, True),
    "np.power": (l_np_pow, np.power, True),
}

BINARY_SHAPES = [
    ((), ()),
    ((5,), (5,)),
    ((3, 4), (3, 4)),
    ((2, 3, 4), (2, 3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (3, 4)),
    ((3, 4), ()),
    ((3, 4), FLOAT),
    (FLOAT, (3, 4)),
    (FLOAT, FLOAT),
]


BINARY_CASES = [
    pytest.param(name, shapes, dtype, id=f"{name}-{shapes_id(shapes)}-{dt_id}")
    for name in BINARY for shapes in BINARY_SHAPES for dtype, dt_id in zip(DTYPES, DT_IDS)]


@pytest.mark.parametrize("name, shapes, dtype", BINARY_CASES)
def test_binary(name, shapes, dtype):
    loss, op, positive = BINARY[name]
    lo, hi = (0.5, 1.5) if positive else (None, None)
    x = make(shapes[0], dtype, lo, hi, seed=1)
    y = make(shapes[1], dtype, lo, hi, seed=2)
    c = cotangent(op(x, y), dtype)
    if shapes == (FLOAT, FLOAT):
        c = float(c)
    check(loss, (x, y, c), (0, 1))


def l_sq(x, c):
    return np.sum(x ** 2 * c)


def l_cube(x, c):
    return np.sum(x ** 3 * c)


def l_sqrt_pow(x, c):
    return np.sum(x ** 0.5 * c)


def l_const_base(x, c):
    return np.sum(2.0 ** x * c)


def l_np_pow_const(x, c):
    return np.sum(np.power(x, 3) * c)


def l_neg(x, c):
    return np.sum(-x * c)


def l_neg_expr(x, y, c):
    return np.sum(-(x * y) * c)


# name -> (loss, numpy op, positive input?)
UNARY_ARITH = {
    "x**2": (l_sq, lambda x: x ** 2, False),
    "x**3": (l_cube, lambda x: x ** 3, False),
    "x**0.5": (l_sqrt_pow, lambda x: x ** 0.5, True),
    "2.0**x": (l_const_base, lambda x: 2.0 ** x, False),
    "np.power(x,3)": (l_np_pow_const, lambda x: np.power(x, 3), False),
    "-x": (l_neg, lambda x: -x, False),
}

UNARY_SHAPES = [(), (5,), (3, 4), (2, 3, 4), FLOAT]


UNARY_ARITH_CASES = [
    pytest.param(name, shape, dtype, id=f"{name}-{shape_id(shape)}-{dt_id}")
    for name in UNARY_ARITH for shape in UNARY_SHAPES for dtype, dt_id in zip(DTYPES, DT_IDS)]


@pytest.mark.parametrize("name, shape, dtype", UNARY_ARITH_CASES)
def test_unary_arith(name, shape, dtype):
    loss, op, positive = UNARY_ARITH[name]
    lo, hi = (0.5, 1.5) if positive else (None, None)
    x = make(shape, dtype, lo, hi, seed=3)
    c = cotangent(op(x), dtype)
    if shape == FLOAT:
        c = float(c)
    check(loss, (x, c), 0)


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((), ())], ids=shapes_id)
def test_neg_of_expression(shapes):
    x, y = make(shapes[0], seed=4), make(shapes[1], seed=5)
    check(l_neg_expr, (x, y, cotangent(x * y)), (0, 1))


def test_square_exact_value():
    # d/dx sum(x**2 * c) = 2 x c exactly
    x = np.array([-1.5, 0.0, 2.0])
    c = np.array([1.0, -2.0, 0.5])
    g = s2sad.grad(l_sq)(x, c)
    np.testing.assert_allclose(g, 2 * x * c, rtol=1e-12)


# ---- elementwise functions --------------------------------------------------------

def l_exp(x, c):
    return np.sum(np.exp(x) * c)


def l_log(x, c):
    return np.sum(np.log(x) * c)


def l_sqrt(x, c):
    return np.sum(np.sqrt(x) * c)


def l_sin(x, c):
    return np.sum(np.sin(x) * c)


def l_cos(x, c):
    return np.sum(np.cos(x) * c)


def l_tanh(x, c):
    return np.sum(np.tanh(x) * c)


ELEMENTWISE = {
    "exp": (l_exp, np.exp, False),
    "log": (l_log, np.log, True),
    "sqrt": (l_sqrt, np.sqrt, True),
    "sin": (l_sin, np.sin, False),
    "cos": (l_cos, np.cos, False),
    "tanh": (l_tanh, np.tanh, False),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=shape_id)
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise(name, shape, dtype):
    loss, op, positive = ELEMENTWISE[name]
    lo, hi = (0.5, 2.0) if positive else (None, None)
    x = make(shape, dtype, lo, hi, seed=6)
    c = cotangent(op(x), dtype)
    if shape == FLOAT:
        c = float(c)
    check(loss, (x, c), 0)


# ---- reductions ---------------------------------------------------------------------

def l_sum(x, c):
    return np.sum(np.sum(x) * c)


def l_sum_ax0(x, c):
    return np.sum(np.sum(x, axis=0) * c)


def l_sum_ax1(x, c):
    return np.sum(np.sum(x, axis=1) * c)


def l_sum_axm1(x, c):
    return np.sum(np.sum(x, axis=-1) * c)


def l_sum_ax02(x, c):
    return np.sum(np.sum(x, axis=(0, 2)) * c)


def l_sum_kd(x, c):
    return np.sum(np.sum(x, keepdims=True) * c)


def l_sum_ax1_kd(x, c):
    return np.sum(np.sum(x, axis=1, keepdims=True) * c)


def l_sum_ax02_kd(x, c):
    return np.sum(np.sum(x, axis=(0, 2), keepdims=True) * c)


def l_mean(x, c):
    return np.sum(np.mean(x) * c)


def l_mean_ax0(x, c):
    return np.sum(np.mean(x, axis=0) * c)


def l_mean_ax1(x, c):
    return np.sum(np.mean(x, axis=1) * c)


def l_mean_axm1(x, c):
    return np.sum(np.mean(x, axis=-1) * c)


def l_mean_ax02(x, c):
    return np.sum(np.mean(x, axis=(0, 2)) * c)


def l_mean_kd(x, c):
    return np.sum(np.mean(x, keepdims=True) * c)


def l_mean_ax1_kd(x, c):
    return np.sum(np.mean(x, axis=1, keepdims=True) * c)


def l_mean_ax02_kd(x, c):
    return np.sum(np.mean(x, axis=(0, 2), keepdims=True) * c)


def l_msum(x, c):
    return np.sum(x.sum() * c)


def l_msum_ax1(x, c):
    return np.sum(x.sum(axis=1) * c)


def l_msum_axm1_kd(x, c):
    return np.sum(x.sum(axis=-1, keepdims=True) * c)


def l_mmean(x, c):
    return np.sum(x.mean() * c)


def l_mmean_ax0(x, c):
    return np.sum(x.mean(axis=0) * c)


def l_mmean_ax1(x, c):
    return np.sum(x.mean(axis=1) * c)


ALL_ND = [(), (5,), (3, 4), (2, 3, 4)]
ND1 = [(5,), (3, 4), (2, 3, 4)]
ND2 = [(3, 4), (2, 3, 4)]
ND3 = [(2, 3, 4)]

# (id, loss, numpy op, shapes)
REDUCTIONS = [
    ("sum", l_sum, lambda x: np.sum(x), ALL_ND),
    ("sum-axis0", l_sum_ax0, lambda x: np.sum(x, axis=0), ND1),
    ("sum-axis1", l_sum_ax1, lambda x: np.sum(x, axis=1), ND2),
    ("sum-axis-1", l_sum_axm1, lambda x: np.sum(x, axis=-1), ND1),
    ("sum-axis02", l_sum_ax02, lambda x: np.sum(x, axis=(0, 2)), ND3),
    ("sum-keepdims", l_sum_kd, lambda x: np.sum(x, keepdims=True), ALL_ND),
    ("sum-axis1-keepdims", l_sum_ax1_kd, lambda x: np.sum(x, axis=1, keepdims=True), ND2),
    ("sum-axis02-keepdims", l_sum_ax02_kd, lambda x: np.sum(x, axis=(0, 2), keepdims=True), ND3),
    ("mean", l_mean, lambda x: np.mean(x), ALL_ND),
    ("mean-axis0", l_mean_ax0, lambda x: np.mean(x, axis=0), ND1),
    ("mean-axis1", l_mean_ax1, lambda x: np.mean(x, axis=1), ND2),
    ("mean-axis-1", l_mean_axm1, lambda x: np.mean(x, axis=-1), ND1),
    ("mean-axis02", l_mean_ax02, lambda x: np.mean(x, axis=(0, 2)), ND3),
    ("mean-keepdims", l_mean_kd, lambda x: np.mean(x, keepdims=True), ALL_ND),
    ("mean-axis1-keepdims", l_mean_ax1_kd, lambda x: np.mean(x, axis=1, keepdims=True), ND2),
    ("mean-axis02-keepdims", l_mean_ax02_kd,
     lambda x: np.mean(x, axis=(0, 2), keepdims=True), ND3),
    ("x.sum()", l_msum, lambda x: x.sum(), ALL_ND),
    ("x.sum(axis=1)", l_msum_ax1, lambda x: x.sum(axis=1), ND2),
    ("x.sum(axis=-1,keepdims)", l_msum_axm1_kd, lambda x: x.sum(axis=-1, keepdims=True), ND1),
    ("x.mean()", l_mmean, lambda x: x.mean(), ALL_ND),
    ("x.mean(axis=0)", l_mmean_ax0, lambda x: x.mean(axis=0), ND1),
    ("x.mean(axis=1)", l_mmean_ax1, lambda x: x.mean(axis=1), ND2),
]

REDUCTION_CASES = [pytest.param(loss, op, shape, id=f"{name}-{shape_id(shape)}")
                   for name, loss, op, shapes in REDUCTIONS for shape in shapes]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("loss, op, shape", REDUCTION_CASES)
def test_reduction(loss, op, shape, dtype):
    x = make(shape, dtype, seed=7)
    c = cotangent(op(x), dtype)
    check(loss, (x, c), 0)


# ---- products -----------------------------------------------------------------------

def l_matmul_op(a, b, c):
    return np.sum((a @ b) * c)


def l_np_matmul(a, b, c):
    return np.sum(np.matmul(a, b) * c)


def l_np_dot(a, b, c):
    return np.sum(np.dot(a, b) * c)


def l_mdot(a, b, c):
    return np.sum(a.dot(b) * c)


MATMUL_SHAPES = [
    ((4,), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
]

DOT_SHAPES = [
    ((4,), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (4,)),
    ((3, 4), (2, 4, 5)),
    ((), (3, 4)),
    ((3, 4), ()),
]

PRODUCT_CASES = (
    [pytest.param(l_matmul_op, np.matmul, s, id=f"@-{shapes_id(s)}") for s in MATMUL_SHAPES]
    + [pytest.param(l_np_matmul, np.matmul, s, id=f"np.matmul-{shapes_id(s)}") for s in MATMUL_SHAPES]
    + [pytest.param(l_np_dot, np.dot, s, id=f"np.dot-{shapes_id(s)}") for s in DOT_SHAPES]
    + [pytest.param(l_mdot, np.dot, s, id=f"x.dot-{shapes_id(s)}") for s in DOT_SHAPES if s[0] != ()]
)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("loss, op, shapes", PRODUCT_CASES)
def test_product(loss, op, shapes, dtype):
    a = make(shapes[0], dtype, seed=8)
    b = make(shapes[1], dtype, seed=9)
    c = cotangent(op(a, b), dtype)
    check(loss, (a, b, c), (0, 1))


# ---- shapes: reshape and transpose ----------------------------------------------------

def l_np_reshape(x, c):
    return np.sum(np.reshape(x, (2, 6)) * c)


def l_reshape_m1(x, c):
    return np.sum(x.reshape(3, -1) * c)


def l_reshape_tuple(x, c):
    return np.sum(x.reshape((4, 3)) * c)


def l_reshape_flat(x, c):
    return np.sum(x.reshape(-1) * c)


def l_np_transpose(x, c):
    return np.sum(np.transpose(x) * c)


def l_np_transpose_102(x, c):
    return np.sum(np.transpose(x, (1, 0, 2)) * c)


def l_np_transpose_201(x, c):
    return np.sum(np.transpose(x, (2, 0, 1)) * c)


def l_T(x, c):
    return np.sum(x.T * c)


def l_mtranspose(x, c):
    return np.sum(x.transpose() * c)


def l_mtranspose_10(x, c):
    return np.sum(x.transpose(1, 0) * c)


def l_mtranspose_201(x, c):
    return np.sum(x.transpose(2, 0, 1) * c)


def l_mtranspose_tuple(x, c):
    return np.sum(x.transpose((1, 0)) * c)


def l_T_matmul(a, b, c):
    # .T on a computed value, feeding a product
    return np.sum((a.T @ b) * c)


SIZE12 = [(12,), (3, 4), (2, 3, 2), (6, 2)]

SHAPE_OPS = [
    ("np.reshape(x,(2,6))", l_np_reshape, lambda x: np.reshape(x, (2, 6)), SIZE12),
    ("x.reshape(3,-1)", l_reshape_m1, lambda x: x.reshape(3, -1), SIZE12),
    ("x.reshape((4,3))", l_reshape_tuple, lambda x: x.reshape((4, 3)), SIZE12),
    ("x.reshape(-1)", l_reshape_flat, lambda x: x.reshape(-1), ALL_ND),
    ("np.transpose(x)", l_np_transpose, np.transpose, ALL_ND),
    ("np.transpose(x,(1,0,2))", l_np_transpose_102, lambda x: np.transpose(x, (1, 0, 2)), ND3),
    ("np.transpose(x,(2,0,1))", l_np_transpose_201, lambda x: np.transpose(x, (2, 0, 1)), ND3),
    ("x.T", l_T, lambda x: x.T, ALL_ND),
    ("x.transpose()", l_mtranspose, lambda x: x.transpose(), ND1),
    ("x.transpose(1,0)", l_mtranspose_10, lambda x: x.transpose(1, 0), [(3, 4)]),
    ("x.transpose(2,0,1)", l_mtranspose_201, lambda x: x.transpose(2, 0, 1), ND3),
    ("x.transpose((1,0))", l_mtranspose_tuple, lambda x: x.transpose((1, 0)), [(3, 4)]),
]

SHAPE_CASES = [pytest.param(loss, op, shape, id=f"{name}-{shape_id(shape)}")
               for name, loss, op, shapes in SHAPE_OPS for shape in shapes]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("loss, op, shape", SHAPE_CASES)
def test_shape_op(loss, op, shape, dtype):
    x = make(shape, dtype, seed=10)
    c = cotangent(op(x), dtype)
    check(loss, (x, c), 0)


def test_T_then_matmul():
    a, b = make((4, 3), seed=11), make((4, 5), seed=12)
    check(l_T_matmul, (a, b, cotangent(a.T @ b)), (0, 1))


# ---- indexing -----------------------------------------------------------------------

def l_idx0(x, c):
    return np.sum(x[0] * c)


def l_idxm1(x, c):
    return np.sum(x[-1] * c)


def l_slice13(x, c):
    return np.sum(x[1:3] * c)


def l_col0(x, c):
    return np.sum(x[:, 0] * c)


def l_step2(x, c):
    return np.sum(x[::2] * c)


def l_block(x, c):
    return np.sum(x[1:, :2] * c)


def l_elem(x, c):
    return np.sum(x[1, 2] * c)


def l_ellipsis(x, c):
    return np.sum(x[..., 0] * c)


def l_fancy(x, c):
    return np.sum(x[np.array([0, 2, 2])] * c)


def l_fancy_plain(x):
    return np.sum(x[np.array([0, 2, 2])])


def l_fancy_sq(x):
    return np.sum(x[np.array([0, 2, 2])] ** 2)


INDEX_OPS = [
    ("x[0]", l_idx0, lambda x: x[0], ND1),
    ("x[-1]", l_idxm1, lambda x: x[-1], ND1),
    ("x[1:3]", l_slice13, lambda x: x[1:3], [(5,), (4, 3), (4, 2, 3)]),
    ("x[:,0]", l_col0, lambda x: x[:, 0], ND2),
    ("x[::2]", l_step2, lambda x: x[::2], [(5,), (4, 3), (3, 2, 2)]),
    ("x[1:,:2]", l_block, lambda x: x[1:, :2], [(3, 4), (3, 4, 2)]),
    ("x[1,2]", l_elem, lambda x: x[1, 2], [(3, 4), (3, 4, 2)]),
    ("x[...,0]", l_ellipsis, lambda x: x[..., 0], ND1),
    ("x[[0,2,2]]", l_fancy, lambda x: x[np.array([0, 2, 2])], [(4,), (4, 3), (3, 2, 2)]),
]

INDEX_CASES = [pytest.param(loss, op, shape, id=f"{name}-{shape_id(shape)}")
               for name, loss, op, shapes in INDEX_OPS for shape in shapes]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("loss, op, shape", INDEX_CASES)
def test_index(loss, op, shape, dtype):
    x = make(shape, dtype, seed=13)
    c = cotangent(op(x), dtype)
    check(loss, (x, c), 0)


def test_fancy_index_accumulates():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    g = s2sad.grad(l_fancy_plain)(x)
    np.testing.assert_array_equal(g, [1.0, 0.0, 2.0, 0.0])
    g = s2sad.grad(l_fancy_sq)(x)
    np.testing.assert_allclose(g, [2.0, 0.0, 12.0, 0.0])      # index 2 twice: 2 * (2 * 3)
    c = np.array([0.5, -1.5, 2.5])
    g = s2sad.grad(l_fancy)(x, c)
    np.testing.assert_allclose(g, [0.5, 0.0, -1.5 + 2.5, 0.0])


# ---- unpacking an array's rows --------------------------------------------------------

def l_rows(x, c):
    a, b = x
    return np.sum(a * c)


def l_rows_both(x, c):
    a, b, d = x
    return np.sum(a * b * c) + np.sum(np.sin(d))


@pytest.mark.parametrize("loss, shape", [(l_rows, (2, 3)), (l_rows, (2,)), (l_rows, (2, 3, 2)),
                                         (l_rows_both, (3, 4)), (l_rows_both, (3,))],
                         ids=["2rows-2x3", "2rows-2", "2rows-2x3x2", "3rows-3x4", "3rows-3"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_unpack_array_rows(loss, shape, dtype):
    # unused rows get exact zeros; the forward keeps the unpacking
    x = make(shape, dtype, seed=3)
    c = cotangent(x[0], dtype)
    g = check_gradient(loss, (x, c), 0)
    if loss is l_rows:
        assert np.all(g[1] == 0)


# ---- array attributes ---------------------------------------------------------------

def l_shape_unpack(W, c):
    n, m = W.shape
    return np.sum(W * c) / n


def l_shape_both(W, c):
    n, m = W.shape
    return np.sum((W * c) ** 2) / (n * m) + m


def l_shape_index(W, c):
    n = W.shape[0]
    return np.sum(W * c) * n


def l_size(x, c):
    return np.sum(x * c) / x.size


def l_ndim(x, c):
    return np.sum(x * c) * x.ndim


def l_size_in_expr(x, c):
    return np.sum(x ** 2 * c) / (x.size - 1.0)


ATTR_OPS = [
    ("n,m=W.shape", l_shape_unpack, [(3, 4), (2, 5)]),
    ("n*m", l_shape_both, [(3, 4), (2, 5)]),
    ("W.shape[0]", l_shape_index, [(3, 4), (2, 5)]),
    ("x.size", l_size, [(5,), (3, 4), (2, 3, 4)]),
    ("x.ndim", l_ndim, [(), (5,), (3, 4), (2, 3, 4)]),
    ("x.size-1", l_size_in_expr, [(5,), (3, 4)]),
]

ATTR_CASES = [pytest.param(loss, shape, id=f"{name}-{shape_id(shape)}")
              for name, loss, shapes in ATTR_OPS for shape in shapes]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("loss, shape", ATTR_CASES)
def test_attribute(loss, shape, dtype):
    x = make(shape, dtype, seed=14)
    c = cotangent(x, dtype)
    check(loss, (x, c), 0)


def test_shape_attribute_exact_value():
    W = make((3, 4), seed=15)
    c = cotangent(W)
    np.testing.assert_allclose(s2sad.grad(l_shape_unpack)(W, c), c / 3, rtol=1e-12)
    np.testing.assert_allclose(s2sad.grad(l_ndim)(W, c), c * 2, rtol=1e-12)
    np.testing.assert_allclose(s2sad.grad(l_size)(W, c), c / 12, rtol=1e-12)


# ---- casts, items and methods without a gradient -------------------------------------


def l_astype_same(x, c):
    return np.sum(np.sin(x.astype(x.dtype)) * c)


def l_astype_mask(x, c):
    return np.sum((x > 0).astype(x.dtype) * x ** 2 * c)


def l_round_method(x, c):
    return np.sum(x.round() * x * c)


def l_mT(x, c):
    return np.sum(x.mT * c.mT)


CAST_OPS = [
    ("x.astype(x.dtype)", l_astype_same, [(5,), (3, 4)]),
    ("mask.astype", l_astype_mask, [(5,), (3, 4)]),
    ("x.round()", l_round_method, [(5,), (3, 4)]),
    ("x.mT", l_mT, [(3, 4), (2, 3, 4)]),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("loss, shape", [pytest.param(loss, shape, id=f"{name}-{shape_id(shape)}")
                                         for name, loss, shapes in CAST_OPS for shape in shapes])
def test_cast(loss, shape, dtype):
    x = make(shape, dtype, seed=18) * 3.0
    c = cotangent(x, dtype)
    check(loss, (x, c), 0)


def l_astype_down(x):
    return np.sum(np.sin(x.astype(np.float32)) * x)


def test_astype_gradient_comes_back_in_the_input_dtype():
    # float64 -> float32 -> float64: the float32 part's gradient, cast back
    x = make((6,), seed=19)
    g = s2sad.grad(l_astype_down)(x)
    assert g.dtype == np.float64
    x32 = x.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(g, np.cos(x32) * x + np.sin(x32), rtol=1e-6)
    _, tangent = s2sad.jvp(l_astype_down)(x, np.ones_like(x))
    np.testing.assert_allclose(tangent, np.sum(g), rtol=1e-6)


def l_item(x):
    return x[1:2].item() * np.sum(x)


def l_item_flat(x):
    return x.item(2) ** 2 + 3.0 * x.item(0)


def l_item_2d(x):
    return x.item(1, 2) * x.item(0, 0)


@pytest.mark.parametrize("loss, shape", [(l_item, (4,)), (l_item_flat, (4,)), (l_item_flat, (2, 3)),
                                         (l_item_2d, (2, 3))])
def test_item(loss, shape):
    # .item() moves a value to the host: no StrictArray re-run (strict=False)
    check_gradient(loss, (make(shape, seed=20),), 0, strict=False)


# ---- the helper itself --------------------------------------------------------------

def test_fd_helper_is_sane():
    def f(x, y):
        return np.sum(np.sin(x) * y)
    x, y = make((3, 2), seed=16), make((3, 2), seed=17)
    np.testing.assert_allclose(numerical_grad(f, (x, y), 0), np.cos(x) * y, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(numerical_grad(f, (x, y), 1), np.sin(x), rtol=1e-6, atol=1e-8)
