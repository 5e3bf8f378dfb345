"""The reduction rules (rules/reductions.py) at their kinks, against the
exact values API.md promises: tied maxima/minima share the gradient
equally; `prod` is exact with one zero (the product of the others there)
and with two (all zero); NaNs, masks (`where=`), `initial`, sorting, the
builtins `max`/`min`/`sum`, and dtypes kept.  Every form of every reduction
on several shapes against central differences, jvp and StrictArray is a row
of tests/rule_table.py.
"""

import numpy as np
import pytest

import s2sad
from fdcheck import cotangent, check_gradient

DTYPES = [np.float64, np.float32]
DT_IDS = ["f64", "f32"]


def make(shape, dtype=np.float64, seed=0, away_from_zero=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(size=shape)
    if away_from_zero:               # |x| in [0.5, 1.5], random signs: products stay tame
        x = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return np.asarray(x, dtype=dtype)


ND0, ND1, ND2, ND3 = (), (5,), (3, 4), (2, 3, 4)
ALL = [ND0, ND1, ND2, ND3]
ANY1 = [ND1, ND2, ND3]          # axis 0 / -1 need a dimension
ANY2 = [ND2, ND3]               # axis 1 needs two
ONLY3 = [ND3]                   # axis (0, 2)

# ---- prod ---------------------------------------------------------------------------


def l_prod(x, c):
    return np.sum(np.prod(x) * c)


def l_prod_ax0(x, c):
    return np.sum(np.prod(x, axis=0) * c)


def l_prod_ax1(x, c):
    return np.sum(np.prod(x, axis=1) * c)


def l_prod_ax02(x, c):
    return np.sum(np.prod(x, axis=(0, 2)) * c)


# ---- max, amax, min, amin -------------------------------------------------------------


def l_max_ax1(x, c):
    return np.sum(np.max(x, axis=1) * c)


def l_max_ax1_kd(x, c):
    return np.sum(np.max(x, axis=1, keepdims=True) * c)


def l_min_pos(x, c):
    return np.sum(np.min(x, 0) * c)


def l_max_where(x, m, c):
    return np.sum(np.max(x, axis=1, initial=-10.0, where=m) * c)


# ---- var and std ----------------------------------------------------------------------


def l_var_axm1_ddof(x, c):
    return np.sum(np.var(x, axis=-1, ddof=1) * c)


# ---- cumsum -----------------------------------------------------------------------------


def l_cumsum_ax1(x, c):
    return np.sum(np.cumsum(x, axis=1) * c)


def l_nansum_ax0(x, c):
    return np.sum(np.nansum(x, axis=0) * c)


def l_nanmean_ax1_kd(x, c):
    return np.sum(np.nanmean(x, axis=1, keepdims=True) * c)


def l_median(x, c):
    return np.sum(np.median(x) * c)


def l_trapezoid(x, c):
    return np.sum(np.trapezoid(x, dx=0.25) * c)


def l_quantile(x, c):
    return np.sum(np.quantile(x, 0.3) * c)


def l_cumprod_ax1(x, c):
    return np.sum(np.cumprod(x, axis=1) * c)


def l_sort(x, c):
    return np.sum(np.sort(x) * c)


# name -> (loss, op, shapes, inputs away from zero?)


def test_max_where_initial():
    # masked-out elements get nothing, even where they equal the maximum
    x = np.array([[1.0, 5.0, 3.0], [4.0, 4.0, 2.0]])
    m = np.array([[True, False, True], [True, True, False]])
    c = np.array([2.0, -1.0])
    # strict=False: StrictArray's __array_function__ unwraps positional arguments only,
    # so the forward `np.max(x, where=m)` itself fails on it (a keyword array)
    g = check_gradient(l_max_where, (x, m, c), 0, strict=False)
    np.testing.assert_array_equal(g, [[0.0, 0.0, 2.0], [-0.5, -0.5, 0.0]])


def l_var_where(x, m, c):
    return np.sum(np.var(x, axis=1, ddof=1, where=m) * c)


def l_std_where(x, m, c):
    return np.sum(np.std(x, where=m) * c)


def l_prod_where_initial(x, m, c):
    return np.sum(np.prod(x, axis=0, initial=2.0, where=m) * c)


@pytest.mark.parametrize("loss", [l_var_where, l_std_where, l_prod_where_initial],
                         ids=["var", "std", "prod"])
def test_where_masks(loss):
    x = make((3, 4), seed=5, away_from_zero=True)
    m = np.array([[True, False, True, True], [True, True, False, True], [False, True, True, True]])
    c = {l_var_where: cotangent(np.ones(3)), l_std_where: 1.5,
         l_prod_where_initial: cotangent(np.ones(4))}[loss]
    g = check_gradient(loss, (x, m, c), 0, strict=False)     # strict=False: as above
    np.testing.assert_array_equal(g[~m], 0.0)                 # masked-out elements: nothing


def l_max_initial(x, c):
    return np.sum(np.max(x, axis=1, initial=0.5) * c)


def test_max_initial_wins():
    # a row whose maximum is `initial` gives its elements nothing (not 0/0)
    x = np.array([[0.1, -2.0, 0.3], [1.0, 2.0, 0.0]])
    c = np.array([3.0, -1.0])
    g = check_gradient(l_max_initial, (x, c), 0)
    np.testing.assert_array_equal(g, [[0.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


# ---- kinks: ties share the gradient of max/min equally -----------------------------------


def l_max_plain(x):
    return np.max(x)


def l_min_plain(x):
    return np.min(x)


def l_mmax_plain(x):
    return x.max()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("loss", [l_max_plain, l_mmax_plain], ids=["np.max", "x.max"])
def test_max_ties_share(loss, dtype):
    x = np.array([1.0, 3.0, -2.0, 3.0], dtype=dtype)
    g = s2sad.grad(loss)(x)
    assert g.dtype == dtype
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.0, 0.5])
    x = np.array([[3.0, 3.0], [3.0, 0.0]], dtype=dtype)                 # a three-way tie
    np.testing.assert_allclose(s2sad.grad(loss)(x), [[1 / 3, 1 / 3], [1 / 3, 0.0]], rtol=1e-6)


def test_min_ties_share():
    x = np.array([[2.0, -1.0, -1.0, 0.0]])
    np.testing.assert_array_equal(s2sad.grad(l_min_plain)(x), [[0.0, 0.5, 0.5, 0.0]])


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_max_ties_along_axis(dtype):
    # row 0 has a two-way tie, row 1 none, row 2 a three-way tie
    x = np.array([[1.0, 4.0, 4.0], [0.0, -1.0, 2.0], [7.0, 7.0, 7.0]], dtype=dtype)
    c = np.array([2.0, -3.0, 1.5], dtype=dtype)
    expected = [[0.0, 1.0, 1.0], [0.0, 0.0, -3.0], [0.5, 0.5, 0.5]]
    g = s2sad.grad(l_max_ax1)(x, c)
    assert g.dtype == dtype
    np.testing.assert_allclose(g, expected, rtol=1e-6)
    g = s2sad.grad(l_max_ax1_kd)(x, c[:, None])
    np.testing.assert_allclose(g, expected, rtol=1e-6)
    # min along axis 0 of the transpose: the same ties
    g = s2sad.grad(l_min_pos)(-x.T, c)
    np.testing.assert_allclose(g, np.array(expected).T, rtol=1e-6)


# ---- kinks: prod is exact with zeros --------------------------------------------------------


def l_prod_plain(x):
    return np.prod(x)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_prod_one_zero(dtype):
    x = np.array([2.0, 0.0, 3.0, -4.0], dtype=dtype)
    g = s2sad.grad(l_prod_plain)(x)
    assert g.dtype == dtype
    np.testing.assert_array_equal(g, [0.0, -24.0, 0.0, 0.0])
    # prod is multilinear: central differences are exact at the zero too
    check_gradient(l_prod, (x, np.asarray(1.5, dtype)), 0)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_prod_two_zeros(dtype):
    x = np.array([2.0, 0.0, 3.0, 0.0], dtype=dtype)
    g = s2sad.grad(l_prod_plain)(x)
    np.testing.assert_array_equal(g, np.zeros(4))
    check_gradient(l_prod, (x, np.asarray(-0.5, dtype)), 0)


def test_prod_zeros_along_axis():
    # per row: no zero, one zero, two zeros
    x = np.array([[1.0, 2.0, 3.0], [4.0, 0.0, 5.0], [0.0, 6.0, 0.0]])
    c = np.array([1.0, -1.0, 2.0])
    g = check_gradient(l_prod_ax1, (x, c), 0)
    np.testing.assert_array_equal(g, [[6.0, 3.0, 2.0], [0.0, -20.0, 0.0], [0.0, 0.0, 0.0]])
    g = check_gradient(l_prod_ax0, (x.T, c), 0)
    np.testing.assert_array_equal(g, [[6.0, 0.0, 0.0], [3.0, -20.0, 0.0], [2.0, 0.0, 0.0]])
    # a zero in a 3-D block reduced over two axes
    y = make((2, 3, 2), seed=3, away_from_zero=True)
    y[1, 2, 0] = 0.0
    check_gradient(l_prod_ax02, (y, cotangent(np.prod(y, axis=(0, 2)))), 0)


def test_prod_exact_value():
    x = np.array([[1.5, -2.0], [0.5, 4.0]])                 # product -6
    np.testing.assert_allclose(s2sad.grad(l_prod_plain)(x), [[-4.0, 3.0], [-12.0, -1.5]],
                               rtol=1e-15)


# ---- exact values of var, std and cumsum ---------------------------------------------------


def l_var_ddof1(x):
    return np.var(x, ddof=1)


def l_std_plain(x):
    return np.std(x)


def l_cumsum_plain(x, c):
    return np.sum(np.cumsum(x) * c)


def test_var_std_cumsum_exact_values():
    x = np.array([1.0, 2.0, 4.0, 5.0])                     # mean 3, deviations -2 -1 1 2
    np.testing.assert_allclose(s2sad.grad(l_var_ddof1)(x), [-4 / 3, -2 / 3, 2 / 3, 4 / 3])
    std = np.sqrt(2.5)
    np.testing.assert_allclose(s2sad.grad(l_std_plain)(x), np.array([-2, -1, 1, 2]) / (4 * std))
    c = np.array([1.0, 10.0, 100.0, 1000.0])
    np.testing.assert_array_equal(s2sad.grad(l_cumsum_plain)(x, c), [1111.0, 1110.0, 1100.0,
                                                                      1000.0])


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_cumprod_exact_at_zeros(dtype):
    """d cumprod(x)_j / d x_i is the product of the other x_l, l <= j: at a
    zero no division, after the first zero nothing (as prod)."""
    x = np.array([[2.0, 0.0, 3.0, 0.0, 5.0], [1.5, -2.0, 0.5, 4.0, 0.0]], dtype=dtype)
    c = np.array([[1.0, 10.0, 100.0, 1000.0, 10000.0]] * 2, dtype=dtype)
    g = s2sad.grad(l_cumprod_ax1)(x, c)
    expected = np.zeros((2, 5))
    for row in range(2):
        for i in range(5):
            for j in range(i, 5):
                expected[row, i] += c[row, j] * np.prod(np.delete(x[row, :j + 1].astype(float), i))
    np.testing.assert_allclose(g, expected, rtol=1e-6)
    assert np.all(np.isfinite(g))
    _, tangent = s2sad.jvp(l_cumprod_ax1)(x, c, np.ones_like(x))
    np.testing.assert_allclose(tangent, np.sum(expected), rtol=1e-6)


def test_nan_reductions_skip_nans_and_give_them_no_gradient():
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 6.0]])
    c = np.array([10.0, 100.0])
    g = s2sad.grad(l_nanmean_ax1_kd)(x, c[:, None])
    np.testing.assert_array_equal(g, [[5.0, 0.0, 5.0], [0.0, 0.0, 100.0]])
    c = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(s2sad.grad(l_nansum_ax0)(x, c), [[1, 0, 3], [0, 0, 3]])
    _, t = s2sad.jvp(l_nansum_ax0)(x, c, np.ones_like(x))
    assert t == 1.0 + 3.0 + 3.0


