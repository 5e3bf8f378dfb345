"""The elementwise rules (s2sad/rules/elementwise.py) where finite
differences cannot reach: exact values at kinks and ties (abs, maximum,
clip, where at 0), infinities and NaNs, dtypes kept, refusals, and what the
generated code shows.  Their gradients on every shape (0-d, Python floats,
broadcasting) against central differences, jvp and StrictArray are rows
of tests/rule_table.py.
"""

import math

import numpy as np
import pytest

import s2sad
from fdcheck import FLOAT, check_gradient, cotangent

DTYPES = [np.float64, np.float32]
DT_IDS = ["f64", "f32"]


def make(shape, dtype=np.float64, domain=None, seed=0):
    """A random input in `domain`: (low, high), or ("abs", low, high) for
    low <= |x| <= high with random signs (away from a kink at 0)."""
    rng = np.random.default_rng(seed)
    size = () if shape == FLOAT else shape
    if domain is None:
        a = rng.standard_normal(size=size)
    elif domain[0] == "abs":
        a = rng.uniform(domain[1], domain[2], size=size) * rng.choice([-1.0, 1.0], size=size)
    else:
        a = rng.uniform(domain[0], domain[1], size=size)
    return float(a) if shape == FLOAT else np.asarray(a, dtype=dtype)


def source(f, *args, wrt=0):
    return s2sad.source(s2sad.grad(f, wrt=wrt), *args)


def assert_inlined(f, *args, wrt=0):
    """The rule's body is in the generated code, not a call of the rule."""
    text = source(f, *args, wrt=wrt)
    assert "cotangents(" not in text and "_adjoint(" not in text, text
    return text


# ---- one argument ----------------------------------------------------------------------

def l_abs(x, c):
    return np.sum(np.abs(x) * c)


def l_square(x, c):
    return np.sum(np.square(x) * c)


def l_log1p(x, c):
    return np.sum(np.log1p(x) * c)


def l_expm1(x, c):
    return np.sum(np.expm1(x) * c)


def l_log2(x, c):
    return np.sum(np.log2(x) * c)


def l_log10(x, c):
    return np.sum(np.log10(x) * c)


def l_tan(x, c):
    return np.sum(np.tan(x) * c)


def l_arcsin(x, c):
    return np.sum(np.arcsin(x) * c)


def l_arccos(x, c):
    return np.sum(np.arccos(x) * c)


def l_arctan(x, c):
    return np.sum(np.arctan(x) * c)


def l_sinh(x, c):
    return np.sum(np.sinh(x) * c)


def l_cosh(x, c):
    return np.sum(np.cosh(x) * c)


def l_arcsinh(x, c):
    return np.sum(np.arcsinh(x) * c)


def l_arctanh(x, c):
    return np.sum(np.arctanh(x) * c)


AWAY_FROM_0 = ("abs", 0.2, 2.0)

# name -> (loss, numpy op, input domain)


def test_generated_code_shows_the_math():
    x = make((3, 4), domain=(-1.0, 1.0), seed=3)
    assert "(1.0 + tan_x * tan_x)" in source(l_tan, x, cotangent(x, python_float_for_scalar=True))
    assert "np.sign(x)" in source(l_abs, x, cotangent(x, python_float_for_scalar=True))
    assert "np.cosh(x)" in source(l_sinh, x, cotangent(x, python_float_for_scalar=True))


def test_unary_exact_values():
    x = np.array([-0.5, 0.0, 0.25, 0.75])
    c = np.array([1.0, -2.0, 0.5, 3.0])
    cases = [
        (l_square, 2 * x), (l_log1p, 1 / (1 + x)), (l_expm1, np.exp(x)),
        (l_log2, None), (l_log10, None), (l_tan, 1 / np.cos(x) ** 2),
        (l_arcsin, 1 / np.sqrt(1 - x * x)), (l_arccos, -1 / np.sqrt(1 - x * x)),
        (l_arctan, 1 / (1 + x * x)), (l_sinh, np.cosh(x)), (l_cosh, np.sinh(x)),
        (l_arcsinh, 1 / np.sqrt(1 + x * x)), (l_arctanh, 1 / (1 - x * x)),
    ]
    for loss, derivative in cases:
        arg = x if derivative is not None else np.abs(x) + 0.5
        if derivative is None:
            expected = 1 / (arg * math.log(2 if loss is l_log2 else 10))
        else:
            expected = derivative
        np.testing.assert_allclose(s2sad.grad(loss)(arg, c), expected * c, rtol=1e-12,
                                   err_msg=loss.__name__)


