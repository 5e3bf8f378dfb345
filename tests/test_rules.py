"""What the rule table (tests/rule_table.py, every rule on several shapes
against central differences, jvp and StrictArray) does not cover: exact
values (`x ** 2`, repeated fancy indices), unpacking an array's rows, array
attributes read as numbers (`W.shape`, `x.size`, `x.ndim`), casts, `.item()`,
and the finite-difference helper itself.
"""

import numpy as np
import pytest

import s2sad
from fdcheck import cotangent, shape_id, FLOAT, check_gradient, numerical_grad

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


# name -> (loss, numpy op, positive operands?)


def l_sq(x, c):
    return np.sum(x ** 2 * c)


# name -> (loss, numpy op, positive input?)

UNARY_SHAPES = [(), (5,), (3, 4), (2, 3, 4), FLOAT]


def test_square_exact_value():
    # d/dx sum(x**2 * c) = 2 x c exactly
    x = np.array([-1.5, 0.0, 2.0])
    c = np.array([1.0, -2.0, 0.5])
    g = s2sad.grad(l_sq)(x, c)
    np.testing.assert_allclose(g, 2 * x * c, rtol=1e-12)


# ---- elementwise functions --------------------------------------------------------


# ---- reductions ---------------------------------------------------------------------


ALL_ND = [(), (5,), (3, 4), (2, 3, 4)]
ND1 = [(5,), (3, 4), (2, 3, 4)]
ND2 = [(3, 4), (2, 3, 4)]
ND3 = [(2, 3, 4)]

# (id, loss, numpy op, shapes)


# ---- products -----------------------------------------------------------------------


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


# ---- shapes: reshape and transpose ----------------------------------------------------


SIZE12 = [(12,), (3, 4), (2, 3, 2), (6, 2)]


# ---- indexing -----------------------------------------------------------------------


def l_fancy(x, c):
    return np.sum(x[np.array([0, 2, 2])] * c)


def l_fancy_plain(x):
    return np.sum(x[np.array([0, 2, 2])])


def l_fancy_sq(x):
    return np.sum(x[np.array([0, 2, 2])] ** 2)


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