def l_quantiles(x, c):
    return np.sum(np.quantile(x, np.array([0.25, 0.75])) * c)


def test_quantile_exact_values_and_refusals():
    x = np.array([4.0, 1.0, 3.0, 2.0, 5.0])                 # sorted 1 2 3 4 5; 0.3 -> 2.2
    np.testing.assert_allclose(s2sad.grad(l_quantile)(x, 1.0), [0.0, 0.0, 0.2, 0.8, 0.0])
    with pytest.raises(NotImplementedError, match="one q"):
        s2sad.grad(l_quantiles)(x, np.ones(2))


def test_median_and_trapezoid_exact_values():
    x = np.array([3.0, 1.0, 2.0, 10.0])                    # middle elements 2 and 3
    np.testing.assert_array_equal(s2sad.grad(l_median)(x, 1.0), [0.5, 0.0, 0.5, 0.0])
    np.testing.assert_array_equal(s2sad.grad(l_median)(x[:3], 1.0), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(s2sad.grad(l_trapezoid)(np.ones(4), 1.0),
                                  [0.125, 0.25, 0.25, 0.125])


def test_sort_sends_each_adjoint_back_to_its_element():
    x = np.array([3.0, -1.0, 2.0, 0.5])
    c = np.array([1.0, 10.0, 100.0, 1000.0])               # weights of the sorted positions
    np.testing.assert_array_equal(s2sad.grad(l_sort)(x, c), [1000.0, 1.0, 100.0, 10.0])


# ---- Python's builtins: sum, max, min -------------------------------------------------------


def l_bsum_tuple_start(a, b, d, c):
    return np.sum(sum((a, b, d), 1.0) * c)


def l_bsum_floats(a, b):
    return sum([a, b, a * b]) * 2.0


def l_bsum_mixed(x, s, c):
    return np.sum(sum([x, s]) * c)


def l_bmax2(a, b):
    return max(a, b) * 3.0


def l_bmin2(a, b):
    return min(a, b) * 3.0


def l_bmax3(a, b, d):
    return max(a, b, d) * 2.0


def l_bmax_vec(x, c):
    return max(x) * c


def l_bmin_vec(x, c):
    return min(x) * c


def l_bmax_list(a, b):
    return max([a, b, 1.0]) * 2.0


def l_bmax_arrays(a, b, c):
    return max(a, b) * c


def test_builtin_sum_over_tuple_with_start():
    a, b, d = make((3, 4), seed=23), make((4,), seed=24), make((3, 1), seed=25)
    c = cotangent(a + b + d)
    g = check_gradient(l_bsum_tuple_start, (a, b, d, c), (0, 1, 2))
    np.testing.assert_allclose(g[1], c.sum(axis=0))
    np.testing.assert_allclose(g[2], c.sum(axis=1, keepdims=True))


def test_builtin_sum_of_floats():
    g = check_gradient(l_bsum_floats, (1.5, -2.0), (0, 1))
    assert g == (2.0 * (1 - 2.0), 2.0 * (1 + 1.5))


def test_builtin_sum_array_and_float():
    x = make((3,), seed=26)
    check_gradient(l_bsum_mixed, (x, 0.7, cotangent(x)), (0, 1))


@pytest.mark.parametrize("loss, first", [(l_bmax2, True), (l_bmin2, False)], ids=["max", "min"])
def test_builtin_max_min_of_two(loss, first):
    g = check_gradient(loss, (2.0, -1.0), (0, 1))
    assert g == ((3.0, 0.0) if first else (0.0, 3.0))
    assert s2sad.grad(loss, wrt=(0, 1))(1.5, 1.5) == (1.5, 1.5)          # a tie: shared


def test_builtin_max_of_three():
    g = check_gradient(l_bmax3, (0.5, 2.5, -1.0), (0, 1, 2))
    assert g == (0.0, 2.0, 0.0)
    g = s2sad.grad(l_bmax3, wrt=(0, 1, 2))(2.5, 2.5, 2.5)
    np.testing.assert_allclose(g, (2 / 3, 2 / 3, 2 / 3))


def test_builtin_max_over_list():
    g = check_gradient(l_bmax_list, (0.5, -3.0), (0, 1))
    assert g == (0.0, 0.0)                                   # 1.0 won
    g = check_gradient(l_bmax_list, (1.5, -3.0), (0, 1))
    assert g == (2.0, 0.0)
    assert s2sad.grad(l_bmax_list, wrt=(0, 1))(1.0, 1.0) == (2 / 3, 2 / 3)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("loss, pick", [(l_bmax_vec, np.argmax), (l_bmin_vec, np.argmin)],
                         ids=["max", "min"])
def test_builtin_max_min_over_vector(loss, pick, dtype):
    # Python's max iterates the array and compares on the host: not a StrictArray's job
    x = make((5,), dtype, seed=27)
    g = check_gradient(loss, (x, 1.5), 0, strict=False)
    expected = np.zeros(5)
    expected[pick(x)] = 1.5
    np.testing.assert_allclose(g, expected)
    x = np.array([3.0, 1.0, 3.0], dtype=dtype)
    assert s2sad.grad(l_bmax_vec)(x, 1.0).tolist() == [0.5, 0.0, 0.5]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_builtin_max_of_0d_arrays(dtype):
    a, b = np.asarray(0.5, dtype), np.asarray(-0.25, dtype)
    g = check_gradient(l_bmax_arrays, (a, b, 2.0), (0, 1), strict=False)
    assert float(g[0]) == 2.0 and float(g[1]) == 0.0
    g = s2sad.grad(l_bmax_arrays, wrt=(0, 1))(a, a.copy(), 2.0)
    assert float(g[0]) == 1.0 and float(g[1]) == 1.0 and g[0].dtype == dtype


# ---- generated code reads like hand-written backprop -----------------------------------------


def test_generated_code_is_inlined():
    x, c = make((3, 4), seed=30), make((3,), seed=31)
    src = s2sad.source(s2sad.grad(l_max_ax1), x, c)
    assert "ties = x == np.expand_dims(max_x, 1)" in src
    assert "max_adjoint" not in src and "cotangents" not in src
    src = s2sad.source(s2sad.grad(l_var_axm1_ddof), x, c)
    assert "np.mean(x, axis=-1, keepdims=True)" in src and "cotangents" not in src
    src = s2sad.source(s2sad.grad(l_prod_ax1), x, c)
    assert "prod_others(x, 1)" in src and "cotangents" not in src
    src = s2sad.source(s2sad.grad(l_cumsum_ax1), x, cotangent(x))
    assert "np.flip(np.cumsum(np.flip(" in src


# ---- a Python-float adjoint keeps a float32 gradient float32 ---------------------------------


def l_max_times3(x):
    return np.max(x) * 3.0


def l_min_ax0_times3(x):
    return np.sum(np.min(x, axis=0)) * 3.0


def l_prod_times3(x):
    return np.prod(x) * 3.0


def l_var_times3(x):
    return np.var(x) * 3.0


def l_std_times3(x):
    return x.std(ddof=1) * 3.0


def l_bmax_vec_times3(x):
    return max(x) * 3.0


@pytest.mark.parametrize("loss", [l_max_times3, l_min_ax0_times3, l_prod_times3, l_var_times3,
                                  l_std_times3])
def test_float_adjoint_keeps_float32(loss):
    x = make((3, 4), np.float32, seed=40, away_from_zero=True)
    g = check_gradient(loss, (x,), 0)
    assert g.dtype == np.float32


def test_builtin_max_float_adjoint_keeps_float32():
    x = np.array([1.0, 4.0, 4.0], dtype=np.float32)
    g = check_gradient(l_bmax_vec_times3, (x,), 0, strict=False)
    assert g.dtype == np.float32 and g.tolist() == [0.0, 1.5, 1.5]


def l_max_ax0_times3(x):
    return np.max(x, axis=0) * 3.0


def l_prod_ax0_times3(x):
    return np.prod(x, axis=0) * 3.0


def l_var_axm1_times3(x):
    return np.var(x, axis=-1, ddof=1) * 3.0


def l_std_pos_times3(x):
    return x.std(0) * 3.0


def l_cumsum_sum_times3(x):
    return np.sum(np.cumsum(x)) * 3.0


@pytest.mark.parametrize("loss", [l_max_ax0_times3, l_prod_ax0_times3, l_var_axm1_times3,
                                  l_std_pos_times3, l_cumsum_sum_times3])
def test_float_adjoint_of_0d_result_over_axis(loss):
    # a vector reduced over its one axis: the adjoint is a Python float, which must not
    # go through np.expand_dims (a host float64 array)
    x = make((5,), np.float32, seed=41, away_from_zero=True)
    g = check_gradient(loss, (x,), 0)
    assert g.dtype == np.float32


def l_sum_ax0_times3(x):
    return np.sum(x, axis=0) * 3.0


def l_mean_ax0_times3(x):
    return np.mean(x, axis=0) * 3.0


@pytest.mark.parametrize("loss", [l_sum_ax0_times3, l_mean_ax0_times3])
def test_core_sum_over_axis_of_vector_float_adjoint(loss):
    # the adjoint of the 0-d result is a Python float: no host array may be made
    x = make((5,), np.float32, seed=42)
    g = check_gradient(loss, (x,), 0)
    assert g.dtype == np.float32