def test_arcsinh_large_inputs_do_not_overflow():
    x = np.array([1e200, -1e250, 3e160])
    g = s2sad.grad(l_arcsinh)(x, np.ones(3))
    np.testing.assert_allclose(g, 1 / np.abs(x), rtol=1e-12)


def test_log_constants_keep_float32():
    x = np.array([0.5, 1.0, 4.0], dtype=np.float32)
    for loss in (l_log2, l_log10):
        g = s2sad.grad(loss)(x, np.ones(3, np.float32))
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, 1 / (x * math.log(2 if loss is l_log2 else 10.0)),
                                   rtol=1e-6)


# ---- abs: 0 at exactly 0, on arrays, floats, and through builtin abs --------------------

def l_abs_plain(x):
    return np.sum(np.abs(x))


def l_builtin_abs_plain(x):
    return np.sum(abs(x))


def l_builtin_abs_float(x):
    return abs(x) * 3.0


def test_abs_at_zero_is_zero():
    x = np.array([-2.0, 0.0, 3.0, -0.0])
    for loss in (l_abs_plain, l_builtin_abs_plain):
        np.testing.assert_array_equal(s2sad.grad(loss)(x), [-1.0, 0.0, 1.0, 0.0])
        g32 = s2sad.grad(loss)(x.astype(np.float32))
        assert g32.dtype == np.float32
        np.testing.assert_array_equal(g32, [-1.0, 0.0, 1.0, 0.0])


def test_builtin_abs_of_python_float():
    df = s2sad.grad(l_builtin_abs_float)
    assert df(-2.5) == -3.0 and isinstance(df(-2.5), float)
    assert df(1.5) == 3.0
    assert df(0.0) == 0.0
    assert df(np.array(-1.0)) == -3.0


# ---- two arguments ---------------------------------------------------------------------

def l_arctan2(y, x, c):
    return np.sum(np.arctan2(y, x) * c)


def l_hypot(x, y, c):
    return np.sum(np.hypot(x, y) * c)


def l_logaddexp(x, y, c):
    return np.sum(np.logaddexp(x, y) * c)


def l_maximum(x, y, c):
    return np.sum(np.maximum(x, y) * c)


def l_minimum(x, y, c):
    return np.sum(np.minimum(x, y) * c)


def l_fmax(x, y, c):
    return np.sum(np.fmax(x, y) * c)


def l_fmin(x, y, c):
    return np.sum(np.fmin(x, y) * c)


def l_power(x, y, c):
    return np.sum(np.power(x, y) * c)


# name -> (loss, numpy op, domain of both operands)


def l_mod(x, y, c):
    return np.sum(np.mod(x, y) * c)


def l_fmod(x, y, c):
    return np.sum(np.fmod(x, y) * c)


def l_copysign(x, y, c):
    return np.sum(np.copysign(x, y) * c)


# divisions by y away from the jumps of floor/trunc: x in (0.1, 0.9), y in (1, 2)
# (|x| < |y|: the quotient's floor is 0 or -1 with margin), or as signed as drawn


