"""Regression tests for bugs the differential fuzzer (tests/fuzz) found, each
the shrunk program it printed: the gradient against central differences,
value_and_grad, jvp and the gradient's structure (`check_case`)."""

import numpy as np

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
