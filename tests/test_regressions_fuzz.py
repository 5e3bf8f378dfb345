"""Regression tests for bugs the differential fuzzer (tests/fuzz) found, each
the shrunk program it printed: the gradient against central differences,
value_and_grad, jvp and the gradient's structure (`check_case`)."""

import numpy as np
import pytest

import s2sad
from fuzz.oracles import check_case


def f_negative_base_power(x):
    x *= (-0.86) ** 2        # the generated code printed `-0.86 ** 2`, which is -(0.86 ** 2)
    return np.sum(x)


def test_negative_base_power():
    check_case(f_negative_base_power, [np.array([-0.52, -0.49, 0.78, 0.15])], wrt=0)


def f_negative_exponents(x):
    return np.sum(x ** -1.0 + (-2.0) ** 2 * x - (-0.5) ** 3 * x ** -2)


def test_negative_exponents():
    check_case(f_negative_exponents, [np.array([1.5, -2.0, 0.7])], wrt=0)


def f_zero_dim(x, z0):
    return np.sum(x * z0) + z0 * 2.0


def test_zero_dim_array_gets_a_zero_dim_array():
    """A 0-d array's gradient was a NumPy scalar where a reduction made it."""
    for dtype in (np.float64, np.float32):
        check_case(f_zero_dim, [np.array([1.0, 2.0, 3.0], dtype), np.array(0.5, dtype)], wrt=1)


def f_float_times_sum(x, s):
    return np.sum(x) * s


def test_python_float_gets_a_python_float():
    """A Python float's gradient was a NumPy float64 where a reduction made it."""
    check_case(f_float_times_sum, [np.array([1.0, 2.0, 3.0]), 0.5], wrt=1)
    check_case(f_float_times_sum, [np.array([1.0, 2.0, 3.0]), 0.5], wrt=(0, 1))


def f_repeated_increment(x, v):
    y = x * 1.0
    y[[0, 0, 2]] += v            # NumPy: y[0] = x[0] + v[1], the first write is lost
    return np.sum(np.sin(y) * x)


def f_repeated_scale(x, s):
    y = x * 1.0
    y[[1, 1]] *= s * x[0]
    return np.sum(y ** 2)


def test_repeated_index_increments_keep_the_last_write():
    """Was a run-time ValueError (documented), though NumPy's meaning is well defined."""
    check_case(f_repeated_increment, [np.array([0.3, 1.0, 2.0]), np.array([1.0, 2.0, 3.0])],
               wrt=(0, 1))
    check_case(f_repeated_scale, [np.array([0.3, 1.0, 2.0]), 0.7], wrt=(0, 1))


W_GLOBAL = np.array([[0.3, -0.2, 0.5], [0.2, 0.4, -0.3], [-0.5, 0.1, 0.2]])


def f_global_attribute(A, x):
    A /= x @ W_GLOBAL.T      # `W.T` of a global array: its kind was unknown, and so was
    return np.mean(A ** 1)   # everything after it: pow's rule ran whole and warned in log


