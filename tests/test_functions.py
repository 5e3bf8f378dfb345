"""User functions: helpers, lambdas, closures, globals, and how statements are normalised."""

import numpy as np
import pytest

import helper_module
import s2sad
from fdcheck import assert_close, check_gradient, numerical_grad
from helper_module import dense, scaled_square, split, two_layers
from numpy import exp as e
import numpy as xp

rng = np.random.default_rng(1)
OFFSET = np.array([1.0, 2.0, 3.0])


def check(f, args, wrt=0):
    g = s2sad.grad(f, wrt=wrt)(*args)
    assert_close(g, numerical_grad(f, args, wrt))
    return g


def uses_imported_helpers(x, W1, W2):
    return np.sum(two_layers(x, W1, W2) ** 2) + np.sum(dense(x, W1, b=0.5))


@pytest.mark.parametrize("wrt", [0, 1, 2])
def test_imported_helpers_calling_helpers(wrt):
    check(uses_imported_helpers, (rng.normal(size=(4, 3)), rng.normal(size=(3, 3)),
                                  rng.normal(size=(3, 2))), wrt)


def helper_used_twice(x):
    return np.sum(scaled_square(x) + scaled_square(np.sin(x)))


def test_helper_used_twice_and_module_constant_read_at_call_time():
    x = rng.normal(size=5)
    df = s2sad.grad(helper_used_twice)
    assert_close(df(x), numerical_grad(helper_used_twice, (x,), 0))
    old = helper_module.SCALE
    helper_module.SCALE = 5.0
    try:
        assert_close(df(x), numerical_grad(helper_used_twice, (x,), 0))
    finally:
        helper_module.SCALE = old


def tuple_helper(x):
    s, q = split(x)
    return np.sum(s * q)


def only_second(x):
    _, q = split(x)
    return np.sum(q)


@pytest.mark.parametrize("f", [tuple_helper, only_second])
def test_tuple_returning_helper(f):
    check(f, (rng.normal(size=(2, 3)),))


def local_helper(x, k=3.0):
    return x ** 2 * k


def keyword_helper(x, y):
    return np.sum(local_helper(x, k=y) + local_helper(y))


def test_keyword_and_default_arguments_of_helpers():
    x, y = rng.normal(size=4), 1.7
    check(keyword_helper, (x, y), 0)
    check(keyword_helper, (x, y), 1)


def aliased_imports(x):
    return xp.sum(e(x) * xp.sin(x))


def module_global(x):
    return np.sum((x - OFFSET) ** 2)


def test_name_resolution_aliases_and_globals():
    x = rng.normal(size=3)
    check(aliased_imports, (x,))
    g = check(module_global, (x,))
    assert_close(g, 2 * (x - OFFSET))
    text = s2sad.source(s2sad.grad(aliased_imports), x)
    assert "xp." in text and "np." not in text     # the user's own spelling of numpy


def test_module_arrays_are_read_when_the_gradient_runs():
    global OFFSET
    x = rng.normal(size=3)
    df = s2sad.grad(module_global)
    df(x)
    saved = OFFSET
    OFFSET = np.array([10.0, 20.0, 30.0])
    try:
        assert_close(df(x), 2 * (x - OFFSET))
    finally:
        OFFSET = saved


def test_lambda_closure_and_nested_function():
    scale = np.array([1.0, -2.0, 0.5])
    f = lambda x: np.sum(np.sin(x) * scale)  # noqa: E731
    x = rng.normal(size=3)
    check(f, (x,))

    def make(power):
        def inner(x):
            return np.sum(x ** power)
        return inner

    check(make(3), (x,))
    cube = make(3)
    assert_close(s2sad.grad(cube)(x), 3 * x ** 2)


def test_closure_cells_are_live():
    factor = 2.0

    def f(x):
        return np.sum(x * factor)

    df = s2sad.grad(f)
    x = np.ones(2)
    assert_close(df(x), [2.0, 2.0])
    factor = 5.0  # noqa: F841 (read by f through its cell)
    assert_close(df(x), [5.0, 5.0])


def augmented(x, y):
    z = x * 1.0
    z += y
    z *= x
    z -= 2.0
    z /= y
    z **= 2
    return np.sum(z)


