"""Errors: what a user sees when code cannot be differentiated, and that a
failed build leaves nothing behind."""

import functools
import math

import numpy as np
import pytest

import s2sad
from fdcheck import assert_close

HERE = __file__
G = 1.0
double = functools.partial(np.multiply, 2.0)      # a callable with no source


def line_of(func, text):
    """The absolute line number of the first line of `func` containing `text`."""
    import inspect
    lines, start = inspect.getsourcelines(func)
    for i, line in enumerate(lines):
        if text in line:
            return start + i
    raise AssertionError(text)


def uses_yield(x):
    yield x * 2.0


def uses_global(x):
    global G
    G = 2.0
    return x * G


def uses_exec(x):
    exec("y = 1")
    return x * 2.0


def uses_nested_class(x):
    class Inner:
        k = 2.0
    return x * Inner.k


def uses_c_function(x):
    y = x * 3.0
    return math.gamma(y)


def uses_linalg_without_rule(x):
    return np.sum(np.linalg.eigvalsh(x))


def uses_with(x):
    with open(HERE) as f:
        f.read()
    return x


def uses_partial(x):
    return np.sum(double(x) * x)


@pytest.mark.parametrize("func, arg, offending, words", [
    (uses_yield, 1.5, "yield x * 2.0", "yield"),
    (uses_global, 1.5, "global G", "global"),
    (uses_exec, 1.5, 'exec("y = 1")', "exec"),
    (uses_nested_class, 1.5, "class Inner:", "classes defined inside"),
    (uses_c_function, 1.5, "return math.gamma(y)", "gamma"),
    (uses_linalg_without_rule, np.eye(2), "eigvalsh(x)", "eigvalsh"),
    (uses_with, 1.5, "with open(HERE)", "with"),
    (uses_partial, np.ones(3), "double(x)", "no gradient rule"),
])
def test_transform_error_names_function_file_line_and_says_what_to_do(func, arg, offending, words):
    with pytest.raises(s2sad.TransformError) as info:
        s2sad.grad(func)(arg)
    err = info.value
    assert err.function == func.__name__
    assert err.filename == HERE
    assert err.lineno == line_of(func, offending)
    assert offending in err.line
    assert err.hint                                   # says what to do
    text = str(err)
    assert func.__name__ in text and f"line {err.lineno}" in text and offending in text
    assert "What to do:" in text and words in text


def test_error_from_inside_a_helper_points_at_the_helper():
    def outer(x):
        return np.sum(uses_c_function(x))

    with pytest.raises(s2sad.TransformError) as info:
        s2sad.grad(outer)(1.5)
    assert info.value.function == "uses_c_function"
    assert info.value.lineno == line_of(uses_c_function, "math.gamma")


def test_source_less_function_is_a_transform_error():
    f = eval("lambda x: x * 2.0")                      # compiled from a string: no file
    with pytest.raises(s2sad.TransformError, match="source"):
        s2sad.grad(f)(1.0)


def array_output(x):
    return x * 2.0


def returns_nothing(x):
    y = x * 2.0                                       # noqa: F841 (no return: that is the point)


def loss_of_other_argument(x, y):
    return y * 2.0                                    # does not depend on x at all


def test_non_scalar_output_is_a_value_error_naming_the_function():
    with pytest.raises(ValueError, match="array_output must return a scalar"):
        s2sad.grad(array_output)(np.ones(3))
    with pytest.raises(ValueError, match="returns_nothing"):
        s2sad.grad(returns_nothing)(np.ones(3))
    # the loss is dead code for the gradient w.r.t. x, and still checked
    with pytest.raises(ValueError, match="loss_of_other_argument must return a scalar"):
        s2sad.grad(loss_of_other_argument)(np.ones(3), np.ones(3))


def test_size_one_outputs_are_scalars():
    df = s2sad.grad(array_output)
    assert_close(df(np.ones(1)), [2.0])
    assert_close(df(np.ones((1, 1))), [[2.0]])
    assert df(1.5) == 2.0


def test_arguments_that_cannot_carry_a_gradient_are_type_errors():
    with pytest.raises(TypeError, match="int64"):
        s2sad.grad(array_output)(np.array([1, 2]))
    with pytest.raises(TypeError, match="str"):
        s2sad.grad(loss_of_other_argument, wrt=1)(1.0, "abc")
    with pytest.raises(TypeError, match="bool"):
        s2sad.grad(array_output)(np.array([True]))
    assert s2sad.grad(array_output)(3) == 2.0         # a Python int is taken as a float


def test_a_failed_call_does_not_poison_the_next():
    df = s2sad.grad(array_output)
    with pytest.raises(TypeError):
        df(np.array([1, 2]))
    with pytest.raises(ValueError):
        df(np.ones(3))                                # same kind as the next call
    assert_close(df(np.ones(1)), [2.0])
    assert_close(df(np.ones(1, dtype=np.float32)), [2.0])


def test_a_failed_build_does_not_poison_the_next():
    df = s2sad.grad(uses_partial)
    x = np.array([1.0, 2.0, 3.0])
    for _ in range(2):                                # fails the same way twice
        with pytest.raises(s2sad.TransformError):
            df(x)

    @s2sad.adjoint(double)
    def _(g, result, x):
        return 2.0 * g

    assert_close(df(x), 4.0 * x)                      # d/dx sum(2x * x) = 4x
    assert "double" in s2sad.source(df)


def test_rule_returning_too_few_cotangents_is_an_error():
    def scale(a, b):
        return a * b

    @s2sad.adjoint(scale)
    def _(g, result, a, b):
        return g * b                                  # forgets b's cotangent

    def f(a, b):
        return np.sum(scale(a, b))

    a, b = np.ones(2), np.full(2, 3.0)
    assert_close(s2sad.grad(f, wrt=0)(a, b), b)       # b's cotangent not needed: fine
    with pytest.raises(s2sad.TransformError, match="positional argument 2"):
        s2sad.grad(f, wrt=1)(a, b)


def _negate(g):
    return -g


def test_rule_called_at_run_time_is_checked_too():
    def shift(a, b):
        return a - b

    @s2sad.adjoint(shift)
    def _(g, result, a, b):
        return _negate(-g)                           # not inlined: a call whose value is unknown

    def f(a, b):
        return np.sum(shift(a, b))

    a, b = np.ones(2), np.full(2, 3.0)
    df = s2sad.grad(f, wrt=0)
    assert_close(df(a, b), np.ones(2))
    assert "cotangents(" in s2sad.source(df)
    with pytest.raises(ValueError, match="positional argument 2"):
        s2sad.grad(f, wrt=1)(a, b)


def two_parameters(a, b):
    return a * b


def calls_with_one_argument(x):
    return np.sum(two_parameters(x))


@pytest.mark.parametrize("make", [lambda f: s2sad.grad(f)(np.ones(3)),
                                  lambda f: s2sad.jvp(f)(np.ones(3), np.ones(3))],
                         ids=["grad", "jvp"])
def test_a_helper_call_that_does_not_match_its_parameters(make):
    with pytest.raises(s2sad.TransformError, match=r"in calls_with_one_argument .*line \d+\): the call "
                       r"to two_parameters does not match its parameters: missing a required "
                       r"argument: 'b'"):
        make(calls_with_one_argument)