def test_attribute_of_a_global_array_has_a_kind():
    import warnings
    args = [np.array([[0.1, -0.7, 0.5], [-0.5, 1.1, 1.2]]), np.array([-0.3, 1.2, 0.1])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_case(f_global_attribute, args, wrt=(0, 1))


# found by the fuzzer: `dresult` renamed `dq` in one branch (a user name adopted for the
# return's seed), while the other branch's table still read `dresult`: UnboundLocalError
BIAS_5000160 = np.array([-0.0033992638200467384, -0.3704577686538534, 0.32485883230466905])
W_5000160 = np.array([[-0.20192363992999024, 0.0032937441159519576, -0.2297328668889579], [0.3726487826547129, -0.44715175294654586, 0.5346583347676551], [-0.05952297212115476, 0.26319523541431344, -0.003237187425956356]])

def f_5000160(x, z0, s):
    if s * s <= -0.6:
        h, s1 = (np.sinh(np.tanh(x / (1.5 + s * s))), np.sum(x) + s2sad.stop_gradient(1.21))
        v = np.roll(h, 1)
        if np.maximum(s1, s1) >= 0.27:
            assert np.all(np.isfinite(s2sad.stop_gradient(BIAS_5000160))), 'finite'
        elif s2sad.stop_gradient(z0) < z0 and (s1 <= -0.3 and (z0 <= -0.21 or x[2] > -0.4)):
            x = (W_5000160 @ h)[::-1]
            t, b = (np.tanh(x @ v), np.where(v @ W_5000160.T > v - s1, v @ W_5000160.T, 0.1 * (v - s1)))
        else:
            z0 = s1
            h = np.flip(x)
    else:
        for e in x[::-1]:
            if z0 <= -0.77:
                return np.logaddexp(e, e)
            e = np.cos(e + z0)
    row, s = (np.maximum(np.expand_dims(x, 0), BIAS_5000160[np.newaxis] if s ** 2 <= 0.52 else x[np.newaxis]), s + s)
    q = 1.0 / (1.0 + np.exp(-x.max()))
    return np.sum(x) + s + q


def test_fuzz_5000160():
    args = [np.array([0.967965841293335, -0.33397290110588074, 0.42117977142333984], dtype=np.float32), np.array(-0.8246859908103943, dtype=np.float32), -0.192901]
    check_case(f_5000160, args, wrt=('x', 's', 'z0'))


def f_ternary_in_checkpointed_loop(A, x):
    t = x
    for i in range(3):
        x, t = (t, SCALE_LIKE * t if i >= 1 else np.sin(t))
    return np.sum(t * A)


SCALE_LIKE = 0.7


def test_checkpointed_loop_with_a_ternary():
    """The checkpointed state held `chosen`, which an `if`'s two branches both assign
    before any read (UnboundLocalError)."""
    import s2sad
    args = [np.array([0.3, -1.2, 0.8]), np.array([-0.8, -1.0, 0.5])]
    check_case(f_ternary_in_checkpointed_loop, args, wrt=(0, 1))
    plain = s2sad.grad(f_ternary_in_checkpointed_loop, wrt=(0, 1))(*args)
    checkpointed = s2sad.grad(f_ternary_in_checkpointed_loop, wrt=(0, 1), checkpoint=2)(*args)
    for a, b in zip(plain, checkpointed):
        np.testing.assert_allclose(a, b, rtol=1e-13)


# ---- calls to the user's own helpers ------------------------------------------------

A23 = np.array([[0.05, 0.03, 0.96, 0.49], [-0.96, 0.35, -1.05, -0.92]])
V3 = np.array([0.4, -0.7, 1.1])
W3 = np.array([0.2, 0.9, -0.5])
BIAS = np.array([0.3, -0.2, 0.5])
SCALE = 0.36


def same_twice(Q, g, C):
    Q = B = Q
    return B


def f_same_array_twice(A, x, s):
    return np.sum(same_twice(A, 1.0, A))


def sum_first(v, q, t):
    return np.sum(v)


def f_same_array_in_tuple(x, k, y):
    q, s1 = (SCALE, sum_first(y, k, y))
    return s1


def third(v, g, h):
    return h


def f_same_array_thrice(x):
    return np.sum(third(x, x, x))


def third_aliased(c, g, h):
    b = h
    return b


def f_same_array_rebound(k, x, A, s):
    x = third_aliased(s, x, x)
    return np.sum(x)


def mix(u, v, w):
    return u * v + w


def f_same_array_mixed(x, y):
    return np.sum(mix(x, y, x) + mix(y, x, y) + mix(x, w=x, v=x))


def test_same_array_passed_to_several_parameters():
    """`f(x, x)`: each parameter's adjoint of x took the same name, so the
    second overwrote the first and the sum doubled the survivor (4 instead of 1)."""
    check_case(f_same_array_twice, [A23, V3, 0.38], wrt="A")             # was zero
    check_case(f_same_array_in_tuple, [V3, 3, W3], wrt=("y",))            # was zero
    check_case(f_same_array_thrice, [V3], wrt="x")                        # was 4
    check_case(f_same_array_rebound, [2, V3, A23, 0.29], wrt=("x", "s", "A"))   # was 2
    check_case(f_same_array_mixed, [V3, W3], wrt=(0, 1))


def outlined_square(x):
    x = x * x
    return x


def f_outlined_square(x):
    x = outlined_square(x)
    return np.sum(x * x)


def outlined_sin(x):
    x = np.sin(x)
    return x


def f_outlined_sin(x, p):
    x = outlined_sin(x)
    return np.sum(np.sin(x))


def f_outlined_sin_square(x):
    x = outlined_sin(x)
    return np.sum(x * x)


def outlined_arcsinh(A):
    A = np.arcsinh(A)
    return A


def f_outlined_arcsinh(s, x, A):
    h = x
    x = h
    v = x
    A = outlined_arcsinh(A)
    return np.mean(A ** 2)


def outlined_power(A):
    A = A ** 2
    return A


def f_outlined_power(tp, x, s, p, y, A):
    A = outlined_power(A)
    return np.mean(A ** 2)


def outlined_product(y):
    y = y * y
    return y


def f_outlined_product(y, x, tp, s):
    y = outlined_product(y)
    return np.sum(y / s)


def test_helper_returning_a_rebound_parameter():
    """A helper that rebinds a parameter the reverse sweep reads (`x = x * x`)
    keeps the old value under the user's name and the new one as `x_1`; the
    forward half returned `x`, the parameter, and dropped `x_1 = x * x` as dead."""
    check_case(f_outlined_square, [np.array([-0.17, -0.84, 0.83])], wrt="x")
    check_case(f_outlined_sin, [np.array([0.87, -0.71, -0.12], np.float32),
                                {"w": np.array([-0.08, -0.62, 0.05], np.float32), "b": 0.37}],
               wrt=("p", "x"))
    check_case(f_outlined_sin_square, [np.array([-1.17, 1.17, -0.59])], wrt=("x",))
    check_case(f_outlined_arcsinh, [-0.51, V3, A23], wrt=(0, 2))
    check_case(f_outlined_power, [(W3, 0.82), V3, 0.3, {"w": W3, "b": 0.09}, W3, A23],
               wrt=(5, 4, 3))
    check_case(f_outlined_product, [V3, W3, (V3, 0.22), 0.5], wrt=("tp", "s", "y"))


def scaled(a, b):
    a = a * b
    return a


def f_scaled_twice(x, y):
    x = scaled(x, y)
    x = scaled(x, y)
    return np.sum(x)


def f_scaled_both(x, y):
    a = scaled(x, y)
    b = scaled(x, y)
    return np.sum(a * b)


def f_scaled_in_loop(x, y):
    for i in range(3):
        x = scaled(x, y)
    return np.sum(x)


def f_scaled_in_while(x):
    i = 0
    while i < 3:
        x = scaled(x, x)
        i += 1
    return np.sum(x)


def f_scaled_in_branch(x, y):
    if np.sum(x) > 0:
        z = scaled(x, y)
    else:
        z = third(y, y, x)
    return np.sum(z * x)


def scaled_by_keyword(a, b=2.0):
    a = a * b
    return a


def f_scaled_by_keyword(x, s):
    return np.sum(scaled_by_keyword(b=s, a=x) * x)


def scaled_sin(s, t):
    s = s * t
    s = np.sin(s)
    return s


def f_scaled_sin(s, x):
    s = scaled_sin(s, s)
    return s * np.sum(x)


def updated(a, b):
    a = a * 1.0              # a new array: the updates below are the helper's own
    a *= b
    a += b
    return a


def f_updated(x, y):
    x = updated(x, y)
    return np.sum(x * x)


def sine_of(a):
    a = np.sin(a)
    return a


def sine_times(a, b):
    a = sine_of(a)
    a = a * b
    return a


def f_nested_rebound(x, y):
    x = sine_times(x, y)
    return np.sum(x * x)


def calls_third(a):
    b = third(a, a, a)
    return b


def f_nested_same_array(x):
    return np.sum(calls_third(x) * x + mix(x, x, x))


def test_rebound_parameters_in_loops_nested_helpers_and_keywords():
    check_case(f_scaled_twice, [V3, W3], wrt=(0, 1))
    check_case(f_scaled_both, [V3, W3], wrt=(0, 1))
    check_case(f_scaled_in_loop, [V3, W3], wrt=(0, 1))
    check_case(f_scaled_in_while, [V3], wrt=0)
    check_case(f_scaled_in_branch, [V3, W3], wrt=(0, 1))
    check_case(f_scaled_by_keyword, [V3, 0.6], wrt=(0, 1))
    check_case(f_scaled_sin, [0.3, V3], wrt=(0, 1))
    check_case(f_updated, [V3, W3], wrt=(0, 1))
    check_case(f_nested_rebound, [V3, W3], wrt=(0, 1))
    check_case(f_nested_same_array, [V3], wrt=0)


def make_constant(c):
    def inner(v):
        return c
    return inner


closed_constant = make_constant(0.73)


def f_closure_constant(y, x, s):
    return closed_constant(y)


def global_bias(Q):
    return BIAS


def f_global_bias(p, x, A):
    x *= global_bias(A)
    return np.sum(x)


def constant(a):
    return 2.5


def global_scale(a):
    return SCALE


def bias_through(a):
    return global_bias(a)


def f_constants(x):
    return np.sum(x) * constant(x) + np.sum(x * bias_through(x)) * global_scale(x)


def f_constant_in_loop(x):
    acc = x
    for i in range(3):
        acc = acc * global_bias(acc)
    return np.sum(acc)


def test_helper_whose_result_does_not_depend_on_its_arguments():
    """A helper returning a closure's value, a global or a constant: the
    pair's build expected a local name to seed (TypeError), and forward mode
    returned None as the result's tangent."""
    check_case(f_closure_constant, [W3, V3, 0.88], wrt=("y", "s"))
    check_case(f_global_bias, [{"w": V3, "b": -0.14}, V3, A23], wrt=("A",))
    check_case(f_global_bias, [{"w": V3, "b": -0.14}, V3, A23], wrt=("x", "A"))
    check_case(f_constants, [V3], wrt=0)
    check_case(f_constant_in_loop, [V3], wrt=0)


def affine(p, x):
    p = p["w"] * x + p["b"]
    return p


def f_affine(p, x):
    return np.sum(affine(p, x) ** 2)


def passed_through(p):
    return p


def bias_and(p):
    return {"w": BIAS, "b": p["b"]}


def f_dict_through_helpers(p):
    q = passed_through(p)
    r = bias_and(p)
    return np.sum(q["w"] * q["b"] * r["w"] * r["b"])


def test_forward_mode_passes_a_dict_to_a_helper():
    """jvp refused a helper called on a dict of arrays ("nested lists or
    dicts ... have no forward rule"): its tangent is now a dict too."""
    check_case(f_affine, [{"w": V3, "b": 0.3}, W3], wrt=(0, 1))
    check_case(f_dict_through_helpers, [{"w": V3, "b": 0.3}], wrt=0)


def divides_its_argument(v, g):
    v /= 1.5
    return np.sum(g)


def f_divides_rows(A, x):
    t = 0.0
    for r in A:
        t = t + divides_its_argument(r, r)
    return t + np.sum(A)


def scales_its_argument(v, g):
    g *= 0.31
    return BIAS


def f_scales_an_element(x, tp):
    return np.sum(scales_its_argument(x, tp[0]))


def extends_its_argument(xs, y):
    xs += [y]
    return xs


def f_extends(x, y):
    zs = extends_its_argument([x], y)
    return np.sum(zs[0] * zs[1])


def test_helper_updating_its_argument_in_place_is_refused():
    """`v /= 1.5` in a helper changes the caller's array in Python (here a row
    of A, which f reads again); the core form's `v = v / 1.5` made a new one,
    so the gradient followed another program, and called as it is (not
    differentiated) the helper changed the gradient's own arguments."""
    cases = [(f_divides_rows, [A23, V3]), (f_scales_an_element, [V3, (W3, 0.07)]),
             (f_extends, [V3, W3])]
    for f, args in cases:
        with pytest.raises(s2sad.TransformError, match="changes an? .* its caller passed in"):
            s2sad.grad(f)(*args)
        with pytest.raises(s2sad.TransformError, match="changes an? .* its caller passed in"):
            s2sad.jvp(f, 0)(*args, np.ones_like(args[0]))


def test_arguments_a_helper_result_does_not_depend_on_get_nothing():
    """What a helper's result depends on comes from the helper: no pair for a
    helper returning a global, and no adjoint (nor tangent) for a parameter
    the result does not read, even where its argument is active through another."""
    args = [{"w": V3, "b": -0.14}, V3, A23]
    assert "global_bias_fwd" not in s2sad.source(s2sad.grad(f_global_bias, wrt=("x", "A")), *args)
    assert "global_bias_jvp" not in s2sad.source(s2sad.jvp(f_global_bias, wrt=("x", "A")), *args)
    text = s2sad.source(s2sad.grad(f_same_array_in_tuple, wrt="y"), V3, 3, W3)
    assert "zeros_like" not in text and "dy1" not in text
    text = s2sad.source(s2sad.jvp(f_same_array_thrice, wrt="x"), V3)
    assert "third_jvp(dx, x, x, x)" in text


def squared(a):
    return a * a


def f_squared_in_loop(x):
    for i in range(3):
        x = squared(x)
    return np.sum(x)


def test_hvp_through_a_helper_called_in_a_loop():
    """The gradient pushes each call's saved tuple on a list; forward mode over
    it pushed `np.zeros_like(saved)` as the tuple's tangent (the tangent of
    a tuple element of a list was looked up as a single array), so the hvp
    was zero."""
    x, v = np.array([0.4, -0.7, 1.1]), np.array([0.3, 0.1, -0.5])
    df, eps = s2sad.grad(f_squared_in_loop), 1e-6
    expected = (df(x + eps * v) - df(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(s2sad.hvp(f_squared_in_loop)(x, v), expected, rtol=1e-6)
    np.testing.assert_allclose(s2sad.hvp(f_scaled_in_loop, 0)(V3, W3, v), (
        s2sad.grad(f_scaled_in_loop, 0)(V3 + eps * v, W3)
        - s2sad.grad(f_scaled_in_loop, 0)(V3 - eps * v, W3)) / (2 * eps), rtol=1e-6)


def cumsum_when_small(v, q):
    h = v
    if h.sum() < 0.43:
        return np.cumsum(h * h)[::1]


def f_cumsum_when_small(x):
    return np.sum(cumsum_when_small(x, 0.9))


def test_hvp_through_a_helper_saving_a_value_of_one_branch():
    """A helper's saved value made on one branch only is None on the other, so
    its kind is unknown in the backward half; `dx = np.zeros_like(cumsum_h)`
    there was taken for a possible view of the caller's value, and
    `dx[::1] = ...` refused under hvp (found by the fuzzer, program 12000777)."""
    x, v = np.array([0.1, -0.3, 0.2]), np.array([0.3, 0.1, -0.5])
    df, eps = s2sad.grad(f_cumsum_when_small), 1e-6
    expected = (df(x + eps * v) - df(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(s2sad.hvp(f_cumsum_when_small)(x, v), expected, rtol=1e-6)


def f_swap_in_a_nested_branch(v, g):
    if np.sum(g) >= -0.33:
        v = np.cos(v)
    elif g[0] > 0:
        b = v = g
    else:
        v = g
        b = v
        g, b = (b, g)
    v = np.arctan(v) - (g - 0.68)
    return np.sum(v)


def test_adjoint_renamed_in_one_branch_is_renamed_in_the_other():
    """The else branch gave the adjoint `dg_minus_0p68` a user's name
    (`adopt_user_name`); the reverse of the branch beside it, already built,
    still read the old name: NameError where that branch ran (found by the
    fuzzer in a helper: program 505 of seed 14, under some hash seeds)."""
    for g in ([0.3, 0.2, 0.5], [0.5, -1.0, -1.0], [-0.9, -0.7, -0.5]):
        check_case(f_swap_in_a_nested_branch, [np.array([0.2, -0.4, 0.1]), np.array(g)],
                   wrt=(0, 1))


def returns_its_first(v, c, depth):
    return v


def f_return_in_nested_branch(x, z0, s):
    if s < 0.35:
        x = x * x[[1, 1]]
        if z0 > 0.73:
            return returns_its_first(x, z0, 0)   # (not a scalar: never taken)
        h, x = (np.cos(x), x)
    total = np.sum(x)
    return s + total


def test_adjoint_renamed_in_a_branch_is_renamed_where_the_other_starts():
    """`dresult`, the adjoint of the value both branches return, took the name
    `dtotal` inside the first branch; the second branch, reversed from the
    adjoints at the `if`'s end, still read `dresult` (found by the fuzzer's
    `temporaries` rewrite: program 751 of seed 15)."""
    for z0, s in ((0.1, 0.1), (0.9, 0.9)):
        check_case(f_return_in_nested_branch, [np.array([0.3, -0.2]), np.array(z0), s], wrt=0)


def f_max_of_float_and_int(x, s):
    j = 0
    x = x + max(np.cos(s), j)     # the stand-ins made the int win: no gradient for s
    return np.sum(x) + min(j, s * s)


def test_builtin_max_of_a_float_and_an_int():
    check_case(f_max_of_float_and_int, [np.array([0.1, 0.2]), 0.3], wrt=(0, 1))


def f_list_of_pairs(x):
    hs = []
    for i in range(3):
        hs.append((x * i, np.sin(x)))
    a, b = hs[-1]
    return np.sum(a * b)


def test_list_of_tuples_grown_in_a_loop_is_refused_in_reverse_mode():
    """Crashed inside the generated code (a bare NumPy ValueError)."""
    x, v = np.array([0.1, 0.2]), np.array([0.3, -0.4])
    with pytest.raises(s2sad.TransformError, match="elements are tuples, lists or dicts"):
        s2sad.grad(f_list_of_pairs)(x)
    _, tangent = s2sad.jvp(f_list_of_pairs)(x, v)        # forward mode differentiates it
    eps = 1e-6
    expected = (f_list_of_pairs(x + eps * v) - f_list_of_pairs(x - eps * v)) / (2 * eps)
    assert abs(tangent - expected) < 1e-8


BIAS_ROW = np.linspace(-1.0, 1.0, 5)
W_SQUARE = np.full((5, 5), 0.3)


def f_float32_joined_with_float64(A, x):
    for i in range(1):
        A = W_SQUARE                # float32 on one path, float64 on the other: the join's
    return np.mean(A ** 1) + np.sum(A * x)   # kind was unknown (pow's rule ran whole, warned)


def f_method_of_a_global_array(y, A):
    B = np.maximum(A, BIAS_ROW.reshape(1, -1))     # a global's method: an unknown kind
    return np.mean(B ** 1) + np.sum(y)


def test_kinds_of_joins_across_dtypes_and_of_global_methods():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_case(f_float32_joined_with_float64,
                   [np.full((4, 5), 0.2, np.float32), np.ones(5, np.float32)], wrt=(1, 0))
        check_case(f_method_of_a_global_array,
                   [np.ones(5), np.array([[0.1, -1.2, 0.3, 0.8, 0.45]] * 2)], wrt=(0, 1))


def f_float32_scaled_by_float64_in_a_loop(A, x):
    j = 0
    while j < 1:
        j += 1
        A *= W_SQUARE[:4, :4]        # float32 * float64: the loop's join had no kind at all
    v = x
    for i in range(2):
        v = v ** 1 - A[0] @ W_SQUARE[:4, :4].T
    return np.mean(A ** 1) + np.sum(v)


def test_loop_join_of_float32_and_float64():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_case(f_float32_scaled_by_float64_in_a_loop,
                   [np.full((4, 4), -0.5, np.float32), np.linspace(-1, 1, 4).astype(np.float32)],
                   wrt=(0, 1))


def rec_sum(v, c, depth):
    if depth <= 0:
        return np.sum(v)
    return rec_sum(v, c, depth - 1)


def f_power_of_a_negative_float(x, s):
    for i in range(len(x)):
        s = s ** 1 + rec_sum(x, i, 1)     # a recursive result: pow's rule runs whole, and its
    return s                              # exponent's part took math.log of a negative float


def test_power_of_a_negative_python_float():
    check_case(f_power_of_a_negative_float, [np.array([1.08, 0.35, 0.21]), -0.23], wrt=(0, 1))
# ---- aliases through joins, loops, ternaries and containers (in-place updates) ----------
# Which values may share memory was worked out in two walks over the statements,
# an `if` before its branches: a join or a loop's carried value missed what a later
# statement gave it (a loop-carried swap, an `if` around a loop, a ternary's result
# appended in a loop), so a copy-on-write was dropped on the caller's array or an
# update another name reads later was not refused.

SHARED = "this in-place update changes an array that .* shares and reads later"


def f_swap_carried_in_a_loop(A, xs, x):
    v = np.mean(A, 0)
    j = 0
    while True:
        j += 1
        if j >= 3:
            break
        v[0] += j          # on the second trip v is the caller's x (the swap below)
        v, x = (x, v)
    return np.sum(v)


def f_alias_through_a_loop_in_a_branch(y, s, p, x):
    if y.sum() >= 0.59:
        for s in range(len(y)):
            x = y
    x -= p['b']            # where the branch ran, x is y: Python changes y too
    return np.sum(y * x)


def f_ternary_appended_then_updated(y, x):
    gs = []
    for i in range(2):
        gs.append(x if i > 0.74 else y)
    x[1] = 1.25            # gs holds x: Python's np.sum(gs) sees the change
    return np.sum(gs)


def test_aliases_through_joins_and_loops_are_refused():
    """Seeds 8000069 (the caller's argument was changed), 8000431 and 8001260
    (silently wrong gradients)."""
    x = np.array([0.55, -0.03, -1.06, -0.39])
    with pytest.raises(s2sad.TransformError, match=SHARED):
        s2sad.grad(f_swap_carried_in_a_loop, wrt=(1, 2))(np.ones((3, 4)), [x, x, x], x)
    y = np.array([-0.59, 0.75, 1.18])
    with pytest.raises(s2sad.TransformError, match=SHARED):
        s2sad.grad(f_alias_through_a_loop_in_a_branch, wrt=("x", "y"))(
            y, -0.9, {"w": y, "b": -0.14}, np.array([0.23, -0.42, -0.04]))
    with pytest.raises(s2sad.TransformError, match=SHARED):
        s2sad.grad(f_ternary_appended_then_updated, wrt=(1, 0))(y, np.array([0.85, 1.04, 0.13]))


def f_argument_through_nested_joins(x, y):
    v = y * 2.0
    if np.sum(y) > 0:
        for i in range(2):
            if i == 1:
                v = x      # v is the caller's x after the `if`
    v[0] = 1.0             # so this update is done on a copy
    return np.sum(v * y)


def f_argument_through_nested_loops(x, y):
    v = y * 2.0
    for j in range(1):
        for i in range(2):
            if i == 1:
                v = x
    np.add.at(v, [0, 0], 1.0)
    return np.sum(v * y)


def test_an_argument_reached_through_nested_joins_is_copied_before_an_update():
    x, y = np.array([0.3, -0.7, 1.1]), np.array([0.5, 0.2, -0.4])
    check_case(f_argument_through_nested_joins, [x, y], wrt=(0, 1))
    check_case(f_argument_through_nested_joins, [x, -y], wrt=(0, 1))
    check_case(f_argument_through_nested_loops, [x, y], wrt=(0, 1))


def f_list_item_then_update(x, y):
    hs = [y * 1.0, y * 2.0]
    a = x * 1.0
    hs[0] = a              # the list holds a itself, not a copy
    a[0] = 5.0
    return np.sum(hs[0] * y)


def f_list_copy_then_update(x, y):
    a = x * 1.0
    gs = [a].copy()        # a new list of the same arrays
    a[0] = 5.0
    return np.sum(gs[0] * y)


def ret_same(a):
    return a


def f_list_from_a_helper_appended(x, y):
    hs = [x * 1.0]
    gs = ret_same(hs)      # gs is hs: the append below grows hs too
    gs.append(y * 2.0)
    return np.sum(np.stack(hs)) + np.sum(np.stack(gs))


def f_inner_list_appended(x, y):
    rows = [[x * 1.0], [y * 1.0]]
    r = rows[0]
    r.append(y * 3.0)      # rows[0] is r
    return np.sum(np.stack(rows[0])) + np.sum(np.stack(r))


def test_updates_seen_through_lists_are_refused():
    """A list item assignment, a list's `.copy()` and a helper's result were
    taken for new values with nothing shared; a list inside a list was not
    followed (silently wrong gradients)."""
    x, y = np.array([0.3, -0.7, 1.1]), np.array([0.5, 0.2, -0.4])
    for f in (f_list_item_then_update, f_list_copy_then_update, f_list_from_a_helper_appended,
              f_inner_list_appended):
        with pytest.raises(s2sad.TransformError, match=SHARED):
            s2sad.grad(f, wrt=(0, 1))(x, y)


def f_and_of_a_number_and_an_array(x, y, n):
    a = n > 0 and x        # a bool on one path, the caller's array on the other
    a[0] = 3.0
    return np.sum(a * y)


def test_a_number_joined_with_an_updated_array_is_not_copied():
    """The value the reverse sweep reads after the join was stored with
    `a.copy()`, on a bool (AttributeError in the generated code)."""
    check_case(f_and_of_a_number_and_an_array,
               [np.array([0.3, -0.7, 1.1]), np.array([0.5, 0.2, -0.4]), 1], wrt=(0, 1))


GLOBAL_BUFFER = np.zeros(3)


def f_global_through_a_local_name(x):
    b = GLOBAL_BUFFER
    y = np.sum(b * x)      # read before the update: the copy-on-write stayed...
    b[0] = 5.0             # ... so the global Python changes here was not changed
    return y + np.sum(GLOBAL_BUFFER * x)


def f_global_through_stop_gradient(x, s):
    x = s2sad.stop_gradient(GLOBAL_BUFFER)    # the global itself
    x += np.tanh(s)        # Python changes the global (program 279 of seed 31)
    return s + np.sum(x * x)


def test_updates_of_a_global_through_a_local_name_are_refused():
    """`b = BUF; b[0] = v` is `BUF[0] = v` (refused): a local name holding
    a global array (or a part of it, on some path) was taken for a new array."""
    with pytest.raises(s2sad.TransformError, match="may change `GLOBAL_BUFFER`"):
        s2sad.grad(f_global_through_a_local_name)(np.array([0.3, -0.7, 1.1]))
    with pytest.raises(s2sad.TransformError, match="may change `GLOBAL_BUFFER`"):
        s2sad.grad(f_global_through_stop_gradient, wrt=1)(np.ones(3), 0.4)
    assert not GLOBAL_BUFFER.any()


def f_item_scaled_in_a_loop(x, y):
    a = x[0] * 1.0
    for i in range(2):
        a[i] *= y[0][i]    # a[i]: a number the reverse sweep needs, of an array updated in place
    return np.sum(a * a)


def test_an_item_read_of_an_array_updated_in_place_is_recorded_not_recomputed():
    """The reverse sweep recomputed `a[i]` from `a`, pushed as it was at the
    top of the trip, but the update (copy dropped) changed that array in place
    right after: the gradient read the new item."""
    from fdcheck import numerical_grad
    x = np.array([[0.3, -0.7, 1.1], [0.9, 0.4, -0.2]])
    y = np.array([[0.5, 0.2, -0.4], [1.2, 0.3, 0.8]])
    before = x.copy()
    dx, dy = s2sad.grad(f_item_scaled_in_a_loop, wrt=(0, 1))(x, y)
    assert np.array_equal(x, before)
    np.testing.assert_allclose(dx, numerical_grad(f_item_scaled_in_a_loop, [x, y], 0), atol=1e-6)
    np.testing.assert_allclose(dy, numerical_grad(f_item_scaled_in_a_loop, [x, y], 1), atol=1e-6)