def unpacking(x):
    a, (b, c) = x * 2.0, (np.sin(x), x)
    d = f2 = a * b
    b, c = c, b
    return np.sum(d * f2 + b * c)


def nested_expressions(x, W):
    n, m = W.shape
    return np.sum(np.tanh(np.exp(-x @ W / n) + np.sum(W, axis=0) * m).T) / (W.size + x.ndim)


@pytest.mark.parametrize("f, args", [
    (augmented, (rng.normal(size=3), rng.uniform(1, 2, size=3))),
    (unpacking, (rng.normal(size=4),)),
    (nested_expressions, (rng.normal(size=(2, 3)), rng.normal(size=(3, 4)))),
])
def test_normalised_statements(f, args):
    for i in range(len(args)):
        check(f, args, i)


def augmented_on_argument(x):
    x += 1.0
    return np.sum(x * x)


def test_augmented_assignment_to_argument_is_copy_on_write():
    x = np.array([1.0, 2.0])
    g = s2sad.grad(augmented_on_argument)(x)
    assert_close(g, 2 * (np.array([1.0, 2.0]) + 1.0))
    assert np.all(x == [1.0, 2.0])


def in_place_on_fresh_arrays(x):
    y = x * 2.0
    y += x
    y *= x
    y -= 1.0
    y /= 2.0
    return np.sum(y ** 2)


def in_place_on_scalars(a, x):
    b = a
    a += 1.0
    a *= b
    return a * np.sum(x)


def test_in_place_updates_that_keep_pythons_meaning():
    x = rng.normal(size=4)
    check(in_place_on_fresh_arrays, (x,))
    check(in_place_on_scalars, (1.5, x), 0)
    check(in_place_on_scalars, (1.5, x), 1)


def shares_by_copy(x):
    y = x * 1.0
    z = y
    y += x
    return np.sum(z * y)


def shares_by_view(x):
    y = x * 1.0
    r = y[0:2]
    y += 1.0
    return np.sum(r * x[0:2])


def shares_by_transpose(W):
    V = W * 2.0
    VT = V.T
    V -= 1.0
    return np.sum(VT @ V)


def shares_argument(x):
    z = x
    x += 1.0
    return np.sum(z * x)


def shares_through_a_tuple(x):
    y = x * 3.0
    pair = (y, x)
    y += 1.0
    return np.sum(pair[0])


@pytest.mark.parametrize("f, alias", [(shares_by_copy, "z"), (shares_by_view, "r"),
                                      (shares_by_transpose, "VT"), (shares_argument, "z"),
                                      (shares_through_a_tuple, "pair")])
def test_in_place_update_of_a_shared_array_is_refused(f, alias):
    """Python would change every name sharing the array; refusing beats a wrong gradient."""
    x = rng.normal(size=(3, 3))
    with pytest.raises(s2sad.TransformError, match=f"`{alias}` shares") as info:
        s2sad.grad(f)(x)
    assert "+=" in info.value.line or "-=" in info.value.line


def _sine_and_product(x):
    a = np.sin(x)
    b = x * a
    return (a, b)


def second_of_a_returned_pair(x):
    return _sine_and_product(x)[1]


def test_helper_returning_a_pair_of_which_one_is_used():
    g = s2sad.grad(second_of_a_returned_pair)(0.7)
    assert g == pytest.approx(np.sin(0.7) + 0.7 * np.cos(0.7), rel=1e-12)


def velocity_from_angle(angle, speed):
    vel = speed * np.array([np.cos(angle), np.sin(angle)])
    return np.sum(vel ** 2 * np.array([1.0, 3.0]))


def matrix_from_entries(x):
    M = np.array([[x[0], x[1]], [x[1] * 2.0, np.sin(x[0])]])
    return np.sum(M @ M)


def test_arrays_built_from_differentiated_numbers():
    check_gradient(velocity_from_angle, (0.3, 2.0), (0, 1))          # jvp checked too
    x = np.array([0.3, -0.7])
    g = s2sad.grad(matrix_from_entries)(x)
    eps = 1e-6
    numeric = [(matrix_from_entries(x + eps * e) - matrix_from_entries(x - eps * e)) / (2 * eps)
               for e in np.eye(2)]
    np.testing.assert_allclose(g, numeric, rtol=1e-7)
