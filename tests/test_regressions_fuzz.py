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