def test_piecewise_exact_values():
    x, y = np.array([5.5, -5.5, 5.5]), np.array([2.0, 2.0, -2.0])
    c = np.ones(3)
    gx, gy = s2sad.grad(l_mod, wrt=(0, 1))(x, y, c)
    np.testing.assert_array_equal(gx, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(gy, -np.floor(x / y))          # -2, 3, 3
    gx, gy = s2sad.grad(l_fmod, wrt=(0, 1))(x, y, c)
    np.testing.assert_array_equal(gy, -np.trunc(x / y))          # -2, 2, 2
    g = s2sad.grad(l_copysign)(np.array([2.0, -2.0, 0.0]), np.array([-1.0, -1.0, 1.0]), c)
    np.testing.assert_array_equal(g, [-1.0, 1.0, 0.0])


def test_arctan2_exact_values():
    y, x = np.array([1.0, -2.0, 0.5]), np.array([3.0, 1.0, -0.5])
    c = np.array([1.0, 2.0, -1.0])
    dy, dx = s2sad.grad(l_arctan2, wrt=(0, 1))(y, x, c)
    np.testing.assert_allclose(dy, c * x / (x * x + y * y), rtol=1e-12)
    np.testing.assert_allclose(dx, -c * y / (x * x + y * y), rtol=1e-12)


def test_hypot_at_the_origin_is_zero():
    x, y = np.array([0.0, 3.0, 0.0]), np.array([0.0, 4.0, -2.0])
    dx, dy = s2sad.grad(l_hypot, wrt=(0, 1))(x, y, np.ones(3))
    np.testing.assert_array_equal(dx, [0.0, 0.6, 0.0])
    np.testing.assert_array_equal(dy, [0.0, 0.8, -1.0])


def test_logaddexp_with_infinities():
    inf = np.inf
    x = np.array([-inf, 0.0, -inf, inf, 2.0])
    y = np.array([1.0, -inf, -inf, 0.0, 2.0])
    with np.errstate(invalid="ignore"):          # inf - inf in the rule's exp(x - result)
        dx, dy = s2sad.grad(l_logaddexp, wrt=(0, 1))(x, y, np.ones(5))
    assert np.all(np.isfinite(dx)) and np.all(np.isfinite(dy))
    np.testing.assert_array_equal(dx[[0, 1, 3]], [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(dy[[0, 1, 3]], [1.0, 0.0, 0.0])
    np.testing.assert_allclose([dx[4], dy[4]], [0.5, 0.5], rtol=1e-15)


def test_logaddexp_large_arguments():
    x, y = np.array([800.0, -800.0]), np.array([799.0, -801.0])
    dx, dy = s2sad.grad(l_logaddexp, wrt=(0, 1))(x, y, np.ones(2))
    share = 1 / (1 + math.exp(-1.0))
    np.testing.assert_allclose(dx, [share, share], rtol=1e-12)
    np.testing.assert_allclose(dy, [1 - share, 1 - share], rtol=1e-12)


# ---- maximum / minimum / fmax / fmin: ties share, NaN ---------------------------------

def l_relu(x):
    return np.sum(np.maximum(x, 0))


def l_relu_float(x):
    return np.sum(np.maximum(x, 0.0))


def l_min_with_one(x):
    return np.sum(np.minimum(1.0, x))


@pytest.mark.parametrize("loss", [l_maximum, l_minimum, l_fmax, l_fmin])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_max_min_ties_share_equally(loss, dtype):
    x = np.array([1.0, 2.0, -3.0, 0.0], dtype=dtype)
    y = np.array([1.0, 1.0, -3.0, 5.0], dtype=dtype)
    c = np.array([2.0, 1.0, -4.0, 1.0], dtype=dtype)
    dx, dy = s2sad.grad(loss, wrt=(0, 1))(x, y, c)
    assert dx.dtype == dtype and dy.dtype == dtype
    first = loss in (l_maximum, l_fmax)
    np.testing.assert_array_equal(dx, [1.0, 1.0 if first else 0.0, -2.0, 0.0 if first else 1.0])
    np.testing.assert_array_equal(dy, [1.0, 0.0 if first else 1.0, -2.0, 1.0 if first else 0.0])


def test_max_min_ties_with_broadcasting():
    x = np.array([[0.0, 1.0], [2.0, 3.0]])
    y = np.array([2.0, 1.0])                     # ties at [0, 1] and [1, 0]
    dx, dy = s2sad.grad(l_maximum, wrt=(0, 1))(x, y, np.ones((2, 2)))
    np.testing.assert_array_equal(dx, [[0.0, 0.5], [0.5, 1.0]])
    np.testing.assert_array_equal(dy, [1.5, 0.5])


def test_relu_at_zero_is_half():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(s2sad.grad(l_relu)(x), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(s2sad.grad(l_relu_float)(x), [0.0, 0.5, 1.0])
    g32 = s2sad.grad(l_relu)(x.astype(np.float32))
    assert g32.dtype == np.float32
    np.testing.assert_array_equal(g32, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(s2sad.grad(l_min_with_one)(np.array([0.0, 1.0, 2.0])),
                                  [1.0, 0.5, 0.0])
    assert s2sad.grad(l_relu_float)(0.0) == 0.5


def test_max_min_of_python_floats_tie():
    dx, dy = s2sad.grad(l_maximum, wrt=(0, 1))(1.5, 1.5, 2.0)
    assert (dx, dy) == (1.0, 1.0)
    dx, dy = s2sad.grad(l_minimum, wrt=(0, 1))(1.5, -1.0, 2.0)
    assert (dx, dy) == (0.0, 2.0)


def test_nan_in_maximum_gets_no_gradient_fmax_passes_the_other():
    nan = np.nan
    x = np.array([nan, 1.0, nan])
    y = np.array([2.0, nan, nan])
    c = np.ones(3)
    dx, dy = s2sad.grad(l_maximum, wrt=(0, 1))(x, y, c)
    np.testing.assert_array_equal(dx, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(dy, [0.0, 0.0, 0.0])
    for loss in (l_fmax, l_fmin):
        dx, dy = s2sad.grad(loss, wrt=(0, 1))(x, y, c)
        np.testing.assert_array_equal(dx, [0.0, 1.0, 0.0])
        np.testing.assert_array_equal(dy, [1.0, 0.0, 0.0])


# ---- power: the rule of rules/elementwise.py, through np.power -----------------------

def l_power_const(x, c):
    return np.sum(np.power(x, 3) * c)


def test_power_negative_base_integer_exponent():
    x = np.array([-2.0, 0.0, 1.5], dtype=np.float32)
    g = s2sad.grad(l_power_const)(x, np.ones(3, np.float32))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [12.0, 0.0, 6.75])


def l_power_of_python_zero(y):
    return 0.0 ** y + 2.0 ** y


def test_power_exponent_gradient_at_python_zero_base():
    # d/dy 0.0 ** y is 0 for y > 0 (JAX's convention); math.log(0.0) would raise
    assert s2sad.grad(l_power_of_python_zero)(3.0) == pytest.approx(8.0 * math.log(2.0), rel=1e-12)


def test_power_exponent_gradient_at_zero_base():
    x, y = np.array([0.0, 2.0]), np.array([2.0, 3.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        dy = s2sad.grad(l_power, wrt=1)(x, y, np.ones(2))
    np.testing.assert_allclose(dy, [0.0, 8.0 * math.log(2.0)], rtol=1e-12)


# ---- where: g to the chosen branch, exact zeros to the other --------------------------

def l_where(m, x, y, c):
    return np.sum(np.where(m > 0, x, y) * c)


def l_where_bool(cond, x, y, c):
    return np.sum(np.where(cond, x, y) * c)


def l_where_expr(x, c):
    return np.sum(np.where(x > 0, np.exp(x), x * x) * c)


def l_double_where(x):
    return np.sum(np.where(x > 0, np.sqrt(np.where(x > 0, x, 1.0)), 0.0))


def l_double_where_log(x, c):
    safe = np.where(x > 0, x, 1.0)
    return np.sum(np.where(x > 0, np.log(safe), x) * c)


def test_where_boolean_array_condition():
    cond = np.array([[True, False, True], [False, False, True]])
    x, y = make((2, 3), seed=11), make((3,), seed=12)
    c = cotangent(np.where(cond, x, y), python_float_for_scalar=True)
    dx, dy = check_gradient(l_where_bool, (cond, x, y, c), (1, 2))
    np.testing.assert_array_equal(dx, np.where(cond, c, 0.0))
    np.testing.assert_array_equal(dy, np.where(cond, 0.0, c).sum(axis=0))


def test_where_of_expressions():
    x = make((3, 4), domain=AWAY_FROM_0, seed=13)
    check_gradient(l_where_expr, (x, cotangent(x, python_float_for_scalar=True)), 0)


def test_where_sends_exact_zeros_to_the_unchosen_branch():
    m = np.array([1.0, -1.0, 1.0, -1.0])
    x, y = np.ones(4), np.ones(4)
    c = np.array([np.inf, 2.0, np.nan, -3.0])      # inf and nan where x is chosen
    dx, dy = s2sad.grad(l_where, wrt=(1, 2))(m, x, y, c)
    np.testing.assert_array_equal(dy, [0.0, 2.0, 0.0, -3.0])
    assert dx[0] == np.inf and np.isnan(dx[2])
    np.testing.assert_array_equal(dx[[1, 3]], [0.0, 0.0])


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_double_where_keeps_nans_out(dtype):
    x = np.array([-1.0, 0.0, 0.25, 4.0], dtype=dtype)
    g = s2sad.grad(l_double_where)(x)
    assert g.dtype == dtype
    np.testing.assert_array_equal(g, np.array([0.0, 0.0, 1.0, 0.25], dtype=dtype))
    g = s2sad.grad(l_double_where_log)(x, np.ones(4, dtype))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [1.0, 1.0, 4.0, 0.25], rtol=1e-6)


def test_where_inlined():
    m, x, y = make((3, 4), seed=14), make((3, 4), seed=15), make((4,), seed=16)
    text = assert_inlined(l_where, m, x, y, cotangent(m, python_float_for_scalar=True), wrt=(1, 2))
    assert "np.where(" in text.split("reverse sweep")[1]


# ---- clip ------------------------------------------------------------------------------

def l_clip(x, c):
    return np.sum(np.clip(x, -0.5, 0.5) * c)


def l_clip_arrays(x, lo, hi, c):
    return np.sum(np.clip(x, lo, hi) * c)


def l_clip_no_min(x, hi, c):
    return np.sum(np.clip(x, None, hi) * c)


def l_clip_new_keywords(x, c):
    return np.sum(np.clip(x, min=-0.5) * c)


def l_mclip(x, c):
    return np.sum(x.clip(-0.5, 0.5) * c)


def l_mclip_max(x, c):
    return np.sum(x.clip(max=0.5) * c)


def l_mclip_one(x, lo, c):
    return np.sum(x.clip(lo) * c)


def l_mclip_arrays(x, lo, hi, c):
    return np.sum(x.clip(lo, hi) * c)


def l_clip_plain(x, lo, hi):
    return np.sum(np.clip(x, lo, hi))


def l_clip_keyword_active(x, lo):
    return np.sum(np.clip(x, a_min=lo, a_max=1.0))


def test_clip_of_python_float():
    assert s2sad.grad(l_clip)(0.25, 2.0) == 2.0
    assert s2sad.grad(l_clip)(0.75, 2.0) == 0.0
    assert isinstance(s2sad.grad(l_clip)(0.25, 2.0), float)


@pytest.mark.skipif(np.lib.NumpyVersion(np.__version__) < "2.1.0", reason="min= is NumPy 2.1's")
def test_clip_min_max_keywords():
    x = np.array([-1.0, -0.5, 0.0, 2.0])
    c = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(s2sad.grad(l_clip_new_keywords)(x, c), [0.0, 2.0, 3.0, 4.0])


def test_clip_at_the_bounds_passes_the_gradient():
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    lo, hi = np.full(5, -1.0), np.full(5, 1.0)
    dx, dlo, dhi = s2sad.grad(l_clip_plain, wrt=(0, 1, 2))(x, lo, hi)
    np.testing.assert_array_equal(dx, [0.0, 1.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(dlo, [1.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(dhi, [0.0, 0.0, 0.0, 0.0, 1.0])
    dx, dlo, dhi = s2sad.grad(l_clip_plain, wrt=(0, 1, 2))(x, -1.0, 1.0)
    np.testing.assert_array_equal(dx, [0.0, 1.0, 1.0, 1.0, 0.0])
    assert (dlo, dhi) == (1.0, 1.0)
    dx, dlo = s2sad.grad(l_mclip_one, wrt=(0, 1))(x, lo, np.ones(5))        # x.clip(lo)
    np.testing.assert_array_equal(dx, [0.0, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(dlo, [1.0, 0.0, 0.0, 0.0, 0.0])
    dx, dhi = s2sad.grad(l_clip_no_min, wrt=(0, 1))(x, hi, np.ones(5))      # np.clip(x, None, hi)
    np.testing.assert_array_equal(dx, [1.0, 1.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(dhi, [0.0, 0.0, 0.0, 0.0, 1.0])
    g = s2sad.grad(l_mclip)(np.array([-0.5, 0.5, 0.7], np.float32), np.ones(3, np.float32))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [1.0, 1.0, 0.0])


def test_clip_equal_bounds_counts_once():
    x = np.array([-1.0, 0.5, 1.0])
    dx, dlo, dhi = s2sad.grad(l_clip_plain, wrt=(0, 1, 2))(x, 0.5, 0.5)
    np.testing.assert_array_equal(dx, [0.0, 1.0, 0.0])
    assert dlo + dhi == 2.0 and (dlo, dhi) == (1.0, 1.0)


def test_clip_with_min_above_max():
    # NumPy's result is a_max everywhere: a_min and x (off a_max) get nothing
    x = np.array([-2.0, 0.0, 2.0])
    dx, dlo = s2sad.grad(l_clip_plain, wrt=(0, 1))(x, np.full(3, 1.0), np.full(3, -1.0))
    np.testing.assert_array_equal(dx, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(dlo, [0.0, 0.0, 0.0])


def test_clip_with_min_above_max_upper_bound():
    x = np.array([-2.0, 0.0, 2.0])
    dhi = s2sad.grad(l_clip_plain, wrt=2)(x, np.full(3, 1.0), np.full(3, -1.0))
    np.testing.assert_array_equal(dhi, [1.0, 1.0, 1.0])


def test_clip_inlined():
    x, lo, hi = make((3, 4), seed=24), make((4,), seed=25), make((4,), seed=26)
    for loss in (l_clip_arrays, l_mclip_arrays):
        text = assert_inlined(loss, x, lo, hi, cotangent(x, python_float_for_scalar=True), wrt=(0, 1, 2))
        assert "(x == clip" in text or "(x == x_clip" in text
    assert_inlined(l_mclip_max, x, cotangent(x, python_float_for_scalar=True))


def test_clip_bound_passed_by_keyword_cannot_be_differentiated():
    with pytest.raises(s2sad.TransformError, match="keyword"):
        s2sad.grad(l_clip_keyword_active, wrt=(0, 1))(np.zeros(3), 0.5)


# ---- float(): the gradient keeps the argument's kind ----------------------------------

def l_float_of_sum(x):
    return float(np.sum(x)) * 2.0


def l_float_times(x, c):
    return np.sum(float(x) * c)


def l_float_square(x):
    y = float(x)
    return y * y


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_float_of_array(dtype):
    x = make((2, 3), dtype, seed=27)
    g = s2sad.grad(l_float_of_sum)(x)
    assert g.dtype == dtype and g.shape == (2, 3)
    np.testing.assert_array_equal(g, np.full((2, 3), 2.0))
    x0 = np.array(1.5, dtype=dtype)
    c = cotangent(np.ones((3,)), np.float64)
    g = s2sad.grad(l_float_times)(x0, c)
    assert isinstance(g, np.ndarray) and g.shape == () and g.dtype == dtype
    np.testing.assert_allclose(g, c.sum(), rtol=1e-6)
    g = s2sad.grad(l_float_square)(x0)
    assert g.shape == () and g.dtype == dtype and g == 3.0


def test_float_of_0d_array_finite_differences():
    x0 = np.array(0.75)
    check_gradient(l_float_times, (x0, cotangent(np.ones((2, 2)))), 0, strict=False)


def test_float_of_python_float():
    g = s2sad.grad(l_float_square)(1.25)
    assert isinstance(g, float) and g == 2.5
    assert s2sad.grad(l_float_times)(0.5, np.array([1.0, 2.0])) == 3.0
